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
