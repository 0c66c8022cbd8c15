"""The two cut-offs of every read, and the period window they leave, in microseconds.

- `as_of` (business time, inclusive): only what had happened by then, `occurred <= as_of`.
  Default: the end of the period, i.e. its exclusive end minus 1 µs (the last instant in it).
- `known_at` (knowledge time, inclusive): only what the ledger had recorded by then,
  `recorded <= known_at`. Default: now.
Both must be timezone-aware. The window of a period is [start, end) in the ledger's zone;
`upto` = min(end, as_of + 1 µs) closes it at as_of.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from ledger.config import Settings
from ledger.periods import Period, parse_period
from projections.units import micros


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
    as_of_us = end - 1 if as_of is None else aware_micros(as_of, "as_of")
    known_us = now_micros() if known_at is None else aware_micros(known_at, "known_at")
    return Cutoffs(parsed, start, end, as_of_us, known_us)


def aware_micros(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone (e.g. 2026-04-03T00:00:00+08:00)")
    return micros(moment)


def now_micros() -> int:
    return time.time_ns() // 1000
