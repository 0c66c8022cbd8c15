"""Where a period in progress will land: the forecasts' arithmetic, on plain values (no database).

Two forecasts of a cumulative figure (revenue, orders), each named in the answer:

- **run rate**: the pace so far carried to the period's end, `actual / elapsed share`;
- **pipeline**: `actual + Σ value × p` over the deals still open and expected to close by the
  period's end, where `value` is a deal's expected amount (revenue; the rep's average won amount
  when it has none) or 1 (orders), and `p` the win probability learned from the rep's own
  closed deals, or its team's when the rep has closed fewer than `MIN_CLOSED`, or the company's
  when the team has too, or none (the pipeline is then the actual alone).

A deal is expected to close by the period's end when it was opened at least a typical sales
cycle before it: `opened + mean cycle < end` (the mean cycle of the rep's won deals, else its
team's, else the company's; with no won deal to learn from, every open deal is expected).
The projected attainment is a forecast over the target; the projected payout, the plan
evaluated with the forecast in place of the actual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

MIN_CLOSED = 5  # closed deals a rep (or a team) needs for its own win rate to count
FOUR_PLACES, TWO_PLACES = Decimal("0.0001"), Decimal("0.01")
REP, TEAM, COMPANY, NONE = "rep", "team", "company", "none"


class Track(NamedTuple):
    """Closed deals of a rep, team or company over the look-back, whole counts, and the
    cycles (microseconds, opened to won) of its won deals: their total and count. A tuple, as
    `Learned` and `Weighted`: a company's list makes one of each for every one of thousands of
    reps, and a tuple is made in a third of a frozen dataclass's time."""

    won: Decimal = Decimal(0)
    lost: Decimal = Decimal(0)
    won_amount: Decimal = Decimal(0)  # money, by share
    cycles_us: int = 0
    cycles: int = 0

    @property
    def closed(self) -> Decimal:
        return self.won + self.lost

    @property
    def cycle_us(self) -> int | None:
        """The mean cycle of the won deals (to the microsecond below); None without one."""
        return self.cycles_us // self.cycles if self.cycles else None


def combined(tracks: Sequence[Track]) -> Track:
    """The tracks of several reps as one (a team's, the company's)."""
    return Track(
        sum((t.won for t in tracks), Decimal(0)),
        sum((t.lost for t in tracks), Decimal(0)),
        sum((t.won_amount for t in tracks), Decimal(0)),
        sum(t.cycles_us for t in tracks),
        sum(t.cycles for t in tracks),
    )


class Learned(NamedTuple):
    """What the rep's pipeline is weighted with, and where it was learned."""

    probability: Decimal | None  # exact won / closed
    source: str  # rep | team | company | none
    closed: Decimal  # the closed deals it was learned from
    cycle_us: int | None  # the mean sales cycle
    average_won: Decimal | None  # the average won amount, for an open deal without an expected amount


def learned(own: Track, team: Track, company: Track, minimum: int = MIN_CLOSED) -> Learned:
    """The win probability and the cycle of a rep: its own when it has closed `minimum` deals,
    else its team's, else the company's."""
    closed = own.won + own.lost
    if own.cycles and own.won > 0 and closed >= minimum:  # all its own: most reps of a company
        return Learned(own.won / closed, REP, closed, own.cycles_us // own.cycles, own.won_amount / own.won)
    tracks = (own, team, company)
    # loops rather than generators and properties: it runs for every rep of a company's list
    cycle: int | None = None
    average: Decimal | None = None
    for track in tracks:
        if cycle is None and track.cycles:
            cycle = track.cycles_us // track.cycles
        if average is None and track.won > 0:
            average = track.won_amount / track.won
    for source, track in zip(SOURCES, tracks, strict=True):
        closed = track.won + track.lost
        if closed >= minimum:
            return Learned(track.won / closed, source, closed, cycle, average)
    return Learned(None, NONE, own.closed, cycle, average)


SOURCES = (REP, TEAM, COMPANY)


class OpenDeals(NamedTuple):
    """A rep's deals open at as_of, side by side: when each was opened, and its expected amount
    in cents (None: none given). Two lists, not a tuple a deal: a company's pipeline holds tens
    of thousands."""

    opened_us: Sequence[int]
    expected_cents: Sequence[int | None]


NO_OPEN_DEALS = OpenDeals((), ())  # of a rep without open deals (tuples: shared, never grown)


class Pipeline(NamedTuple):
    """A rep's deals open at as_of, against its mean cycle: how many, how many are expected to
    close by the period's end, and what those are expected to bring."""

    open_deals: int = 0
    expected: int = 0  # opened + mean cycle < end (every open deal without a cycle)
    cents: int = 0  # Σ the expected amounts of the expected deals that have one, in cents
    unknown: int = 0  # the expected deals without an expected amount


def pipeline_of(deals: OpenDeals, cycle_us: int | None, end_us: int) -> Pipeline:
    """The `Pipeline` of a rep's open deals: a deal is expected to close before the period's
    exclusive end when it was opened a mean cycle before it."""
    expected = cents = unknown = 0
    before = None if cycle_us is None else end_us - cycle_us  # opened + cycle < end, a sum fewer a deal
    for opened_us, amount in zip(deals.opened_us, deals.expected_cents, strict=True):
        if before is None or opened_us < before:
            expected += 1
            if amount is None:
                unknown += 1
            else:
                cents += amount
    return Pipeline(len(deals.opened_us), expected, cents, unknown)


class Weighted(NamedTuple):
    """The expected value of a rep's open deals expected in the period."""

    revenue: Decimal
    orders: Decimal
    deals: int  # open deals expected in the period
    open_deals: int  # every open deal


def weighted(pipeline: Pipeline, learned_from: Learned) -> Weighted:
    """Σ (expected amount, or the average won amount) × p over the deals expected in the period,
    and their count × p. The expected amounts are summed in cents, exactly, and made money once."""
    p = learned_from.probability
    if p is None:
        return Weighted(Decimal(0), Decimal(0), pipeline.expected, pipeline.open_deals)
    amount = Decimal(pipeline.cents) / 100
    if pipeline.unknown and learned_from.average_won is not None:
        amount += pipeline.unknown * learned_from.average_won
    return Weighted(amount * p, pipeline.expected * p, pipeline.expected, pipeline.open_deals)


def run_rate(actual: Decimal, share: Decimal) -> Decimal | None:
    """The actual carried to the period's end at the pace so far; None before the period starts."""
    return actual / share if share > 0 else None


def projection(metric: str, actual: Decimal, share: Decimal, pipeline: Decimal, target: Decimal | None) -> dict:
    """One metric's forecasts, rounded for the answer (money to cents, counts and ratios to 4 places)."""
    rate = run_rate(actual, share)
    landing = actual + pipeline
    places = TWO_PLACES if metric == "revenue" else FOUR_PLACES
    # written out, not looped: it runs for every metric of every rep of a company's list
    if target:
        attainment = {
            "actual": attained(actual, target),
            "run_rate": None if rate is None else attained(rate, target),
            "pipeline": attained(landing, target),
        }
    else:
        attainment = {"actual": None, "run_rate": None, "pipeline": None}
    return {
        "actual": actual.quantize(places, ROUND_HALF_UP),
        "run_rate": None if rate is None else rate.quantize(places, ROUND_HALF_UP),
        "pipeline": landing.quantize(places, ROUND_HALF_UP),
        "target": target,
        "attainment": attainment,
    }


def attained(figure: Decimal, target: Decimal) -> Decimal:
    """A figure (actual or forecast) over a target that is not zero, to 4 places."""
    return (figure / target).quantize(FOUR_PLACES, ROUND_HALF_UP)


def forecast_error(forecast: Decimal | None, actual: Decimal) -> Decimal | None:
    """How far a forecast was from what happened, as a share of what happened (+: too high)."""
    if forecast is None or actual == 0:
        return None
    return _round((forecast - actual) / actual, FOUR_PLACES)


def total(values: Iterable[Weighted]) -> Weighted:
    found = list(values)
    return Weighted(
        sum((w.revenue for w in found), Decimal(0)),
        sum((w.orders for w in found), Decimal(0)),
        sum(w.deals for w in found),
        sum(w.open_deals for w in found),
    )


def _round(value: Decimal | None, places: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(places, rounding=ROUND_HALF_UP)
