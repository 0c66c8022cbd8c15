"""POST /payouts/approve and `perfledger payout approve-scope`: a scope's payouts for a period
approved in one batch, with a summary of what was approved, unchanged, adjusted and refused.

The department (tests/api_client.py): R-ann (T-1, East) is owed 9800.00 for 2026-Q1 (commission
4800 + target bonus 5000), R-bob (T-1, East) 2400.00, R-cat (T-2, West) 2333.33.
"""

from __future__ import annotations

import orjson
import pytest
from api_client import FAR, MATE, OWN, Api, department
from builders import correct, onboard

from services import approvals

Q1 = "2026-Q1"


def bulk(api: Api, scope: str, period: str = Q1, role: str = "finance"):
    return api.post("/payouts/approve", {"scope": scope, "period": period}, role=role)


def test_finance_approves_the_east_region_in_one_batch_and_the_summary_names_each_rep(api):
    head = api.head()
    response = bulk(api, "region:East")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["counts"] == {"approved": 2, "unchanged": 0, "adjusted": 0, "refused": 0}
    # R-ann and R-bob, in rep order, recorded together right after the head: one batch
    assert [(a["rep_id"], a["amount"], a["position"]) for a in answer["approved"]] == [
        (OWN, "9800.00", head + 1),
        (MATE, "2400.00", head + 2),
    ]
    assert api.head() == head + 2
    explained = api.get(f"/payouts/{OWN}/{Q1}/explain").json()
    assert explained["approved"]["amount"] == "9800.00" and explained["reproduced"] is True
    # R-cat (West) was not touched
    assert api.get(f"/payouts/{FAR}/{Q1}/explain").json()["approved"] is None


def test_a_second_bulk_approval_after_a_correction_reports_unchanged_and_adjusted_and_records_nothing(api):
    assert bulk(api, "company").json()["counts"]["approved"] == 3
    # D-1 corrected from 130000 to 110000: R-ann's commission 4800 → 3500, bonus 5000: 8500.
    api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    head = api.head()
    answer = bulk(api, "company").json()
    assert answer["counts"] == {"approved": 0, "unchanged": 2, "adjusted": 1, "refused": 0}
    assert answer["unchanged"] == [{"rep_id": MATE, "amount": "2400.00"}, {"rep_id": FAR, "amount": "2333.33"}]
    (adjusted,) = answer["adjusted"]
    assert (adjusted["rep_id"], adjusted["approved"], adjusted["total"], adjusted["difference"]) == (
        OWN,
        "9800.00",
        "8500.00",
        "-1300.00",
    )
    assert f"POST /payouts/{OWN}/{Q1}/approve" in adjusted["what_to_do"]
    assert api.head() == head


def test_a_closed_period_refuses_every_rep_with_the_way_forward(api):
    assert api.post(f"/periods/{Q1}/close", role="finance").status_code == 201
    head = api.head()
    answer = bulk(api, "company").json()
    assert answer["counts"] == {"approved": 0, "unchanged": 0, "adjusted": 0, "refused": 3}
    assert [r["rep_id"] for r in answer["refused"]] == sorted([OWN, MATE, FAR])
    assert all("closed" in r["reason"] and "POST /replays" in r["reason"] for r in answer["refused"])
    assert api.head() == head


def test_a_rep_without_a_plan_in_force_is_refused_and_the_others_still_approved(api):
    # R-old joined team T-9 in October 2025; plan std v1 is in force from January 2026 only.
    api.record(onboard("R-old", "T-9", "North", "2025-10-01T09:00:00+00:00"))
    head = api.head()
    answer = bulk(api, "company", "2025-Q4").json()
    assert answer["counts"] == {"approved": 0, "unchanged": 0, "adjusted": 0, "refused": 1}
    assert answer["refused"][0]["rep_id"] == "R-old" and "no incentive plan" in answer["refused"][0]["reason"]
    assert api.head() == head


@pytest.mark.parametrize("role", ["manager", "rep", "auditor"])
def test_a_manager_a_rep_or_an_auditor_cannot_bulk_approve(api, role):
    head = api.head()
    assert bulk(api, "team:T-1", role=role).status_code == 403
    assert api.head() == head


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": f"rep:{OWN}", "period": Q1}, "body.scope"),
        ({"scope": "everyone", "period": Q1}, "body.scope"),
        ({"scope": "company", "period": "2026-Q5"}, "body.period"),
        ({"scope": "company"}, "body.period"),
        ({"period": Q1}, "body.scope"),
    ],
)
def test_a_bad_scope_or_period_is_a_422_naming_the_field_and_nothing_is_written(api, body, field):
    head = api.head()
    response = api.post("/payouts/approve", body, role="finance")
    assert response.status_code == 422, response.text
    assert field in {p["field"] for p in response.json()["detail"]}
    assert api.head() == head


def test_an_unknown_team_is_a_404_naming_it(api):
    head = api.head()
    response = bulk(api, "team:T-NOPE")
    assert response.status_code == 404 and "team:T-NOPE" in response.json()["detail"]
    assert api.head() == head


def test_a_scope_past_the_cap_is_refused_whole_with_the_cap_named(api, monkeypatch):
    monkeypatch.setattr(approvals, "MAX_BULK_REPS", 2)
    head = api.head()
    response = bulk(api, "company")  # three reps
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "body.scope" and "3 reps" in problem["message"] and "2" in problem["message"]
    assert api.head() == head
    assert bulk(api, "region:East").json()["counts"]["approved"] == 2  # two reps: within the cap


@pytest.fixture
def run(cli, sqlite_ledger):
    sqlite_ledger.record(department(), "seed")

    def invoke(*args: str, code: int = 0):
        result = cli(*args)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_the_cli_approves_a_team_and_prints_the_summary(run):
    output = run("payout", "approve-scope", Q1, "--scope", "team:T-1").stdout
    assert "2 approved, 0 unchanged, 0 adjusted, 0 refused" in output and "9800.00" in output
    again = orjson.loads(run("payout", "approve-scope", Q1, "--scope", "company", "--json").stdout)
    assert again["counts"] == {"approved": 1, "unchanged": 2, "adjusted": 0, "refused": 0}
    assert "--scope" in run("payout", "approve-scope", Q1, "--scope", f"rep:{OWN}", code=1).output
