"""Team against team, region against region (issue 23): GET /kpis/rollup and its arithmetic
(projections/rollup.py, pure). The totals row is the parent's own card: money summed, rates
recomputed from the sums, counts the parent's own (a split deal counts once)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from api_client import role_tokens
from builders import ev, onboard, open_deal, split, win
from fastapi.testclient import TestClient

from api.app import create_app
from projections.rollup import Sums, rollup, sort_rows

# ---------------------------------------------------------------- the arithmetic, without a database


def test_the_totals_row_recomputes_growth_from_the_sums_instead_of_averaging_the_rows():
    """A: 1,000.00 → 2,000.00 (+100 %); B: 3,000.00 → 3,000.00 (±0 %). The average would be 50 %;
    the total is (5,000.00 − 4,000.00) / 4,000.00 = 25 %."""
    a = Sums("A", revenue_cents=200_000, previous_cents=100_000)
    b = Sums("B", revenue_cents=300_000, previous_cents=300_000)
    table = rollup([a, b], Sums("P", revenue_cents=500_000, orders=7), Decimal(1))
    assert [r["growth_rate"] for r in table["rows"]] == [Decimal("1.0000"), Decimal("0.0000")]
    assert table["total"]["growth_rate"] == Decimal("0.2500")
    assert table["total"]["revenue"] == Decimal("5000.00") and table["unallocated"] == Decimal("0.00")
    assert table["total"]["orders"] == 7  # the parent's own count, not a sum


def test_the_totals_row_measures_attainment_and_pace_against_the_parents_own_target():
    """Half the period gone; the parent's target 10,000.00, its children's 4,000.00 and 4,000.00.
    Revenue 3,000.00 + 1,000.00 = 4,000.00: attainment 0.4, pace 0.4 / 0.5 = 0.8; child A
    3,000.00 / 4,000.00 = 0.75, pace 1.5; a forecast adds the pipelines: 4,000.00 + 1,234.565 →
    5,234.57, attainment 0.5234565 → 0.5235."""
    a = Sums("A", revenue_cents=300_000, target=Decimal("4000.00"), pipeline=Decimal("1000.005"))
    b = Sums("B", revenue_cents=100_000, target=Decimal("4000.00"), pipeline=Decimal("234.56"))
    table = rollup([a, b], Sums("P", revenue_cents=400_000, target=Decimal("10000.00")), Decimal("0.5"))
    total = table["total"]
    assert (total["attainment"], total["pace"]) == (Decimal("0.4000"), Decimal("0.8000"))
    assert (table["rows"][0]["attainment"], table["rows"][0]["pace"]) == (Decimal("0.7500"), Decimal("1.5000"))
    assert (total["forecast"], total["forecast_attainment"]) == (Decimal("5234.57"), Decimal("0.5235"))


def test_a_row_without_a_previous_revenue_or_a_target_has_no_rate_and_sorts_last():
    rows = rollup(
        [Sums("A", revenue_cents=100), Sums("B", revenue_cents=50, previous_cents=100, target=Decimal(1))],
        Sums("P", revenue_cents=200),
        Decimal(1),
    )
    assert rows["rows"][0]["growth_rate"] is None and rows["rows"][0]["attainment"] is None
    assert rows["unallocated"] == Decimal("0.50")  # 2.00 in the parent, 1.50 in its children
    assert [r["key"] for r in sort_rows(rows["rows"], "attainment")] == ["B", "A"]
    assert [r["key"] for r in sort_rows(rows["rows"], "revenue", descending=False)] == ["B", "A"]


# ---------------------------------------------------------------- the route, on a story


class Board:
    def __init__(self, client: TestClient):
        self.client = client
        self.tokens = role_tokens(client.app.state.engine, rep_id="R-1", team_id="T-1")

    def get(self, path: str, role: str = "admin", **params):
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def json(self, path: str, role: str = "admin", **params) -> dict:
        response = self.get(path, role, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def board(settings) -> Iterator[Board]:
    """East: T-1 (R-1, R-2, and R-4 from 15 February), T-3 (R-5); West: T-2 (R-3, and R-4 until
    15 February; R-2 from 1 July). Q1 2026 (figures worked out in each test)."""
    with TestClient(create_app(settings)) as client:
        board = Board(client)
        events = [
            onboard("R-1"),
            onboard("R-2"),
            onboard("R-3", team_id="T-2", region="West"),
            onboard("R-4", team_id="T-2", region="West"),
            onboard("R-5", team_id="T-3"),
            # Q1 2026
            open_deal("D-11", "R-1", customer_id="C-11"),
            win("D-11", "1000.50", when="2026-02-10T09:00:00+00:00"),
            open_deal("D-19", "R-1", customer_id="C-19"),
            win("D-19", "333.33", when="2026-02-12T09:00:00+00:00"),
            split("D-19", {"R-1": "0.6", "R-3": "0.4"}, when="2026-02-13T09:00:00+00:00"),
            open_deal("D-12", "R-2", customer_id="C-12"),
            win("D-12", "2000.25", when="2026-03-20T09:00:00+00:00"),
            open_deal("D-15", "R-4", customer_id="C-15"),
            win("D-15", "500.00", when="2026-02-01T09:00:00+00:00"),
            ev("RepTransferred", "2026-02-15T00:00:00+00:00", rep_id="R-4", team_id="T-1", region="East"),
            open_deal("D-16", "R-4", customer_id="C-16", when="2026-02-16T09:00:00+00:00"),
            win("D-16", "400.00", when="2026-03-01T09:00:00+00:00"),
            open_deal("D-13", "R-3", customer_id="C-13"),
            win("D-13", "1500.00", when="2026-03-05T09:00:00+00:00"),
            open_deal("D-17", "R-5", customer_id="C-17"),
            win("D-17", "800.00", when="2026-01-20T09:00:00+00:00"),
            ev("RepTransferred", "2026-07-01T00:00:00+00:00", rep_id="R-2", team_id="T-2", region="West"),
            # the quarter before (2025-Q4) and the same quarter a year before (2025-Q1)
            open_deal("D-21", "R-1", customer_id="C-21", when="2025-10-01T09:00:00+00:00"),
            win("D-21", "1000.00", when="2025-11-10T09:00:00+00:00"),
            open_deal("D-31", "R-3", customer_id="C-31", when="2025-01-10T09:00:00+00:00"),
            win("D-31", "2000.00", when="2025-02-01T09:00:00+00:00"),
            open_deal("D-35", "R-5", customer_id="C-35", when="2025-01-10T09:00:00+00:00"),
            win("D-35", "1000.00", when="2025-03-01T09:00:00+00:00"),
        ]
        for scope, value in (
            ({"company": True}, "10000.00"),
            ({"region": "East"}, "8000.00"),
            ({"team": "T-1"}, "5000.00"),
        ):
            events.append(
                ev(
                    "TargetSet",
                    "2025-12-20T00:00:00+00:00",
                    scope=scope,
                    metric="revenue",
                    period="2026-Q1",
                    value=value,
                )
            )
        response = client.post(
            "/events", json={"events": events}, headers={"Authorization": f"Bearer {board.tokens['admin']}"}
        )
        assert response.status_code == 201, response.text
        yield board


def rows_of(answer: dict) -> dict:
    return {row["key"]: row for row in answer["rows"]}


def test_the_company_rolls_up_into_its_regions_with_last_quarter_and_last_year(board):
    """East: T-1's 1,200.50 (R-1: 1,000.50 + 0.6 of 333.33 = 200.00), 2,000.25, 400.00 (R-4 after
    15 February) and T-3's 800.00 = 4,400.75; West: 133.33 + 1,500.00 + 500.00 = 2,133.33; the
    company 6,534.08. 2025-Q4: East 1,000.00, West 0; 2025-Q1: East 1,000.00, West 2,000.00.
    Growth: East (4,400.75 − 1,000.00) / 1,000.00 = 3.40075 → 3.4008, West none, the company
    5.53408 → 5.5341. Year on year: East 3.4008, West 133.33 / 2,000.00 = 0.0667, the company
    3,534.08 / 3,000.00 = 1.178027 → 1.1780 (the rows' average would be 1.7338)."""
    answer = board.json("/kpis/rollup", scope="company", period="2026-Q1")
    assert (answer["children"], answer["previous_period"], answer["last_year_period"]) == (
        "region",
        "2025-Q4",
        "2025-Q1",
    )
    east, west = rows_of(answer)["East"], rows_of(answer)["West"]
    assert (east["revenue"], east["previous_revenue"], east["last_year_revenue"]) == ("4400.75", "1000.00", "1000.00")
    assert (west["revenue"], west["previous_revenue"], west["last_year_revenue"]) == ("2133.33", "0.00", "2000.00")
    assert (east["growth_rate"], west["growth_rate"]) == ("3.4008", None)
    assert (east["year_on_year"], west["year_on_year"]) == ("3.4008", "0.0667")
    assert (east["attainment"], west["attainment"]) == ("0.5501", None)  # 4,400.75 / 8,000.00
    total = answer["total"]
    assert (total["revenue"], total["growth_rate"], total["year_on_year"]) == ("6534.08", "5.5341", "1.1780")
    assert (east["orders"], west["orders"], total["orders"]) == (5, 3, 7)  # D-19 in both regions, once in total
    assert answer["unallocated"] == "0.00"


@pytest.mark.parametrize("scope", ["company", "region:East", "team:T-1"])
def test_the_totals_row_is_the_parents_own_card(board, scope):
    answer = board.json("/kpis/rollup", scope=scope, period="2026-Q1")
    card = board.json("/kpis", scope=scope, period="2026-Q1")["kpis"]
    total = answer["total"]
    assert sum(Decimal(r["revenue"]) for r in answer["rows"]) == Decimal(total["revenue"]) == Decimal(card["revenue"])
    assert total["growth_rate"] == card["growth_rate"] and total["orders"] == card["orders"]
    assert total["attainment"] == card["attainment"]["revenue"] and total["pace"] == card["pace"]["revenue"]
    forecast = board.json("/kpis/forecast", scope=scope, period="2026-Q1")["forecast"]["revenue"]
    assert total["forecast"] == forecast["pipeline"]


def test_a_region_rolls_up_into_its_teams_and_a_team_into_its_reps_marking_who_moved(board):
    """East: T-1 3,600.75 (target 5,000.00: 0.72015 → 0.7202; 2025-Q4 1,000.00: growth 2.6008),
    T-3 800.00. T-1: R-1 1,200.50, R-2 2,000.25 (moved to T-2 on 1 July), R-4 400.00 (joined
    from T-2 on 15 February); by revenue, R-2, R-1, R-4."""
    east = board.json("/kpis/rollup", scope="region:East", period="2026-Q1")
    teams = rows_of(east)
    assert (teams["T-1"]["revenue"], teams["T-1"]["attainment"], teams["T-1"]["growth_rate"]) == (
        "3600.75",
        "0.7202",
        "2.6008",
    )
    assert teams["T-3"]["revenue"] == "800.00" and east["total"]["revenue"] == "4400.75"
    team = board.json("/kpis/rollup", scope="team:T-1", period="2026-Q1", sort="revenue")
    assert [(r["key"], r["revenue"]) for r in team["rows"]] == [
        ("R-2", "2000.25"),
        ("R-1", "1200.50"),
        ("R-4", "400.00"),
    ]
    reps = rows_of(team)
    assert reps["R-2"]["left"]["team_id"] == "T-2" and reps["R-2"]["left"]["on"].startswith("2026-07-01")
    assert reps["R-4"]["joined"]["team_id"] == "T-2" and reps["R-4"]["joined"]["on"].startswith("2026-02-15")
    assert reps["R-1"]["previous_revenue"] == "1000.00" and reps["R-1"]["left"] is None


def test_each_role_rolls_up_only_what_it_reaches(board):
    for role, scope, status in [
        ("director", "region:East", 200),
        ("director", "team:T-3", 200),
        ("director", "region:West", 404),
        ("director", "team:T-2", 404),
        ("director", "company", 403),
        ("manager", "team:T-1", 200),
        ("manager", "team:T-2", 404),
        ("manager", "region:East", 403),
        ("rep", "team:T-1", 404),
        ("finance", "company", 200),
    ]:
        assert board.get("/kpis/rollup", role, scope=scope, period="2026-Q1").status_code == status, (role, scope)


def test_a_rep_scope_or_an_unknown_sort_is_a_422_naming_the_parameter(board):
    response = board.get("/kpis/rollup", scope="rep:R-1", period="2026-Q1")
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "query.scope"
    response = board.get("/kpis/rollup", scope="company", period="2026-Q1", sort="mood")
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "query.sort"


def test_the_rollup_downloads_as_csv_and_xlsx_with_its_totals_row(board):
    csv = board.get("/kpis/rollup", scope="company", period="2026-Q1", format="csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert 'filename="rollup-company-2026-Q1.csv"' in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Region,Revenue,Orders")
    assert lines[1].startswith("East,4400.75,5") and lines[-1].startswith("Total,6534.08,7")
    chinese = board.client.get(
        "/kpis/rollup",
        params={"scope": "company", "period": "2026-Q1", "format": "csv"},
        headers={"Authorization": f"Bearer {board.tokens['admin']}", "Accept-Language": "zh-CN"},
    )
    assert chinese.content.decode("utf-8-sig").splitlines()[-1].startswith("合计,6534.08")
    xlsx = board.get("/kpis/rollup", scope="region:East", period="2026-Q1", format="xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [row for row in sheet.iter_rows(values_only=True) if row and row[0] is not None]
    assert values[-1][:2] == ("Total", 4400.75)


def test_the_off_track_list_downloads_and_pages_its_projected_payouts(board):
    """With a Q1 target of 2,000.00, R-1 (1,200.50 in Q1: pace 0.60025 → 0.6003, the period over)
    is the one rep off track; with `payouts` each listed rep carries its projected payout (no plan
    in force here: 0.00 so far), and the page with payouts is bounded (50)."""
    target = ev(
        "TargetSet",
        "2025-12-21T00:00:00+00:00",
        scope={"rep": "R-1"},
        metric="revenue",
        period="2026-Q1",
        value="2000.00",
    )
    recorded = board.client.post("/events", json=target, headers={"Authorization": f"Bearer {board.tokens['admin']}"})
    assert recorded.status_code == 201, recorded.text
    too_many = board.get("/kpis/off-track", scope="company", period="2026-Q1", payouts="true", limit=51)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "query.limit"
    answer = board.json("/kpis/off-track", scope="company", period="2026-Q1", payouts="true", limit=5)
    assert (answer["off_track"], answer["reps_in_scope"], answer["next_offset"]) == (1, 5, None)
    (r1,) = answer["reps"]
    assert r1["rep_id"] == "R-1" and r1["pace"]["revenue"] == "0.6003"
    assert r1["payout"] == {"plan": None, "so_far": "0.00", "run_rate": "0.00", "pipeline": "0.00"}
    csv = board.get("/kpis/off-track", scope="company", period="2026-Q1", format="csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Rep,Team,Region") and lines[1].startswith("R-1,T-1,East,60.03%")
    assert "Revenue: pace 60.03%" in lines[1]


def test_a_projected_payout_is_shown_only_for_a_rep_within_reach_now(board):
    """R-2 was in T-1 all of Q1 and moved to T-2 on 1 July: T-1's manager still sees R-2 off track
    on T-1's Q1 list (2,000.25 of 5,000.00: pace 0.4001), but not the payout R-2 would earn, which
    is R-2's own (GET /payouts/R-2/… is a 404 for that manager); an admin sees it."""
    target = ev(
        "TargetSet",
        "2025-12-21T00:00:00+00:00",
        scope={"rep": "R-2"},
        metric="revenue",
        period="2026-Q1",
        value="5000.00",
    )
    recorded = board.client.post("/events", json=target, headers={"Authorization": f"Bearer {board.tokens['admin']}"})
    assert recorded.status_code == 201, recorded.text
    for role, payout in (
        ("manager", None),
        ("admin", {"plan": None, "so_far": "0.00", "run_rate": "0.00", "pipeline": "0.00"}),
    ):
        answer = board.json("/kpis/off-track", role, scope="team:T-1", period="2026-Q1", payouts="true", limit=10)
        (r2,) = [r for r in answer["reps"] if r["rep_id"] == "R-2"]
        assert r2["pace"]["revenue"] == "0.4001" and r2["payout"] == payout, role
    assert board.get("/payouts/R-2/2026-Q1/explain", "manager").status_code == 404


def test_the_projected_payouts_read_together_are_each_reps_own_forecast_payout(board):
    """A flat 4 % commission for everyone from January; R-1 (target 2,000.00, 1,200.50 in Q1) and
    R-2 (target 5,000.00, 2,000.25) off track. Q1 is over and nothing is open: each forecast is
    the actual, so each payout is 4 % of it: R-1 48.02, R-2 80.01 — what /kpis/forecast says of
    each rep alone."""
    from payout_fixtures import FLAT_RULES, assign, publish

    events = [
        publish(1, FLAT_RULES),
        assign({"company": True}),
        ev(
            "TargetSet",
            "2025-12-21T00:00:00+00:00",
            scope={"rep": "R-1"},
            metric="revenue",
            period="2026-Q1",
            value="2000.00",
        ),
        ev(
            "TargetSet",
            "2025-12-21T00:00:00+00:00",
            scope={"rep": "R-2"},
            metric="revenue",
            period="2026-Q1",
            value="5000.00",
        ),
    ]
    recorded = board.client.post(
        "/events", json={"events": events}, headers={"Authorization": f"Bearer {board.tokens['admin']}"}
    )
    assert recorded.status_code == 201, recorded.text
    listed = board.json("/kpis/off-track", scope="company", period="2026-Q1", payouts="true", limit=10)["reps"]
    payouts = {r["rep_id"]: r["payout"] for r in listed}
    assert {rep: p["pipeline"] for rep, p in payouts.items()} == {"R-1": "48.02", "R-2": "80.01"}
    for rep, payout in payouts.items():
        alone = board.json("/kpis/forecast", scope=f"rep:{rep}", period="2026-Q1")["payout"]
        assert payout == alone, rep


def test_a_rep_since_moved_away_shows_the_team_its_share_but_not_its_own_target(board):
    """R-2 (target 5,000.00 in Q1) moved to T-2 on 1 July: T-1's manager reads R-2's 2,000.25 in
    T-1's Q1 roll-up, marked, but not R-2's target or attainment (0.4001 for an admin)."""
    target = ev(
        "TargetSet",
        "2025-12-21T00:00:00+00:00",
        scope={"rep": "R-2"},
        metric="revenue",
        period="2026-Q1",
        value="5000.00",
    )
    recorded = board.client.post("/events", json=target, headers={"Authorization": f"Bearer {board.tokens['admin']}"})
    assert recorded.status_code == 201, recorded.text
    mine = rows_of(board.json("/kpis/rollup", "manager", scope="team:T-1", period="2026-Q1"))["R-2"]
    every = rows_of(board.json("/kpis/rollup", "admin", scope="team:T-1", period="2026-Q1"))["R-2"]
    assert (mine["reachable"], mine["revenue"], mine["target"], mine["attainment"]) == (False, "2000.25", None, None)
    assert (every["reachable"], every["target"], every["attainment"]) == (True, "5000.00", "0.4001")
