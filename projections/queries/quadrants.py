"""Region quadrants: each region by revenue and growth rate against thresholds.

A region's revenue and growth rate are those of `kpis` for `region:NAME` (its reps' facts while
they were in it, as known at known_at). The thresholds are the medians across the regions
(growth over the regions that have one) unless given. Quadrant = "<revenue>-<growth>", each
`high` when the figure is at or above its threshold, else `low`; None when the region has no
growth rate (its previous revenue was 0) or there is no threshold to compare with.
Regions are those with any member during the period, as known at known_at.

Given a region, the rows are its teams instead (a director's view): each team's figures are
those of `kpis` for `team:ID` (the team's facts wherever its reps were), for the teams that had
a member in the region during the period or the one before; thresholds are the teams' medians.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any

from sqlalchemy import Engine

from ledger.config import Settings
from projections.db import reading
from projections.queries.cutoffs import cutoffs
from projections.queries.facts import deal_sums
from projections.queries.membership import Scope, ScopeFilter, stints
from projections.units import CENT, money, ratio

RATE = Decimal("0.0001")


def quadrants(
    engine: Engine,
    settings: Settings,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    thresholds: dict[str, Decimal] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    cut = cutoffs(settings, period, as_of, known_at)
    previous = cut.previous(settings)
    rows: list[dict[str, Any]] = []
    with reading(engine) as conn:
        everyone = stints(conn, cut.known_us)
        during = [s for s in everyone if max(s.lo, previous.start_us) < min(s.hi, cut.end_us)]
        groups: set[tuple[str, str | None]]
        if region is None:
            groups = {(s.region, None) for s in during if s.region is not None}
        else:
            groups = {(region, s.team_id) for s in during if s.region == region and s.team_id is not None}
        for name, team in sorted(groups):
            scope = Scope("region", name) if team is None else Scope("team", team)
            where = ScopeFilter(scope, [s for s in everyone if s.of(scope)])
            now = deal_sums(conn, where, cut.start_us, cut.upto_us, cut.known_us)
            before = deal_sums(conn, where, previous.start_us, previous.upto_us, previous.known_us)
            rows.append(
                {
                    "region": name,
                    **({} if team is None else {"team": team}),
                    "revenue": money(now.revenue_cents),
                    "growth_rate": ratio(now.revenue_cents - before.revenue_cents, before.revenue_cents),
                }
            )
    limits: dict[str, Decimal | None] = dict(thresholds or {})
    limits.setdefault("revenue", _median([r["revenue"] for r in rows], CENT))
    limits.setdefault("growth_rate", _median([r["growth_rate"] for r in rows], RATE))
    for row in rows:
        row["quadrant"] = quadrant_of(row["revenue"], row["growth_rate"], limits["revenue"], limits["growth_rate"])
    if region is not None:
        return {"period": str(cut.period), "thresholds": limits, "regions": [], "region": region, "teams": rows}
    return {"period": str(cut.period), "thresholds": limits, "regions": rows}


def quadrant_of(
    revenue: Decimal, growth: Decimal | None, revenue_limit: Decimal | None, growth_limit: Decimal | None
) -> str | None:
    if growth is None or revenue_limit is None or growth_limit is None:
        return None
    return f"{'high' if revenue >= revenue_limit else 'low'}-{'high' if growth >= growth_limit else 'low'}"


def _median(values: list[Decimal | None], places: Decimal) -> Decimal | None:
    """The median, rounded half-up as the figures are shown (the regions are compared with it)."""
    known = [v for v in values if v is not None]
    return Decimal(median(known)).quantize(places, rounding=ROUND_HALF_UP) if known else None
