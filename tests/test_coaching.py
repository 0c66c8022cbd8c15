"""Coaching followed through: improvement plans reviewed (met, missed, extended), trainings assigned
against a gap and completed, and the coaching reads of a rep and a team, at both cut-offs.

The golden story, every figure worked out by hand (all times UTC):

- R-1 and R-2 in team T-1, R-3 in team T-2, onboarded on 2026-01-01.
- R-1's evaluations: E-1 (2026-01-31, January) result 60, discovery 50, closing 70; E-2
  (2026-02-28, February) result 72, discovery 65, closing 68, demo 80. Progress: result 60 → 72
  (+12), discovery 50 → 65 (+15), closing 70 → 68 (−2), demo — → 80 (no delta).
- R-1's plan IP-1 set 2026-03-01, review by 2026-04-01 (gap: discovery); IP-2 set 03-05, review
  by 05-01. Training TR-1 (gap discovery, for IP-1) assigned 03-02 due 03-31; TR-2 (gap closing)
  assigned 03-02 due 04-30, completed 04-05. An old-style completion ("SPIN", no assignment) 03-10.
- Feedback F-1 on 03-02, F-2 on 03-20: the latest is F-2.
- R-2's plan IP-9 set 03-01, review by 03-20. R-3 (another team) has IP-7, review by 03-15.
- IP-1 is reviewed "met" on 04-10; the ledger learns it on 04-12.

Read as of 04-15: known at 04-11, IP-1 is still open and overdue (its review date 04-01 is
past), beside IP-2 (open, due 05-01); known now, IP-1 is met and no review is overdue. TR-1 is
pending and overdue (due 03-31); TR-2 is completed. The team T-1 as of 04-15, known at 04-11:
overdue reviews IP-9 (R-2, 03-20) then IP-1 (R-1, 04-01); overdue trainings TR-1 (R-1). R-3's
IP-7 never shows in T-1.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from builders import ev, onboard
from projection_fixtures import FixedClock, projected_stores

from projections.queries.coaching import rep_coaching, team_coaching
from projections.queries.history import rep_history

JAN1 = "2026-01-01T09:00:00+00:00"


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def plan(plan_id: str, rep: str, day: str, review: str, **more):
    return ev(
        "ImprovementPlanSet",
        f"{day}T09:00:00+00:00",
        improvement_plan_id=plan_id,
        rep_id=rep,
        goals=["Qualify every lead"],
        trainings=[],
        review_by=f"{review}T00:00:00+00:00",
        **more,
    )


def evaluation(eval_id: str, day: str, period: str, result: int, **process: int):
    return ev(
        "EvaluationRecorded",
        f"{day}T10:00:00+00:00",
        evaluation_id=eval_id,
        rep_id="R-1",
        period=period,
        evaluator_id="manager:T-1",
        result_score=result,
        process_scores=process,
    )


def assign(training_id: str, day: str, due: str, gap: str, **more):
    return ev(
        "TrainingAssigned",
        f"{day}T09:00:00+00:00",
        training_id=training_id,
        rep_id="R-1",
        training=f"Course {training_id}",
        gap=gap,
        due_by=f"{due}T00:00:00+00:00",
        assigned_by="manager:T-1",
        **more,
    )


def feedback(feedback_id: str, day: str, text: str):
    return ev(
        "FeedbackGiven",
        f"{day}T11:00:00+00:00",
        feedback_id=feedback_id,
        rep_id="R-1",
        author_id="manager:T-1",
        kind="coaching",
        text=text,
    )


STORY = [
    onboard("R-1", "T-1", when=JAN1),
    onboard("R-2", "T-1", when=JAN1),
    onboard("R-3", "T-2", "West", when=JAN1),
    evaluation("E-1", "2026-01-31", "2026-01", 60, discovery=50, closing=70),
    evaluation("E-2", "2026-02-28", "2026-02", 72, discovery=65, closing=68, demo=80),
    plan("IP-1", "R-1", "2026-03-01", "2026-04-01", gaps=["discovery"], set_by="manager:T-1"),
    plan("IP-2", "R-1", "2026-03-05", "2026-05-01"),
    plan("IP-9", "R-2", "2026-03-01", "2026-03-20"),
    plan("IP-7", "R-3", "2026-03-01", "2026-03-15"),
    assign("TR-1", "2026-03-02", "2026-03-31", "discovery", improvement_plan_id="IP-1"),
    assign("TR-2", "2026-03-02", "2026-04-30", "closing"),
    feedback("F-1", "2026-03-02", "Ask before you pitch"),
    ev("TrainingCompleted", "2026-03-10T09:00:00+00:00", rep_id="R-1", training="SPIN"),
    feedback("F-2", "2026-03-20", "Better discovery calls this week"),
]
TR2_DONE = ev("TrainingCompleted", "2026-04-05T09:00:00+00:00", rep_id="R-1", training_id="TR-2")
IP1_MET = ev(
    "ImprovementPlanReviewed",
    "2026-04-10T09:00:00+00:00",
    improvement_plan_id="IP-1",
    rep_id="R-1",
    reviewer_id="manager:T-1",
    outcome="met",
    note="Discovery up 15 points",
)


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


@pytest.fixture
def story(projected_store):
    clock = FixedClock("2026-03-21T00:00:00+00:00")
    store = projected_store(tz_name="UTC", clock=clock)
    store.record(*STORY)
    clock.set("2026-04-06T00:00:00+00:00")
    store.record(TR2_DONE)
    clock.set("2026-04-12T00:00:00+00:00")
    store.record(IP1_MET)
    clock.set("2026-04-20T00:00:00+00:00")
    store.project()
    return store


def ids(items, key="improvement_plan_id"):
    return [item[key] for item in items]


def test_a_plan_past_its_review_date_is_overdue_until_the_ledger_learns_it_was_met(story):
    before = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"), known_at=at("2026-04-11"))
    assert ids(before["open_plans"]) == ["IP-1", "IP-2"]
    assert ids(before["overdue_reviews"]) == ["IP-1"]
    assert before["overdue_reviews"][0]["review_by"] == datetime.fromisoformat("2026-04-01T00:00:00+00:00")
    assert before["overdue_reviews"][0]["gaps"] == ["discovery"]
    assert before["closed_plans"] == []

    after = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))
    assert ids(after["open_plans"]) == ["IP-2"]
    assert after["overdue_reviews"] == []
    (met,) = after["closed_plans"]
    assert (met["improvement_plan_id"], met["status"]) == ("IP-1", "met")
    assert [(r["outcome"], r["note"], r["reviewer_id"]) for r in met["reviews"]] == [
        ("met", "Discovery up 15 points", "manager:T-1")
    ]


def test_a_review_that_happened_after_as_of_leaves_the_plan_open(story):
    early = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-09"))
    assert ids(early["overdue_reviews"]) == ["IP-1"]
    march = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-03-15"))
    assert ids(march["open_plans"]) == ["IP-1", "IP-2"] and march["overdue_reviews"] == []


def test_trainings_pending_overdue_and_completed(story):
    answer = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))
    assert ids(answer["trainings_pending"], "training_id") == ["TR-1"]
    (late,) = answer["trainings_overdue"]
    assert (late["training_id"], late["gap"], late["improvement_plan_id"]) == ("TR-1", "discovery", "IP-1")
    (done,) = answer["trainings_completed"]
    assert (done["training_id"], done["completed_at"]) == ("TR-2", datetime.fromisoformat("2026-04-05T09:00:00+00:00"))
    # As of 04-01, TR-2 was pending and not yet due; TR-1 was one day late.
    april = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-01"))
    assert [(t["training_id"], t["overdue"]) for t in april["trainings_pending"]] == [("TR-1", True), ("TR-2", False)]


def test_progress_per_score_against_the_previous_evaluation(story):
    progress = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))["progress"]
    assert (progress["previous"]["evaluation_id"], progress["latest"]["evaluation_id"]) == ("E-1", "E-2")
    assert [(s["score"], s["previous"], s["latest"], s["delta"]) for s in progress["scores"]] == [
        ("result", 60, 72, 12),
        ("discovery", 50, 65, 15),
        ("closing", 70, 68, -2),
        ("demo", None, 80, None),
    ]
    # As of February 1st only E-1 had happened: nothing to compare with.
    first = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-02-01"))["progress"]
    assert first["previous"] is None and first["scores"][0] == {
        "score": "result",
        "kind": "result",
        "previous": None,
        "latest": 60,
        "delta": None,
    }


def test_the_latest_feedback_is_the_last_one_given_by_as_of(story):
    now = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))["latest_feedback"]
    assert (now["feedback_id"], now["text"]) == ("F-2", "Better discovery calls this week")
    then = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-03-10"))["latest_feedback"]
    assert then["feedback_id"] == "F-1"


def test_the_team_view_lists_what_is_overdue_across_its_reps_only(story):
    team = team_coaching(story.engine, story.settings, "T-1", as_of=at("2026-04-15"), known_at=at("2026-04-11"))
    assert [(p["rep_id"], p["improvement_plan_id"]) for p in team["overdue_reviews"]] == [
        ("R-2", "IP-9"),
        ("R-1", "IP-1"),
    ]
    assert [(t["rep_id"], t["training_id"]) for t in team["overdue_trainings"]] == [("R-1", "TR-1")]
    assert team["reps"] == [
        {"rep_id": "R-1", "open_plans": 2, "overdue_reviews": 1, "trainings_pending": 1, "trainings_overdue": 1},
        {"rep_id": "R-2", "open_plans": 1, "overdue_reviews": 1, "trainings_pending": 0, "trainings_overdue": 0},
    ]
    known_now = team_coaching(story.engine, story.settings, "T-1", as_of=at("2026-04-15"))
    assert [(p["rep_id"], p["improvement_plan_id"]) for p in known_now["overdue_reviews"]] == [("R-2", "IP-9")]
    west = team_coaching(story.engine, story.settings, "T-2", as_of=at("2026-04-15"))
    assert [(p["rep_id"], p["improvement_plan_id"]) for p in west["overdue_reviews"]] == [("R-3", "IP-7")]


def test_the_history_lists_reviews_and_assignments_beside_the_rest(story):
    kinds = [entry["kind"] for entry in rep_history(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))]
    assert kinds.count("plan_review") == 1 and kinds.count("training_assigned") == 2
    assert kinds.count("training") == 2  # the old-style SPIN and TR-2's completion


# ---------------------------------------------------------------- old events, upcast


def stored_v1(ledger, envelopes, drop: tuple[str, ...]):
    """The rep's last stored event rewritten as class version 1 wrote it: without `drop`."""
    import orjson
    from eventsourcing.persistence import StoredEvent

    from ledger.aggregates import Rep

    ledger.record(envelopes, "t")
    stored = ledger.recorder.select_streams([Rep.create_id("R-1")])[Rep.create_id("R-1")][-1]
    state = orjson.loads(stored.state)
    assert state["class_version"] == 2
    for key in drop:
        del state[key]
    state["class_version"] = 1
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(state))


def test_a_version_1_plan_reads_with_no_setter_and_no_gaps(ledger):
    from ledger.decoding import to_log_record

    old = stored_v1(
        ledger, [onboard("R-1", when=JAN1), plan("IP-1", "R-1", "2026-03-01", "2026-04-01")], ("set_by", "gaps")
    )
    event = ledger.app.mapper.to_domain_event(old)
    assert (event.set_by, event.gaps, event.improvement_plan_id) == (None, [], "IP-1")
    record = to_log_record(2, 0, "ImprovementPlanSet", "R-1", "t", None, old.topic, old.state)
    assert (record.data["set_by"], record.data["gaps"]) == (None, [])


def test_a_version_1_completion_reads_with_no_assignment(ledger):
    from ledger.decoding import to_log_record

    completion = ev("TrainingCompleted", "2026-03-10T09:00:00+00:00", rep_id="R-1", training="SPIN")
    old = stored_v1(ledger, [onboard("R-1", when=JAN1), completion], ("training_id",))
    event = ledger.app.mapper.to_domain_event(old)
    assert (event.training, event.training_id) == ("SPIN", None)
    record = to_log_record(2, 0, "TrainingCompleted", "R-1", "t", None, old.topic, old.state)
    assert record.data == {"rep_id": "R-1", "training": "SPIN", "training_id": None}


# ---------------------------------------------------------------- the command line


def test_the_command_line_shows_a_reps_coaching_and_a_teams_overdue(cli, sqlite_ledger):
    import orjson

    sqlite_ledger.record(STORY + [TR2_DONE, IP1_MET], "seed")
    shown = cli("coaching", "R-1", "--as-of", "2026-04-15T12:00:00+00:00")
    assert shown.exit_code == 0, shown.output
    assert "Coaching of R-1" in shown.output and "IP-2" in shown.output
    assert "+15" in shown.output and "-2" in shown.output  # discovery 50 → 65, closing 70 → 68
    assert "Better discovery calls this week" in shown.output
    as_json = cli("coaching", "R-1", "--as-of", "2026-04-15T12:00:00+00:00", "--json")
    answer = orjson.loads(as_json.output)
    assert [p["improvement_plan_id"] for p in answer["open_plans"]] == ["IP-2"]
    assert [t["training_id"] for t in answer["trainings_overdue"]] == ["TR-1"]
    team = cli("coaching", "--team", "T-1", "--as-of", "2026-04-15T12:00:00+00:00", "--json")
    assert [(p["rep_id"], p["improvement_plan_id"]) for p in orjson.loads(team.output)["overdue_reviews"]] == [
        ("R-2", "IP-9")
    ]
    table = cli("coaching", "--team", "T-1", "--as-of", "2026-04-15")
    assert "IP-9" in table.output and "OVERDUE" in table.output
    unknown = cli("coaching", "R-404")
    assert unknown.exit_code != 0 and "rep:R-404 not found" in unknown.output


def test_the_command_line_records_a_review_and_an_assignment_as_typed_commands(cli, sqlite_ledger):
    sqlite_ledger.record(STORY, "seed")
    assigned = cli(
        "training",
        "assign",
        "--rep-id",
        "R-1",
        "--training",
        "Closing clinic",
        "--gap",
        "closing",
        "--due-by",
        "2026-04-20T00:00:00+00:00",
        "--by",
        "manager:T-1",
        "--occurred-at",
        "2026-04-01T09:00:00+00:00",
    )
    assert assigned.exit_code == 0, assigned.output
    reviewed = cli(
        "improvement",
        "review",
        "IP-1",
        "--rep-id",
        "R-1",
        "--outcome",
        "missed",
        "--by",
        "manager:T-1",
        "--occurred-at",
        "2026-04-02T09:00:00+00:00",
    )
    assert reviewed.exit_code == 0, reviewed.output
    (review,) = sqlite_ledger.read_log(0, 100, types=["ImprovementPlanReviewed"])
    assert (review.data["outcome"], review.data["reviewer_id"]) == ("missed", "manager:T-1")
    again = cli("improvement", "review", "IP-1", "--rep-id", "R-1", "--outcome", "met", "--by", "manager:T-1")
    assert again.exit_code != 0 and "already reviewed as missed" in again.output


def test_an_erased_reps_review_notes_and_goals_read_as_erased_and_their_dates_stay(story):
    from services.erasure import erase_person

    story.settings.clock.set("2030-01-01T00:00:00+00:00")  # the erasure is dated by the machine's clock
    erase_person(story.ledger, story.engine, "R-1", requested_by="R-1", ground="request", actor="cli:hr")
    story.settings.clock.set("2030-01-02T00:00:00+00:00")
    story.project()
    answer = rep_coaching(story.engine, story.settings, "R-1", as_of=at("2026-04-15"))
    (met,) = answer["closed_plans"]
    assert met["reviews"][0]["note"] == "[erased]" and met["goals"] == ["[erased]"]
    assert (met["status"], met["review_by"]) == ("met", datetime.fromisoformat("2026-04-01T00:00:00+00:00"))
    assert [t["gap"] for t in answer["trainings_overdue"]] == ["discovery"]  # a training's gap is no personal text
