"""The typed commands over HTTP (services/commands.py, api/routers/commands.py): each records its
event and the effect reads back where a person looks for it; a bad input is a 422 naming the
command's own field, and nothing is written.

The department is api_client's: R-ann and R-bob in T-1 (East), R-cat in T-2 (West), each on plan
`std` v1 with a Q1 revenue target of 100000; in Q1 R-ann won 130000 (D-1), R-bob 80000 (D-2),
R-cat 77777.77 (D-3). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_client import FAR, MATE, OTHER_TEAM, OWN, TEAM, Api

Q2 = "2026-04-15T10:00:00+00:00"  # after the department's Q1 story: Q2 starts empty


def command(api: Api, path: str, body: dict[str, Any], role: str = "admin") -> dict[str, Any]:
    response = api.post(path, body, role=role)
    assert response.status_code == 201, response.text
    return response.json()


def kpis(api: Api, scope: str, period: str = "2026-Q2") -> dict[str, Any]:
    response = api.get("/kpis", scope=scope, period=period)
    assert response.status_code == 200, response.text
    return response.json()["kpis"]


def log_state(api: Api) -> tuple[int, str]:
    head = api.client.app.state.ledger.head()
    return head.position, head.link


def assert_refused(api: Api, path: str, body: Any, field: str, code: str, role: str = "admin", status: int = 422):
    """Refused naming `field`, and the log's length and head digest unchanged."""
    before = log_state(api)
    response = api.post(path, body, role=role)
    assert response.status_code == status, response.text
    problems = response.json()["detail"] if status == 422 else response.json()["problems"]
    assert (problems[0]["field"], problems[0]["code"]) == (field, code), problems
    assert log_state(api) == before


# ---------------------------------------------------------------- organisation


def test_a_rep_onboarded_transferred_and_offboarded_by_commands_moves_as_the_log_says(api):
    onboarded = command(
        api,
        "/reps",
        {"rep_id": "R-dan", "name": "Dan Wu", "team_id": TEAM, "region": "East", "occurred_at": "2026-04-01T09:00:00Z"},
    )
    assert onboarded["command"] == "rep.onboard" and onboarded["id"] == "R-dan"
    assert [e["type"] for e in onboarded["events"]] == ["RepOnboarded"]
    command(api, "/deals", {"deal_id": "D-dan", "rep_id": "R-dan", "customer_id": "C-dan", "occurred_at": Q2})
    command(api, "/deals/D-dan/won", {"amount": "5000.00", "occurred_at": Q2})
    command(api, "/reps/R-dan/transfer", {"team_id": OTHER_TEAM, "occurred_at": "2026-05-01T09:00:00Z"})
    command(
        api,
        "/deals",
        {"deal_id": "D-dan2", "rep_id": "R-dan", "customer_id": "C-d2", "occurred_at": "2026-05-02T09:00:00Z"},
    )
    command(api, "/deals/D-dan2/won", {"amount": "700.00", "occurred_at": "2026-05-02T10:00:00Z"})
    # April's 5000 stays with T-1, May's 700 counts for T-2: a transfer keeps history
    assert kpis(api, f"team:{TEAM}")["revenue"] == "5000.00"
    assert kpis(api, f"team:{OTHER_TEAM}")["revenue"] == "700.00"
    offboarded = command(api, "/reps/R-dan/offboard", {"occurred_at": "2026-06-30T18:00:00Z"})
    assert offboarded["id"] == "R-dan"
    types = [e["type"] for e in api.get("/events", rep="R-dan").json()["events"]]
    assert types == [
        "RepOnboarded",
        "DealOpened",
        "DealWon",
        "RepTransferred",
        "DealOpened",
        "DealWon",
        "RepOffboarded",
    ]
    assert_refused(
        api, "/reps", {"rep_id": "R-eve", "name": "Eve", "region": "East"}, "body.team_id", "pydantic.missing"
    )
    assert_refused(api, "/reps/R-dan/transfer", {"team": "T-9"}, "body.team", "command.unknown_field")
    assert_refused(api, "/reps/R-nobody/offboard", {}, "path.rep_id", "rep.unknown")


# ---------------------------------------------------------------- targets


def test_a_target_set_then_revised_by_commands_shows_both_values_in_its_history(api):
    body = {"scope": {"rep": OWN}, "metric": "revenue", "period": "2026-Q2", "value": "120000"}
    command(api, "/targets", {**body, "occurred_at": "2026-04-01T09:00:00Z"}, role="manager")
    revised = command(
        api,
        "/targets/revisions",
        {**body, "value": "110000", "reason": "territory split", "occurred_at": "2026-05-01T09:00:00Z"},
        role="finance",
    )
    assert revised["command"] == "target.revise"
    targets = api.get("/targets", scope=f"rep:{OWN}", period="2026-Q2").json()["targets"]["revenue"]
    assert targets["value"] == "110000"
    assert [(r["value"], r["reason"]) for r in targets["revisions"]] == [
        ("120000", None),
        ("110000", "territory split"),
    ]
    assert_refused(api, "/targets/revisions", body, "body.reason", "command.required")
    assert_refused(api, "/targets", {**body, "value": 120000}, "body.value", "number.not_string")
    assert_refused(api, "/targets", {**body, "metric": "revenu"}, "body.metric", "pydantic.literal_error")


def test_revising_a_target_never_set_is_a_422_naming_the_field_to_fix_and_writes_nothing(api):
    # The department's Q1 targets: revenue 100000 for each rep, 200000 for team T-1; nothing else.
    revision = {"scope": {"rep": OWN}, "metric": "revenue", "period": "2026-Q1", "value": "90000", "reason": "r"}
    before = log_state(api)
    # R-ann has a Q1 target, but of revenue, not orders: the metric is what to fix
    response = api.post("/targets/revisions", {**revision, "metric": "orders"}, role="finance")
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert (problem["field"], problem["code"], problem["command"], problem["event"]) == (
        "body.metric",
        "target.nothing_to_revise",
        "target.revise",
        "TargetSet",
    )
    assert "rep:R-ann has no orders target for 2026-Q1 to revise" in problem["message"]
    # a revenue target, but for Q1 only: the period is what to fix
    assert_refused(
        api, "/targets/revisions", {**revision, "period": "2026-Q3"}, "body.period", "target.nothing_to_revise"
    )
    # region West has no target at all: the scope
    assert_refused(
        api, "/targets/revisions", {**revision, "scope": {"region": "West"}}, "body.scope", "target.nothing_to_revise"
    )
    assert log_state(api) == before
    # the target that exists is revised: 100000 → 90000
    command(api, "/targets/revisions", {**revision, "occurred_at": "2026-02-01T09:00:00Z"}, role="finance")
    assert api.get("/targets", scope=f"rep:{OWN}", period="2026-Q1").json()["targets"]["revenue"]["value"] == "90000"


def test_setting_a_first_target_stays_open_to_target_set_and_post_events(api):
    # A TargetSet through POST /events is how a target is first set (and allocations, imports):
    # the revision rule is the revise command's, not the event's.
    body = {"scope": {"rep": OWN}, "metric": "orders", "period": "2026-Q1", "value": "4"}
    command(api, "/targets", body)
    api.record({"type": "TargetSet", "occurred_at": "2026-01-05T09:00:00Z", "data": {**body, "metric": "leads"}})
    # each now has something to revise
    command(api, "/targets/revisions", {**body, "value": "5", "reason": "r"})
    command(api, "/targets/revisions", {**body, "metric": "leads", "value": "5", "reason": "r"})


# ---------------------------------------------------------------- activities, follow-ups, leads


def test_a_reps_call_and_follow_up_logged_by_commands_count_in_their_kpis(api):
    logged = command(api, "/activities", {"rep_id": OWN, "kind": "call", "occurred_at": Q2}, role="rep")
    assert logged["id"].startswith("A-")
    command(api, "/activities", {"rep_id": OWN, "kind": "visit", "activity_id": "A-visit", "occurred_at": Q2})
    scheduled = command(
        api, "/followups", {"rep_id": OWN, "due_at": "2026-04-20T18:00:00Z", "occurred_at": Q2}, role="rep"
    )
    figures = kpis(api, f"rep:{OWN}")
    assert (figures["activities"]["call"], figures["activities"]["visit"]) == (1, 1)
    assert figures["followups"] == {"due": 1, "done": 0, "overdue": 1}  # due on the 20th, not done by the end of Q2
    command(api, f"/followups/{scheduled['id']}/complete", {"occurred_at": "2026-04-19T10:00:00Z"}, role="rep")
    assert kpis(api, f"rep:{OWN}")["followups"] == {"due": 1, "done": 1, "overdue": 0}
    assert_refused(
        api, "/activities", {"rep_id": OWN, "kind": "fax"}, "body.kind", "pydantic.literal_error", role="rep"
    )
    assert_refused(api, "/followups/FU-none/complete", {}, "path.followup_id", "followup.unknown")


def test_a_lead_recorded_by_command_converts_when_its_deal_is_won(api):
    lead = command(
        api, "/leads", {"rep_id": MATE, "customer_id": "C-new", "source": "fair", "occurred_at": Q2}, role="manager"
    )
    assert lead["command"] == "lead.record" and lead["id"].startswith("L-")
    command(
        api,
        "/deals",
        {"deal_id": "D-lead", "rep_id": MATE, "customer_id": "C-new", "lead_id": lead["id"], "occurred_at": Q2},
        role="manager",
    )
    command(api, "/deals/D-lead/won", {"amount": "900.00", "occurred_at": Q2}, role="manager")
    figures = kpis(api, f"rep:{MATE}")
    assert (figures["conversion_rate"], figures["revenue"]) == ("1.0000", "900.00")  # 1 lead of 1 converted
    assert_refused(api, "/leads", {"rep_id": MATE, "source": ""}, "body.source", "pydantic.string_too_short")


# ---------------------------------------------------------------- deals


def test_deals_opened_won_corrected_refunded_split_and_lost_by_commands_move_revenue_as_worked_out(api):
    for deal, rep in (("D-a", OWN), ("D-b", OWN)):
        command(
            api,
            "/deals",
            {"deal_id": deal, "rep_id": rep, "customer_id": f"C-{deal}", "occurred_at": Q2},
            role="manager",
        )
    won = command(
        api, "/deals/D-a/won", {"amount": "10000.00", "occurred_at": Q2, "event_id": "crm-a-won"}, role="manager"
    )
    assert won["events"][0]["event_id"] == "crm-a-won" and won["events"][0]["duplicate"] is False
    again = command(
        api, "/deals/D-a/won", {"amount": "10000.00", "occurred_at": Q2, "event_id": "crm-a-won"}, role="manager"
    )
    assert again["events"][0]["duplicate"] is True
    assert again["events"][0]["position"] == won["events"][0]["position"]
    assert kpis(api, f"rep:{OWN}")["revenue"] == "10000.00"
    command(
        api, "/deals/D-a/correction", {"amount": "9000.00", "reason": "discount", "occurred_at": Q2}, role="manager"
    )
    command(api, "/deals/D-a/refund", {"amount": "1000.00", "reason": "return", "occurred_at": Q2}, role="manager")
    assert kpis(api, f"rep:{OWN}")["revenue"] == "8000.00"  # 9000 corrected, less 1000 refunded
    command(
        api,
        "/deals/D-a/split",
        {"splits": [{"rep_id": OWN, "share": "0.75"}, {"rep_id": MATE, "share": "0.25"}], "occurred_at": Q2},
        role="manager",
    )
    assert kpis(api, f"rep:{OWN}")["revenue"] == "6000.00"  # 8000 × 0.75
    assert kpis(api, f"rep:{MATE}")["revenue"] == "2000.00"  # 8000 × 0.25
    lost = command(api, "/deals/D-b/lost", {"reason": "budget cut", "occurred_at": Q2}, role="manager")
    assert lost["command"] == "deal.lost"
    assert kpis(api, f"rep:{OWN}")["win_rate"] == "0.5000"  # D-a won (split: counted whole), D-b lost: 1 / 2
    assert_refused(api, "/deals/D-b/won", {"amount": "1.00"}, "path.deal_id", "deal.closed")
    assert_refused(api, "/deals/D-a/refund", {"amount": "0.00"}, "body.amount", "refund.zero")
    assert_refused(api, "/deals/D-a/split", {"splits": [{"rep_id": OWN, "share": "0.5"}]}, "body.splits", "splits.sum")
    assert_refused(api, "/deals/D-a/won", {"amount": "12.345"}, "body.amount", "money.cents")
    assert_refused(api, "/deals", {"deal_id": "D-c", "rep_id": OWN}, "body.customer_id", "pydantic.missing")


# ---------------------------------------------------------------- people process


def test_an_evaluation_feedback_plan_and_training_recorded_by_commands_show_in_the_reps_history(api):
    evaluation = command(
        api,
        "/evaluations",
        {
            "rep_id": OWN,
            "period": "2026-Q2",
            "result_score": 82,
            "process_scores": {"discovery": 70},
            "swot": {"strengths": ["closing"], "weaknesses": ["forecasting"]},
            "occurred_at": "2026-06-30T10:00:00Z",
        },
        role="manager",
    )
    command(
        api,
        "/feedback",
        {
            "rep_id": OWN,
            "kind": "coaching",
            "text": "forecast weekly",
            "evaluation_id": evaluation["id"],
            "occurred_at": "2026-06-30T11:00:00Z",
        },
        role="manager",
    )
    command(
        api,
        "/improvement-plans",
        {
            "rep_id": OWN,
            "goals": ["weekly forecast"],
            "trainings": ["forecasting"],
            "review_by": "2026-09-30T18:00:00Z",
            "occurred_at": "2026-06-30T12:00:00Z",
        },
        role="manager",
    )
    command(
        api,
        "/trainings",
        {"rep_id": OWN, "training": "forecasting", "occurred_at": "2026-07-10T12:00:00Z"},
        role="manager",
    )
    history = api.get(f"/reps/{OWN}/history").json()["history"]
    recent = [(h["kind"], h["data"]) for h in history if h["occurred_at"] >= "2026-06"]
    assert [kind for kind, _ in recent] == ["evaluation", "feedback", "improvement_plan", "training"]
    evaluated = recent[0][1]
    assert (evaluated["evaluator_id"], evaluated["result_score"], evaluated["swot"]["strengths"]) == (
        f"manager:{TEAM}",  # the token's person, not a body field
        82,
        ["closing"],
    )
    assert recent[1][1]["author_id"] == f"manager:{TEAM}"
    history_entry = next(h for h in history if h["kind"] == "evaluation" and h["occurred_at"] >= "2026-06")
    assert history_entry["result_delta"] == 11  # 82 against Q1's 71
    assert_refused(
        api,
        "/evaluations",
        {"rep_id": OWN, "period": "2026-Q2", "result_score": 101, "process_scores": {}},
        "body.result_score",
        "pydantic.less_than_equal",
        role="manager",
    )
    assert_refused(
        api,
        "/feedback",
        {"rep_id": OWN, "kind": "coaching", "text": "x", "author_id": "M-9"},
        "body.author_id",
        "command.unknown_field",
        role="manager",
    )
    assert_refused(
        api,
        "/improvement-plans",
        {"rep_id": OWN, "goals": [], "trainings": [], "review_by": "2026-09-30T18:00:00Z"},
        "body.goals",
        "pydantic.too_short",
    )


# ---------------------------------------------------------------- incentives


RULES = {
    "components": [
        {
            "id": "base",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.05"}],
        }
    ]
}


def test_a_plan_published_assigned_and_signed_off_by_commands_pays_and_leaves_the_unsigned_list(api):
    command(api, "/plans", {"plan_id": "p5", "version": 1, "effective_from": "2026-04", "rules": RULES}, role="finance")
    assigned = command(api, "/plans/p5/assign", {"scope": {"rep": OWN}, "from_period": "2026-04"}, role="finance")
    assert assigned["id"] == "p5"
    command(api, "/deals", {"deal_id": "D-p5", "rep_id": OWN, "customer_id": "C-p5", "occurred_at": Q2})
    command(api, "/deals/D-p5/won", {"amount": "20000.00", "occurred_at": Q2})
    award = command(
        api,
        "/awards",
        {"rep_id": OWN, "period": "2026-04", "amount": "300.00", "reason": "top of April", "occurred_at": Q2},
        role="finance",
    )
    assert award["command"] == "award.grant"
    explained = api.get(f"/payouts/{OWN}/2026-04/explain").json()
    assert explained["total"] == "1300.00"  # 5% of 20000, plus the award of 300
    assert any(r["rep_id"] == OWN for r in api.get("/plans/unacknowledged", period="2026-04").json()["reps"])
    command(api, "/plans/p5/acknowledge", {"rep_id": OWN, "version": 1}, role="rep")
    assert all(r["rep_id"] != OWN for r in api.get("/plans/unacknowledged", period="2026-04").json()["reps"])
    assert_refused(
        api, "/plans/p5/acknowledge", {"rep_id": OWN, "version": 2}, "body.version", "plan.version_unknown", role="rep"
    )
    assert_refused(
        api, "/plans/p-none/assign", {"scope": {"team": TEAM}, "from_period": "2026-04"}, "path.plan_id", "plan.unknown"
    )
    assert_refused(
        api,
        "/plans",
        {"plan_id": "p6", "version": 1, "effective_from": "2026-04", "rules": {}},
        "body.rules",
        "pydantic.value_error",
    )
    assert_refused(
        api, "/awards", {"rep_id": OWN, "period": "2026-04", "amount": "300.00"}, "body.reason", "pydantic.missing"
    )


# ---------------------------------------------------------------- disputes


def test_a_dispute_opened_and_commented_by_commands_reads_back_with_its_comments(api):
    opened = command(
        api,
        "/disputes",
        {"rep_id": OWN, "period": "2026-Q1", "component": "commission", "text": "D-1 bonus missing", "deal_id": "D-1"},
        role="rep",
    )
    dispute_id = opened["id"]
    assert dispute_id.startswith("DS-")
    command(api, f"/disputes/{dispute_id}/comments", {"text": "checking the order"}, role="manager")
    command(api, f"/disputes/{dispute_id}/comments", {"text": "thanks"}, role="rep")
    shown = api.get(f"/disputes/{dispute_id}").json()
    comments = [entry for entry in shown["timeline"] if entry["kind"] == "commented"]
    assert [(c["author_id"], c["text"]) for c in comments] == [
        (f"manager:{TEAM}", "checking the order"),
        (f"rep:{OWN}", "thanks"),
    ]
    assert_refused(api, "/disputes/DS-none/comments", {"text": "hello"}, "path.dispute_id", "dispute.unknown")
    assert_refused(
        api, "/disputes", {"rep_id": OWN, "period": "2026-13", "text": "x"}, "body.period", "period.invalid", role="rep"
    )


# ---------------------------------------------------------------- the same answers as POST /events


def test_a_command_out_of_reach_is_refused_as_post_events_refuses_it(api):
    body = {"rep_id": FAR, "kind": "call", "activity_id": "A-far", "occurred_at": Q2}
    assert_refused(api, "/activities", body, "body", "record.beyond_reach", role="manager", status=403)
    raw = api.post(
        "/events",
        {"type": "ActivityLogged", "occurred_at": Q2, "data": {k: v for k, v in body.items() if k != "occurred_at"}},
        role="manager",
    )
    assert raw.status_code == 403
    assert raw.json()["problems"][0]["code"] == "record.beyond_reach"
    assert api.post("/activities", body, role="auditor").status_code == 403


def test_a_command_body_that_is_not_an_object_is_refused_naming_the_body(api):
    assert_refused(api, "/deals/D-1/won", ["18000.00"], "body", "command.not_object")


@pytest.mark.parametrize("path", ["/deals/D-1/won", "/activities"])
def test_every_command_refuses_a_time_without_a_zone_naming_occurred_at(api, path):
    body = {"amount": "1.00"} if "won" in path else {"rep_id": OWN, "kind": "call"}
    assert_refused(api, path, {**body, "occurred_at": "2026-04-01T10:00:00"}, "body.occurred_at", "time.no_zone")


def test_a_commands_refusal_names_the_command_and_its_event_in_the_readers_language(api):
    response = api.client.post(
        "/deals/D-1/won",
        json={"amount": "12.345"},
        headers={**api.headers("admin"), "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert (problem["field"], problem["command"], problem["event"]) == ("body.amount", "deal.won", "DealWon")
    assert problem["code"] == "money.cents" and "amount" not in problem["message"]  # the message is Chinese
    unknown = api.client.post(
        "/deals/D-1/won", json={"amont": "1.00"}, headers={**api.headers("admin"), "Accept-Language": "zh-CN"}
    )
    assert unknown.json()["detail"][0]["message"] == "deal.won 没有这个字段；可用字段：amount, event_id, occurred_at"


def test_a_reps_retry_with_another_of_their_tokens_is_the_same_activity_not_a_second_one(api):
    from api.auth import create_token

    second = create_token(api.client.app.state.engine, "rep", rep_id=OWN)[0]
    body = {"rep_id": OWN, "kind": "call", "event_id": "call-retry", "occurred_at": Q2}
    first = command(api, "/activities", body, role="rep")
    retry = api.client.post("/activities", json=body, headers={"Authorization": f"Bearer {second}"})
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first["id"] and retry.json()["events"][0]["duplicate"] is True
    assert kpis(api, f"rep:{OWN}")["activities"]["call"] == 1


def test_a_rep_logs_a_call_without_naming_themselves_and_a_manager_must_name_the_rep(api):
    logged = command(api, "/activities", {"kind": "demo", "occurred_at": Q2}, role="rep")
    assert logged["command"] == "activity.log"
    assert kpis(api, f"rep:{OWN}")["activities"]["demo"] == 1
    assert_refused(api, "/activities", {"kind": "demo"}, "body.rep_id", "pydantic.missing", role="manager")
