"""Closing a period seals the log, and verification proves the seals still hold.

`PeriodClosed` carries the chain's head (link and position) at closing. `verify` recomputes the
whole chain, checks an optional head an auditor wrote down, and checks every seal: the link at
each sealed position must still be the one written into the close, so nothing recorded before a
close can have been rewritten since.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
        "occurred_at": datetime.now(UTC).isoformat(),
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


def verify(ledger: Ledger, digest: str | None = None) -> dict[str, Any]:
    report = ledger.verify(digest)
    seals = _check_seals(ledger) if report.ok else []
    broken = [s for s in seals if not s["holds"]]
    ok = report.ok and not broken
    message = report.message or (
        f"the close of {broken[0]['period']} no longer matches the log at position {broken[0]['head_position']}"
        if broken
        else ""
    )
    first_bad = report.first_bad_position if not report.ok else (broken[0]["head_position"] if broken else None)
    return {
        "ok": ok,
        "events_checked": report.events_checked,
        "head": report.head,
        "first_bad_position": first_bad,
        "message": message,
        "digest_extended": report.extends_digest,
        "seals": seals,
    }


def _check_seals(ledger: Ledger) -> list[dict[str, Any]]:
    seals = []
    for record in ledger.read_log(0, 10_000, types=["PeriodClosed"]):
        sealed_at = record.data.get("head_position")
        if not sealed_at:
            continue
        holds = ledger.link_at(sealed_at) == record.data.get("head")
        seals.append(
            {"period": record.data["period"], "position": record.position, "head_position": sealed_at, "holds": holds}
        )
    return seals
