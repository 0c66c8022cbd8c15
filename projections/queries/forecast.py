"""The forecast of a period in progress, per rep, team, region or company, and the off-track
list: reps ranked by pace and forecast, with the reason. The arithmetic is
`projections/forecasting.py`; here, the plain values it needs, read at `as_of` and `known_at`
like every other figure, so a forecast as known at any `known_at` can be asked again:

- the actuals and the targets of the period (as `kpis` and `rep_figures` read them);
- each rep's track over the year before as_of (its closed deals, won amounts and sales cycles),
  and its team's (the reps in its team at as_of) and the company's;
- the deals open at as_of, as known at known_at: opened by then and recorded by then, not won
  or lost by then (a deal is won or lost once, so the `deals` fold state says when).

Reps of a scope: those in it at as_of (the company: every rep onboarded and not offboarded by
then). A team's forecast is its own actual (facts credited while its reps were in it) plus the
weighted pipelines of the reps in it now.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnClause,
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)

from ledger.config import Settings
from ledger.gc_pause import paused_gc
from projections.accel.open_deals_in_sql import open_deals_in_sql
from projections.accel.registry import enabled as accelerated
from projections.accel.side_reads import alongside
from projections.db import is_sqlite, reading
from projections.folds.rep_rollups import Days
from projections.forecasting import (
    MIN_CLOSED,
    NO_OPEN_DEALS,
    Learned,
    OpenDeals,
    Pipeline,
    Track,
    Weighted,
    attained,
    combined,
    forecast_error,
    learned,
    pipeline_of,
    projection,
    total,
)
from projections.forecasting import weighted as weigh
from projections.payouts.assembly import memoized, projected_payout, read_figures_ahead
from projections.queries.cutoffs import Cutoffs, cutoffs, elapsed_share
from projections.queries.facts import ONE, ZERO, DealSums, count_deals, deal_sums, pairs_apart, sums_by_rep
from projections.queries.kpis import CUMULATIVE, ON_PACE, attainment_of, exact_ratio, lowest_pace, pace_of
from projections.queries.membership import Scope, ScopeFilter, Stint, parse_scope, reps_ever_in, stints
from projections.queries.rep_rollups import as_ints, knows_all, rolled_up
from projections.queries.targets import Target, current_targets, in_force_by_scope
from projections.tables import (
    activities,
    deal_facts,
    deals,
    lead_conversions,
    leads,
    rep_activity_spans,
    rep_deal_spans,
)
from projections.units import DAY_US, PPB, QUANTA, micros_to_time, money

LOOK_BACK_US = 365 * DAY_US  # the closed deals a win rate and a sales cycle are learned from
MAX_LISTED_REPS = 200  # up to this many reps, the open deals are read for them alone (an IN list)
FIRST_PAGE = 100  # the reps an off-track list shows first (GET /kpis/off-track without a limit)
FORECAST_METRICS = ("revenue", "orders")
METHODS = {
    "run_rate": "actual / elapsed share of the period",
    "pipeline": "actual + Σ (expected amount, or 1 order) × win probability, over the deals open at as_of "
    "and expected to close by the period's end (opened + mean sales cycle < end); the probability "
    "and the cycle are learned from the rep's closed deals of the year before as_of, or its team's "
    "when it has closed fewer than 5, or the company's",
}


# `remember(key, compute)`: compute(), or what it gave for `key` before at the same head of the log,
# when every event up to the head is known and none after it exists (api/figures_memo.py); None:
# always compute. A key names every input the figures are read from: for a window of facts, the
# first and last business times found in it (`bounds`), so two reads whose cut-offs differ (as_of
# "now", a little later) but select the very same facts share the figures, and no others do.
Remember = Callable[[Hashable, Callable[[], Any]], Any]


def bounds(conn: Connection, column: Column[int], lo: int, hi: int) -> tuple[int | None, int | None]:
    """The first and last values of `column` (a business time, indexed) in [lo, hi]: at one head
    with everything known, the rows of a window are exactly those between them."""
    first = conn.execute(select(func.min(column)).where(column >= lo, column <= hi)).scalar()
    last = conn.execute(select(func.max(column)).where(column >= lo, column <= hi)).scalar()
    return first, last


# ---------------------------------------------------------------- reading the inputs


def everyone_at(conn: Connection, cut: Cutoffs, rep_ids: list[str] | None = None) -> dict[str, Stint]:
    """rep → its stint at as_of (a period not yet started: at its first instant), for every rep
    (or every one of `rep_ids`) onboarded and not offboarded by then."""
    moment = min(max(cut.as_of_us, cut.start_us), cut.end_us - 1)
    if rep_ids is not None and not rep_ids:
        return {}
    return {s.rep_id: s for s in stints(conn, cut.known_us, rep_ids) if s.lo <= moment < s.hi}


def in_scope(found: Mapping[str, Stint], scope: Scope) -> dict[str, Stint]:
    """The reps of `found` in the scope."""
    if scope.kind == "rep":
        return {rep: stint for rep, stint in found.items() if rep == scope.value}
    if scope.kind == "company":
        return dict(found)
    return {rep: stint for rep, stint in found.items() if stint.of(scope)}


Shared = dict[str, tuple[frozenset[str], frozenset[str]]]  # rep → the ids of the shared deals it won, lost


def pooled(rep_ids: Iterable[str], own: Mapping[str, Track], shared: Shared) -> Track:
    """Several reps' tracks as one (a team's, the company's): money and cycles summed, and each
    closed deal counted once, however many of these reps it credits: a deal of one rep is
    counted once by that rep's own track, so only the shared ones need ids (`shared_deals`)."""
    chosen = [rep_id for rep_id in rep_ids if rep_id in own]
    summed = combined([own[rep_id] for rep_id in chosen])
    won: set[str] = set()
    lost: set[str] = set()
    repeated_won = repeated_lost = 0  # the shared deals as the reps' own counts hold them
    for rep_id in chosen:
        shared_won, shared_lost = shared.get(rep_id, NOTHING_SHARED)
        won |= shared_won
        lost |= shared_lost
        repeated_won += len(shared_won)
        repeated_lost += len(shared_lost)
    return Track(
        summed.won - repeated_won + len(won),
        summed.lost - repeated_lost + len(lost),
        summed.won_amount,
        summed.cycles_us,
        summed.cycles,
    )


T = TypeVar("T")
NOTHING_SHARED: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
NO_SUMS = DealSums()  # of a rep without deal facts in the window
NO_TRACK = Track()  # of a rep or a pool without closed deals


def tracks(conn: Connection, cut: Cutoffs, rep_ids: list[str] | None = None) -> dict[str, Track]:
    """rep → its track over the year before as_of (closed deals in whole counts, a split deal
    once for each rep it credits; won amount by share; won deals' cycles), for every rep with
    deal facts then (or for the given reps), as `sums_by_rep` counts deals: each rep's facts
    summed in one group (its won or lost fact counts a deal; every rep's, when the read knows
    every fact, from the rep rollup for the year's whole days), then corrected by the pairs of
    the deals a split or an unfirst nets (`corrections_by_rep`)."""
    f, r = deal_facts.c, rep_deal_spans.c
    where = look_back(cut) if rep_ids is None else and_(look_back(cut), f.rep_id.in_(rep_ids))
    won_facts, lost_facts = (func.sum(case((column > ZERO, ONE), else_=ZERO)) for column in (f.won_ppb, f.lost_ppb))
    won_deal = f.deal_count == 1  # one row per won deal carries its cycle

    def per_rep(where: ColumnElement[bool]) -> Select[Any]:
        return (
            select(
                f.rep_id,
                won_facts,
                lost_facts,
                func.sum(f.won_cents - f.refund_cents),
                func.sum(case((won_deal, f.cycle_us), else_=ZERO)),
                func.sum(case((won_deal & f.cycle_us.is_not(None), ONE), else_=ZERO)),
            )
            .where(where)
            .group_by(f.rep_id)
        )

    if rep_ids is None and knows_all(conn, deal_facts, cut.known_us):
        columns = (r.won_facts, r.lost_facts, r.won_cents - r.refund_cents, r.cycle_us, r.cycles)
        days = Days.of(cut.as_of_us - LOOK_BACK_US + 1, cut.as_of_us + 1)  # (as_of − a year, as_of]
        sums = rolled_up(conn, rep_deal_spans, columns, days, per_rep, f.occurred_us)
    else:
        sums = as_ints(conn.execute(per_rep(where)))
    counted = [(func.sum(f.won_ppb), won_facts), (func.sum(f.lost_ppb), lost_facts)]
    count_deals(conn, sums, counted, where, 0)
    return {
        rep_id: Track(Decimal(won), Decimal(lost), Decimal(cents) / 100, cycles_us, cycles)
        for rep_id, (won, lost, cents, cycles_us, cycles) in sums.items()
    }


def shared_deals(conn: Connection, cut: Cutoffs, rep_ids: list[str] | None = None) -> Shared:
    """rep → the ids of the deals of the year before as_of it won and lost that credit more than
    one rep then (or netted ones), for every rep (or the given reps): what a pool needs to count
    each of them once (`pooled`). Read only when a rep has too few closed deals of its own (at
    ten million events, none of 5,050 reps: 13k pairs not read)."""
    f = deal_facts.c
    where = look_back(cut) if rep_ids is None else and_(look_back(cut), f.rep_id.in_(rep_ids))
    whole: ColumnClause[Any] = literal_column(str(PPB))  # one whole deal, in parts per billion
    shared = or_(and_(f.won_ppb > ZERO, f.won_ppb < whole), and_(f.lost_ppb > ZERO, f.lost_ppb < whole))
    won: dict[str, set[str]] = defaultdict(set)
    lost: dict[str, set[str]] = defaultdict(set)
    shares = [cast(func.sum(f.won_ppb), BigInteger), cast(func.sum(f.lost_ppb), BigInteger)]
    for rep_id, deal_id, won_ppb, lost_ppb in pairs_apart(conn, shares, where, shared):
        if won_ppb > 0:
            won[rep_id].add(deal_id)
        if lost_ppb > 0:
            lost[rep_id].add(deal_id)
    return {
        rep_id: (frozenset(won.get(rep_id, ())), frozenset(lost.get(rep_id, ()))) for rep_id in won.keys() | lost.keys()
    }


def tracks_of(conn: Connection, cut: Cutoffs, remember: Remember | None = None) -> dict[str, Track]:
    """`tracks` of every rep, remembered by the deal facts of its window (see `Remember`): the
    same facts, the same tracks, whatever as_of selected them."""
    if remember is None:
        return tracks(conn, cut)
    return remember(("tracks", look_back_bounds(conn, cut)), lambda: tracks(conn, cut))


def shared_of(conn: Connection, cut: Cutoffs, remember: Remember | None = None) -> Shared:
    """`shared_deals` of every rep, remembered as `tracks_of`."""
    if remember is None:
        return shared_deals(conn, cut)
    return remember(("shared-deals", look_back_bounds(conn, cut)), lambda: shared_deals(conn, cut))


def look_back_bounds(conn: Connection, cut: Cutoffs) -> tuple[int | None, int | None]:
    return bounds(conn, deal_facts.c.occurred_us, cut.as_of_us - LOOK_BACK_US + 1, cut.as_of_us)


def look_back(cut: Cutoffs) -> ColumnElement[bool]:
    """The deal facts of the year before as_of, as known at known_at."""
    f = deal_facts.c
    return and_(
        f.occurred_us > cut.as_of_us - LOOK_BACK_US, f.occurred_us <= cut.as_of_us, f.recorded_us <= cut.known_us
    )


def open_at(cut: Cutoffs) -> list[ColumnElement[bool]]:
    """The deals open at as_of, as known at known_at: opened by then and recorded by then, and
    one of three index ranges rather than one OR (a scan of every deal): still open; won or lost
    after as_of; won or lost by as_of but recorded after known_at."""
    d = deals.c
    opened = and_(d.opened_us <= cut.as_of_us, d.opened_recorded_us <= cut.known_us)
    return [
        and_(opened, d.outcome.is_(None)),
        and_(opened, d.outcome.is_not(None), d.closed_us > cut.as_of_us),
        and_(opened, d.outcome.is_not(None), d.closed_us <= cut.as_of_us, d.closed_recorded_us > cut.known_us),
    ]


def open_deals(conn: Connection, cut: Cutoffs, rep_ids: list[str] | None) -> dict[str, OpenDeals]:
    """rep → the deals it owned that were open at as_of, as known at known_at (of the reps
    `rep_ids`; None: of every rep); on PostgreSQL gathered a rep a row (`accel.open_deals_in_sql`)."""
    listed = None if rep_ids is None or len(rep_ids) > MAX_LISTED_REPS else rep_ids  # else every rep's, read whole
    if accelerated() and not is_sqlite(conn.engine):
        found = open_deals_in_sql(conn, open_at(cut), listed)
    else:
        d = deals.c
        opened = select(d.rep_id, d.opened_us, d.expected_cents)
        if listed is not None:
            opened = opened.where(d.rep_id.in_(listed))
        lists: dict[str, tuple[list[int], list[int | None]]] = {}
        for condition in open_at(cut):
            for rep_id, opened_us, expected_cents in conn.execute(opened.where(condition)).all():
                opened_at, amounts = lists.setdefault(rep_id, ([], []))
                opened_at.append(opened_us)
                amounts.append(expected_cents)
        found = {rep_id: OpenDeals(*both) for rep_id, both in lists.items()}
    return found if rep_ids is None else {rep_id: found[rep_id] for rep_id in rep_ids if rep_id in found}


def pipelines(
    deals_of: Mapping[str, OpenDeals], cut: Cutoffs, learned_from: Mapping[str, Learned]
) -> dict[str, Pipeline]:
    """rep → the `Pipeline` of its open deals (`open_deals`) against the cycle it learned, for
    each rep of `learned_from`."""
    return {
        rep_id: pipeline_of(deals_of.get(rep_id, NO_OPEN_DEALS), found.cycle_us, cut.end_us)
        for rep_id, found in learned_from.items()
    }


def learned_by_rep(
    conn: Connection,
    cut: Cutoffs,
    everyone: Mapping[str, Stint],
    reps: Mapping[str, Stint],
    remember: Remember | None = None,
) -> dict[str, Learned]:
    """Each rep's win probability and cycle: its own, its team's at as_of, or the company's (a
    rep no longer onboarded, or in no team, pooled with the reps in no team)."""
    every = tracks_of(conn, cut, remember)
    shared = Lazily(lambda: shared_of(conn, cut, remember))  # only a pool needs them
    members: dict[str | None, list[str]] = defaultdict(list)
    for rep_id in every:
        stint = everyone.get(rep_id)
        members[None if stint is None else stint.team_id].append(rep_id)
    teams: dict[str | None, Track] = {}

    def team_of(team_id: str | None) -> Track:
        if team_id not in teams:
            teams[team_id] = pooled(members.get(team_id, []), every, shared())
        return teams[team_id]

    company = Lazily(lambda: pooled(every, every, shared()))
    found = {}
    for rep_id, stint in reps.items():
        own = every.get(rep_id, NO_TRACK)
        # no pool for a settled rep, nor a function to ask for one: most reps of a company
        if settled(own):
            found[rep_id] = learned(own, NO_TRACK, NO_TRACK)
        else:
            found[rep_id] = learned_lazily(own, partial(team_of, stint.team_id), company)
    return found


def learned_in_scope(
    conn: Connection, cut: Cutoffs, scope: Scope, remember: Remember | None = None
) -> tuple[dict[str, Stint], dict[str, Learned]]:
    """The reps of the scope at as_of, and `learned_by_rep` of each. A team or a rep, read with
    nothing remembered: the facts of its reps alone, then of a rep's team only when the rep has
    too few of its own, and of the company only when the team has too (a team list's reps
    mostly learn from themselves or their team, and the company's year of facts is most of the
    table); the company, or with a memo: every rep's at once (remembered, shared by every list)."""
    if remember is None and scope.kind in ("team", "rep"):
        reps = in_scope(everyone_at(conn, cut, reps_ever_in(conn, scope, cut.known_us)), scope)
        if len(reps) <= MAX_LISTED_REPS and all(stint.team_id is not None for stint in reps.values()):
            return reps, learned_of_few(conn, cut, scope, reps)
    everyone = everyone_at(conn, cut)
    reps = in_scope(everyone, scope)
    return reps, learned_by_rep(conn, cut, everyone, reps, remember)


def learned_of_few(conn: Connection, cut: Cutoffs, scope: Scope, reps: Mapping[str, Stint]) -> dict[str, Learned]:
    """`learned_by_rep` of a few reps, each pool read when first needed (see `learned_in_scope`)."""
    chosen = sorted(reps)
    own = tracks(conn, cut, chosen)
    teams: dict[str, Track] = {}

    def team_of(team_id: str) -> Track:
        if team_id not in teams:
            if scope.kind == "team" and scope.value == team_id:  # the team's reps at as_of are the scope's
                teams[team_id] = pooled(reps, own, shared_deals(conn, cut, chosen))
            else:
                team = Scope("team", team_id)
                members = sorted(in_scope(everyone_at(conn, cut, reps_ever_in(conn, team, cut.known_us)), team))
                teams[team_id] = pooled(members, tracks(conn, cut, members), shared_deals(conn, cut, members))
        return teams[team_id]

    def company() -> Track:
        every = tracks(conn, cut)
        return pooled(every, every, shared_deals(conn, cut))

    whole = Lazily(company)
    return {
        rep_id: learned_lazily(own.get(rep_id, NO_TRACK), partial(team_of, str(stint.team_id)), whole)
        for rep_id, stint in reps.items()
    }


class Lazily(Generic[T]):
    """A value computed on the first call, then given again."""

    def __init__(self, compute: Callable[[], T]):
        self.compute = compute
        self.value: T | None = None

    def __call__(self) -> T:
        if self.value is None:
            self.value = self.compute()
        return self.value


def learned_lazily(own: Track, team: Callable[[], Track], company: Callable[[], Track]) -> Learned:
    """`learned(own, team(), company())`, asking for a pool only when the tracks before it leave
    the choice of the win rate, the cycle or the average won amount to it."""
    if settled(own):
        return learned(own, NO_TRACK, NO_TRACK)
    mine = team()
    if settled(mine):
        return learned(own, mine, NO_TRACK)
    return learned(own, mine, company())


def settled(track: Track) -> bool:
    """Does `learned` take the win rate, the cycle and the average won amount all from this track?"""
    return track.cycles > 0 and track.won > 0 and track.won + track.lost >= MIN_CLOSED  # no property: every rep's


# ---------------------------------------------------------------- the forecast of a scope


def forecast(
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The forecast of a scope's period (see the module docstring): each metric's actual, run
    rate and pipeline forecasts and their attainment; the pipeline's make-up; for a team, region
    or company, each rep's; for a period that has ended, how far the forecasts made at its middle
    were from what happened."""
    parsed = parse_scope(scope)
    cut = cutoffs(settings, period, as_of, known_at)
    with reading(engine) as conn, paused_gc():  # every rep's rows: see `off_track`
        answer = scope_forecast(conn, settings, parsed, cut)
        if parsed.kind != "rep":
            answer["reps"] = [row for _, row in sorted(rep_forecasts(conn, settings, parsed, cut).items())]
    if parsed.kind == "rep" and parsed.value is not None:
        answer["payout"] = payout_if_landed(engine, settings, parsed.value, cut, answer["forecast"])
    if cut.ended:
        answer["error"] = forecast_accuracy(engine, settings, parsed, cut)
    return answer


def scope_forecast(conn: Connection, settings: Settings, scope: Scope, cut: Cutoffs) -> dict[str, Any]:
    reps, learned_from = learned_in_scope(conn, cut, scope)
    found = pipelines(open_deals(conn, cut, sorted(reps)), cut, learned_from)
    weights = {rep: weigh(found[rep], learned_from[rep]) for rep in reps}
    sums = deal_sums(conn, ScopeFilter.load(conn, scope, cut.known_us), cut.start_us, cut.upto_us, cut.known_us)
    goals = current_targets(conn, str(scope), str(cut.period), cut)
    summed = total(weights.values())
    return {
        "elapsed_share": _share(cut),
        "forecast": metrics(sums, summed, elapsed_share(cut), {m: g.value for m, g in goals.items()}),
        "pipeline": pipeline_summary(summed, learned_from.get(scope.value or "") if scope.kind == "rep" else None),
        "methods": METHODS,
    }


def metrics(sums: DealSums, pipeline: Weighted, share: Decimal, targets: Mapping[str, Decimal]) -> dict[str, Any]:
    actual = actuals(sums)
    extra = {"revenue": pipeline.revenue, "orders": pipeline.orders}
    return {m: projection(m, actual[m], share, extra[m], targets.get(m)) for m in FORECAST_METRICS}


def actuals(sums: DealSums) -> dict[str, Decimal]:
    """The forecast metrics' actual figures so far, exact."""
    return {"revenue": Decimal(sums.revenue_cents) / 100, "orders": Decimal(sums.orders)}


def landed(metric: str, sums: DealSums, pipeline: Weighted) -> Decimal:
    """Where a forecast metric lands by the pipeline forecast (`projection`'s, unrounded)."""
    if metric == "revenue":
        return Decimal(sums.revenue_cents) / 100 + pipeline.revenue
    return Decimal(sums.orders) + pipeline.orders


def pipeline_summary(summed: Weighted, own: Learned | None) -> dict[str, Any]:
    """The pipeline behind the forecast; for one rep, also what it was weighted with."""
    summary: dict[str, Any] = {"open_deals": summed.open_deals, "expected_in_period": summed.deals}
    if own is not None:
        summary.update(
            win_probability=None if own.probability is None else half_up(own.probability, 4),
            learned_from=own.source,
            closed_deals=own.closed,
            cycle_days=None if own.cycle_us is None else half_up(Decimal(own.cycle_us) / DAY_US, 2),
        )
    return summary


def payout_if_landed(
    engine: Engine, settings: Settings, rep_id: str, cut: Cutoffs, forecasts: Mapping[str, Any]
) -> dict[str, Any]:
    """What the rep earns under the plan in force if each forecast lands, beside the payout of
    the actual figures so far."""
    now = projected_payout(engine, settings, rep_id, cut, {})
    answer: dict[str, Any] = {"plan": None if now.plan is None else now.plan.label(), "so_far": now.total}
    for method in ("run_rate", "pipeline"):
        landed = {m: forecasts[m][method] for m in FORECAST_METRICS if forecasts[m][method] is not None}
        answer[method] = projected_payout(engine, settings, rep_id, cut, landed).total if landed else None
    return answer


def payouts_if_landed(
    engine: Engine, settings: Settings, rows: list[Mapping[str, Any]], cut: Cutoffs
) -> dict[str, dict[str, Any]]:
    """`payout_if_landed` of each rep of `rows` (each with its `rep_id` and `forecast`), their
    figures, plans, targets and awards read once for all of them."""
    with memoized():
        read_figures_ahead(engine, settings, {row["rep_id"]: cut for row in rows})
        return {row["rep_id"]: payout_if_landed(engine, settings, row["rep_id"], cut, row["forecast"]) for row in rows}


# ---------------------------------------------------------------- every rep of a scope at once


class Standing(NamedTuple):
    """A rep's period so far beside its targets, and its pipeline weighted: what its forecast row
    and its off-track reasons are made of."""

    stint: Stint
    sums: DealSums
    figures: dict[str, Any]  # `rep_figures_of`
    goals: dict[str, Target]  # its pace and attainment are made with its row
    learned: Learned
    weights: Weighted


def standings(conn: Connection, scope: Scope, cut: Cutoffs, remember: Remember | None = None) -> dict[str, Standing]:
    """rep → its `Standing`, for every rep in the scope at as_of: one grouped read per family of
    facts for all of them, and only the families a target needs."""
    with alongside(conn) as beside:
        # the company's targets, deal sums and open deals are every rep's: read beside its tracks
        every = beside(partial(scope_reads, cut=cut, few=None)) if scope.kind == "company" else None
        reps, learned_from = learned_in_scope(conn, cut, scope, remember)
        if not reps:
            return {}
        few = sorted(reps) if len(reps) <= MAX_LISTED_REPS else None  # else every rep's, read whole
        forced, sums, deals = scope_reads(conn, cut, few) if every is None else every()
    goals = {rep_id: forced.get(f"rep:{rep_id}", {}) for rep_id in reps}
    wanted = {metric for found in goals.values() for metric in found}
    leads_of = rep_leads(conn, cut) if "conversion_rate" in wanted else {}
    activities_of = rep_activities_of(conn, cut, remember) if "activities" in wanted else {}
    end_us = cut.end_us
    found = {}
    for rep_id, stint in reps.items():
        deal = sums.get(rep_id, NO_SUMS)
        created, converted = leads_of.get(rep_id, (0, 0))
        figures = rep_figures_of(deal, created, converted, activities_of.get(rep_id, 0), wanted)
        learned = learned_from[rep_id]
        weights = weigh(pipeline_of(deals.get(rep_id, NO_OPEN_DEALS), learned.cycle_us, end_us), learned)
        found[rep_id] = Standing(stint, deal, figures, goals[rep_id], learned, weights)
    return found


def scope_reads(
    conn: Connection, cut: Cutoffs, few: list[str] | None
) -> tuple[dict[str, dict[str, Target]], dict[str, DealSums], dict[str, OpenDeals]]:
    """The targets in force, the deal sums and the open deals of the reps `few` (None: of every
    rep, each read whole)."""
    forced = in_force_by_scope(conn, str(cut.period), cut, None if few is None else [f"rep:{rep_id}" for rep_id in few])
    return forced, rep_deal_sums(conn, cut, few), open_deals(conn, cut, few)


def forecast_row(rep_id: str, standing: Standing, share: Decimal) -> dict[str, Any]:
    """A rep's figures' attainment and pace, its forecast and what its pipeline is weighted with."""
    targets = {m: g.value for m, g in standing.goals.items()}
    return {
        "rep_id": rep_id,
        "team_id": standing.stint.team_id,
        "region": standing.stint.region,
        "attainment": attainment_of(standing.figures, standing.goals),
        "pace": pace_of(standing.figures, standing.goals, share),
        "forecast": metrics(standing.sums, standing.weights, share, targets),
        "pipeline": pipeline_summary(standing.weights, standing.learned),
        "targets": targets,
    }


def rep_forecasts(
    conn: Connection, settings: Settings, scope: Scope, cut: Cutoffs, remember: Remember | None = None
) -> dict[str, dict[str, Any]]:
    """rep → its `forecast_row`, for every rep in the scope at as_of."""
    share = elapsed_share(cut)
    found = standings(conn, scope, cut, remember)
    return {rep_id: forecast_row(rep_id, standing, share) for rep_id, standing in found.items()}


RATIO_METRICS = frozenset(("conversion_rate", "win_rate", "avg_order_value"))  # the ratios `rep_figures_of` works out


def rep_figures_of(
    sums: DealSums, created: int, converted: int, activity_count: int, ratios: Collection[str] = RATIO_METRICS
) -> dict[str, Any]:
    """The figures a target can be set on, as `kpis` computes them for a rep (the ratios also
    unrounded, under `exact`, as attainment reads them; only those of `ratios`: a company's list
    works out every rep's figures, and its targets are mostly on counts and money)."""
    exact: dict[str, Decimal | None] = {}
    if "conversion_rate" in ratios:
        exact["conversion_rate"] = exact_ratio(converted, created)
    if "win_rate" in ratios:
        exact["win_rate"] = exact_ratio(sums.orders, sums.closed)
    if "avg_order_value" in ratios:
        exact["avg_order_value"] = exact_ratio(sums.won_cents, sums.orders * 100)
    return {
        "revenue": money(sums.revenue_cents),
        "orders": sums.orders,
        "new_customers": sums.new_customers,
        "activities": activity_count,
        "exact": exact,
    }


def rep_deal_sums(conn: Connection, cut: Cutoffs, rep_ids: list[str] | None = None) -> dict[str, DealSums]:
    """rep → the deal sums of its window, as `deal_sums` reads one rep's (every rep's, or those of
    `rep_ids`); every rep's from the rep rollup for the window's whole days, when the read knows
    every fact."""
    f = deal_facts.c
    window = and_(f.occurred_us >= cut.start_us, f.occurred_us < cut.upto_us, f.recorded_us <= cut.known_us)
    if rep_ids is not None:
        return sums_by_rep(conn, and_(window, f.rep_id.in_(rep_ids)))
    days = Days.of(cut.start_us, cut.upto_us) if knows_all(conn, deal_facts, cut.known_us) else None
    return sums_by_rep(conn, window, days)


def rep_leads(conn: Connection, cut: Cutoffs) -> dict[str, tuple[int, int]]:
    """rep → (leads created in its window, those whose deal was won by as_of), as `lead_counts`."""
    ld, c = leads.c, lead_conversions.c
    created = conn.execute(
        select(ld.rep_id, func.count())
        .where(ld.created_us >= cut.start_us, ld.created_us < cut.upto_us, ld.recorded_us <= cut.known_us)
        .group_by(ld.rep_id)
    ).all()
    converted = dict(
        conn.execute(
            select(c.rep_id, func.sum(c.delta))
            .where(
                c.created_us >= cut.start_us,
                c.created_us < cut.upto_us,
                c.won_us <= cut.as_of_us,
                c.recorded_us <= cut.known_us,
            )
            .group_by(c.rep_id)
        ).all()
    )
    return {rep_id: (int(count), int(converted.get(rep_id) or 0)) for rep_id, count in created}


def rep_activities(conn: Connection, cut: Cutoffs) -> dict[str, int]:
    """rep → its activities in the window; from the rep rollup for the window's whole days, when
    the read knows every activity."""
    a = activities.c

    def per_rep(where: ColumnElement[bool]) -> Select[Any]:
        return select(a.rep_id, func.count()).where(where).group_by(a.rep_id)

    window = and_(a.occurred_us >= cut.start_us, a.occurred_us < cut.upto_us, a.recorded_us <= cut.known_us)
    if knows_all(conn, activities, cut.known_us):
        days = Days.of(cut.start_us, cut.upto_us)
        counted = rolled_up(
            conn,
            rep_activity_spans,
            (rep_activity_spans.c.activities,),
            days,
            per_rep,
            a.occurred_us,
        )
    else:
        counted = as_ints(conn.execute(per_rep(window)))
    return {rep_id: count for rep_id, (count,) in counted.items() if count}


def rep_activities_of(conn: Connection, cut: Cutoffs, remember: Remember | None = None) -> dict[str, int]:
    """`rep_activities`, remembered by the activities of its window (see `Remember`)."""
    if remember is None:
        return rep_activities(conn, cut)
    window = bounds(conn, activities.c.occurred_us, cut.start_us, cut.upto_us - 1)
    return remember(("rep-activities", window), lambda: rep_activities(conn, cut))


# ---------------------------------------------------------------- the off-track list


def off_track(
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    remember: Remember | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """The reps of a scope that are off track, worst first: behind pace on a metric with a target
    (pace below 1: how far, and the shortfall against the target × elapsed share), or whose
    pipeline forecast of revenue or orders falls short of the target. Every rep of the scope is
    ranked, by its worst reason; `off_track` counts them all, and `reps` holds the rows of the
    `limit` from `offset` (every one without a limit), each made only when it is listed."""
    parsed = parse_scope(scope)
    cut = cutoffs(settings, period, as_of, known_at)
    # the collector paused (ledger.gc_pause): a company's rows, ~half a million containers alive
    # to the end, set off collections that walked them again and again (~300 ms of 1.1 s at 10M);
    # and turned on again only once they are gone (`ranked_page` returns): the count of new
    # objects grows while it is off, so the first allocation after would walk all of them (15 ms)
    with paused_gc():
        ranked, listed, reps_in_scope = ranked_page(engine, parsed, cut, remember, offset, limit)
    return {"elapsed_share": _share(cut), "reps_in_scope": reps_in_scope, "off_track": ranked, "reps": listed}


def ranked_page(
    engine: Engine, scope: Scope, cut: Cutoffs, remember: Remember | None, offset: int, limit: int | None
) -> tuple[int, list[dict[str, Any]], int]:
    """`off_track`'s count of off-track reps, its page of rows and the count of reps in scope."""
    with reading(engine, custom_plans=True) as conn:  # planned for its values: thousands of reps, a year
        found = standings(conn, scope, cut, remember)
    share = elapsed_share(cut)
    worst = [(value, rep_id) for rep_id, standing in found.items() if (value := worst_of(standing, share)) is not None]
    # a page: the first offset + limit of the ranking kept, not all of it sorted (4,391 reps at 10M)
    ranked = sorted(worst) if limit is None else heapq.nsmallest(offset + limit, worst)
    listed = []
    for _, rep_id in ranked[offset:]:
        row = forecast_row(rep_id, found[rep_id], share)
        row["reasons"] = reasons_of(row, share)
        listed.append(row)
    return len(worst), listed, len(found)


def worst_of(standing: Standing, share: Decimal) -> Decimal | None:
    """The value of the worst of a rep's `reasons_of` (None: on track), from its standing alone: a
    company's reps are all ranked, and only those listed are made rows."""
    worst = lowest_pace(standing.figures, standing.goals, share)
    goals = standing.goals
    for metric in FORECAST_METRICS:  # a forecast is judged only against its target
        target = goals.get(metric)
        if target is None or not target.value:
            continue
        landing = landed(metric, standing.sums, standing.weights)
        if target.value > 0 and landing >= target.value:  # an attainment of 1 or more
            continue
        projected = attained(landing, target.value)
        if projected < ON_PACE and (worst is None or projected < worst):
            worst = projected
    return worst


def reasons_of(row: Mapping[str, Any], share: Decimal) -> list[dict[str, Any]]:
    """Why a rep is off track, the worst reason first: each metric behind pace, each forecast short
    of its target (`value` is the pace, or the forecast's attainment)."""
    reasons = []
    for metric, pace in row["pace"].items():
        if pace is not None and pace < ON_PACE:
            target = row["targets"][metric]
            expected = target * share if metric in CUMULATIVE else target
            places = 2 if metric in ("revenue", "avg_order_value") else 4
            reasons.append(
                {"kind": "pace", "metric": metric, "value": pace, "expected_by_now": half_up(expected, places)}
            )
    for metric, figures in row["forecast"].items():
        projected = figures["attainment"]["pipeline"]
        if projected is not None and projected < ON_PACE:
            reasons.append({"kind": "forecast", "metric": metric, "value": projected, "forecast": figures["pipeline"]})
    return sorted(reasons, key=lambda reason: (reason["value"], reason["kind"], reason["metric"]))


# ---------------------------------------------------------------- how good were the forecasts


def forecast_accuracy(engine: Engine, settings: Settings, scope: Scope, cut: Cutoffs) -> dict[str, Any]:
    """For a period that has ended: the forecasts as made at its middle (as of then, as known
    then) beside what happened (as known at the read's known_at), and their errors."""
    middle = cut.start_us + (cut.end_us - cut.start_us) // 2
    checked_us = min(middle, cut.known_us)
    then = Cutoffs(cut.period, cut.start_us, cut.end_us, checked_us, checked_us)
    with reading(engine) as conn:
        made = scope_forecast(conn, settings, scope, then)["forecast"]
        sums = deal_sums(conn, ScopeFilter.load(conn, scope, cut.known_us), cut.start_us, cut.upto_us, cut.known_us)
    happened = actuals(sums)
    return {
        "made_at": micros_to_time(checked_us),
        **{
            metric: {
                "actual": _rounded(metric, happened[metric]),
                "run_rate": made[metric]["run_rate"],
                "pipeline": made[metric]["pipeline"],
                "run_rate_error": forecast_error(made[metric]["run_rate"], happened[metric]),
                "pipeline_error": forecast_error(made[metric]["pipeline"], happened[metric]),
            }
            for metric in FORECAST_METRICS
        },
    }


def _rounded(metric: str, value: Decimal) -> Decimal:
    return half_up(value, 2 if metric == "revenue" else 4)


def _share(cut: Cutoffs) -> Decimal:
    return half_up(elapsed_share(cut), 4)


def half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(QUANTA[places], rounding=ROUND_HALF_UP)
