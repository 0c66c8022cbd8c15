"""Every rep's counts read at once sum a deal's shares per rep only where a split or an unfirst
nets them, and count every other deal by its one win or loss: the same whole counts as summing
every (rep, deal) pair first.

The story (March 2026, all times +08:00), one team T-A of R-1, R-2, R-3, R-4:

  D-1  R-1 C-1 won 5 Mar for 1000, then its whole credit moved to R-2 (a split of 1.0).
  D-2  R-1 C-2 won 6 Mar for 3000, split R-1 0.5 / R-3 0.5.
  D-3  R-3 C-3 lost 7 Mar, its loss moved whole to R-4.
  D-4  R-3 C-4 won 12 Mar for 2000, recorded first: C-4's first win as then known.
  D-5  R-4 C-4 won 11 Mar for 500, recorded after D-4: C-4's first win after all, so D-4's
       new customer is taken back (an unfirst, at D-4's win).
  D-6  R-2 C-6 won 20 Mar for 700 alone.

Worked by hand, the whole month:

  rep   orders          lost       new customers       revenue
  R-1   1 (D-2)         0          1 (C-2)             1500
  R-2   2 (D-1, D-6)    0          2 (C-1, C-6)        1700
  R-3   2 (D-2, D-4)    0 (moved)  1 (C-2; C-4 taken)  3500
  R-4   1 (D-5)         1 (D-3)    1 (C-4)             500

R-1 still has D-1's won fact, R-3 D-3's lost fact and D-4's new-customer share: a count of
facts alone would give R-1 2 orders, R-3 1 loss and 2 new customers.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from builders import lose, onboard, open_deal, refund, split, win
from projection_fixtures import projected_stores
from sqlalchemy import and_

from projections.db import reading
from projections.queries.cutoffs import cutoffs
from projections.queries.facts import DealSums, counted_by_deal
from projections.queries.forecast import rep_deal_sums, shared_deals, tracks
from projections.tables import deal_facts

T = "+08:00"


def at(day: str, clock: str = "10:00") -> str:
    return f"2026-03-{day}T{clock}:00{T}"


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


@pytest.fixture
def netted_month(projected_store):
    store = projected_store("Asia/Shanghai")
    store.record(*[onboard(rep, "T-A", "East", "2026-01-01T09:00:00+08:00") for rep in ("R-1", "R-2", "R-3", "R-4")])
    store.record(
        open_deal("D-1", "R-1", "C-1", at("01")),
        win("D-1", "1000.00", at("05")),
        split("D-1", {"R-2": "1"}, at("05", "11:00")),
        open_deal("D-2", "R-1", "C-2", at("01")),
        win("D-2", "3000.00", at("06")),
        split("D-2", {"R-1": "0.5", "R-3": "0.5"}, at("06", "11:00")),
        open_deal("D-3", "R-3", "C-3", at("01")),
        lose("D-3", at("07")),
        split("D-3", {"R-4": "1"}, at("07", "11:00")),
        open_deal("D-4", "R-3", "C-4", at("01")),
        win("D-4", "2000.00", at("12")),
    )
    store.record(
        open_deal("D-5", "R-4", "C-4", at("01")),
        win("D-5", "500.00", at("11")),
        open_deal("D-6", "R-2", "C-6", at("01")),
        win("D-6", "700.00", at("20")),
    )
    store.project()
    return store


def by_rep(store) -> tuple[dict, dict]:
    """(every rep's sums of the month read at once, the same summed pair by pair)."""
    cut = cutoffs(store.settings, "2026-03", None, None)
    f = deal_facts.c
    window = and_(f.occurred_us >= cut.start_us, f.occurred_us < cut.upto_us, f.recorded_us <= cut.known_us)
    with reading(store.engine) as conn:
        pairwise = {
            rep_id: DealSums(*(int(value or 0) for value in values))
            for rep_id, *values in conn.execute(counted_by_deal(window, f.rep_id)).all()
        }
        at_once = rep_deal_sums(conn, cut)
    return at_once, pairwise


def test_a_rep_counts_only_the_deals_whose_netted_share_is_left_with_him(netted_month):
    found, _ = by_rep(netted_month)
    counts = {rep: (s.orders, s.lost, s.new_customers, D(s.revenue_cents) / 100) for rep, s in found.items()}
    assert counts == {
        "R-1": (1, 0, 1, D("1500")),
        "R-2": (2, 0, 2, D("1700")),
        "R-3": (2, 0, 1, D("3500")),
        "R-4": (1, 1, 1, D("500")),
    }


def test_every_reps_counts_read_at_once_are_those_summed_pair_by_pair(netted_month):
    at_once, pairwise = by_rep(netted_month)
    assert at_once == pairwise


def test_the_tracks_count_a_deal_whose_credit_moved_away_for_its_new_rep_alone(netted_month):
    cut = cutoffs(netted_month.settings, "2026-03", None, None)
    with reading(netted_month.engine) as conn:
        own, shared = tracks(conn, cut), shared_deals(conn, cut)
    assert {rep: (own[rep].won, own[rep].lost) for rep in own} == {
        "R-1": (1, 0),
        "R-2": (2, 0),
        "R-3": (2, 0),
        "R-4": (1, 1),
    }
    # D-2 credits: the pools need its id to count it once
    assert "D-2" in shared["R-1"][0] and "D-2" in shared["R-3"][0]


def test_a_later_refund_takes_money_from_a_lone_deal_and_leaves_its_count(netted_month):
    netted_month.record(refund("D-6", "100.00", at("25")))
    netted_month.project()
    at_once, pairwise = by_rep(netted_month)
    assert at_once == pairwise
    assert (at_once["R-2"].revenue_cents, at_once["R-2"].orders) == (160000, 2)
