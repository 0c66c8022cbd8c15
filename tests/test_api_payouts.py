"""GET /payouts, …/explain, …/changes, POST …/approve and POST /periods/{period}/close through
HTTP: lines with their inputs and events, approvals that reproduce their digest after later
changes, and what moved a payout between two knowledge times."""

from __future__ import annotations

import pytest
from api_client import FAR, MATE, OWN, Api
from builders import correct


def totals(api: Api, role: str = "admin", **params) -> dict[str, str]:
    response = api.get("/payouts", role=role, period="2026-Q1", **params)
    assert response.status_code == 200, response.text
    return {p["rep_id"]: p["total"] for p in response.json()["payouts"]}


def test_every_reps_payout_is_listed_with_its_lines_as_decimal_strings(api):
    answer = api.get("/payouts", period="2026-Q1").json()
    assert {p["rep_id"]: p["total"] for p in answer["payouts"]} == {OWN: "9800.00", MATE: "2400.00", FAR: "2333.33"}
    own = next(p for p in answer["payouts"] if p["rep_id"] == OWN)
    assert own["plan"]["plan_id"] == "std" and own["plan"]["version"] == 1
    assert own["plan"]["assigned_by"]["scope"] == "company"
    assert [(line["component"], line["amount"]) for line in own["lines"]] == [
        ("commission", "4800.00"),
        ("target-bonus", "5000.00"),
    ]
    assert all(isinstance(p, int) for line in own["lines"] for p in line["events"]) and len(own["digest"]) == 64


def test_a_rep_sees_only_their_own_payout_and_a_manager_their_teams(api):
    assert totals(api, "rep") == {OWN: "9800.00"}
    assert totals(api, "manager") == {OWN: "9800.00", MATE: "2400.00"}


def test_payouts_come_a_page_at_a_time_in_rep_order_and_the_pages_add_up_to_the_whole(api):
    whole = api.get("/payouts", period="2026-Q1").json()
    assert whole["next_after_rep"] is None
    pages, after = [], None
    while True:
        params = {"period": "2026-Q1", "limit": 1, "known_at": whole["known_at"]} | (
            {"after_rep": after} if after else {}
        )
        page = api.get("/payouts", **params).json()
        assert len(page["payouts"]) <= 1
        pages += page["payouts"]
        after = page["next_after_rep"]
        if after is None:
            break
        assert after == page["payouts"][-1]["rep_id"]
    assert [p["rep_id"] for p in pages] == sorted(p["rep_id"] for p in whole["payouts"]) == sorted({OWN, MATE, FAR})
    assert pages == sorted(whole["payouts"], key=lambda p: p["rep_id"])
    manager = api.get("/payouts", role="manager", period="2026-Q1", limit=1).json()
    assert len(manager["payouts"]) == 1 and manager["next_after_rep"] is not None  # a team of two: one more page
    assert api.get("/payouts", period="2026-Q1", limit=0).status_code == 422


def test_approving_records_the_payout_with_its_digest_once(api):
    response = api.post(f"/payouts/{OWN}/2026-Q1/approve", role="finance")
    assert response.status_code == 201, response.text
    approved = response.json()
    assert (approved["kind"], approved["amount"], approved["position"]) == ("approved", "9800.00", api.head())
    again = api.post(f"/payouts/{OWN}/2026-Q1/approve", role="finance")
    assert again.status_code == 409 and "already approved" in again.json()["detail"]


def test_an_approved_payout_is_explained_as_approved_even_after_a_later_correction(api):
    digest = api.post(f"/payouts/{OWN}/2026-Q1/approve").json()["digest"]
    api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    answer = api.get(f"/payouts/{OWN}/2026-Q1/explain").json()
    assert answer["reproduced"] is True and answer["digest"] == answer["approved"]["digest"] == digest
    assert answer["total"] == answer["approved"]["amount"] == "9800.00"
    # today: 110000 → 3000 + 500 + bonus 5000
    assert answer["today"] == {"total": "8500.00", "digest": answer["today"]["digest"], "difference": "-1300.00"}
    commission = answer["tree"]["lines"][0]
    assert {e["type"] for e in commission["events"]} == {"DealWon", "TargetSet"}
    won = next(e for e in commission["events"] if e["type"] == "DealWon")
    assert won["data"]["amount"] == "130000.00"


def test_explaining_at_a_knowledge_time_computes_the_payout_as_known_then(api):
    before_correction = api.recorded_at(api.head())
    api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    assert api.get(f"/payouts/{OWN}/2026-Q1/explain", known_at=before_correction).json()["total"] == "9800.00"
    answer = api.get(f"/payouts/{OWN}/2026-Q1/explain").json()
    assert answer["total"] == "8500.00" and answer["approved"] is None and answer["reproduced"] is False


def test_the_changes_between_two_knowledge_times_name_the_lines_and_the_events(api):
    before_correction = api.recorded_at(api.head())
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    response = api.get(f"/payouts/{OWN}/2026-Q1/changes", from_known_at=before_correction)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["before"], answer["after"], answer["delta"]) == ("9800.00", "8500.00", "-1300.00")
    assert {line["component"]: line["delta"] for line in answer["lines"]} == {
        "commission": "-1300.00",
        "target-bonus": "0.00",
    }
    assert [(e["position"], e["type"]) for e in answer["events"]] == [(position, "DealAmountCorrected")]


@pytest.mark.parametrize("role", ["manager", "rep", "auditor"])
def test_only_finance_and_admins_approve(api, role):
    head = api.head()
    response = api.post(f"/payouts/{OWN}/2026-Q1/approve", role=role)
    assert response.status_code == 403 and api.head() == head


def test_a_payout_without_a_plan_in_force_is_not_approved(api):
    response = api.post(f"/payouts/{OWN}/2025-Q4/approve")
    assert response.status_code == 409 and "no incentive plan" in response.json()["detail"]


def test_a_closed_period_is_closed_once_and_takes_no_new_approval(api):
    response = api.post("/periods/2026-Q1/close", role="finance")
    assert response.status_code == 201, response.text
    closed = response.json()
    assert closed["period"] == "2026-Q1" and closed["head_position"] == closed["position"] - 1
    again = api.post("/periods/2026-Q1/close", role="finance")
    assert again.status_code == 409 and "already closed" in again.json()["detail"]
    refused = api.post(f"/payouts/{OWN}/2026-Q1/approve")
    assert refused.status_code == 409 and "closed" in refused.json()["detail"]


def test_approving_in_a_closed_period_says_to_replay_it_and_record_the_adjustment(api):
    assert api.post("/periods/2026-Q1/close", role="finance").status_code == 201
    for language, replay in (("en-US", "replay it (POST /replays)"), ("zh-CN", "请先重放该期间（POST /replays）")):
        refused = api.client.post(
            f"/payouts/{OWN}/2026-Q1/approve", headers={**api.headers("finance"), "Accept-Language": language}
        )
        assert refused.status_code == 409
        assert replay in refused.json()["detail"] and "POST /replays/adjustments" in refused.json()["detail"]


def test_the_adjustments_route_documents_every_parameter_with_an_example(api):
    route = api.client.get("/openapi.json").json()["paths"]["/replays/adjustments"]["post"]
    body = route["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert set(schema["required"]) == {"period", "plan", "known_at"} and "POST /replays" in route["description"]
    undocumented = [name for name, field in schema["properties"].items() if not field.get("description")]
    undocumented += [
        name for name, field in schema["properties"]["plan"]["properties"].items() if not field.get("description")
    ]
    assert undocumented == []
    assert set(body["example"]) == {"period", "plan", "known_at", "reason"}


@pytest.mark.parametrize("role", ["manager", "auditor"])
def test_only_finance_and_admins_close_periods(api, role):
    assert api.post("/periods/2026-Q1/close", role=role).status_code == 403


def test_a_rep_out_of_reach_is_not_found_whatever_the_payout_route(api):
    for path in (
        f"/payouts/{FAR}/2026-Q1/explain",
        f"/payouts/{FAR}/2026-Q1/changes?from_known_at=2026-01-01T00:00:00Z",
    ):
        response = api.client.get(path, headers=api.headers("manager"))
        assert response.status_code == 404 and response.json() == {
            "detail": f"rep {FAR} not found",
            "code": "not_found",
        }
