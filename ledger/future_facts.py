"""Facts cannot come from the future: an event whose `occurred_at` is later than the moment it is
recorded (the ledger's clock) plus a tolerance (`PERFLEDGER_FUTURE_TOLERANCE`, five minutes by
default: writers' clocks drift) is refused, and its whole batch with it.

Plans are the exception: a target, an incentive plan and its assignment, an improvement plan
speak of what should happen, and may be dated when they take effect. (A `TargetSet` for next
quarter is recorded today anyway: its `occurred_at` is when it was set, its `period` the future.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ledger.messages import Msg
from ledger.schemas import Command, Problem

PLANS = frozenset({"TargetSet", "IncentivePlanPublished", "IncentivePlanAssigned", "ImprovementPlanSet"})


def future_facts(commands: Iterable[Command], now: datetime, tolerance: timedelta) -> list[Problem]:
    """A problem for every fact of the batch dated after `now` + `tolerance`."""
    latest = now + tolerance
    return [
        Problem(
            command.index,
            "occurred_at",
            Msg(
                "occurred_at.future",
                "{type} dated {occurred_at}, after the moment it is recorded ({now}): "
                "a fact is recorded once it has happened",
                type=command.type,
                occurred_at=command.occurred_at.isoformat(),
                now=now.astimezone(command.occurred_at.tzinfo).isoformat(timespec="seconds"),
            ),
        )
        for command in commands
        if command.type not in PLANS and command.occurred_at > latest
    ]
