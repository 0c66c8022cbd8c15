"""What the retention policy says is due: each leaver's kinds of personal data whose period ran out.

A kind is due when the rep left (`RepOffboarded`, its business time) longer ago than the policy
keeps it, and their key for it still exists (a kind never written about, or already erased, has
nothing left to erase).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.retention import parse_policy
from ledger.store import Ledger


@dataclass(frozen=True)
class Due:
    rep_id: str
    category: str
    left_at: datetime
    keep: str  # the policy's period, as written (3y)
    due_at: datetime


def retention_due(ledger: Ledger, now: datetime) -> list[Due]:
    """Every (rep, kind) due for erasure at `now`, by rep then kind."""
    policy = parse_policy(ledger.settings.retention)
    due = []
    for left in _offboardings(ledger):
        rep_id, left_at = left.data["rep_id"], left.occurred_at
        assert left_at is not None
        for key in ledger.keys.status(rep_id):
            if key.erased_us is not None:
                continue
            keep = policy[key.category]
            due_at = keep.until(left_at)
            if due_at is not None and due_at <= now:
                due.append(Due(rep_id, key.category, left_at, str(keep), due_at))
    return sorted(due, key=lambda d: (d.rep_id, d.category))


def _offboardings(ledger: Ledger) -> list:
    found, after = [], 0
    while True:
        page = ledger.read_log(after, 1000, types=["RepOffboarded"])
        found.extend(page)
        if len(page) < 1000:
            return found
        after = page[-1].position
