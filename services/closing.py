"""Closing a period: it takes no new approvals (only adjustments), and its close seals the log.

`PeriodClosed` carries the chain's head (link and position) at closing; `replay.sealing.verify`
checks later that the log still passes through every seal.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import ConflictError, InvalidBatch
from ledger.periods import parse_period
from ledger.store import Ledger


class CloseRefused(Exception):
    """The period cannot be closed; the message says why."""


def close_period(ledger: Ledger, period: str, actor: str) -> dict[str, Any]:
    name = str(parse_period(period))
    head = ledger.head()
    envelope = {
        "type": "PeriodClosed",
        "event_id": f"close-{name}",
        "occurred_at": ledger.settings.now().isoformat(),
        "data": {"period": name, "head": head.link, "head_position": head.position},
    }
    try:
        recorded = ledger.record([envelope], actor, system=True)
    except InvalidBatch as refused:
        raise CloseRefused(refused.problems[0].message) from refused
    except ConflictError as refused:
        if not refused.problems:  # a racing writer: the caller retries
            raise
        # Its event_id is taken: the period was closed before (at another time, so other content).
        raise CloseRefused(f"{name} is already closed; later changes are recorded as adjustments") from refused
    return {"period": name, "position": recorded.positions[0], "head": head.link, "head_position": head.position}
