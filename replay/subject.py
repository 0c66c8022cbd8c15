"""Subject access: everything the ledger holds about a person, in one document (PIPL art. 45,
GDPR art. 15).

What it holds about a rep is the log's events about them (each entry names the rep it concerns:
their onboarding and moves, deals, activities, evaluations, feedback, plans, payouts,
disputes), their personal fields opened — or `[erased]` where their key is gone — and the state
of their key. Everything a projection shows is derived from those events, so they are the whole
of it. Not included: events about other people that name this rep's id as their author
(`evaluator_id`, `author_id`, `resolver_id` of a manager), which are the other person's record.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ledger.decoding import micros_to_time
from ledger.personal import PERSONAL_FIELDS
from ledger.store import Ledger

PAGE = 5000


class SubjectUnknown(LookupError):
    """The ledger holds nothing about this person."""


def subject_access(ledger: Ledger, rep_id: str) -> dict[str, Any]:
    events = [
        {
            "position": record.position,
            "type": record.type,
            "occurred_at": record.occurred_at,
            "recorded_at": micros_to_time(record.recorded_at),
            "recorded_by": record.actor,
            "event_id": record.event_id,
            "data": record.data,
            "personal_fields": sorted(PERSONAL_FIELDS.get(record.type, ())),
        }
        for record in _events_about(ledger, rep_id)
    ]
    if not events:
        raise SubjectUnknown(f"the ledger holds nothing about {rep_id}")
    onboarded = next((e for e in events if e["type"] == "RepOnboarded"), None)
    keys = {
        key.category: {
            "created_at": micros_to_time(key.created_us),
            "erased_at": micros_to_time(key.erased_us) if key.erased_us is not None else None,
        }
        for key in ledger.keys.status(rep_id)
    }
    return {
        "subject": rep_id,
        "generated_at": datetime.now(UTC),
        "name": onboarded["data"]["name"] if onboarded else None,
        "erased": sorted(category for category, key in keys.items() if key["erased_at"] is not None),
        "keys": keys,
        "counts": dict(sorted(Counter(e["type"] for e in events).items())),
        "events": events,
    }


def _events_about(ledger: Ledger, rep_id: str) -> list[Any]:
    found, after = [], 0
    while True:
        page = ledger.read_log(after, PAGE, rep_ids=[rep_id])
        found.extend(page)
        if len(page) < PAGE:
            return found
        after = page[-1].position
