"""Nobody bends another person's figures: the write paths checked against hostile but ordinary
tokens (a rep, a manager of another team), on both stores.

The department is api_client's: R-ann and R-bob in T-1 (East), R-cat in T-2 (West); the rep
token is R-ann's, the manager token T-1's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from api_client import FAR, MATE, OWN, running
from builders import ev, open_deal, win
from typer.testing import CliRunner

from api.auth import create_token
from api.cli import app as cli
from ledger.store import Ledger

MARCH = "2026-03-20T10:00:00+00:00"


def call(activity_id: str, rep_id: str = OWN, event_id: str | None = None, **more):
    return ev("ActivityLogged", MARCH, event_id, activity_id=activity_id, rep_id=rep_id, kind="call", **more)


# ---------------------------------------------------------------- event ids: one scope per writer


def test_a_rep_taking_the_close_commands_event_id_does_not_stop_finance_closing_the_quarter(settings):
    with running(settings) as api:
        assert api.post("/events", call("A-1", event_id="close-2026-Q1"), role="rep").status_code == 201
        closed = api.post("/periods/2026-Q1/close", role="finance")
        assert closed.status_code == 201, closed.text
        assert api.get("/events", type="PeriodClosed").json()["events"][0]["data"]["period"] == "2026-Q1"
        approval = api.post(f"/payouts/{OWN}/2026-Q1/approve", role="finance")
        assert approval.status_code == 409  # the quarter is closed: no new approval
        assert api.post("/periods/2026-Q1/close", role="finance").status_code == 409  # closed once


def test_a_reps_event_id_does_not_block_the_integrations_event_of_the_same_id(settings):
    with running(settings) as api:
        assert api.post("/events", call("A-1", event_id="crm-77-won"), role="rep").status_code == 201
        integration = api.post(
            "/events",
            {
                "events": [
                    {**open_deal("D-77", MATE), "event_id": "crm-77-open"},
                    {**win("D-77", "10.00"), "event_id": "crm-77-won"},
                ]
            },
        )
        assert integration.status_code == 201, integration.text
        assert integration.json()["duplicates"] == []


def test_a_repeat_is_answered_from_the_writers_own_scope_and_a_conflict_names_only_their_own_event(settings):
    with running(settings) as api:
        first = api.post("/events", call("A-1", event_id="mine-1"), role="rep").json()["positions"]
        again = api.post("/events", call("A-1", event_id="mine-1"), role="rep").json()
        assert again == {"positions": first, "duplicates": [0]}
        clash = api.post("/events", call("A-2", event_id="mine-1"), role="rep")
        assert clash.status_code == 409
        # Another writer's event_id, with other content, is not a conflict: it is a new key.
        admins = api.post("/events", call("A-3", event_id="mine-1"))
        assert admins.status_code == 201
        assert api.get("/events", after=first[0] - 1, limit=1).json()["events"][0]["event_id"] == "mine-1"


# ---------------------------------------------------------------- a 403 says no more than a 404


def test_a_refusal_for_another_teams_deal_reads_exactly_like_one_for_a_deal_that_does_not_exist(settings):
    with running(settings) as api:
        theirs = api.post("/events", win("D-3", "1.00"), role="manager")  # R-cat's deal, team T-2
        unknown = api.post("/events", win("D-404", "1.00"), role="manager")
        assert theirs.status_code == unknown.status_code == 403
        assert FAR not in theirs.text
        said = theirs.json()["problems"][0]["message"].replace("D-3", "D-?")
        assert said == unknown.json()["problems"][0]["message"].replace("D-404", "D-?")


# ---------------------------------------------------------------- people fields come from the token


def dispute(dispute_id: str = "DS-1", rep_id: str = OWN):
    return ev(
        "DisputeOpened",
        MARCH,
        dispute_id=dispute_id,
        rep_id=rep_id,
        period="2026-Q1",
        component="commission",
        text="D-1 is short",
    )


def comment(text: str, dispute_id: str = "DS-1", **author):
    return ev("DisputeCommented", MARCH, dispute_id=dispute_id, text=text, **author)


def test_a_rep_cannot_comment_on_his_dispute_in_finances_name(settings):
    with running(settings) as api:
        api.post("/events", dispute(), role="rep")
        forged = api.post(
            "/events", comment("accepted by finance: +50,000", author_id="finance-controller"), role="rep"
        )
        assert forged.status_code == 403
        assert forged.json()["problems"][0]["field"] == "data.author_id"
        assert api.post("/events", comment("please check D-1"), role="rep").status_code == 201
        timeline = api.get("/disputes/DS-1").json()["timeline"]
        assert [entry.get("author_id") for entry in timeline if entry["kind"] == "commented"] == [f"rep:{OWN}"]


def test_an_evaluation_feedback_and_resolution_name_the_token_that_wrote_them(settings):
    with running(settings) as api:
        manager = "manager:T-1"
        evaluation = ev(
            "EvaluationRecorded",
            MARCH,
            evaluation_id="E-9",
            rep_id=MATE,
            period="2026-Q1",
            result_score=80,
            process_scores={"discovery": 70},
        )
        feedback = ev("FeedbackGiven", MARCH, feedback_id="F-9", rep_id=MATE, kind="coaching", text="Well done")
        assert api.post("/events", {"events": [evaluation, feedback]}, role="manager").status_code == 201
        named = {"evaluator_id": "the-ceo"}
        assert (
            api.post("/events", {**evaluation, "data": {**evaluation["data"], **named}}, role="manager").status_code
            == 403
        )
        api.post("/events", dispute(), role="rep")
        resolution = ev("DisputeResolved", MARCH, dispute_id="DS-1", outcome="rejected", reason="D-1 is right")
        assert api.post("/events", resolution, role="finance").status_code == 201
        people = {
            e["type"]: e["data"].get("evaluator_id") or e["data"].get("author_id") or e["data"].get("resolver_id")
            for e in api.get(
                "/events", type=["EvaluationRecorded", "FeedbackGiven", "DisputeResolved"], after=20
            ).json()["events"]
        }
        assert people == {"EvaluationRecorded": manager, "FeedbackGiven": manager, "DisputeResolved": "finance"}


# ---------------------------------------------------------------- leads and customers are someone's


def test_a_manager_cannot_win_a_deal_on_another_teams_lead_or_customer(settings):
    with running(settings) as api:
        api.record(ev("LeadCreated", "2026-01-05T09:00:00+00:00", lead_id="L-cat", rep_id=FAR, customer_id="C-west"))
        early = "2026-01-06T09:00:00+00:00"
        on_their_lead = [open_deal("D-x", MATE, "C-new", when=early, lead_id="L-cat"), win("D-x", "1.00", early)]
        on_their_customer = [open_deal("D-y", MATE, "C-D-3", when=early), win("D-y", "1.00", early)]
        for batch in (on_their_lead, on_their_customer):
            refused = api.post("/events", {"events": batch}, role="manager")
            assert refused.status_code == 403, refused.text
            assert FAR not in refused.text
        assert api.get("/kpis", scope=f"rep:{FAR}", period="2026-Q1").json()["kpis"]["new_customers"] == 1
        # Their own team's customer (R-ann's C-D-1) and a customer new to the ledger are theirs to use.
        mine = [open_deal("D-z", MATE, "C-D-1", when=early), open_deal("D-w", MATE, "C-brand-new", when=early)]
        assert api.post("/events", {"events": mine}, role="manager").status_code == 201


def test_a_rep_cannot_log_calls_against_another_reps_deal_or_lead(settings):
    with running(settings) as api:
        api.record(ev("LeadCreated", "2026-01-05T09:00:00+00:00", lead_id="L-bob", rep_id=MATE))
        for pointer in ({"deal_id": "D-2"}, {"lead_id": "L-bob"}, {"lead_id": "L-nobody"}):
            assert api.post("/events", call("A-1", **pointer), role="rep").status_code == 403
        assert api.post("/events", call("A-1", deal_id="D-1"), role="rep").status_code == 201


# ---------------------------------------------------------------- business time and volume


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def test_a_rep_cannot_inflate_his_reply_rate_with_a_thousand_emails_and_his_manager_sees_the_attempt(settings):
    with running(settings) as api:
        before = api.get("/kpis", scope=f"rep:{OWN}", period="2026-Q1").json()["kpis"]["email_reply_rate"]
        emails = [
            ev("ActivityLogged", MARCH, activity_id=f"M-{n}", rep_id=OWN, kind="email", replied=True)
            for n in range(1000)
        ]
        refused = api.post("/events", {"events": emails}, role="rep")
        assert refused.status_code == 429, refused.text
        assert api.get("/kpis", scope=f"rep:{OWN}", period="2026-Q1").json()["kpis"]["email_reply_rate"] == before
        seen = api.get("/events", role="manager", type="ActivityLimitReached").json()["events"]
        assert [(e["rep_id"], e["data"]["attempted"], e["data"]["within"]) for e in seen] == [(OWN, 1000, "batch")]
        assert api.get("/events", role="manager", type="ActivityLogged", rep=OWN).json()["events"] == []


def test_a_rep_records_at_most_the_days_limit_of_activities_in_24_hours(settings):
    with running(replace(settings, activity_limits=(5, 8))) as api:
        five = [call(f"A-{n}") for n in range(5)]
        assert api.post("/events", {"events": five}, role="rep").status_code == 201
        more = [call(f"B-{n}") for n in range(4)]  # 5 + 4 = 9 > 8
        assert api.post("/events", {"events": more}, role="rep").status_code == 429
        assert api.post("/events", {"events": more[:3]}, role="rep").status_code == 201  # 8: at the limit
        assert api.post("/events", {"events": [call("B-9")]}, role="manager").status_code == 201  # not self-reported
        refusals = api.get("/events", type="ActivityLimitReached").json()["events"]
        assert [(e["data"]["attempted"], e["data"]["limit"], e["data"]["within"]) for e in refusals] == [(4, 8, "day")]


def test_a_reps_second_token_is_neither_a_second_days_allowance_nor_a_second_copy_of_a_fact(settings):
    with running(replace(settings, activity_limits=(5, 8))) as api:
        api.tokens["rep 2"] = create_token(api.client.app.state.engine, "rep", rep_id=OWN)[0]
        five = [call(f"A-{n}", event_id=f"crm-A-{n}") for n in range(5)]
        first = api.post("/events", {"events": five}, role="rep")
        assert first.status_code == 201
        again = api.post("/events", {"events": five[:1]}, role="rep 2")  # the same fact, retried with the new token
        assert again.status_code in (200, 201), again.text
        assert again.json()["duplicates"] == [0]  # the first of the batch was recorded already
        assert api.post("/events", {"events": [call(f"B-{n}") for n in range(4)]}, role="rep 2").status_code == 429
        tokens = {e["actor"] for e in api.get("/events", type="ActivityLogged").json()["events"]}
        assert len(tokens) == 1 and tokens.pop().startswith(f"rep:{OWN}:tok_")  # which token wrote


def test_no_fact_is_recorded_before_the_ledgers_start_by_anyone(settings):
    with running(replace(settings, start=date(2020, 1, 1))) as api:
        for when in ("1970-01-01T00:00:00+00:00", "2019-12-31T23:59:59+00:00"):
            refused = api.post("/events", ev("ActivityLogged", when, activity_id="A-old", rep_id=OWN, kind="call"))
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["field"] == "occurred_at"
        assert api.post("/events", call("A-new")).status_code == 201


def test_each_role_dates_a_fact_only_as_far_back_as_its_window(settings):
    windows = replace(settings, backdating=(("rep", 7), ("manager", 90)))
    with running(windows) as api:

        def logged(role: str, days: float, activity_id: str) -> int:
            body = ev("ActivityLogged", days_ago(days), activity_id=activity_id, rep_id=OWN, kind="call")
            return api.post("/events", body, role=role).status_code

        assert (logged("rep", 2, "A-1"), logged("rep", 8, "A-2")) == (201, 422)
        assert (logged("manager", 30, "A-3"), logged("manager", 100, "A-4")) == (201, 422)
        assert logged("admin", 300, "A-5") == 201


def test_nobody_records_a_new_fact_inside_a_closed_quarter(settings):
    with running(settings) as api:
        assert api.post("/periods/2026-Q1/close", role="finance").status_code == 201
        for role in ("rep", "manager", "admin"):
            refused = api.post("/events", call(f"A-{role}"), role=role)
            assert refused.status_code == 422, role
            assert refused.json()["detail"][0]["code"] == "time.closed_period"
        april = ev("ActivityLogged", "2026-04-01T00:00:00+00:00", activity_id="A-apr", rep_id=OWN, kind="call")
        assert api.post("/events", april, role="rep").status_code == 201


# ---------------------------------------------------------------- bounded work, and no 500


def deep_type_envelope(depth: int = 1000) -> bytes:
    nested = "[" * depth + "]" * depth
    return f'{{"type": {nested}, "occurred_at": "2026-03-20T10:00:00+00:00", "data": {{}}}}'.encode()


def test_a_type_nested_a_thousand_deep_is_a_422_that_names_the_field(settings):
    with running(settings, seed=False) as api:
        response = api.client.post(
            "/events",
            content=deep_type_envelope(),
            headers={**api.headers("admin"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert [p["field"] for p in response.json()["detail"]] == ["type"]


def test_an_event_of_four_hundred_thousand_unknown_keys_is_refused_in_one_short_answer(settings):
    with running(settings, seed=False) as api:
        data = {f"k{n}": 1 for n in range(420_000)}
        response = api.post("/events", {"type": "ActivityLogged", "occurred_at": MARCH, "data": data})
        assert response.status_code == 422
        assert [p["code"] for p in response.json()["detail"]] == ["keys.too_many"]
        assert len(response.content) < 1000


def test_a_batch_with_thousands_of_problems_lists_the_first_hundred_and_counts_the_rest(settings):
    with running(settings, seed=False) as api:
        bad = [{"type": "ActivityLogged", "occurred_at": "yesterday", "data": {"x": 1, "y": 2}}] * 1000
        detail = api.post("/events", {"events": bad}).json()["detail"]
        assert len(detail) == 101
        assert detail[-1]["code"] == "problems.more"
        # Six problems an event (the time; x and y unknown; activity_id, rep_id and kind missing):
        # 6 × 1000 − 100 listed.
        assert detail[-1]["message"].startswith("5900 more problems")


def test_an_evaluation_is_not_eight_hundred_kilobytes(settings):
    with running(settings) as api:
        swot = {"strengths": ["x" * 4000] * 50, "weaknesses": ["y" * 4000] * 50}
        evaluation = ev(
            "EvaluationRecorded",
            MARCH,
            evaluation_id="E-big",
            rep_id=OWN,
            period="2026-Q1",
            evaluator_id="M-1",
            result_score=50,
            process_scores={},
            swot=swot,
        )
        refused = api.post("/events", evaluation)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["code"] == "data.too_large"


def test_a_page_of_the_log_ends_early_past_four_mebibytes_and_says_where_to_go_on(settings):
    with running(settings, seed=False) as api:
        api.record(onboard_ann := ev("RepOnboarded", MARCH, rep_id=OWN, name="Ann", team_id="T-1", region="East"))
        assert onboard_ann
        notes = "n" * 3900
        for start in range(0, 1200, 400):
            api.record(*[call(f"A-{n}", notes=notes) for n in range(start, start + 400)])
        page = api.get("/events", limit=1000)
        events = page.json()["events"]
        assert 900 < len(events) < 1000  # ~4.2 KB stored per call: 4 MiB holds about 1000 of them
        assert page.json()["next_after"] == events[-1]["position"]
        assert len(page.content) < 6 * 1024 * 1024


def test_a_third_audit_or_replay_at_once_is_answered_429_with_retry_after(settings):
    with running(settings) as api:
        slots = api.client.app.state.heavy_slots
        assert slots.acquire(blocking=False) and slots.acquire(blocking=False)  # two running
        try:
            for busy in (
                api.get("/audit/rebuild", role="auditor"),
                api.post("/replays", {"period": "2026-Q1", "plan": {"plan_id": "std", "version": 2}}, role="finance"),
            ):
                assert busy.status_code == 429
                assert busy.headers["Retry-After"] == "10"
        finally:
            slots.release()
            slots.release()
        assert api.get("/audit/rebuild", role="auditor", period="2026-Q1").status_code == 200


def test_import_refuses_a_deep_line_and_an_oversized_csv_cell_cleanly(settings, tmp_path):
    runner = CliRunner()
    env = {"PERFLEDGER_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(deep_type_envelope() + b"\n")
    big = tmp_path / "big.csv"
    big.write_text("record_type,external_id,date\nactivity,X1," + "x" * 140_000 + "\n", encoding="utf-8")
    for path in (deep, big):
        result = runner.invoke(cli, ["import", str(path)], env=env)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output


# ---------------------------------------------------------------- atomic appends, on both stores


def training(event_id: str, rep_id: str = "R-1"):
    return ev("TrainingCompleted", MARCH, event_id, rep_id=rep_id, training="MEDDIC")


def entries_that_fail(*args, **kwargs):
    raise RuntimeError("the entries could not be built")


def stored_event_count(ledger) -> int:
    return len(ledger.recorder.select_notifications(start=None, limit=1000))


def test_a_failure_after_the_events_insert_leaves_neither_events_nor_entries(ledger, monkeypatch):
    from ledger import recorder

    ledger.record([ev("RepOnboarded", MARCH, rep_id="R-1", name="Ann", team_id="T-1", region="East")], "seed")

    monkeypatch.setattr(recorder, "build_entries", entries_that_fail)
    with pytest.raises(RuntimeError):
        ledger.record([training("t-1")], "seed")
    monkeypatch.undo()
    assert (ledger.head().position, stored_event_count(ledger)) == (1, 1)
    assert ledger.verify().ok
    assert ledger.record([training("t-1")], "seed").positions == [2]


def test_the_librarys_notification_ids_agree_with_what_its_insert_answered_after_a_rollback(ledger, monkeypatch):
    from ledger import recorder

    answered: list[int] = []
    insert = ledger.recorder.insert_events

    def spy(stored_events, **kwargs):
        ids = insert(stored_events, **kwargs)
        answered.extend(ids or [])
        return ids

    monkeypatch.setattr(ledger.recorder, "insert_events", spy)
    ledger.record([ev("RepOnboarded", MARCH, rep_id="R-1", name="Ann", team_id="T-1", region="East")], "seed")
    build = recorder.build_entries
    monkeypatch.setattr(recorder, "build_entries", entries_that_fail)
    with pytest.raises(RuntimeError):
        ledger.record([training("t-1")], "seed")  # rolled back: PostgreSQL's sequence skips a number
    monkeypatch.setattr(recorder, "build_entries", build)
    assert ledger.record([training("t-2")], "seed").positions == [2]  # positions stay gap-free
    notifications = [n.id for n in ledger.recorder.select_notifications(start=None, limit=10)]
    assert notifications == answered


def test_the_librarys_database_function_insert_cannot_be_switched_on_from_the_environment(settings, monkeypatch):
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    monkeypatch.setenv("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
    store = Ledger(settings)
    try:
        store.record([ev("RepOnboarded", MARCH, rep_id="R-1", name="Ann", team_id="T-1", region="East")], "seed")
        assert store.head().position == 1
        assert store.verify().ok
        assert store.read_log(0, 10)[0].data["name"] == "Ann"
    finally:
        store.close()


# ---------------------------------------------------------------- the smaller findings


def test_every_html_page_forbids_framing_sniffing_and_scripts_from_elsewhere(settings):
    with running(settings) as api:
        for path, role in ((f"/statements/{OWN}/2026-Q1?format=html", "rep"), ("/docs", None), ("/", None)):
            page = api.client.get(path, headers=api.headers(role))
            assert page.status_code == 200, path
            assert page.headers["x-content-type-options"] == "nosniff"
            policy = page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert api.get("/health", role=None).headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_load_swagger_ui_from_this_server(settings):
    with running(settings, seed=False) as api:
        page = api.client.get("/docs").text
        assert "cdn." not in page and "https://" not in page
        assert api.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert api.client.get("/docs/assets/core.py").status_code == 404


def test_a_token_cannot_be_made_for_a_rep_the_ledger_does_not_know(settings):
    with running(settings):
        runner = CliRunner()
        env = {"PERFLEDGER_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
        assert runner.invoke(cli, ["token", "create", "--role", "rep", "--rep", "R-NOPE"], env=env).exit_code == 1
        assert runner.invoke(cli, ["token", "create", "--role", "rep", "--rep", OWN], env=env).exit_code == 0


def test_an_id_that_could_not_be_read_back_in_a_url_is_refused(settings):
    with running(settings) as api:
        for rep_id in ("R/1", "..", "."):
            refused = api.post("/events", ev("RepOnboarded", MARCH, rep_id=rep_id, name="X", team_id="T-1", region="E"))
            assert refused.status_code == 422, rep_id
            assert refused.json()["detail"][0]["field"] == "data.rep_id"


def test_a_rep_sees_that_an_admin_wrote_an_event_but_not_which_token(settings):
    with running(settings) as api:
        actors = {e["actor"] for e in api.get("/events", role="rep", limit=1000).json()["events"]}
        assert actors == {"admin"}
        assert all(a.startswith("admin:tok_") for a in {e["actor"] for e in api.get("/events").json()["events"]})


def test_a_reps_history_answers_its_latest_entries_and_says_when_earlier_ones_were_left_out(settings, monkeypatch):
    from projections.queries import history

    monkeypatch.setattr(history, "MAX_HISTORY_ENTRIES", 3)
    with running(settings) as api:
        trainings = [
            ev("TrainingCompleted", f"2026-03-0{d}T09:00:00+00:00", rep_id=OWN, training=f"T{d}") for d in range(1, 6)
        ]
        api.record(*trainings)
        # R-ann's history: T1…T5 (1–5 March), her evaluation (30 March), her feedback (31 March).
        answer = api.get(f"/reps/{OWN}/history", role="rep").json()
        assert [e["kind"] for e in answer["history"]] == ["training", "evaluation", "feedback"]
        assert answer["history"][0]["data"]["training"] == "T5" and answer["earlier"] is True
        early = api.get(f"/reps/{OWN}/history", role="rep", as_of="2026-03-02T12:00:00+00:00").json()
        assert [e["data"]["training"] for e in early["history"]] == ["T1", "T2"] and early["earlier"] is False
