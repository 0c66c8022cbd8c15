"""The retention policy: how long each kind of personal data is kept after a rep leaves.

`PERFLEDGER_RETENTION` names a period per kind (`ledger.personal.CATEGORIES`), counted from the
business time of the rep's `RepOffboarded`: `identity=5y,evaluations=3y,disputes=3y` (the
default). A period is a number of years (`y`), months (`m`) or days (`d`); `never` keeps that
kind. A kind left out keeps its default. The dates are the department's to set with its legal
counsel: these defaults only make a start (PIPL asks for the shortest period the purpose needs).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.personal import CATEGORIES

DEFAULT_POLICY = "identity=5y,evaluations=3y,disputes=3y"
_PERIOD = re.compile(r"^(\d{1,4})([ymd])$")


@dataclass(frozen=True)
class Keep:
    """A retention period: so many months and days (a year is twelve months), or None: for ever."""

    months: int | None = None
    days: int = 0

    def until(self, left_at: datetime) -> datetime | None:
        """When data kept this long after `left_at` is due for erasure (None: never)."""
        if self.months is None:
            return None
        return add_months(left_at, self.months) + timedelta(days=self.days)

    def __str__(self) -> str:
        if self.months is None:
            return "never"
        if self.days:
            return f"{self.days}d"
        return f"{self.months // 12}y" if self.months % 12 == 0 else f"{self.months}m"


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` so many calendar months later (the 31st becomes the month's last day)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def parse_keep(text: str) -> Keep:
    if text == "never":
        return Keep()
    match = _PERIOD.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a period: write 3y, 18m, 90d or never")
    number, unit = int(match[1]), match[2]
    return (
        Keep(months=number * 12) if unit == "y" else Keep(months=number) if unit == "m" else Keep(months=0, days=number)
    )


def parse_policy(text: str) -> dict[str, Keep]:
    """`identity=5y,evaluations=3y` → a period for every kind (the defaults for those left out)."""
    policy = _parse_pairs(DEFAULT_POLICY)
    policy.update(_parse_pairs(text))
    return policy


def _parse_pairs(text: str) -> dict[str, Keep]:
    policy = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, period = part.partition("=")
        if kind.strip() not in CATEGORIES:
            raise ValueError(f"{kind.strip()!r} is not a kind of personal data: use {', '.join(CATEGORIES)}")
        policy[kind.strip()] = parse_keep(period.strip())
    return policy


def policy_text(policy: dict[str, Keep]) -> str:
    return ",".join(f"{kind}={policy[kind]}" for kind in CATEGORIES)
