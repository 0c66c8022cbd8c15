"""Units of the projected tables: microseconds, cents and parts per billion, and back.

Credit splits divide money by share (counts stay whole: see `queries/kpis.py`). Shares are
held as integer parts per billion and money as integer cents, each divided by the
largest-remainder method, so the parts of a deal always add up exactly to the whole (the
company's revenue never gains or loses a cent through a split), and the same split of the
same amount always gives the same parts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import overload

from ledger.decoding import LogRecord, micros_to_time, time_to_micros

PPB = 1_000_000_000  # a whole deal, in parts per billion
CENT = Decimal("0.01")
DAY_US = 86_400 * 1_000_000

__all__ = [
    "CENT",
    "DAY_US",
    "PPB",
    "allocate",
    "cents",
    "micros",
    "micros_to_time",
    "occurred_us",
    "money",
    "ratio",
    "shares_in_ppb",
    "time_to_micros",
]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """An aware time as microseconds since the epoch (the ledger's `time_to_micros`, without its
    naive-time check: every time in a LogRecord is aware; this runs once per event)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def occurred_us(record: LogRecord) -> int:
    """When the record's event occurred, in microseconds since the epoch."""
    return micros(record.occurred)


@overload
def cents(amount: Decimal) -> int: ...
@overload
def cents(amount: None) -> None: ...
def cents(amount: Decimal | None) -> int | None:
    """Money to integer cents (the write side has already limited it to two places)."""
    return None if amount is None else int(amount.scaleb(2))


def money(total_cents: int | None) -> Decimal:
    return (Decimal(total_cents or 0) / 100).quantize(CENT)


QUANTA = {places: Decimal(1).scaleb(-places) for places in range(9)}  # 2 → Decimal("0.01")


def ratio(numerator: int | Decimal, denominator: int | Decimal, places: int = 4) -> Decimal | None:
    """numerator / denominator rounded half-up to `places` decimals; None when the denominator is 0."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(QUANTA[places], rounding=ROUND_HALF_UP)


def shares_in_ppb(splits: list[dict]) -> list[tuple[str, int]]:
    """[{rep_id, share}] (summing to 1) → [(rep_id, ppb)] summing to exactly PPB, in the same order."""
    parts = largest_remainder(PPB, [s["share"] * PPB for s in splits])
    return [(s["rep_id"], part) for s, part in zip(splits, parts, strict=True)]


def allocate(total: int, credit: list[tuple[str, int]]) -> dict[str, int]:
    """Divide an integer amount (cents, or ppb) by the credit shares; the parts sum to `total`."""
    if len(credit) == 1:
        return {credit[0][0]: total}
    sign = -1 if total < 0 else 1
    parts = largest_remainder(abs(total), [Decimal(abs(total)) * ppb / PPB for _, ppb in credit])
    return {rep: sign * part for (rep, _), part in zip(credit, parts, strict=True)}


def largest_remainder(total: int, exact: list[Decimal]) -> list[int]:
    """Integers that sum to `total`, each the floor of its exact value, the shortfall going one by
    one to the largest fractional remainders (earlier entries first on a tie)."""
    floors = [int(value) for value in exact]  # values are non-negative: int() is the floor
    short = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:short]:
        floors[i] += 1
    return floors
