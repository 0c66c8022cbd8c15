"""Targets from strategy down: the allocation arithmetic (pure, no database), then the command
over HTTP on SQLite and PostgreSQL, and the consistency of targets at every level.

The department of api_client: R-ann (won 130,000 in Q1) and R-bob (80,000) in T-1, East;
R-cat (77,777.77) in T-2, West. Q2 targets are allocated here, dated 1 April.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from builders import ev
from hypothesis import given
from hypothesis import strategies as st
from payout_fixtures import JAN

from projections.allocation import AllocationError, allocate

APRIL = "2026-04-01T00:00:00+00:00"


# ---------------------------------------------------------------- the arithmetic


def test_a_million_by_weights_3_2_2_gives_the_two_cents_left_to_the_largest_remainders():
    # 100,000,000 cents × 3/7 = 42,857,142.857…, × 2/7 = 28,571,428.571… twice: 99,999,998 cents
    # rounded down; the first cent to .857, the second to the first of the two .571s.
    shares = allocate(Decimal("1000000.00"), {"East": Decimal(3), "West": Decimal(2), "North": Decimal(2)}, "revenue")
    assert shares == {"East": Decimal("428571.43"), "West": Decimal("285714.29"), "North": Decimal("285714.28")}
    assert sum(shares.values()) == Decimal("1000000.00")


def test_ten_orders_equally_among_three_teams_are_4_3_3():
    assert allocate(Decimal(10), dict.fromkeys(("T-1", "T-2", "T-3"), Decimal(1)), "orders") == {
        "T-1": Decimal(4),
        "T-2": Decimal(3),
        "T-3": Decimal(3),
    }


def test_a_hundred_yuan_equally_among_three_is_33_34_then_twice_33_33():
    shares = allocate(Decimal("100.00"), dict.fromkeys(("a", "b", "c"), Decimal(1)), "revenue")
    assert list(shares.values()) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]


def test_a_rate_is_not_split_each_child_is_given_the_parents():
    assert allocate(Decimal("0.3"), {"a": Decimal(5), "b": Decimal(1)}, "win_rate") == {
        "a": Decimal("0.3"),
        "b": Decimal("0.3"),
    }


@pytest.mark.parametrize(
    ("value", "weights", "field"),
    [
        (Decimal("100.00"), {"a": Decimal(0), "b": Decimal(0)}, "weights"),
        (Decimal("100.00"), {"a": Decimal(-1), "b": Decimal(2)}, "weights.a"),
        (Decimal("100.005"), {"a": Decimal(1)}, "value"),
        (Decimal("100.00"), {}, "children"),
    ],
)
def test_an_allocation_that_cannot_be_made_names_the_field_to_change(value, weights, field):
    with pytest.raises(AllocationError) as refused:
        allocate(value, weights, "revenue")
    assert refused.value.field == field


@given(
    cents=st.integers(min_value=0, max_value=10**14 - 1),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40).filter(any),
    metric=st.sampled_from(["revenue", "orders", "activities.call"]),
)
def test_an_allocation_always_sums_to_the_parent_and_no_child_is_a_unit_from_its_quota(cents, weights, metric):
    unit = Decimal("0.01") if metric == "revenue" else Decimal(1)
    value = Decimal(cents) * unit
    named = {f"c{n}": Decimal(w) for n, w in enumerate(weights)}
    shares = allocate(value, named, metric)
    assert sum(shares.values()) == value
    total = sum(named.values())
    for child, share in shares.items():
        exact = value * named[child] / total
        assert abs(share - exact) < unit and share >= 0
        assert share == share.quantize(unit)


# ---------------------------------------------------------------- the command over HTTP


def allocation(**fields):
    return {"metric": "revenue", "period": "2026-Q2", "occurred_at": APRIL, **fields}


def log_state(api) -> tuple[int, str]:
    head = api.client.app.state.ledger.head()
    return head.position, head.link


def regions(api):
    api.record(
        ev("RegionCreated", JAN, region="East", name="East China"),
        ev("RegionCreated", JAN, region="West", name="West China"),
        ev("RegionCreated", JAN, region="North", name="North China"),  # nobody in it yet
    )


def test_finance_allocates_a_company_million_to_three_regions_by_weights_and_every_level_is_consistent(api):
    regions(api)
    weights = {"East": "3", "West": "2", "North": "2"}
    body = allocation(scope="company", value="1000000.00", method="weights", weights=weights, allocation_id="q2-plan")
    response = api.post("/targets/allocations", body, role="finance")
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["allocation_id"] == "q2-plan" and len(answer["positions"]) == 4  # the company's and 3 regions'
    assert {c["scope"]: c["value"] for c in answer["children"]} == {
        "region:East": "428571.43",
        "region:West": "285714.29",  # West and North tie at .571: West is listed first
        "region:North": "285714.28",
    }
    read = api.get("/targets", scope="company", period="2026-Q2").json()
    (level,) = read["levels"]
    assert (level["level"], level["target"], level["children_sum"], level["consistent"]) == (
        "regions",
        "1000000.00",
        "1000000.00",
        True,
    )
    events = api.get("/events", type="TargetSet", after=answer["positions"][0] - 1).json()["events"]
    assert {e["data"]["allocation_id"] for e in events} == {"q2-plan"}
    # A region revised by hand afterwards: the company's read reports the difference.
    api.record(ev("TargetSet", APRIL, scope={"region": "West"}, metric="revenue", period="2026-Q2", value="300000.00"))
    (level,) = api.get("/targets", scope="company", period="2026-Q2").json()["levels"]
    assert (level["consistent"], level["difference"]) == (False, "-14285.71")
    # Repeating the same allocation (a retry) records nothing new.
    again = api.post("/targets/allocations", body, role="finance").json()
    assert again["positions"] == answer["positions"] and again["duplicates"] == [0, 1, 2, 3]


def test_a_team_target_allocated_by_last_quarters_share_splits_by_each_reps_q1_revenue(api):
    # T-1 won 210,000 in Q1: R-ann 130,000 (13/21), R-bob 80,000 (8/21). 100,000.00 is 10,000,000
    # cents: R-ann 6,190,476.19…, R-bob 3,809,523.80…; rounded down 9,999,999; the cent left goes
    # to R-bob (.80 beats .19): 61,904.76 and 38,095.24.
    body = allocation(scope="team:T-1", value="100000.00", method="last_period_share")
    response = api.post("/targets/allocations", body, role="manager")
    assert response.status_code == 201, response.text
    assert {c["scope"]: c["value"] for c in response.json()["children"]} == {
        "rep:R-ann": "61904.76",
        "rep:R-bob": "38095.24",
    }
    consistency = api.get("/targets", role="manager", scope="team:T-1", period="2026-Q2").json()
    assert [row["consistent"] for row in consistency["consistency"]] == [True]


def test_orders_allocated_by_rep_level_weigh_a_senior_three_juniors_one(api):
    api.record(
        ev("RepLevelSet", JAN, rep_id="R-ann", level="senior"),
        ev("RepLevelSet", JAN, rep_id="R-bob", level="junior"),
    )
    # 10 orders × 3/4 = 7.5 for R-ann, × 1/4 = 2.5 for R-bob: a tie of halves, the one left goes
    # to the first listed (R-ann): 8 and 2.
    body = allocation(
        scope="team:T-1", metric="orders", value="10", method="rep_level", level_weights={"senior": "3", "junior": "1"}
    )
    response = api.post("/targets/allocations", body, role="director")
    assert response.status_code == 201, response.text
    assert {c["scope"]: c["value"] for c in response.json()["children"]} == {"rep:R-ann": "8", "rep:R-bob": "2"}


def test_a_director_allocates_their_region_and_cannot_allocate_another_or_the_company(api):
    regions(api)
    mine = allocation(scope="region:East", value="500000.00", method="equal")
    response = api.post("/targets/allocations", mine, role="director")
    assert response.status_code == 201, response.text
    assert [(c["scope"], c["value"]) for c in response.json()["children"]] == [("team:T-1", "500000.00")]
    before = log_state(api)
    for scope, status in (("region:West", 403), ("company", 403)):
        body = allocation(scope=scope, value="1.00", method="equal")
        assert api.post("/targets/allocations", body, role="director").status_code == status
    assert api.post("/targets/allocations", mine, role="manager").status_code == 403  # a region is not a team's
    assert api.post("/targets/allocations", mine, role="rep").status_code == 403
    assert log_state(api) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (allocation(scope="company", metric="conversion_rate", value="40", method="equal"), "body.value"),
        (allocation(scope="company", metric="orders", value="2.5", method="equal"), "body.value"),
        (allocation(scope="company", value="100.00", method="by_mood"), "body.method"),
        (allocation(scope="company", value="100.00", method="weights", weights={"Mars": "1"}), "body.weights.Mars"),
        (allocation(scope="company", value="100.00", method="weights", weights={"East": "x"}), "body.weights.East"),
        (
            allocation(scope="team:T-1", value="100.00", method="rep_level", level_weights={"a": "1"}),
            "body.level_weights",
        ),
        (allocation(scope="rep:R-ann", value="100.00", method="equal"), "body.scope"),
        (allocation(scope="team:T-1", value="100.00", method="equal", to="regions"), "body.to"),
        (
            allocation(scope="company", metric="win_rate", value="0.3", method="weights", weights={"East": "1"}),
            "body.method",
        ),
        (
            allocation(scope="company", metric="revenue", value="100.00", method="equal", period="2026-Q9"),
            "body.period",
        ),
    ],
)
def test_a_bad_allocation_is_a_422_naming_the_field_and_writes_nothing(api, body, field):
    before = log_state(api)
    response = api.post("/targets/allocations", body, role="finance")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field, response.text
    assert log_state(api) == before


# ---------------------------------------------------------------- the metrics targets may name


def test_leads_calls_and_growth_targets_have_their_attainment_in_the_kpis(api):
    # R-ann in Q2: 2 leads, 3 calls, and a win of 156,000 against Q1's 130,000: growth 0.2.
    api.record(
        *(ev("LeadCreated", "2026-04-10T09:00:00+00:00", lead_id=f"LQ-{n}", rep_id="R-ann") for n in (1, 2)),
        *(
            ev("ActivityLogged", "2026-04-11T09:00:00+00:00", activity_id=f"AQ-{n}", rep_id="R-ann", kind="call")
            for n in (1, 2, 3)
        ),
        ev("DealOpened", "2026-04-12T09:00:00+00:00", deal_id="DQ-1", rep_id="R-ann", customer_id="C-Q"),
        ev("DealWon", "2026-04-20T09:00:00+00:00", deal_id="DQ-1", amount="156000.00"),
        *(
            ev("TargetSet", APRIL, scope={"rep": "R-ann"}, metric=metric, period="2026-Q2", value=value)
            for metric, value in (("leads", "4"), ("activities.call", "6"), ("growth_rate", "0.1"))
        ),
    )
    kpis = api.get("/kpis", scope="rep:R-ann", period="2026-Q2", as_of="2026-06-30T23:59:59+00:00").json()["kpis"]
    assert (kpis["leads"], kpis["activities"]["call"], kpis["growth_rate"]) == (2, 3, "0.2000")
    assert kpis["attainment"] == {"activities.call": "0.5000", "growth_rate": "2.0000", "leads": "0.5000"}


@pytest.mark.parametrize(
    ("metric", "value", "accepted"),
    [
        ("conversion_rate", "40", False),
        ("conversion_rate", "0.4", True),
        ("win_rate", "1.01", False),
        ("win_rate", "-0.1", False),
        ("growth_rate", "-0.25", True),
        ("growth_rate", "-1.5", False),
        ("growth_rate", "10.5", False),
        ("revenue", "-1", False),
        ("leads", "3.5", False),
    ],
)
def test_a_rate_target_is_a_fraction_in_its_range_and_a_count_is_whole(api, metric, value, accepted):
    before = log_state(api)
    target = ev("TargetSet", APRIL, scope={"rep": "R-ann"}, metric=metric, period="2026-Q2", value=value)
    response = api.post("/events", target)
    assert (response.status_code == 201) is accepted, response.text
    if not accepted:
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "data.value"
        assert log_state(api) == before


# ---------------------------------------------------------------- the command line


def test_regions_teams_and_an_allocation_on_the_command_line_as_the_http_api_makes_them(cli, sqlite_ledger):
    from api_client import department

    sqlite_ledger.record(department(), "seed")
    for args in (
        ("region", "create", "--region", "East", "--name", "East China", "--occurred-at", "2026-01-01"),
        ("team", "create", "--team-id", "T-3", "--name", "Hangzhou", "--region", "East", "--occurred-at", "2026-01-01"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    # East in Q2: T-1 (R-ann, R-bob) and T-3 (created, nobody in it): 1,000.01 by 2 : 1 is
    # 100,001 cents × 2/3 = 66,667.33… and × 1/3 = 33,333.66…; the cent left goes to T-3 (.66).
    result = cli(
        *("target", "allocate", "--scope", "region:East", "--metric", "revenue", "--period", "2026-Q2"),
        *("--value", "1000.01", "--method", "weights", "--weight", "T-1=2", "--weight", "T-3=1", "--json"),
    )
    assert result.exit_code == 0, result.output
    answer = orjson.loads(result.stdout)
    assert [(c["scope"], c["value"]) for c in answer["children"]] == [("team:T-1", "666.67"), ("team:T-3", "333.34")]
    refused = cli(
        "target", "allocate", "--scope", "company", "--metric", "win_rate", "--period", "2026-Q2", "--value", "40"
    )
    assert refused.exit_code == 1 and "--value" in refused.output


def test_target_show_on_the_command_line_reports_a_region_that_differs_from_its_teams(cli, sqlite_ledger):
    from api_client import department

    sqlite_ledger.record(department(), "seed")
    # T-1 is East's only team: East 300,000.00 against T-1's 200,000 (api_client's Q1 team target).
    region = ev("TargetSet", JAN, scope={"region": "East"}, metric="revenue", period="2026-Q1", value="300000.00")
    sqlite_ledger.record([region], "seed")
    answer = orjson.loads(cli("target", "show", "--scope", "region:East", "--period", "2026-Q1", "--json").stdout)
    (row,) = answer["levels"]
    assert (row["level"], row["children_sum"], row["difference"], row["consistent"]) == (
        "teams",
        "200000",
        "100000.00",
        False,
    )
    shown = cli("target", "show", "--scope", "region:East", "--period", "2026-Q1")
    assert shown.exit_code == 0 and "differs by 100000.00" in shown.stdout
