"""POST /replays and /replays/adjustments, and the audit routes, through HTTP: a period replayed
under another plan diffed rep by rep and line by line against what was approved, the reviewed
differences recorded once, and the log and the projections proven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_client import FAR, MATE, OWN, Api
from payout_fixtures import FLAT_RULES

V2 = {"plan_id": "std", "version": 2}


def replay(api: Api, body: dict, role: str = "finance") -> dict:
    response = api.post("/replays", body, role=role)
    assert response.status_code == 200, response.text
    return response.json()


def diff_of(answer: dict) -> dict[str, tuple]:
    return {row["rep_id"]: (row["basis"], row["before"], row["after"], row["delta"]) for row in answer["diff"]}


def test_a_replay_diffs_every_rep_against_the_plan_in_force_and_writes_nothing(api):
    head = api.head()
    answer = replay(api, {"period": "2026-Q1", "plan": V2})
    # v2 is a flat 4% with the same bonus: R-ann 5200 + 5000 against 4800 + 5000 under v1
    assert diff_of(answer) == {
        OWN: ("computed", "9800.00", "10200.00", "400.00"),
        MATE: ("computed", "2400.00", "3200.00", "800.00"),
        FAR: ("computed", "2333.33", "3111.11", "777.78"),
    }
    own = next(row for row in answer["diff"] if row["rep_id"] == OWN)
    assert {line["component"]: line["delta"] for line in own["lines"]} == {
        "commission": "400.00",
        "target-bonus": "0.00",
    }
    assert answer["plan"] == {"plan_id": "std", "version": 2, "draft": False}
    assert [p["total"] for p in answer["payouts"]] == ["10200.00", "3200.00", "3111.11"]
    assert api.head() == head


def test_a_replay_diffs_against_what_was_approved_and_is_pinned_by_its_known_at(api):
    api.post(f"/payouts/{OWN}/2026-Q1/approve")
    first = replay(api, {"period": "2026-Q1", "plan": V2})
    assert diff_of(first)[OWN] == ("approved", "9800.00", "10200.00", "400.00")
    again = replay(api, {"period": "2026-Q1", "plan": V2, "known_at": first["known_at"]})
    assert again["replay_id"] == first["replay_id"] and again["diff"] == first["diff"]


def test_a_replay_under_draft_rules_needs_no_published_plan(api):
    rules = {
        "components": [
            {
                "id": "commission",
                "kind": "commission",
                "base": "revenue",
                "mode": "flat",
                "tiers": [{"from_attainment": "0", "rate": "0.05"}],
            }
        ]
    }
    answer = replay(api, {"period": "2026-Q1", "plan": {"rules": rules}}, role="auditor")
    assert answer["plan"]["draft"] is True and diff_of(answer)[OWN][2] == "6500.00"


def test_reviewed_differences_are_recorded_once_as_adjustments(api):
    api.post(f"/payouts/{OWN}/2026-Q1/approve")
    api.post(f"/payouts/{MATE}/2026-Q1/approve")
    reviewed = replay(api, {"period": "2026-Q1", "plan": V2})
    body = {"period": "2026-Q1", "plan": V2, "known_at": reviewed["known_at"], "reason": "v2 applies to Q1"}
    response = api.post("/replays/adjustments", body, role="finance")
    assert response.status_code == 201, response.text
    recorded = response.json()
    # R-cat was never approved and Q1 is open: approved, not adjusted, when the time comes
    assert {a["rep_id"]: a["amount"] for a in recorded["adjustments"]} == {OWN: "400.00", MATE: "800.00"}
    assert recorded["replay_id"] == reviewed["replay_id"] and recorded["duplicates"] == []
    repeated = api.post("/replays/adjustments", body, role="finance").json()
    assert repeated["positions"] == recorded["positions"] and repeated["duplicates"] == [0, 1]
    approved = api.get(f"/payouts/{OWN}/2026-Q1/explain").json()["approved"]
    assert approved["current"] == "10200.00"
    assert [(a["amount"], a["reason"], a["replay_id"]) for a in approved["adjustments"]] == [
        ("400.00", "v2 applies to Q1", reviewed["replay_id"])
    ]


def test_adjustments_need_the_known_at_of_a_reviewed_replay(api):
    missing = api.post("/replays/adjustments", {"period": "2026-Q1", "plan": V2})
    assert missing.status_code == 422 and [p["field"] for p in missing.json()["detail"]] == ["body.known_at"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ahead = api.post("/replays/adjustments", {"period": "2026-Q1", "plan": V2, "known_at": future})
    assert ahead.status_code == 422 and "future" in ahead.json()["detail"][0]["message"]


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/replays", "auditor", 200),
        ("/replays", "manager", 403),
        ("/replays", "rep", 403),
        ("/replays/adjustments", "auditor", 403),
        ("/replays/adjustments", "manager", 403),
    ],
)
def test_who_may_replay_and_who_may_record_adjustments(api, path, role, status):
    body = {"period": "2026-Q1", "plan": V2, "known_at": datetime.now(UTC).isoformat()}
    assert api.post(path, body, role=role).status_code == status


@pytest.mark.parametrize(
    ("body", "fields", "says"),
    [
        ({}, ["body.period", "body.plan"], "required"),
        ({"period": "2026-Q1", "plan": {"plan_id": "std"}}, ["body.plan"], "published plan"),
        ({"period": "2026-Q1", "plan": {"plan_id": "std", "version": 0}}, ["body.plan.version"], "greater than"),
        ({"period": "2026-Q1", "plan": {"plan_id": "std", "version": "two"}}, ["body.plan.version"], "integer"),
        ({"period": "2026-Q1", "plan": {"plan_id": "std", "version": 9}}, ["body.plan"], "not published"),
        (
            {"period": "2026-Q1", "plan": {"rules": {"components": [{"id": "x", "kind": "bonus"}]}}},
            ["body.plan"],
            "rules.",
        ),
        ({"period": "2026-Q1", "plan": {"rules": FLAT_RULES, "version": 2}}, ["body.plan"], "draft"),
        ({"period": "Q1", "plan": V2}, ["body.period"], ""),
        ({"period": "2026-Q1", "plan": V2, "known_at": "2026-04-01T00:00:00"}, ["body.known_at"], "time zone"),
        ({"period": "2026-Q1", "plan": V2, "dry_run": True}, ["body.dry_run"], "not permitted"),
        ([1, 2], ["body"], "object"),
    ],
)
def test_a_malformed_replay_is_a_422_naming_each_field(api, body, fields, says):
    response = api.post("/replays", body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert [p["field"] for p in problems] == fields
    assert says in problems[0]["message"]


def test_a_body_that_is_not_json_is_a_422(api):
    response = api.client.post("/replays", content=b"{period", headers=api.headers("admin"))
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "body"


def test_a_replay_without_a_token_is_401_before_its_body_is_read(api):
    assert api.client.post("/replays", content=b"{not json").status_code == 401


def test_verify_checks_the_chain_and_the_seal_of_each_closed_period(api):
    api.post("/periods/2026-Q1/close")
    report = api.get("/audit/verify", role="auditor").json()
    assert report["ok"] is True and report["events_checked"] == api.head()
    assert report["seals"] == [
        {"period": "2026-Q1", "position": api.head(), "head_position": api.head() - 1, "holds": True}
    ]
    assert api.get("/audit/verify", digest=report["head"]).json()["extends_digest"] is True


def test_the_audit_rebuild_finds_the_live_projections_equal_to_a_rebuild_from_the_log(api):
    response = api.get("/audit/rebuild", role="auditor", period=["2026-Q1", "2026"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True and report["difference_count"] == 0 and report["events_replayed"] == api.head()
    assert report["compared"]["periods"] == ["2026-Q1", "2026"]
    assert api.get("/audit/rebuild", role="finance").status_code == 403
