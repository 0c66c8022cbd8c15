"""The arithmetic of a roll-up table (company → regions, region → teams, team → reps): each
child's figures and the totals row, from plain sums. Pure: no database, no web (the inputs are
read by `projections/queries/rollup.py`).

- Money is summed in cents; the totals row's money is the sum of its children's, which is the
  parent's own figure when the children split the parent's facts between them (every fact counts
  for the team and region its rep was in at its business time, so they do).
- Rates are recomputed from the sums, never averaged: the totals row's growth is
  (Σ revenue − Σ previous revenue) / Σ previous revenue, its attainment Σ revenue / the parent's
  own target (not the sum of the children's targets: the parent's card reads its own target).
- Counts are not summed: a deal split between two children counts once for each and once for
  the parent, so the totals row's orders are the parent's own count, given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
FOUR = Decimal("0.0001")
SORT_KEYS = ("attainment", "pace", "forecast", "growth_rate", "revenue")


@dataclass(frozen=True)
class Sums:
    """One row's raw figures: money in cents, the revenue target in force, the weighted pipeline."""

    key: str | None
    revenue_cents: int = 0
    previous_cents: int = 0  # the previous period's revenue (whole, or up to as_of)
    last_year_cents: int = 0  # the same period a year before
    orders: int = 0
    target: Decimal | None = None  # the revenue target in force for this row's own scope
    pipeline: Decimal = Decimal(0)  # Σ expected amount × win probability of its open deals


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (numerator / denominator).quantize(FOUR, rounding=ROUND_HALF_UP)


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def figures(sums: Sums, share: Decimal) -> dict[str, Any]:
    """A row's figures: revenue, the comparisons, attainment and pace against its target, and the
    pipeline forecast (actual + pipeline) with its attainment. `share` is the elapsed share of the
    period at as_of, in [0, 1]."""
    revenue = Decimal(sums.revenue_cents) / 100
    landing = revenue + sums.pipeline
    attainment = None if sums.target is None else ratio(revenue, sums.target)
    pace = None if sums.target is None or not share else ratio(revenue, sums.target * share)
    return {
        "key": sums.key,
        "revenue": money(sums.revenue_cents),
        "orders": sums.orders,
        "previous_revenue": money(sums.previous_cents),
        "growth_rate": ratio(Decimal(sums.revenue_cents - sums.previous_cents), Decimal(sums.previous_cents)),
        "last_year_revenue": money(sums.last_year_cents),
        "year_on_year": ratio(Decimal(sums.revenue_cents - sums.last_year_cents), Decimal(sums.last_year_cents)),
        "target": sums.target,
        "attainment": attainment,
        "pace": pace,
        "forecast": landing.quantize(CENT, rounding=ROUND_HALF_UP),
        "forecast_attainment": None if sums.target is None else ratio(landing, sums.target),
    }


def rollup(children: Sequence[Sums], parent: Sums, share: Decimal) -> dict[str, Any]:
    """Each child's figures, and the totals row from the children's sums (money) and the parent's
    own target and count (see the module docstring). `unallocated` is the parent's revenue that
    no child holds, in cents: 0 when the children split the parent (the roll-up's check)."""
    summed = Sums(
        key=parent.key,
        revenue_cents=sum(c.revenue_cents for c in children),
        previous_cents=sum(c.previous_cents for c in children),
        last_year_cents=sum(c.last_year_cents for c in children),
        orders=parent.orders,
        target=parent.target,
        pipeline=sum((c.pipeline for c in children), Decimal(0)),
    )
    return {
        "rows": [figures(child, share) for child in children],
        "total": figures(summed, share),
        "unallocated": money(parent.revenue_cents - summed.revenue_cents),
    }


def sort_rows(rows: list[dict[str, Any]], by: str, descending: bool = True) -> list[dict[str, Any]]:
    """Rows by a figure, those without it last, then by key."""
    present = [r for r in rows if r.get(by) is not None]
    missing = [r for r in rows if r.get(by) is None]
    present.sort(key=lambda r: (-r[by] if descending else r[by], str(r["key"])))
    return present + sorted(missing, key=lambda r: str(r["key"]))
