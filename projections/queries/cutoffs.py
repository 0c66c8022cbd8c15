"""The two cut-offs of every read, and the period window they leave, in microseconds.

- `as_of` (business time, inclusive): only what had happened by then, `occurred <= as_of`.
  Default: the earlier of the period's end (its exclusive end minus 1 µs, the last instant in
  it) and now, so the period in progress is read as it stands today, and a past one in full.
- `known_at` (knowledge time, inclusive): only what the ledger had recorded by then,
  `recorded <= known_at`. Default: now.
"Now" is the settings' clock (`Settings.now`): the system's, or a fixed one in tests.
Both must be timezone-aware. The window of a period is [start, end) in the ledger's zone;
`upto` = min(end, as_of + 1 µs) closes it at as_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ledger.config import Settings
from ledger.periods import Period, parse_period
from projections.units import micros

# Where a period stands at a read's as_of: not yet started (every figure empty), in progress, ended.
PeriodStatus = Literal["not_started", "in_progress", "ended"]


@dataclass(frozen=True)
class Cutoffs:
    period: Period
    start_us: int  # first instant of the period
    end_us: int  # first instant after it
    as_of_us: int  # inclusive
    known_us: int  # inclusive

    @property
    def upto_us(self) -> int:
        """Exclusive end of what counts: the period's end, or just after as_of if earlier."""
        return min(self.end_us, self.as_of_us + 1)

    @property
    def started(self) -> bool:
        """False when as_of lies before the period's first instant: nothing in it can count yet."""
        return self.as_of_us >= self.start_us

    @property
    def ended(self) -> bool:
        return self.as_of_us >= self.end_us - 1

    @property
    def status(self) -> PeriodStatus:
        """Where the period stands at as_of: not_started (every figure empty), in_progress or ended."""
        return "not_started" if not self.started else "ended" if self.ended else "in_progress"

    @property
    def elapsed_share(self) -> float:
        """How much of the period lies at or before as_of, in [0, 1] (a closed period gives 1)."""
        span = self.end_us - self.start_us
        return min(1.0, max(0.0, (self.upto_us - self.start_us) / span))

    def previous(self, settings: Settings) -> Cutoffs:
        """The previous period in full (or up to as_of, if as_of falls before its end), same knowledge."""
        period = self.period.previous()
        start, end = micros(period.start(settings.tz)), micros(period.end(settings.tz))
        return Cutoffs(period, start, end, min(self.as_of_us, end - 1), self.known_us)


def cutoffs(
    settings: Settings, period: str | Period, as_of: datetime | None = None, known_at: datetime | None = None
) -> Cutoffs:
    parsed = parse_period(period) if isinstance(period, str) else period
    start, end = micros(parsed.start(settings.tz)), micros(parsed.end(settings.tz))
    now_us = now_micros(settings)
    as_of_us = min(end - 1, now_us) if as_of is None else aware_micros(as_of, "as_of")
    known_us = now_us if known_at is None else aware_micros(known_at, "known_at")
    return Cutoffs(parsed, start, end, as_of_us, known_us)


def known_micros(settings: Settings, known_at: datetime | None) -> int:
    """`known_at` in microseconds; now when not given."""
    return now_micros(settings) if known_at is None else aware_micros(known_at, "known_at")


def aware_micros(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone (e.g. 2026-04-03T00:00:00+08:00)")
    return micros(moment)


def now_micros(settings: Settings) -> int:
    return micros(aware_now(settings))


def aware_now(settings: Settings) -> datetime:
    moment = settings.now()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the settings' clock must give timezone-aware times")
    return moment


def elapsed_share(cut: Cutoffs) -> Decimal:
    """The elapsed share of the period at as_of, exactly (64/92 of a quarter on 3 December), in
    0..1: what a cumulative target is expected to have reached by now."""
    share = Decimal(cut.upto_us - cut.start_us) / Decimal(cut.end_us - cut.start_us)
    return min(Decimal(1), max(Decimal(0), share))
