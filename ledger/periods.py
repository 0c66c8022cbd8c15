"""Calendar periods (month `2026-03`, quarter `2026-Q1`, year `2026`) in the ledger's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ledger.messages import Msg

_PATTERN = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")
MONTH, QUARTER, YEAR = "month", "quarter", "year"
_MIN_YEAR, _MAX_YEAR = 1970, 2999


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period, ordered by its first month then by its length."""

    year: int
    first_month: int
    months: int  # 1, 3 or 12

    @property
    def first_month_index(self) -> int:
        """Months since year 0 of the period's first month: orders periods by their start."""
        return self.year * 12 + self.first_month - 1

    @property
    def kind(self) -> str:
        return {1: MONTH, 3: QUARTER, 12: YEAR}[self.months]

    def __str__(self) -> str:
        if self.months == 12:
            return f"{self.year:04d}"
        if self.months == 3:
            return f"{self.year:04d}-Q{(self.first_month - 1) // 3 + 1}"
        return f"{self.year:04d}-{self.first_month:02d}"

    def start(self, tz: tzinfo) -> datetime:
        return datetime(self.year, self.first_month, 1, tzinfo=tz)

    def end(self, tz: tzinfo) -> datetime:
        """The first instant after the period (exclusive end)."""
        month = self.first_month + self.months
        return datetime(self.year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=tz)

    def previous(self) -> Period:
        month = self.first_month - self.months
        year = self.year
        if month < 1:
            month += 12
            year -= 1
        return Period(year, month, self.months)

    def contains(self, other: Period) -> bool:
        """True when `other` lies wholly inside this period (a period contains itself)."""
        mine = self.year * 12 + self.first_month
        theirs = other.year * 12 + other.first_month
        return mine <= theirs and theirs + other.months <= mine + self.months

    def months_in(self) -> list[Period]:
        return [Period(self.year, self.first_month + i, 1) for i in range(self.months)]

    def enclosing(self) -> list[Period]:
        """This period and every longer period that contains it (month → quarter → year)."""
        result = [self]
        if self.months == 1:
            result.append(Period(self.year, (self.first_month - 1) // 3 * 3 + 1, 3))
        if self.months < 12:
            result.append(Period(self.year, 1, 12))
        return result


def parse_period(text: str) -> Period:
    """Parse `2026`, `2026-Q1` or `2026-03`; raise ValueError with the accepted forms otherwise."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            Msg("period.invalid", "{text!r} is not a period: use YYYY-MM, YYYY-Qn or YYYY (e.g. 2026-Q1)", text=text)
        )
    year = int(match.group(1))
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(
            Msg("period.year", "year {year} is out of range {low}..{high}", year=year, low=_MIN_YEAR, high=_MAX_YEAR)
        )
    if match.group(2):
        return Period(year, int(match.group(2)), 1)
    if match.group(3):
        return Period(year, (int(match.group(3)) - 1) * 3 + 1, 3)
    return Period(year, 1, 12)


def period_of(moment: datetime, tz: tzinfo, kind: str = MONTH) -> Period:
    """The period of the given kind that contains `moment`, read in the ledger's zone."""
    local = moment.astimezone(tz)
    if kind == MONTH:
        return Period(local.year, local.month, 1)
    if kind == QUARTER:
        return Period(local.year, (local.month - 1) // 3 * 3 + 1, 3)
    return Period(local.year, 1, 12)
