"""Verification proves the log and the seals of closed periods still hold.

`PeriodClosed` (recorded by `services.closing`) carries the chain's head (link and position) at
closing. `verify` recomputes the whole chain, checks an optional head an auditor wrote down, and
checks every seal: the link at each sealed position must still be the one written into the
close, so nothing recorded before a close can have been rewritten since.
"""

from __future__ import annotations

from typing import Any

from ledger.store import Ledger


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
