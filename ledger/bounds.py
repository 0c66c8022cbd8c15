"""Business-time bounds every writer meets: no fact before the ledger's start.

(The bounds that depend on the writer, such as how far back a role may date a fact, are the
services' business: services/bounds.py.)
"""

from __future__ import annotations

from datetime import datetime

from ledger.config import Settings
from ledger.messages import Msg
from ledger.schemas import Command, Problem


def ledger_start(settings: Settings) -> datetime:
    """The first instant the ledger records facts for: its start day's midnight in its zone."""
    return datetime(settings.start.year, settings.start.month, settings.start.day, tzinfo=settings.tz)


def before_start(commands: list[Command], settings: Settings) -> list[Problem]:
    start = ledger_start(settings)
    return [
        Problem(
            c.index,
            "occurred_at",
            Msg(
                "time.before_start",
                "{occurred_at} is before the ledger's start ({start}): no fact is recorded before it",
                occurred_at=c.occurred_at.isoformat(),
                start=settings.start.isoformat(),
            ),
        )
        for c in commands
        if c.occurred_at < start
    ]
