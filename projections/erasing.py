"""What a projection does when a rep's personal data is erased (`PersonalDataErased`).

The log's copies become unreadable by themselves (their key is destroyed); the projected tables
hold texts opened before, so the folds that copied them overwrite them here with what the field
reads as once erased (`ledger.personal.PERSONAL_FIELDS`). A rebuild after the erasure writes
the same rows: the events read as erased, then the erasure overwrites them again.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from sqlalchemy import Connection, Table, bindparam, select, update

from ledger.personal import CATEGORIES, CATEGORY, PERSONAL_FIELDS, erased_value


def erased_payload(event_type: str, payload: str) -> str:
    """A projected payload (an event's data as JSON) with its personal fields erased."""
    data = orjson.loads(payload)
    for field in PERSONAL_FIELDS.get(event_type, ()):
        if data.get(field) is not None:
            data[field] = erased_value(event_type, field)
    return orjson.dumps(data).decode()


def erased_categories(data: Mapping[str, object]) -> set[str]:
    """The kinds of personal data a `PersonalDataErased` erased."""
    return set(data.get("categories") or CATEGORIES)  # type: ignore[call-overload]


def erase_payloads(
    conn: Connection, table: Table, rep_id: str, types_by_kind: Mapping[str, str], categories: set[str]
) -> None:
    """Overwrite the personal fields of `categories` in the `payload` of every row of `rep_id` in
    `table` (rows with `position`, `rep_id`, `kind` and `payload`; `types_by_kind`: each kind's
    event type)."""
    types_by_kind = {kind: t for kind, t in types_by_kind.items() if CATEGORY.get(t) in categories}
    c = table.c
    rows = conn.execute(select(c.position, c.kind, c.payload).where(c.rep_id == rep_id)).all()
    changed = [
        {"at": row.position, "new": erased_payload(types_by_kind[row.kind], row.payload)}
        for row in rows
        if row.kind in types_by_kind
    ]
    if changed:
        conn.execute(update(table).where(c.position == bindparam("at")).values(payload=bindparam("new")), changed)
