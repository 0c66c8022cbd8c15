"""A company's off-track list ranks each rep by its lowest pace below 1, worked out without
dividing the paces that are on track (`kpis.lowest_pace`): for any figures and targets it must
be what the rep's whole row of paces says (`kpis.pace_of`), the lowest of those below 1."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from projections.queries.kpis import lowest_pace, pace_of
from projections.queries.targets import Target

CUMULATIVE_FIGURES = ("revenue", "orders", "new_customers", "activities")
RATIOS = ("conversion_rate", "win_rate", "avg_order_value")

money = st.decimals(min_value=Decimal("-5000.00"), max_value=Decimal("90000.00"), places=2)
count = st.integers(min_value=0, max_value=400)
ratio = st.one_of(st.none(), st.fractions(min_value=0, max_value=3).map(lambda f: Decimal(f.numerator) / f.denominator))
# targets as a manager sets them, zero among them (a target of 0 has no pace), a negative one too
target = st.one_of(st.just(Decimal(0)), st.decimals(min_value=Decimal("-10"), max_value=Decimal("120000"), places=2))
# an elapsed share as `cutoffs.elapsed_share` makes it: microseconds of a quarter, at least a second
# in (a pace one microsecond into a period can need more than the 28 digits `pace_of` divides to)
QUARTER_US = 92 * 86_400 * 1_000_000
share = st.one_of(
    st.just(Decimal(0)),
    st.integers(min_value=1_000_000, max_value=QUARTER_US).map(lambda us: Decimal(us) / Decimal(QUARTER_US)),
)


@st.composite
def figures(draw: st.DrawFn) -> dict:
    return {
        "revenue": draw(money),
        "orders": draw(count),
        "new_customers": draw(count),
        "activities": draw(count),
        "exact": {name: draw(ratio) for name in RATIOS if draw(st.booleans())},
    }


@given(
    figures(),
    st.dictionaries(st.sampled_from(CUMULATIVE_FIGURES + RATIOS), target, max_size=5),
    share,
)
def test_the_lowest_pace_is_the_lowest_of_the_rows_paces_below_one(found, targets, elapsed):
    goals = {metric: Target(value, position) for position, (metric, value) in enumerate(targets.items())}
    behind = [pace for pace in pace_of(found, goals, elapsed).values() if pace is not None and pace < 1]
    assert lowest_pace(found, goals, elapsed) == (min(behind) if behind else None)


def test_a_figure_exactly_on_pace_is_not_behind_and_one_just_short_is():
    goals = {"orders": Target(Decimal(100), 1), "revenue": Target(Decimal("20000.00"), 2)}
    on_pace = {"orders": 50, "revenue": Decimal("10000.00"), "exact": {}}
    assert lowest_pace(on_pace, goals, Decimal("0.5")) is None
    short = {"orders": 49, "revenue": Decimal("9999.00"), "exact": {}}
    # orders 49 / 50 = 0.98; revenue 9,999 / 10,000 = 0.9999: the lowest is the orders'
    assert lowest_pace(short, goals, Decimal("0.5")) == Decimal("0.9800")
