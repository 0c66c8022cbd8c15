"""Applying the retention policy: erase every kind of personal data that is due (see
`replay/retention.py`), one `PersonalDataErased` per rep naming the kinds, then compact once."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from sqlalchemy import Engine

from ledger.store import Ledger
from replay.retention import Due, retention_due
from services.erasure import Erasure, compact, erase_person

RETENTION_REQUESTER = "retention-policy"


def apply_retention(ledger: Ledger, engine: Engine, now: datetime, actor: str) -> list[Erasure]:
    due = retention_due(ledger, now)
    done = [
        erase_person(
            ledger,
            engine,
            rep_id,
            requested_by=RETENTION_REQUESTER,
            ground="retention",
            actor=actor,
            categories=[d.category for d in items],
            compacting=False,
        )
        for rep_id, items in groupby(due, key=_rep)
    ]
    if done:
        compact(ledger.settings.database_url)
    return done


def _rep(due: Due) -> str:
    return due.rep_id
