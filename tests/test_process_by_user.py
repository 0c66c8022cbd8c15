"""Issue 21, process by user: each user doing their role's work over HTTP with their own token,
on SQLite and PostgreSQL. Started with the director; the other users are still to come.

The department of api_client: R-ann and R-bob in T-1 (East), R-cat in T-2 (West). East and
West are created here, and T-3 is formed in East with nobody in it yet.
"""

from __future__ import annotations

from builders import ev
from payout_fixtures import JAN

APRIL = "2026-04-01T00:00:00+00:00"


def test_the_director_of_east_splits_east_by_weights_reads_east_and_cannot_touch_west(api):
    api.record(
        ev("RegionCreated", JAN, region="East", name="East China", director_id="D-east"),
        ev("RegionCreated", JAN, region="West", name="West China"),
        ev("TeamCreated", JAN, team_id="T-3", name="Hangzhou", region="East", manager_id="M-3"),
    )
    # East's Q2 revenue target 500,000.00 by weights T-1 : T-3 = 2 : 1. 50,000,000 cents × 2/3 =
    # 33,333,333.33… and × 1/3 = 16,666,666.66…: 49,999,999 rounded down, the cent left goes to
    # the larger remainder (.66 of T-3): T-1 333,333.33 and T-3 166,666.67, summing to 500,000.00.
    body = {
        "metric": "revenue",
        "period": "2026-Q2",
        "occurred_at": APRIL,
        "scope": "region:East",
        "value": "500000.00",
        "method": "weights",
        "weights": {"T-1": "2", "T-3": "1"},
    }
    response = api.post("/targets/allocations", body, role="director")
    assert response.status_code == 201, response.text
    shares = {c["scope"]: c["value"] for c in response.json()["children"]}
    assert shares == {"team:T-1": "333333.33", "team:T-3": "166666.67"}
    # East's KPIs and its teams are the director's; West's team T-2 answers as if absent.
    assert api.get("/kpis", role="director", scope="region:East", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-3", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-2", period="2026-Q1").status_code == 404


def test_the_auditor_verifies_the_chain_replays_without_writing_and_cannot_write(api):
    report = api.get("/audit/verify", role="auditor").json()
    assert report["ok"] is True and report["events_checked"] == api.head()
    before = (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link)
    # A draft plan of a flat 5% commission on revenue: R-ann won 130,000.00 in Q1, × 0.05 = 6,500.00.
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
    response = api.post("/replays", {"period": "2026-Q1", "plan": {"rules": rules}}, role="auditor")
    assert response.status_code == 200, response.text
    assert response.json()["plan"]["draft"] is True
    after = {row["rep_id"]: row["after"] for row in response.json()["diff"]}
    assert after["R-ann"] == "6500.00"
    # The replay wrote nothing: the log's count and head digest are as they were.
    assert (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link) == before
    assert api.post("/periods/2026-Q1/close", role="auditor").status_code == 403
    assert (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link) == before
