"""Counts stay whole when a deal is split between reps; money keeps splitting by share.

The story (March 2026, all times +08:00):

  Org     East: team T-A (R-1, R-2) and team T-B (R-3); West: team T-C (R-4).
  Deals   D-1 R-1 C-1 won 5 Mar for 10000, split R-1 0.6 / R-2 0.4 (one team).
          D-2 R-1 C-2 won 6 Mar for 3000, split R-1 0.5 / R-3 0.5 (two teams of East).
          D-3 R-3 C-3 lost 7 Mar, split R-3 0.7 / R-4 0.3 (two regions).
          D-4 R-2 C-1 won 8 Mar for 2000 alone (C-1's second win: no new customer).

Worked by hand:

  rep   orders  revenue  avg order  new customers  win rate
  R-1   2       7500     3750       2 (C-1, C-2)   2/2 = 1
  R-2   2       6000     3000       1 (C-1)        2/2 = 1
  R-3   1       1500     1500       1 (C-2)        1/2 = 0.5   (D-2 won, D-3 lost)
  R-4   0       0        none       0              0/1 = 0     (D-3 lost)

  team T-A: D-1 once (not twice for R-1 and R-2), D-2, D-4 = 3 orders, 10000 + 1500 + 2000
            = 13500, 4500 each; new customers C-1, C-2 = 2; win rate 3/3.
  team T-B = R-3. Region East: D-1, D-2, D-4 won, D-3 lost: 3 orders, 15000, 5000 each,
  win rate 3/4 = 0.75; West: D-3 lost, nothing won. The company = East's deals: 3 orders.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from builders import lose, onboard, open_deal, refund, split, win
from projection_fixtures import projected_stores
from sqlalchemy import select

from projections.db import reading
from projections.payouts.rep_figures import rep_figures
from projections.queries.cutoffs import cutoffs
from projections.queries.forecast import pooled, rep_forecasts, shared_deals, tracks
from projections.queries.membership import parse_scope
from projections.tables import deal_facts

T = "+08:00"


def at(day: str, clock: str = "10:00") -> str:
    return f"2026-03-{day}T{clock}:00{T}"


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


@pytest.fixture
def split_month(projected_store):
    store = projected_store("Asia/Shanghai")
    store.record(
        onboard("R-1", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        onboard("R-2", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        onboard("R-3", "T-B", "East", "2026-01-01T09:00:00+08:00"),
        onboard("R-4", "T-C", "West", "2026-01-01T09:00:00+08:00"),
        open_deal("D-1", "R-1", "C-1", at("01")),
        win("D-1", "10000.00", at("05")),
        split("D-1", {"R-1": "0.6", "R-2": "0.4"}, at("05", "11:00")),
        open_deal("D-2", "R-1", "C-2", at("01")),
        split("D-2", {"R-1": "0.5", "R-3": "0.5"}, at("02")),
        win("D-2", "3000.00", at("06")),
        open_deal("D-3", "R-3", "C-3", at("01")),
        split("D-3", {"R-3": "0.7", "R-4": "0.3"}, at("02")),
        lose("D-3", at("07")),
        open_deal("D-4", "R-2", "C-1", at("01")),
        win("D-4", "2000.00", at("08")),
    )
    store.project()
    return store


def figures(store, scope: str) -> tuple:
    k = store.kpis(scope, "2026-03")
    return k["orders"], k["revenue"], k["avg_order_value"], k["new_customers"], k["win_rate"]


def test_a_split_deal_counts_once_for_each_rep_it_credits_while_money_splits(split_month):
    assert figures(split_month, "rep:R-1") == (2, D("7500.00"), D("3750.00"), 2, D("1"))
    assert figures(split_month, "rep:R-2") == (2, D("6000.00"), D("3000.00"), 1, D("1"))
    assert figures(split_month, "rep:R-3") == (1, D("1500.00"), D("1500.00"), 1, D("0.5"))
    assert figures(split_month, "rep:R-4") == (0, D("0.00"), None, 0, D("0"))


def test_a_deal_split_inside_one_team_counts_once_for_the_team_region_and_company(split_month):
    assert figures(split_month, "team:T-A") == (3, D("13500.00"), D("4500.00"), 2, D("1"))
    assert figures(split_month, "team:T-B") == (1, D("1500.00"), D("1500.00"), 1, D("0.5"))
    assert figures(split_month, "region:East") == (3, D("15000.00"), D("5000.00"), 2, D("0.75"))
    assert figures(split_month, "region:West") == (0, D("0.00"), None, 0, D("0"))
    assert figures(split_month, "company") == (3, D("15000.00"), D("5000.00"), 2, D("0.75"))


def test_counts_are_integers_never_fractions_of_a_deal(split_month):
    for scope in ("rep:R-1", "rep:R-2", "rep:R-3", "team:T-A", "region:East", "company"):
        found = split_month.kpis(scope, "2026-03")
        assert type(found["orders"]) is int and type(found["new_customers"]) is int, scope


def test_plan_figures_count_a_split_deal_whole_for_each_rep(split_month):
    r1, _ = rep_figures(split_month.engine, split_month.settings, "R-1", "2026-03")
    r3, _ = rep_figures(split_month.engine, split_month.settings, "R-3", "2026-03")
    assert (r1["orders"], r1["new_customers"], r1["avg_order_value"], r1["win_rate"]) == (
        2,
        2,
        D("3750.00"),
        D("1"),
    )
    assert (r3["orders"], r3["new_customers"], r3["avg_order_value"], r3["win_rate"]) == (
        1,
        1,
        D("1500.00"),
        D("0.5"),
    )


def test_the_forecasts_per_rep_read_the_same_whole_counts(split_month):
    cut = cutoffs(split_month.settings, "2026-03", None, None)
    with reading(split_month.engine) as conn:
        found = rep_forecasts(conn, split_month.settings, parse_scope("team:T-A"), cut)
    assert found["R-1"]["forecast"]["orders"]["actual"] == D(2)
    assert found["R-2"]["forecast"]["orders"]["actual"] == D(2)


def test_a_team_and_the_company_learn_from_each_split_deal_once(split_month):
    cut = cutoffs(split_month.settings, "2026-03", None, None)
    with reading(split_month.engine) as conn:
        every, deals = tracks(conn, cut), shared_deals(conn, cut)
    # each rep's own track counts a split deal whole: R-1 won D-1 and D-2, R-2 won D-1 and D-4
    assert (every["R-1"].won, every["R-2"].won, every["R-3"].lost, every["R-4"].lost) == (2, 2, 1, 1)
    # T-A won D-1, D-2, D-4: 3 deals, not 4; its money is 6000 + 1500 + 4000 + 2000
    team = pooled(["R-1", "R-2"], every, deals)
    assert (team.won, team.lost, team.won_amount) == (3, 0, D("13500.00"))
    # the company won D-1, D-2, D-4 and lost D-3: 3 and 1, not the reps' 5 and 2
    company = pooled(list(every), every, deals)
    assert (company.won, company.lost, company.won_amount) == (3, 1, D("15000.00"))


# ---------------------------------------------------------------- every fact of a netted deal, flagged


def netted_by_deal(store) -> dict[str, set[bool]]:
    """deal → the `netted` flags of its facts (one flag for all of them, when the fold kept its word)."""
    with reading(store.engine) as conn:
        rows = conn.execute(select(deal_facts.c.deal_id, deal_facts.c.netted)).all()
    found: dict[str, set[bool]] = {}
    for deal_id, netted in rows:
        found.setdefault(deal_id, set()).add(bool(netted))
    return found


def test_a_split_flags_its_deals_facts_netted_those_before_it_too(split_month):
    # D-1 was won before it was split: its win's fact is flagged by the split's. D-2 and D-3 were
    # split while open: their win and loss are written in shares, nothing to net (each share is
    # kept apart as less than one whole deal). D-4 was never split, nor displaced as C-1's first.
    flags = netted_by_deal(split_month)
    assert (flags["D-1"], flags["D-2"], flags["D-3"], flags["D-4"]) == ({True}, {False}, {False}, {False})


def test_a_displaced_first_win_and_a_refund_after_a_split_are_flagged_netted(projected_store):
    store = projected_store("Asia/Shanghai")
    store.record(
        onboard("R-1", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        onboard("R-2", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        open_deal("D-1", "R-1", "C-9", at("01")),
        win("D-1", "1000.00", at("10")),
        # C-9's win of 5 March, recorded later, displaces D-1 as its first: D-1's credit is netted
        open_deal("D-2", "R-2", "C-9", at("01")),
        win("D-2", "2000.00", at("05")),
        # a refund recorded after D-3's split is flagged when it is written
        open_deal("D-3", "R-1", "C-7", at("01")),
        win("D-3", "3000.00", at("06")),
        split("D-3", {"R-1": "0.5", "R-2": "0.5"}, at("07")),
        refund("D-3", "300.00", at("08")),
    )
    store.project()
    flags = netted_by_deal(store)
    assert (flags["D-1"], flags["D-2"], flags["D-3"]) == ({True}, {False}, {True})
    with reading(store.engine) as conn:
        kinds = {kind for (kind,) in conn.execute(select(deal_facts.c.kind).where(deal_facts.c.deal_id == "D-3"))}
    assert kinds == {"won", "split", "refunded"}  # the refund's facts are among those flagged
