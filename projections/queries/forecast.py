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

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from ledger.config import Settings
from projections.db import reading
from projections.forecasting import Learned, OpenDeal, Track, Weighted, forecast_error, learned, projection, total
from projections.forecasting import weighted as weigh
from projections.payouts.assembly import projected_payout
from projections.payouts.rep_figures import RepRows, figures_of, rows_by_rep
from projections.queries.cutoffs import Cutoffs, cutoffs
from projections.queries.facts import DealSums, deal_sums
from projections.queries.kpis import CUMULATIVE, exact_ratio, progress
from projections.queries.membership import Scope, ScopeFilter, Stint, parse_scope, stints
from projections.queries.targets import current_targets
from projections.tables import deal_facts, deals
from projections.units import DAY_US, PPB, micros_to_time

LOOK_BACK_US = 365 * DAY_US  # the closed deals a win rate and a sales cycle are learned from
FORECAST_METRICS = ("revenue", "orders")
METHODS = {
    "run_rate": "actual / elapsed share of the period",
    "pipeline": "actual + Σ (expected amount, or 1 order) × win probability, over the deals open at as_of "
    "and expected to close by the period's end (opened + median sales cycle < end); the probability "
    "and the cycle are learned from the rep's closed deals of the year before as_of, or its team's "
    "when it has closed fewer than 5, or the company's",
}


def share_of(cut: Cutoffs) -> Decimal:
    """The elapsed share of the period at as_of, exactly (64/92 of a quarter on 3 December)."""
    share = Decimal(cut.upto_us - cut.start_us) / Decimal(cut.end_us - cut.start_us)
    return min(Decimal(1), max(Decimal(0), share))


# ---------------------------------------------------------------- reading the inputs


def everyone_at(conn: Connection, cut: Cutoffs) -> dict[str, Stint]:
    """rep → its stint at as_of (a period not yet started: at its first instant), for every rep
    onboarded and not offboarded by then."""
    moment = min(max(cut.as_of_us, cut.start_us), cut.end_us - 1)
    return {s.rep_id: s for s in stints(conn, cut.known_us) if s.lo <= moment < s.hi}


def in_scope(found: Mapping[str, Stint], scope: Scope) -> dict[str, Stint]:
    """The reps of `found` in the scope."""
    if scope.kind == "rep":
        return {rep: stint for rep, stint in found.items() if rep == scope.value}
    if scope.kind == "company":
        return dict(found)
    return {rep: stint for rep, stint in found.items() if stint.of(scope)}


def tracks(conn: Connection, cut: Cutoffs) -> dict[str, Track]:
    """rep → its closed deals, won amount and won deals' cycles over the year before as_of."""
    f = deal_facts.c
    window = and_(
        f.occurred_us > cut.as_of_us - LOOK_BACK_US, f.occurred_us <= cut.as_of_us, f.recorded_us <= cut.known_us
    )
    sums = conn.execute(
        select(f.rep_id, func.sum(f.won_ppb), func.sum(f.lost_ppb), func.sum(f.won_cents - f.refund_cents))
        .where(window)
        .group_by(f.rep_id)
    ).all()
    cycles: dict[str, list[int]] = defaultdict(list)
    for rep_id, cycle in conn.execute(select(f.rep_id, f.cycle_us).where(window, f.deal_count == 1)):
        if cycle is not None:
            cycles[rep_id].append(int(cycle))
    return {
        rep_id: Track(
            Decimal(int(won or 0)) / PPB,
            Decimal(int(lost or 0)) / PPB,
            Decimal(int(cents or 0)) / 100,
            tuple(cycles.get(rep_id, ())),
        )
        for rep_id, won, lost, cents in sums
    }


def open_deals(conn: Connection, cut: Cutoffs, rep_ids: list[str]) -> dict[str, list[OpenDeal]]:
    """rep → the deals it owned that were open at as_of, as known at known_at."""
    d = deals.c
    not_closed = or_(d.outcome.is_(None), d.closed_us > cut.as_of_us, d.closed_recorded_us > cut.known_us)
    query = select(d.deal_id, d.rep_id, d.opened_us, d.expected_cents).where(
        d.opened_us <= cut.as_of_us, d.opened_recorded_us <= cut.known_us, not_closed
    )
    found: dict[str, list[OpenDeal]] = defaultdict(list)
    wanted = set(rep_ids)
    for row in conn.execute(query):
        if row.rep_id in wanted:
            amount = None if row.expected_cents is None else Decimal(row.expected_cents) / 100
            found[row.rep_id].append(OpenDeal(row.deal_id, row.rep_id, row.opened_us, amount))
    return found


def learned_by_rep(
    conn: Connection, cut: Cutoffs, everyone: Mapping[str, Stint], reps: Mapping[str, Stint]
) -> dict[str, Learned]:
    """Each rep's win probability and cycle: its own, its team's at as_of, or the company's."""
    every = tracks(conn, cut)
    by_team: dict[str | None, Track] = defaultdict(Track)
    for rep_id, track in every.items():
        stint = everyone.get(rep_id)
        by_team[None if stint is None else stint.team_id] += track
    company = sum(every.values(), Track())
    return {
        rep_id: learned(every.get(rep_id, Track()), by_team.get(stint.team_id, Track()), company)
        for rep_id, stint in reps.items()
    }


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
    with reading(engine) as conn:
        answer = scope_forecast(conn, settings, parsed, cut)
        if parsed.kind != "rep":
            answer["reps"] = [row for _, row in sorted(rep_forecasts(conn, settings, parsed, cut).items())]
    if parsed.kind == "rep" and parsed.value is not None:
        answer["payout"] = payout_if_landed(engine, settings, parsed.value, cut, answer["forecast"])
    if cut.ended:
        answer["error"] = forecast_accuracy(engine, settings, parsed, cut)
    return answer


def scope_forecast(conn: Connection, settings: Settings, scope: Scope, cut: Cutoffs) -> dict[str, Any]:
    everyone = everyone_at(conn, cut)
    reps = in_scope(everyone, scope)
    learned_from = learned_by_rep(conn, cut, everyone, reps)
    pipelines = open_deals(conn, cut, sorted(reps))
    weights = {rep: weigh(pipelines.get(rep, []), learned_from[rep], cut.end_us) for rep in reps}
    sums = deal_sums(conn, ScopeFilter.load(conn, scope, cut.known_us), cut.start_us, cut.upto_us, cut.known_us)
    goals = current_targets(conn, str(scope), str(cut.period), cut)
    summed = total(weights.values())
    return {
        "elapsed_share": _share(cut),
        "forecast": metrics(sums, summed, share_of(cut), {m: g.value for m, g in goals.items()}),
        "pipeline": pipeline_summary(summed, learned_from.get(scope.value or "") if scope.kind == "rep" else None),
        "methods": METHODS,
    }


def metrics(sums: DealSums, pipeline: Weighted, share: Decimal, targets: Mapping[str, Decimal]) -> dict[str, Any]:
    actual = {"revenue": Decimal(sums.revenue_cents) / 100, "orders": Decimal(sums.won_ppb) / PPB}
    extra = {"revenue": pipeline.revenue, "orders": pipeline.orders}
    return {m: projection(m, actual[m], share, extra[m], targets.get(m)) for m in FORECAST_METRICS}


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


# ---------------------------------------------------------------- every rep of a scope at once


def rep_forecasts(conn: Connection, settings: Settings, scope: Scope, cut: Cutoffs) -> dict[str, dict[str, Any]]:
    """rep → its figures' attainment and pace, its forecast and what its pipeline is weighted with,
    for every rep in the scope at as_of: a few queries for all of them."""
    everyone = everyone_at(conn, cut)
    reps = in_scope(everyone, scope)
    if not reps:
        return {}
    rows = rows_by_rep(conn, settings, dict.fromkeys(reps, cut))
    learned_from = learned_by_rep(conn, cut, everyone, reps)
    pipelines = open_deals(conn, cut, sorted(reps))
    share = share_of(cut)
    found = {}
    for rep_id in reps:
        figures, _ = figures_of(rows[rep_id])
        goals = rows[rep_id].goals
        attainment, pace = progress({**figures, "exact": exact_of(rows[rep_id])}, goals, cut)
        weights = weigh(pipelines.get(rep_id, []), learned_from[rep_id], cut.end_us)
        sums = _sums(rows[rep_id])
        targets = {m: g.value for m, g in goals.items()}
        found[rep_id] = {
            "rep_id": rep_id,
            "team_id": reps[rep_id].team_id,
            "region": reps[rep_id].region,
            "attainment": attainment,
            "pace": pace,
            "forecast": metrics(sums, weights, share, targets),
            "pipeline": pipeline_summary(weights, learned_from[rep_id]),
            "targets": targets,
        }
    return found


def exact_of(rows: RepRows) -> dict[str, Decimal | None]:
    """The ratios unrounded, as `kpis` computes attainment from them."""
    sums = _sums(rows)
    converted = sum(int(row.delta) for row in rows.conversions)
    return {
        "conversion_rate": exact_ratio(converted, rows.leads),
        "win_rate": exact_ratio(sums.won_ppb, sums.won_ppb + sums.lost_ppb),
        "avg_order_value": exact_ratio(sums.won_cents * PPB, sums.won_ppb * 100),
    }


def _sums(rows: RepRows) -> DealSums:
    return DealSums(
        *(
            sum(int(getattr(row, name) or 0) for row in rows.facts)
            for name in ("won_cents", "refund_cents", "won_ppb", "lost_ppb", "new_customer_ppb")
        )
    )


# ---------------------------------------------------------------- the off-track list


def off_track(
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The reps of a scope that are off track, worst first: behind pace on a metric with a target
    (pace below 1: how far, and the shortfall against the target × elapsed share), or whose
    pipeline forecast of revenue or orders falls short of the target."""
    parsed = parse_scope(scope)
    cut = cutoffs(settings, period, as_of, known_at)
    with reading(engine) as conn:
        found = rep_forecasts(conn, settings, parsed, cut)
    share = share_of(cut)
    listed = [dict(row, reasons=reasons) for row in found.values() if (reasons := reasons_of(row, share))]
    listed.sort(key=lambda row: (row["reasons"][0]["value"], row["rep_id"]))
    return {"elapsed_share": _share(cut), "reps_in_scope": len(found), "reps": listed}


def reasons_of(row: Mapping[str, Any], share: Decimal) -> list[dict[str, Any]]:
    """Why a rep is off track, the worst reason first: each metric behind pace, each forecast short
    of its target (`value` is the pace, or the forecast's attainment)."""
    reasons = []
    for metric, pace in row["pace"].items():
        if pace is not None and pace < 1:
            target = row["targets"][metric]
            expected = target * share if metric in CUMULATIVE else target
            places = 2 if metric in ("revenue", "avg_order_value") else 4
            reasons.append(
                {"kind": "pace", "metric": metric, "value": pace, "expected_by_now": half_up(expected, places)}
            )
    for metric, figures in row["forecast"].items():
        projected = figures["attainment"]["pipeline"]
        if projected is not None and projected < 1:
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
    happened = {"revenue": Decimal(sums.revenue_cents) / 100, "orders": Decimal(sums.won_ppb) / PPB}
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
    return half_up(share_of(cut), 4)


def half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
