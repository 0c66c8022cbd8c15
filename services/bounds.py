"""Business-time and volume bounds that depend on the writer: each rule small and separate.

- **Backdating window**: a role dates a fact at most so many days back (PERFLEDGER_BACKDATING:
  reps a week, managers a quarter, finance and admin without a window).
- **Closed periods**: no token records a new fact dated inside a closed month, quarter or year;
  what changes there goes through the adjustment path (a replay's recorded differences).
- **Self-reported volume**: a rep's token records at most so many activities per request and
  per 24 hours (PERFLEDGER_ACTIVITY_LIMITS); a refused burst is itself recorded
  (`ActivityLimitReached`, by the ledger) so the rep's manager sees it.

(No fact before the ledger's start is the ledger's own rule, for every writer: ledger/bounds.py.)
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from ledger.config import Settings
from ledger.messages import Msg
from ledger.periods import period_of
from ledger.schemas import Command, Problem
from ledger.store import Ledger
from services.policy import User

SELF_REPORTED = "ActivityLogged"
DAY = timedelta(days=1)


class OverLimit(Exception):
    """A rep's request holds more activities than the limits allow: answered 429, and recorded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(Msg("activity.limit", "too many self-reported activities; nothing was recorded"))


def backdated(user: User, commands: list[Command], settings: Settings, now: datetime) -> list[Problem]:
    days = settings.backdating_days(user.role)
    if days is None:
        return []
    earliest = now - timedelta(days=days)
    return [
        Problem(
            c.index,
            "occurred_at",
            Msg(
                "time.backdated",
                "a {role} token dates a fact at most {days} days back (from {earliest}); "
                "ask your manager or finance to record an older one",
                role=user.role,
                days=days,
                earliest=earliest.date().isoformat(),
            ),
        )
        for c in commands
        if c.occurred_at < earliest
    ]


def in_closed_period(commands: list[Command], closed: set[str], settings: Settings) -> list[Problem]:
    if not closed:
        return []
    problems = []
    for c in commands:
        month = period_of(c.occurred_at, settings.tz)
        shut = next((str(p) for p in month.enclosing() if str(p) in closed), None)
        if shut is not None:
            problems.append(
                Problem(
                    c.index,
                    "occurred_at",
                    Msg(
                        "time.closed_period",
                        "{period} is closed: a change there is recorded as an adjustment "
                        "(POST /replays/adjustments), not as a new fact",
                        period=shut,
                    ),
                )
            )
    return problems


def check_time(ledger: Ledger, user: User, commands: list[Command]) -> list[Problem]:
    """Every event dated further back than the writer's role may, or inside a closed period."""
    problems = backdated(user, commands, ledger.settings, ledger.settings.now())
    problems += in_closed_period(commands, ledger.closed_periods(), ledger.settings)
    return sorted(problems, key=lambda p: p.index)


def check_volume(ledger: Ledger, user: User, commands: list[Command]) -> None:
    """Refuse (OverLimit) a rep's request over the activity limits, recording the refusal."""
    if user.role != "rep" or user.rep_id is None:
        return
    attempted = sum(1 for c in commands if c.type == SELF_REPORTED)
    if not attempted:
        return
    per_batch, per_day = ledger.settings.activity_limits
    within, limit = "batch", per_batch
    if attempted <= per_batch:
        since = int((ledger.settings.now() - DAY).timestamp() * 1_000_000)
        recorded = ledger.count_recorded_since(SELF_REPORTED, user.rep_id, user.actor, since)
        if recorded + attempted <= per_day:
            return
        within, limit = "day", per_day
    _record_refusal(ledger, user, attempted, limit, within)
    raise OverLimit([Problem(0, "events", _over_limit_message(within, attempted, limit))])


def _over_limit_message(within: str, attempted: int, limit: int) -> Msg:
    if within == "batch":
        return Msg(
            "activity.limit_batch",
            "{attempted} activities: a rep records at most {limit} per request; "
            "this refusal is recorded for your manager",
            attempted=attempted,
            limit=limit,
        )
    return Msg(
        "activity.limit_day",
        "{attempted} more activities: a rep records at most {limit} in 24 hours; "
        "this refusal is recorded for your manager",
        attempted=attempted,
        limit=limit,
    )


def _record_refusal(ledger: Ledger, user: User, attempted: int, limit: int, within: str) -> None:
    envelope = {
        "type": "ActivityLimitReached",
        "occurred_at": ledger.settings.now().isoformat(),
        "data": {
            "refusal_id": uuid.uuid4().hex,
            "rep_id": user.rep_id,
            "attempted": attempted,
            "limit": limit,
            "within": within,
        },
    }
    ledger.record([envelope], user.actor, system=True)
