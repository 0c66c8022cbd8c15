"""Disputes that stand on facts, over HTTP: one opened names a line of a computed payout (and a
deal of the rep's, if any), and one resolved through POST /disputes/{id}/resolve records its
corrections in the same batch, linked automatically, with the payout before and after.

The department (tests/api_client.py), 2026-Q1, target 100000 each, commission 3% up to 100000,
5% to 120000, 8% above: R-ann (T-1) won D-1 for 130000 and is owed 9800 (commission 3000 + 1000
+ 10000 × 8% = 4800, target bonus 5000); R-bob (T-1) won D-2 for 80000 (2400); R-cat (T-2) won
D-3 for 77777.77.
"""

from __future__ import annotations

import pytest
from api_client import FAR, MATE, OWN, Api
from builders import ev, split

T = "2026-04-03T09:00:00+00:00"


def opened(rep: str = OWN, dispute_id: str = "DS-1", **data) -> dict:
    fields = {"component": "commission", "text": "half of D-2 was mine", **data}
    return ev("DisputeOpened", T, dispute_id=dispute_id, rep_id=rep, period="2026-Q1", **fields)


def refused_naming(api: Api, events: list[dict], field: str, role: str = "rep") -> str:
    head = api.head()
    response = api.post("/events", {"events": events}, role=role)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert field in {p["field"] for p in problems}, problems
    assert api.head() == head
    return next(p["message"] for p in problems if p["field"] == field)


def test_a_dispute_must_name_a_line_of_a_computed_payout(api):
    without = opened()
    del without["data"]["component"]
    assert "payout line" in refused_naming(api, [without], "data.component")
    said = refused_naming(api, [opened(component="speed-bonus")], "data.component")
    assert "speed-bonus is not a line" in said and "commission" in said
    # no plan is in force in 2025-Q4: there is no payout, so no line to dispute
    assert "no computed payout" in refused_naming(
        api, [{**opened(), "data": {**opened()["data"], "period": "2025-Q4"}}], "data.period"
    )
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201


def test_a_dispute_naming_a_deal_names_one_of_the_reps_own(api):
    assert "not R-ann's" in refused_naming(api, [opened(deal_id="D-2")], "data.deal_id")
    assert "unknown deal" in refused_naming(api, [opened(deal_id="D-404")], "data.deal_id")
    assert api.post("/events", {"events": [opened(deal_id="D-1")]}, role="rep").status_code == 201


def resolve(api: Api, body: dict, role: str = "manager", dispute_id: str = "DS-1"):
    return api.post(f"/disputes/{dispute_id}/resolve", body, role=role)


def test_the_manager_resolves_with_the_split_and_the_answer_shows_the_payout_before_and_after(api):
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    head = api.head()
    fix = split("D-2", {MATE: "0.5", OWN: "0.5"})  # no event_id: the command gives it one
    response = resolve(api, {"outcome": "accepted", "reason": "confirmed in the CRM", "corrections": [fix]})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["positions"] == [head + 1, head + 2] and api.head() == head + 2
    assert [c["type"] for c in answer["corrections"]] == ["DealCreditSplit"]
    assert (answer["status"], answer["outcome"]) == ("resolved", "accepted")
    log = api.get("/events", after=head, limit=2).json()["events"]
    resolution = log[1]["data"]
    assert resolution["corrections"] == [log[0]["event_id"]]  # linked by the service, not the client
    assert resolution["resolver_id"] == "manager:T-1"  # from the token
    # R-ann had 130000 (9800); with half of D-2's 80000 she has 170000 (170% of 100000):
    # commission 3000 + 1000 + 50000 × 8% = 8000, + bonus 5000 = 13000
    assert (answer["effect"]["before"], answer["effect"]["after"], answer["effect"]["delta"]) == (
        "9800.00",
        "13000.00",
        "3200.00",
    )
    assert api.get("/disputes/DS-1", role="rep").json()["effect"] == answer["effect"]


@pytest.mark.parametrize("role", ["rep", "auditor"])
def test_a_rep_or_an_auditor_cannot_resolve(api, role):
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    head = api.head()
    assert resolve(api, {"outcome": "rejected", "reason": "mine"}, role=role).status_code == 403
    assert api.head() == head


def test_a_manager_cannot_resolve_another_teams_dispute_it_reads_as_absent(api):
    assert api.post("/events", {"events": [opened(rep=FAR, dispute_id="DS-9")]}, role="admin").status_code == 201
    head = api.head()
    assert resolve(api, {"outcome": "rejected", "reason": "no"}, dispute_id="DS-9").status_code == 404
    assert resolve(api, {"outcome": "rejected", "reason": "no"}, dispute_id="DS-404").status_code == 404
    assert api.head() == head
    assert resolve(api, {"outcome": "rejected", "reason": "no"}, role="finance", dispute_id="DS-9").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "maybe", "reason": "x"}, "body.outcome"),
        ({"outcome": "accepted"}, "body.reason"),
        ({"outcome": "accepted", "reason": "x", "resolver_id": "finance"}, "body.resolver_id"),
        (
            {"outcome": "rejected", "reason": "x", "corrections": [split("D-2", {MATE: "0.5", OWN: "0.5"})]},
            "body.corrections",
        ),
        (
            {
                "outcome": "accepted",
                "reason": "x",
                "corrections": [ev("DealAmountCorrected", T, deal_id="D-2", amount="lots", reason="typo")],
            },
            "body.corrections[0].data.amount",
        ),
    ],
)
def test_a_bad_resolution_is_a_422_naming_the_field_and_nothing_is_written(api, body, field):
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    head = api.head()
    response = resolve(api, body)
    assert response.status_code == 422, response.text
    assert field in {p["field"] for p in response.json()["detail"]}, response.json()
    assert api.head() == head


def test_a_dispute_is_resolved_once(api):
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    assert resolve(api, {"outcome": "rejected", "reason": "no"}).status_code == 201
    head = api.head()
    again = resolve(api, {"outcome": "accepted", "reason": "yes"})
    assert again.status_code == 422 and "already resolved" in str(again.json()["detail"])
    assert api.head() == head
