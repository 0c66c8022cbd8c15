"""KPIs (docs/design.md, "KPIs") for any scope and period, at any as_of and known_at, from projected tables.

Plain query functions: they never read the log and never load an aggregate. A rep's KPI is a
handful of indexed range scans; a company KPI one range scan per family of facts (never one
query per rep).

Definitions (a period is a calendar period in the ledger's zone; a fact belongs to it by its
business time; `as_of` keeps facts with business time <= as_of; `known_at` keeps facts recorded
<= known_at; defaults: as_of = the earlier of the last instant of the period (its exclusive
end − 1 µs) and now, known_at = now):

- revenue = won amounts of deals won in the period (as corrected: a correction restates the
  win in the win's own period, seen from its knowledge time, whatever its own occurred_at)
  − refunds occurring in the period (a refund counts in its own period), credited by split share.
  A split recorded after the win moves the deal's credit from then on, by knowledge time.
- growth_rate = (revenue − previous period's revenue) / previous period's revenue, with the
  previous period taken in full (or up to as_of, if earlier) at the same known_at; None when
  the previous revenue is 0.
- new_customers = customers whose first won deal (company-wide: the earliest win of that
  customer among the wins known at known_at) falls in the period, by as_of; credited to the
  rep(s) of that deal, counted whole (see "counts" below).
- conversion_rate = of the leads created in the period (scope: the lead's rep), the share
  whose deal (a DealOpened with that lead_id) was won by as_of, as known at known_at.
- win_rate = won / (won + lost) of the deals closed in the period, in whole counts.
- orders = deals won in the period, a whole count; avg_order_value = the scope's won amount
  (its shares, before refunds) / orders.
- counts (orders, lost, new_customers) are whole: a deal split between reps (DealCreditSplit)
  counts once for each rep it credits, and once for each team, region and the company that
  any of those reps is in (a deal split between two reps of one team counts 1 for the team,
  not 2), while its money keeps splitting by share. So a team's orders may be fewer than the
  sum of its reps' orders, and a rep's avg_order_value is its share of the money / its deals.
- sales_cycle_days = mean and median of (won occurred_at − opened occurred_at), in days, over
  the deals won in the period with credit in the scope (each deal once, unweighted); 2 dp.
- activities = count per kind (every kind listed, 0 included); email_reply_rate = emails marked
  replied / emails, in the period.
- followups: `due` = follow-ups scheduled by as_of whose due time falls in the period; `done` =
  those completed by as_of; `overdue` = those due before as_of and not done.
- attainment[m] = actual / target for each metric m with a target for this scope and period
  (the latest TargetSet set by as_of and known at known_at); the actual of
  `activities` is the total count, of `activities.KIND` (activities.call, …) that kind's
  count, of `leads` the leads created in the period (by the lead's rep), of `growth_rate` the
  growth rate above. None when the target is 0.
- pace[m] = attainment / elapsed share of the period at as_of (share in [0, 1]; a period whose
  end is at or before as_of has share 1) for the cumulative metrics (revenue, orders,
  new_customers, activities, activities.KIND, leads); for the ratio metrics (conversion_rate, win_rate,
  avg_order_value, growth_rate) a ratio does not accumulate with time, so pace = attainment.
  off_track = the metrics whose pace is below 1.
- Team and region: a fact counts for the team and region its rep was in at the fact's business
  time, as known at known_at (see `membership.py`); the company counts everything.

Money is Decimal to the cent; rates and ratios are Decimal rounded half-up to 4 places; counts
are ints; a figure that cannot be computed (an empty period, a zero denominator) is None.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from ledger.config import Settings
from ledger.schemas import ACTIVITY_KINDS
from projections.db import reading
from projections.queries.cutoffs import Cutoffs, cutoffs, elapsed_share
from projections.queries.facts import (
    Cycles,
    DealSums,
    activity_counts,
    deal_sums,
    followup_counts,
    lead_counts,
    sales_cycles,
)
from projections.queries.membership import Scope, ScopeFilter, parse_scope
from projections.queries.quadrants import quadrants
from projections.queries.targets import Target, current_targets, target_consistency, targets
from projections.units import DAY_US, QUANTA, money, ratio

CUMULATIVE = frozenset(  # the metrics a period adds up as it goes: expected by now, target × elapsed share
    ("revenue", "orders", "new_customers", "activities", "leads", *(f"activities.{kind}" for kind in ACTIVITY_KINDS))
)
FIGURE_METRICS = (
    "revenue",
    "orders",
    "new_customers",
    "conversion_rate",
    "win_rate",
    "avg_order_value",
    "growth_rate",
    "activities",
    "email_reply_rate",
)
TWO_PLACES = Decimal("0.01")

__all__ = ["FIGURE_METRICS", "kpis", "plan_figures", "quadrants", "target_consistency", "targets"]


def kpis(
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The "kpis" object of GET /kpis for one scope and period (see the module docstring)."""
    parsed = parse_scope(scope)
    cut = cutoffs(settings, period, as_of, known_at)
    with reading(engine, custom_plans=parsed.kind != "rep") as conn:
        figures = scope_figures(conn, settings, parsed, cut)
        goals = current_targets(conn, str(parsed), str(cut.period), cut)
    attainment, pace = progress(figures, goals, elapsed_share(cut))
    return {
        "revenue": figures["revenue"],
        "growth_rate": figures["growth_rate"],
        "new_customers": figures["new_customers"],
        "conversion_rate": figures["conversion_rate"],
        "win_rate": figures["win_rate"],
        "orders": figures["orders"],
        "avg_order_value": figures["avg_order_value"],
        "sales_cycle_days": figures["sales_cycle_days"],
        "activities": figures["activity_kinds"],
        "email_reply_rate": figures["email_reply_rate"],
        "followups": figures["followups"],
        "leads": figures["leads"],
        "attainment": attainment,
        "pace": pace,
        "off_track": [m for m, value in pace.items() if value is not None and value < 1],
    }


def scope_figures(conn: Connection, settings: Settings, scope: Scope, cut: Cutoffs) -> dict[str, Any]:
    """Every KPI figure of the scope and period (targets aside), as plain values."""
    where = ScopeFilter.load(conn, scope, cut.known_us)
    sums = deal_sums(conn, where, cut.start_us, cut.upto_us, cut.known_us)
    previous = cut.previous(settings)
    before = deal_sums(conn, where, previous.start_us, previous.upto_us, previous.known_us)
    created, converted = lead_counts(conn, where, cut)
    kinds = activity_counts(conn, where, cut)
    due, done, overdue = followup_counts(conn, where, cut)
    return {
        **plan_figures(sums, before, created, converted, kinds),
        # unrounded ratios, so attainment is not computed from a rounded figure
        "exact": {
            "conversion_rate": exact_ratio(converted, created),
            "win_rate": exact_ratio(sums.orders, sums.closed),
            "avg_order_value": exact_ratio(sums.won_cents, sums.orders * 100),
        },
        "sales_cycle_days": cycle_days(sales_cycles(conn, where, cut)),
        "activity_kinds": {kind: kinds.get(kind, (0, 0))[0] for kind in ACTIVITY_KINDS},
        "followups": {"due": due, "done": done, "overdue": overdue},
        # what a target of leads or of one kind of activity is measured against
        "leads": created,
        **{f"activities.{kind}": kinds.get(kind, (0, 0))[0] for kind in ACTIVITY_KINDS},
    }


def plan_figures(
    sums: DealSums, before: DealSums, created: int, converted: int, kinds: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """The figures a plan can use (FIGURE_METRICS) from a scope's raw sums: the deal sums of the
    period and the one before, the leads created and converted, and kind → (activities, replied)."""
    emails, replied = kinds.get("email", (0, 0))
    return {
        **sales_figures(sums, before),
        "new_customers": sums.new_customers,
        "conversion_rate": ratio(converted, created),
        "activities": sum(count for count, _ in kinds.values()),
        "email_reply_rate": ratio(replied, emails),
    }


def sales_figures(sums: DealSums, previous: DealSums) -> dict[str, Any]:
    return {
        "revenue": money(sums.revenue_cents),
        "growth_rate": ratio(sums.revenue_cents - previous.revenue_cents, previous.revenue_cents),
        "orders": sums.orders,
        "win_rate": ratio(sums.orders, sums.closed),
        # the scope's won money (its shares) over its whole count of won deals
        "avg_order_value": None if sums.orders <= 0 else _money_ratio(sums.won_cents, sums.orders * 100),
    }


def exact_ratio(numerator: int, denominator: int) -> Decimal | None:
    return Decimal(numerator) / Decimal(denominator) if denominator > 0 else None


def _money_ratio(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def cycle_days(cycles: Cycles) -> dict[str, Decimal | None]:
    if not cycles.count:
        return {"mean": None, "median": None}
    mean = Decimal(cycles.total) / cycles.count / DAY_US
    middle = Decimal(sum(cycles.middle)) / len(cycles.middle) / DAY_US  # the mean of the middle two for an even count
    return {
        "mean": mean.quantize(TWO_PLACES, rounding=ROUND_HALF_UP),
        "median": middle.quantize(TWO_PLACES, rounding=ROUND_HALF_UP),
    }


def progress(figures: dict[str, Any], goals: dict[str, Target], share: Decimal) -> tuple[dict, dict]:
    """(attainment, pace) for every metric with a target, `share` of the period elapsed."""
    return attainment_of(figures, goals), pace_of(figures, goals, share)


def attainment_of(figures: dict[str, Any], goals: dict[str, Target]) -> dict[str, Decimal | None]:
    """metric → actual / target, for every metric with a target (None: no actual, or a zero target)."""
    attainment: dict[str, Decimal | None] = {}
    for metric, goal in sorted(goals.items()):
        actual = figures["exact"].get(metric, figures.get(metric))
        attainment[metric] = None if actual is None or not goal.value else ratio(actual, goal.value)
    return attainment


ON_PACE = Decimal(1)  # a Decimal compared with a Decimal, not with an int: every rep of a company's list


def pace_of(figures: dict[str, Any], goals: dict[str, Target], share: Decimal) -> dict[str, Decimal | None]:
    """metric → actual / what the target expects by now (a cumulative figure's target × `share`)."""
    exact = figures["exact"]
    pace: dict[str, Decimal | None] = {}
    for metric in sorted(goals):  # written out (no `ratio` a metric): it runs for every rep of a company's list
        actual = exact[metric] if metric in exact else figures.get(metric)
        target = goals[metric].value
        expected = target * share if metric in CUMULATIVE else target
        pace[metric] = (
            None if actual is None or not expected else (actual / expected).quantize(QUANTA[4], ROUND_HALF_UP)
        )
    return pace


def lowest_pace(figures: dict[str, Any], goals: dict[str, Target], share: Decimal) -> Decimal | None:
    """The lowest pace below 1 of `pace_of` (None: none below 1), worked out only for the metrics
    behind: a company's list ranks every rep by it, and most paces it would divide are on track
    (a figure at or above what a positive target expects by now has a pace of 1 or more)."""
    exact = figures["exact"]
    lowest = None
    for metric, goal in goals.items():
        actual = exact[metric] if metric in exact else figures.get(metric)
        target = goal.value
        expected = target * share if metric in CUMULATIVE else target
        if actual is None or not expected or (expected > 0 and actual >= expected):
            continue
        pace = (actual / expected).quantize(QUANTA[4], ROUND_HALF_UP)
        if pace < ON_PACE and (lowest is None or pace < lowest):
            lowest = pace
    return lowest
