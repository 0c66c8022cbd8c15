"""Erasing a person's data: destroy their keys, record `PersonalDataErased`, scrub what was opened.

A person's personal data is under one key per kind (`ledger.personal.CATEGORIES`): an erasure
names the kinds (all by default; the retention policy may name one).

The order is what makes it safe:
1. the event is checked first (the rep exists, is not erased already), so a refusal destroys
   nothing;
2. the keys are destroyed — irreversible. From here every copy of their texts in the log, and in
   any copy of the log without this key, reads as "[erased]"; a writer racing with the erasure
   either meets the tombstone (refused) or seals under a key that no longer exists;
3. the event is recorded (a crash between 2 and 3 is finished by running the erasure again);
4. the projections catch up: the folds overwrite the names and texts they had copied;
5. on SQLite, the file is compacted (`VACUUM`, then the WAL emptied), so that no freed page or
   WAL frame keeps the old bytes. On PostgreSQL, rows overwritten leave dead tuples until the
   database's own vacuum reuses their space (see docs/design.md, "Personal data").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ledger.errors import ConflictError, InvalidBatch
from ledger.personal import CATEGORIES
from ledger.store import Ledger
from projections.runner import catch_up


class ErasureRefused(Exception):
    """The erasure cannot be recorded; the message says why."""


@dataclass(frozen=True)
class Erasure:
    rep_id: str
    categories: list[str]
    position: int
    keys_destroyed: list[str]  # the kinds whose key this run destroyed (others: an earlier, interrupted run)


def erasure_envelope(rep_id: str, requested_by: str, ground: str, categories: list[str]) -> dict:
    return {
        "type": "PersonalDataErased",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"rep_id": rep_id, "requested_by": requested_by, "ground": ground, "categories": categories},
    }


def erase_person(
    ledger: Ledger,
    engine: Engine,
    rep_id: str,
    *,
    requested_by: str,
    ground: str,
    actor: str,
    categories: list[str] | None = None,
    compacting: bool = True,
) -> Erasure:
    """Erase `rep_id`'s personal data of `categories` (default: all), irreversibly (see the module).
    `compacting=False`: the caller compacts once after several erasures (`compact`)."""
    kinds = [c for c in CATEGORIES if categories is None or c in categories]
    envelope = erasure_envelope(rep_id, requested_by, ground, kinds)
    problems = ledger.check([envelope], system=True)
    if problems:
        raise ErasureRefused(problems[0].message)
    destroyed = ledger.keys.erase(rep_id, kinds)
    try:
        recorded = ledger.record([envelope], actor, system=True)
    except (InvalidBatch, ConflictError) as refused:
        raise ErasureRefused(refused.problems[0].message if refused.problems else str(refused)) from refused
    catch_up(ledger, engine)
    if compacting:
        compact(ledger.settings.database_url)
    return Erasure(rep_id, kinds, recorded.positions[0], destroyed)


def compact(database_url: str) -> None:
    """SQLite: rewrite the file without its free pages and empty the WAL, so bytes overwritten or
    deleted (a destroyed key, erased texts) are gone from the files. PostgreSQL: nothing here."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return
    connection = sqlite3.connect(url.database, timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
