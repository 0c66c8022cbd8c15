"""Calendar periods (month `2026-03`, quarter `2026-Q1`, year `2026`) and ISO weeks (`2026-W48`,
Monday to Sunday) in the ledger's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from ledger.messages import Msg

_PATTERN = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4])|-W(\d{2}))?$")
MONTH, QUARTER, YEAR, WEEK = "month", "quarter", "year", "week"
FORMS = "YYYY-MM, YYYY-Qn, YYYY-Www or YYYY"
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


@dataclass(frozen=True, order=True)
class Week(Period):
    """An ISO week: Monday 00:00 to the next Monday 00:00 in the ledger's zone, numbered in its ISO
    year (2026-W53 runs from 28 December 2026 to 3 January 2027; 31 December 2025 is in 2026-W01).

    As a Period, its `year`, `first_month` and `months` are those of the month its Monday is in
    (one month long), so that a plan or an assignment `effective_from` a month applies to the
    weeks that start in it."""

    iso_year: int = 0
    week: int = 0

    @classmethod
    def of(cls, iso_year: int, week: int) -> Week:
        try:
            monday = date.fromisocalendar(iso_year, week, 1)
        except ValueError:
            last = date(iso_year, 12, 28).isocalendar().week  # 28 December is always in the last week
            raise ValueError(
                Msg(
                    "period.week",
                    "{year} has no week {week}: its ISO weeks run 01 to {last}",
                    year=iso_year,
                    week=f"{week:02d}",
                    last=last,
                )
            ) from None
        return cls(monday.year, monday.month, 1, iso_year, week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.iso_year, self.week, 1)

    @property
    def kind(self) -> str:
        return WEEK

    def __str__(self) -> str:
        return f"{self.iso_year:04d}-W{self.week:02d}"

    def start(self, tz: tzinfo) -> datetime:
        day = self.monday
        return datetime(day.year, day.month, day.day, tzinfo=tz)

    def end(self, tz: tzinfo) -> datetime:
        day = self.monday + timedelta(days=7)
        return datetime(day.year, day.month, day.day, tzinfo=tz)

    def previous(self) -> Week:
        year, week, _ = (self.monday - timedelta(days=7)).isocalendar()
        return Week.of(year, week)

    def contains(self, other: Period) -> bool:
        return other == self

    def months_in(self) -> list[Period]:
        return [Period(self.year, self.first_month, 1)]

    def enclosing(self) -> list[Period]:
        """A week lies in no month, quarter or year of its own: only itself."""
        return [self]


def parse_period(text: str) -> Period:
    """Parse `2026`, `2026-Q1`, `2026-03` or `2026-W48`; raise ValueError with the accepted forms
    otherwise."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            Msg(
                "period.invalid",
                "{text!r} is not a period: use {forms} (e.g. 2026-Q1, 2026-W48)",
                text=text,
                forms=FORMS,
            )
        )
    year = int(match.group(1))
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(
            Msg("period.year", "year {year} is out of range {low}..{high}", year=year, low=_MIN_YEAR, high=_MAX_YEAR)
        )
    if match.group(4):
        return Week.of(year, int(match.group(4)))
    if match.group(2):
        return Period(year, int(match.group(2)), 1)
    if match.group(3):
        return Period(year, (int(match.group(3)) - 1) * 3 + 1, 3)
    return Period(year, 1, 12)


def period_of(moment: datetime, tz: tzinfo, kind: str = MONTH) -> Period:
    """The period of the given kind that contains `moment`, read in the ledger's zone."""
    local = moment.astimezone(tz)
    if kind == WEEK:
        year, week, _ = local.date().isocalendar()
        return Week.of(year, week)
    if kind == MONTH:
        return Period(local.year, local.month, 1)
    if kind == QUARTER:
        return Period(local.year, (local.month - 1) // 3 * 3 + 1, 3)
    return Period(local.year, 1, 12)
