"""The one-off step for a store recorded before personal fields were sealed: move the clear
personal fields of its old events under the reps' keys, in place, without rewriting the chain.

The chain's link at a position is sha256(previous link ‖ entry header ‖ stored bytes); it cannot
be recomputed once the bytes change. So resealing keeps every link as it is and replaces only the
bytes of the events that held clear personal fields, each recorded in `resealed_events`
(position, sha256 of the bytes it held, sha256 of the bytes it holds now, the run), and the run is
attested in the chain by a `PersonalDataResealed` event carrying the digest of its rows. From
then on `verify` checks, at a resealed position, that the stored bytes are the attested ones and
takes the stored link as the one to chain on (the next position is recomputed from it, so no
link can be changed without breaking the chain after it); it checks every run's rows against its
event. What an auditor loses: at those positions, recomputing the link from the bytes; what
stays: the chain's links and every head written down, and every other position's proof.

The run refuses a log that does not verify. A field whose rep's key for that kind is already
destroyed is written as it reads: `[erased]`. On SQLite the file is compacted afterwards
(`services/erasure.compact`), so the old bytes are gone from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.personal import CATEGORY, PERSONAL_FIELDS, erased_value, is_sealed, seal_value

RESEALED_TABLE = "resealed_events"


def resealed_ddl(table: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (position BIGINT PRIMARY KEY, original_sha256 TEXT NOT NULL, "
        "sealed_sha256 TEXT NOT NULL, run TEXT NOT NULL)"
    )


@dataclass(frozen=True)
class Resealed:
    position: int
    original_sha256: str
    sealed_sha256: str


def run_digest(rows: list[Resealed]) -> str:
    """The digest a `PersonalDataResealed` carries: its rows in position order."""
    lines = "".join(f"{r.position}:{r.original_sha256}:{r.sealed_sha256}\n" for r in sorted(rows, key=_position))
    return hashlib.sha256(lines.encode()).hexdigest()


def _position(row: Resealed) -> int:
    return row.position


def sealed_state(state: bytes, event_type: str, key: Any) -> bytes | None:
    """The stored bytes with their clear personal fields sealed under `key` (a PersonKey), or
    written as erased (`key` None: destroyed); None if nothing in them is clear."""
    values = orjson.loads(state)
    changed = False
    for field in PERSONAL_FIELDS[event_type]:
        value = values.get(field)
        if value is None or is_sealed(value):
            continue
        values[field] = erased_value(event_type, field) if key is None else seal_value(key, event_type, field, value)
        changed = True
    return orjson.dumps(values) if changed else None


def clear_personal(ledger: Any, page: int = 5000) -> list[tuple[int, str, str | None, Any, bytes]]:
    """Every stored event whose personal fields are (partly) in clear: position, type, rep,
    the event row's key and its stored bytes."""
    rec = ledger.recorder
    types = sorted(PERSONAL_FIELDS)
    found, after = [], 0
    while True:
        rows = ledger._query(
            f"SELECT l.position, l.type, l.rep_id, e.{rec.notification_key}, e.state FROM {ledger._events_join()} "
            f"WHERE l.position > {{p}} AND l.type IN ({', '.join(['{p}'] * len(types))}) "
            f"ORDER BY l.position LIMIT {int(page)}",
            None,
            (after, *types),
        )
        for position, event_type, rep_id, key, state in rows:
            values = orjson.loads(bytes(state))
            if any(values.get(f) is not None and not is_sealed(values[f]) for f in PERSONAL_FIELDS[event_type]):
                found.append((position, event_type, rep_id, key, bytes(state)))
        if len(rows) < page:
            return found
        after = rows[-1][0]


def reseal(ledger: Any, run: str) -> list[Resealed]:
    """Seal every clear personal field of the stored events in place, in one transaction, and
    record each event's before and after digests under `run`. The caller attests the run."""
    old = clear_personal(ledger)
    slots = {(rep_id, CATEGORY[event_type]) for _, event_type, rep_id, _, _ in old if rep_id is not None}
    keys = ledger.keys.keys_for(slots) if slots else {}
    changes, rows = [], []
    for position, event_type, rep_id, row_key, state in old:
        key = keys.get((rep_id, CATEGORY[event_type])) if rep_id is not None else None
        new = sealed_state(state, event_type, key)
        if new is None:
            continue
        changes.append((new, row_key))
        rows.append(Resealed(position, _sha(state), _sha(new)))
    if not rows:
        return []
    rec = ledger.recorder
    mark = "%s" if ledger.is_postgres else "?"
    with rec.datastore.transaction(commit=True) as cursor:
        cursor.executemany(
            f"UPDATE {rec.events_table} SET state = {mark} WHERE {rec.notification_key} = {mark}", changes
        )
        cursor.executemany(
            f"INSERT INTO {rec.resealed_table} VALUES ({mark}, {mark}, {mark}, {mark})",
            [(r.position, r.original_sha256, r.sealed_sha256, run) for r in rows],
        )
    return rows


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
