"""Allocating a target down the org: pure arithmetic, no database.

A parent's value is split among its children in proportion to their weights, by the largest
remainder method in the metric's unit (a cent for money, 1 for a count): each child first gets
the whole units of its exact quota (value × weight / sum of weights, rounded down), then the
units left over go one each to the children with the largest fractional parts (ties: the child
listed first). So the children always sum to the parent exactly, and no child is more than one
unit away from its exact quota.

A rate (conversion_rate, win_rate, growth_rate) or an average (avg_order_value) does not split:
each child is given the parent's value, and only the `equal` method applies.

Worked example: 1,000,000.00 by weights 3 : 2 : 2 is 100,000,000 cents; the exact quotas are
42,857,142.857…, 28,571,428.571… and 28,571,428.571… cents; rounded down they sum to 99,999,998,
so the 2 cents left go to the first (.857) and then the second (.571, listed before the third):
428,571.43 + 285,714.29 + 285,714.28 = 1,000,000.00.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from ledger.messages import Msg
from ledger.schemas import COUNT_METRICS, MONEY_METRICS

METHODS = ("equal", "last_period_share", "weights", "rep_level")
SHARED_METRICS = frozenset({"conversion_rate", "win_rate", "growth_rate", "avg_order_value"})  # never split
CENT = Decimal("0.01")
MAX_CHILDREN = 10_000


class AllocationError(ValueError):
    """An allocation that cannot be made: `field` names what to change, the message says how."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def unit_of(metric: str) -> Decimal | None:
    """The smallest amount a child's share is counted in: a cent, one, or None (not split)."""
    if metric in MONEY_METRICS and metric not in SHARED_METRICS:
        return CENT
    if metric in COUNT_METRICS:
        return Decimal(1)
    return None


def allocate(value: Decimal, weights: Mapping[str, Decimal], metric: str) -> dict[str, Decimal]:
    """Each child's share of `value` (child → amount, in the order given), summing to `value`
    exactly for a metric that splits; the parent's value for each child for one that does not."""
    if not weights:
        raise AllocationError("children", Msg("allocation.no_children", "there is no child to allocate to"))
    if len(weights) > MAX_CHILDREN:
        raise AllocationError(
            "children", Msg("allocation.too_many", "at most {limit} children at a time", limit=MAX_CHILDREN)
        )
    for child, weight in weights.items():
        if not weight.is_finite() or weight < 0:
            raise AllocationError(
                f"weights.{child}", Msg("allocation.weight", "a weight is a number of 0 or more, not {w}", w=weight)
            )
    unit = unit_of(metric)
    if unit is None:
        return dict.fromkeys(weights, value)
    total_weight = sum(weights.values(), Decimal(0))
    if total_weight <= 0:
        raise AllocationError(
            "weights", Msg("allocation.zero_weights", "the weights sum to 0: no child has a share to allocate by")
        )
    units = value / unit
    if units != units.to_integral_value():
        raise AllocationError(
            "value", Msg("allocation.unit", "{value} is not a whole number of {unit}", value=value, unit=unit)
        )
    whole = int(units)
    total = Fraction(total_weight)
    exact = {child: whole * Fraction(weight) / total for child, weight in weights.items()}  # exact rationals
    floors = {child: math.floor(quota) for child, quota in exact.items()}
    left = whole - sum(floors.values())
    order = list(weights)
    by_remainder = sorted(order, key=lambda child: (-(exact[child] - floors[child]), order.index(child)))
    for child in by_remainder[:left]:
        floors[child] += 1
    return {child: (Decimal(floors[child]) * unit).quantize(unit) for child in order}


__all__ = ["METHODS", "SHARED_METRICS", "AllocationError", "allocate", "unit_of"]
