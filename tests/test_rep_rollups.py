"""Every rep's sums read from the rep rollups (aligned spans of whole days, the partial days from
the facts) are the sums of the fact rows themselves; a read that does not know every fact sums
the facts.

Day numbers here count days since 1970-01-01 (UTC), as the rollup does: 5 March 2026 is day
20517 (56 years of 365 days, 14 leap days, then 63 days of 2026).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from builders import GENERATED_UNTIL, ev, onboard, open_deal, split, win
from hypothesis import given
from hypothesis import strategies as st
from projection_fixtures import projected_stores, store_with_edges
from sqlalchemy import func, select

from demo.generator import generate
from projections.db import reading
from projections.folds.rep_rollups import SHORTEST, SPANS, Days, cover
from projections.queries import forecast
from projections.queries.cutoffs import cutoffs
from projections.queries.forecast import rep_activities, rep_deal_sums, shared_deals, tracks
from projections.tables import activities, deal_facts, rep_activity_spans, rep_deal_spans
from projections.units import DAY_US

MARCH_5 = (date(2026, 3, 5) - date(1970, 1, 1)).days


def test_the_fifth_of_march_2026_is_day_20517():
    assert MARCH_5 == 56 * 365 + 14 + 31 + 28 + 4 == 20517


# ---------------------------------------------------------------- the cover of a window, pure


@given(st.integers(0, 7_500), st.integers(0, 200))
def test_the_spans_cover_the_whole_days_once_each_aligned_on_its_length(first_span, spans):
    first, end = first_span * SHORTEST, (first_span + spans) * SHORTEST
    runs = cover(first, end)
    days = [day for span, lo, hi in runs for day in range(lo, hi)]
    assert days == list(range(first, end))
    for span, lo, hi in runs:
        assert span in SPANS and lo % span == 0 and (hi - lo) % span == 0
    # at most three spans of a length on the way up to the longest, three on the way down
    assert sum((hi - lo) // span for span, lo, hi in runs) <= 6 * (len(SPANS) - 1) + (end - first) // SPANS[0] + 1


def test_a_quarter_in_shanghai_is_a_few_spans_and_two_short_edges():
    # 2026-Q4 in Asia/Shanghai starts at 2026-09-30 16:00 UTC; read as of 2026-11-30 12:00 UTC
    lo = int(datetime(2026, 9, 30, 16, tzinfo=UTC).timestamp()) * 1_000_000
    hi = int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp()) * 1_000_000
    days = Days.of(lo, hi)
    oct_1 = (date(2026, 10, 1) - date(1970, 1, 1)).days  # day 20727: 3 past a multiple of 4
    nov_30 = oct_1 + 60  # day 20787: also 3 past
    assert (days.first, days.end) == (oct_1 + 1, nov_30 - 3)
    # 8 hours and October's first day; 27 to 29 November and half of the 30th
    assert days.edges() == [(lo, (oct_1 + 1) * DAY_US), ((nov_30 - 3) * DAY_US, hi)]
    assert days.spans() == [(4, 20728, 20736), (16, 20736, 20784)]  # two spans of 4 days, three of 16


@given(st.integers(0, 10**17), st.integers(0, 400 * DAY_US))
def test_the_whole_days_and_the_edges_split_a_window_exactly(lo, length):
    hi = lo + length
    days = Days.of(lo, hi)
    pieces = sorted([*days.edges(), *((a * DAY_US, b * DAY_US) for _, a, b in days.spans())])
    assert sum(b - a for a, b in pieces) == length
    assert all(left[1] == right[0] for left, right in zip(pieces, pieces[1:], strict=False))
    if pieces:
        assert (pieces[0][0], pieces[-1][1]) == (lo, hi)


# ---------------------------------------------------------------- the rows the folds write


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


def activity(activity_id: str, rep_id: str, when: str):
    return ev("ActivityLogged", when, activity_id=activity_id, rep_id=rep_id, kind="call")


def test_an_activity_and_a_win_land_in_one_row_of_each_length(projected_store):
    store = projected_store("Asia/Shanghai")
    store.record(
        onboard("R-1", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        activity("A-1", "R-1", "2026-03-05T10:00:00+08:00"),  # 02:00 UTC: day 20517
        activity("A-2", "R-1", "2026-03-06T07:00:00+08:00"),  # 23:00 UTC on the 5th: day 20517 too
        open_deal("D-1", "R-1", "C-1", "2026-03-01T10:00:00+08:00"),
        win("D-1", "1200.00", "2026-03-05T15:00:00+08:00"),  # 4 days after opening
    )
    store.project()
    starts = {span: MARCH_5 - MARCH_5 % span for span in SPANS}
    assert starts == {256: 20480, 64: 20480, 16: 20512, 4: 20516}
    with reading(store.engine) as conn:
        acts = set(conn.execute(select(rep_activity_spans)).all())
        deals = set(conn.execute(select(rep_deal_spans)).all())
    assert acts == {(span, start, "R-1", 2) for span, start in starts.items()}
    four_days = 4 * DAY_US + 5 * 3_600_000_000  # opened 10:00 on the 1st, won 15:00 on the 5th
    assert deals == {(span, start, "R-1", 120000, 0, 1, 0, 1, four_days, 1) for span, start in starts.items()}


def test_a_read_that_does_not_know_a_later_fact_leaves_it_out_though_its_rollup_holds_it(projected_store):
    store = projected_store("Asia/Shanghai")
    first_known = store.record(
        onboard("R-1", "T-A", "East", "2026-01-01T09:00:00+08:00"),
        open_deal("D-1", "R-1", "C-1", "2026-03-01T10:00:00+08:00"),
        open_deal("D-2", "R-1", "C-2", "2026-03-01T10:00:00+08:00"),
        win("D-1", "1000.00", "2026-03-05T15:00:00+08:00"),
        activity("A-1", "R-1", "2026-03-05T10:00:00+08:00"),
    )
    store.record(win("D-2", "500.00", "2026-03-06T15:00:00+08:00"), activity("A-2", "R-1", "2026-03-06T10:00:00+08:00"))
    store.project()
    as_of = datetime(2026, 3, 31, tzinfo=UTC)
    with reading(store.engine) as conn:
        then = cutoffs(store.settings, "2026-03", as_of, first_known)
        now = cutoffs(store.settings, "2026-03", as_of, None)
        assert (rep_deal_sums(conn, then)["R-1"].orders, rep_deal_sums(conn, now)["R-1"].orders) == (1, 2)
        assert (rep_activities(conn, then), rep_activities(conn, now)) == ({"R-1": 1}, {"R-1": 2})
        assert (tracks(conn, then)["R-1"].won, tracks(conn, now)["R-1"].won) == (1, 2)


# ---------------------------------------------------------------- the same figures both ways


@pytest.fixture
def generated(store_url):
    made = store_with_edges(
        store_url,
        list(generate(3000, seed=5, tz="Asia/Shanghai", now=GENERATED_UNTIL)),
        [
            # a deal split in three, on a day's edge in Shanghai: its shares kept apart by id
            onboard("R-X", "T-X", "East", "2026-01-01T09:00:00+08:00"),
            onboard("R-Y", "T-X", "East", "2026-01-01T09:00:00+08:00"),
            open_deal("D-XY", "R-X", "C-XY", "2026-09-20T10:00:00+08:00"),
            win("D-XY", "999.99", "2026-10-01T00:00:00+08:00"),
            split("D-XY", {"R-X": "0.5", "R-Y": "0.5"}, "2026-10-01T00:00:01+08:00"),
        ],
    )
    made.project()
    yield made
    made.ledger.close()
    made.engine.dispose()


MOMENTS = [
    ("2026-Q4", GENERATED_UNTIL),
    ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC)),  # 08:00 in Shanghai, the quarter's first day
    ("2026-11", datetime(2026, 11, 17, 3, 4, 5, tzinfo=UTC)),
    ("2026-Q3", datetime(2026, 9, 30, 15, 59, 59, 999999, tzinfo=UTC)),  # its last instant
    ("2026-Q2", datetime(2026, 6, 30, 16, tzinfo=UTC)),  # ended: the whole quarter
]


@pytest.mark.parametrize(("period", "as_of"), MOMENTS)
def test_every_reps_sums_from_the_rollups_are_those_of_the_facts(generated, monkeypatch, period, as_of):
    cut = cutoffs(generated.settings, period, as_of, None)
    with reading(generated.engine) as conn:
        assert forecast.knows_all(conn, deal_facts, cut.known_us)
        rolled = rep_deal_sums(conn, cut), tracks(conn, cut), rep_activities(conn, cut)
        monkeypatch.setattr(forecast, "knows_all", lambda *_: False)
        from_facts = rep_deal_sums(conn, cut), tracks(conn, cut), rep_activities(conn, cut)
        shared = shared_deals(conn, cut)
    assert rolled == from_facts
    sums, track, acts = rolled
    assert track and shared  # the year before as_of: deals, split ones among them
    if period != "2026-Q4" or as_of == GENERATED_UNTIL:  # the quarter's first 8 hours have little
        assert sum(s.orders for s in sums.values()) > 0 and sum(acts.values()) > 0


def test_each_length_of_span_holds_every_fact_once(generated):
    with reading(generated.engine) as conn:
        r, a, f = rep_deal_spans.c, rep_activity_spans.c, deal_facts.c
        money = dict(conn.execute(select(r.span, func.sum(r.won_cents - r.refund_cents)).group_by(r.span)).all())
        counted = dict(conn.execute(select(a.span, func.sum(a.activities)).group_by(a.span)).all())
        facts_money = conn.execute(select(func.sum(f.won_cents - f.refund_cents))).scalar()
        activity_count = conn.execute(select(func.count()).select_from(activities)).scalar()
    assert {span: int(total) for span, total in money.items()} == dict.fromkeys(SPANS, int(facts_money))
    assert {span: int(total) for span, total in counted.items()} == dict.fromkeys(SPANS, activity_count)
