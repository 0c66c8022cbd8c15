"""The coaching commands and reads over HTTP: who may record and read them, what a bad input is
answered with (a 4xx naming the field, the log's count and head unchanged), and the people
fields taken from the token.

The department of api_client: R-ann (the rep token's own) and R-bob in team T-1 (the manager
token's), R-cat in T-2.
"""

from __future__ import annotations

import pytest
from api_client import FAR, MATE, OTHER_TEAM, OWN, TEAM
from builders import ev

MARCH1 = "2026-03-01T09:00:00+00:00"
PLAN = {"improvement_plan_id": "IP-1", "goals": ["Qualify every lead"], "trainings": [], "gaps": ["discovery"]}


def fingerprint(api):
    head = api.client.app.state.ledger.head()
    return head.position, head.link


def set_plan(api, rep=OWN, role="manager", **more):
    body = {**PLAN, "rep_id": rep, "review_by": "2026-04-01T00:00:00+00:00", "occurred_at": MARCH1, **more}
    return api.post("/improvement-plans", body, role=role)


def review(api, outcome="met", rep=OWN, plan_id="IP-1", role="manager", **more):
    body = {"rep_id": rep, "outcome": outcome, "occurred_at": "2026-04-10T09:00:00+00:00", **more}
    return api.post(f"/improvement-plans/{plan_id}/reviews", body, role=role)


def complete(api, training_id="TR-1", rep=OWN, role="manager", **more):
    body = {"rep_id": rep, "training_id": training_id, "occurred_at": "2026-04-02T09:00:00+00:00", **more}
    return api.post("/trainings", body, role=role)


def assign(api, rep=OWN, role="manager", **more):
    body = {
        "rep_id": rep,
        "training_id": "TR-1",
        "training": "SPIN selling",
        "gap": "discovery",
        "due_by": "2026-03-31T00:00:00+00:00",
        "occurred_at": "2026-03-02T09:00:00+00:00",
        **more,
    }
    return api.post("/trainings/assignments", body, role=role)


def last_event(api):
    return api.get("/events", after=api.head() - 1).json()["events"][-1]


def test_a_manager_sets_reviews_and_follows_a_plan_with_people_from_the_token(api):
    answer = set_plan(api)
    assert answer.status_code == 201, answer.text
    assert answer.json()["events"][0]["type"] == "ImprovementPlanSet"
    assert last_event(api)["data"]["set_by"] == "manager:T-1"
    assert assign(api, improvement_plan_id="IP-1").status_code == 201
    assert last_event(api)["data"]["assigned_by"] == "manager:T-1"

    read = api.get(f"/reps/{OWN}/coaching", role="manager", as_of="2026-04-15T00:00:00+00:00").json()
    assert [(p["improvement_plan_id"], p["overdue"]) for p in read["overdue_reviews"]] == [("IP-1", True)]
    assert [t["training_id"] for t in read["trainings_overdue"]] == ["TR-1"]

    done = complete(api)
    assert done.status_code == 201, done.text
    assert review(api, note="Done").status_code == 201
    assert last_event(api)["data"]["reviewer_id"] == "manager:T-1"

    read = api.get(f"/reps/{OWN}/coaching", role="rep", as_of="2026-04-15T00:00:00+00:00").json()
    assert read["open_plans"] == [] and read["overdue_reviews"] == [] and read["trainings_pending"] == []
    assert [(p["improvement_plan_id"], p["status"]) for p in read["closed_plans"]] == [("IP-1", "met")]
    # The progress of the department's one evaluation: nothing before it to compare with.
    assert [(s["score"], s["latest"], s["delta"]) for s in read["progress"]["scores"]] == [
        ("result", 71, None),
        ("discovery", 61, None),
    ]
    assert read["latest_feedback"]["feedback_id"] == "F-1"


def test_an_extension_moves_the_review_date_and_keeps_the_plan_open(api):
    assert set_plan(api).status_code == 201
    extended = review(api, "extended", next_review_by="2026-05-01T00:00:00+00:00")
    assert extended.status_code == 201, extended.text
    read = api.get(f"/reps/{OWN}/coaching", as_of="2026-04-15T00:00:00+00:00").json()
    (open_plan,) = read["open_plans"]
    assert open_plan["review_by"].startswith("2026-05-01") and open_plan["overdue"] is False
    assert review(api, "missed", occurred_at="2026-05-02T09:00:00+00:00").status_code == 201
    read = api.get(f"/reps/{OWN}/coaching", as_of="2026-05-10T00:00:00+00:00").json()
    assert [p["status"] for p in read["closed_plans"]] == ["missed"]


def test_a_plan_reviewed_twice_as_final_is_refused_and_nothing_is_written(api):
    assert set_plan(api).status_code == 201
    assert review(api).status_code == 201
    before = fingerprint(api)
    again = review(api, "missed")
    assert again.status_code == 422
    (problem,) = again.json()["detail"]
    assert (problem["field"], problem["code"]) == ("path.improvement_plan_id", "improvement_plan.reviewed")
    assert "already reviewed as met" in problem["message"]
    assert fingerprint(api) == before


BAD = [
    # (name, request, status, field)
    ("unknown plan", lambda api: review(api, plan_id="IP-404"), 422, "path.improvement_plan_id"),
    ("another team's rep", lambda api: review(api, rep=FAR), 403, "body"),
    ("a plan for another team's rep", lambda api: set_plan(api, rep=FAR, improvement_plan_id="IP-2"), 403, "body"),
    ("a rep setting their own plan", lambda api: set_plan(api, role="rep", improvement_plan_id="IP-2"), 403, "command"),
    (
        "review date before the plan",
        lambda api: set_plan(api, improvement_plan_id="IP-2", review_by="2026-02-01T00:00:00+00:00"),
        422,
        "body.review_by",
    ),
    (
        "review before the plan",
        lambda api: review(api, occurred_at="2026-02-01T00:00:00+00:00"),
        422,
        "body.occurred_at",
    ),
    ("extension without a date", lambda api: review(api, "extended"), 422, "body.next_review_by"),
    (
        "final review with a date",
        lambda api: review(api, next_review_by="2026-05-01T00:00:00+00:00"),
        422,
        "body.next_review_by",
    ),
    ("unknown outcome", lambda api: review(api, "done"), 422, "body.outcome"),
    ("due date not a time", lambda api: assign(api, due_by="tomorrow"), 422, "body.due_by"),
    ("due before assigned", lambda api: assign(api, due_by="2026-03-01T00:00:00+00:00"), 422, "body.due_by"),
    (
        "training for an unknown plan",
        lambda api: assign(api, improvement_plan_id="IP-404"),
        422,
        "body.improvement_plan_id",
    ),
    ("unknown training completed", lambda api: complete(api, "TR-404"), 422, "body.training_id"),
    ("a rep assigning themselves a training", lambda api: assign(api, role="rep"), 403, "command"),
    ("a training for another team's rep", lambda api: assign(api, rep=FAR), 403, "body"),
    ("unknown field", lambda api: assign(api, assigned_by="someone-else"), 422, "body.assigned_by"),
]


@pytest.mark.parametrize(("name", "request_", "status", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_coaching_commands_name_the_field_and_write_nothing(api, name, request_, status, field):
    assert set_plan(api).status_code == 201  # IP-1, set on March 1st, reviewed by April 1st
    count_and_head = fingerprint(api)
    answer = request_(api)
    assert answer.status_code == status, answer.text
    if field is not None:
        body = answer.json()
        problems = body["problems"] if status == 403 else body["detail"]  # a refusal, or a list of problems
        assert field in [p["field"] for p in problems], answer.text
    assert fingerprint(api) == count_and_head


def test_a_body_naming_someone_else_as_reviewer_is_refused_on_post_events(api):
    assert set_plan(api).status_code == 201
    before = fingerprint(api)
    event = ev(
        "ImprovementPlanReviewed",
        "2026-04-10T09:00:00+00:00",
        improvement_plan_id="IP-1",
        rep_id=OWN,
        reviewer_id="manager:T-2",
        outcome="met",
    )
    answer = api.post("/events", event, role="manager")
    assert answer.status_code == 403
    assert answer.json()["problems"][0]["field"] == "data.reviewer_id"
    assert fingerprint(api) == before


def test_old_style_training_completions_stay_valid(api):
    answer = api.post("/events", ev("TrainingCompleted", MARCH1, rep_id=OWN, training="SPIN"), role="manager")
    assert answer.status_code == 201, answer.text
    unnamed = api.post("/events", ev("TrainingCompleted", MARCH1, rep_id=OWN), role="manager")
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["field"] == "data.training"


READS = [
    # (role, path, status)
    ("rep", f"/reps/{OWN}/coaching", 200),
    ("rep", f"/reps/{MATE}/coaching", 404),
    ("manager", f"/reps/{MATE}/coaching", 200),
    ("manager", f"/reps/{FAR}/coaching", 404),
    ("auditor", f"/reps/{FAR}/coaching", 200),
    ("manager", f"/teams/{TEAM}/coaching", 200),
    ("manager", f"/teams/{OTHER_TEAM}/coaching", 404),
    ("rep", f"/teams/{TEAM}/coaching", 404),
    ("finance", f"/teams/{OTHER_TEAM}/coaching", 200),
    ("admin", "/teams/T-404/coaching", 404),
]


@pytest.mark.parametrize(("role", "path", "status"), READS, ids=[f"{r}-{p}" for r, p, _ in READS])
def test_coaching_reads_follow_the_history_read_policy(api, role, path, status):
    assert api.get(path, role=role).status_code == status


def test_the_team_view_names_the_overdue_of_its_own_reps(api):
    assert set_plan(api).status_code == 201
    assert set_plan(api, rep=FAR, role="admin", improvement_plan_id="IP-far").status_code == 201
    team = api.get(f"/teams/{TEAM}/coaching", role="manager", as_of="2026-04-15T00:00:00+00:00").json()
    assert [(p["rep_id"], p["improvement_plan_id"]) for p in team["overdue_reviews"]] == [(OWN, "IP-1")]
    assert [r["rep_id"] for r in team["reps"]] == [OWN, MATE]


def test_a_director_reads_the_coaching_of_their_region_only(api):
    from api.auth import create_token

    api.tokens["director"] = create_token(api.client.app.state.engine, "director", region="East")[0]
    assert set_plan(api, role="director").status_code == 201
    assert api.get(f"/reps/{OWN}/coaching", role="director").status_code == 200
    assert api.get(f"/teams/{TEAM}/coaching", role="director").status_code == 200
    assert api.get(f"/reps/{FAR}/coaching", role="director").status_code == 404  # West
    assert api.get(f"/teams/{OTHER_TEAM}/coaching", role="director").status_code == 404
    team = api.get(f"/teams/{TEAM}/coaching", role="director", as_of="2026-04-15T00:00:00+00:00").json()
    assert [(p["rep_id"], p["improvement_plan_id"], p["set_by"]) for p in team["overdue_reviews"]] == [
        (OWN, "IP-1", "director:East")
    ]
