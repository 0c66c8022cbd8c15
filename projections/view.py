"""The one way a projection writes: a batch's rows and its tracked position, in one transaction.

This mirrors the contract of eventsourcing's `TrackingRecorder` (`_insert_tracking` written in
the same transaction as the view's rows, a redelivered position raising `IntegrityError`): here
the tracking row is moved with a compare-and-set,

    UPDATE projection_tracking SET position = :new WHERE name = :name AND position = :expected

at the start of the batch's transaction. If another worker has already moved it (a redelivered
or overlapping batch), no row matches and the batch fails with `TrackingConflict` before any row
is written; on PostgreSQL a second worker blocks on that row until the first commits, then sees
the new position and fails the same way. Either every row of a batch and its new position are
committed, or none: exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from projections.db import compiled
from projections.tables import tracking


class TrackingConflict(RuntimeError):
    """The tracked position is not the one this batch was read after: someone else applied it."""


def claim_batch(conn: Connection, name: str, expected: int, new: int) -> None:
    """Move `name`'s tracked position from `expected` to `new`, or raise TrackingConflict."""
    moved = conn.execute(
        update(tracking).where(tracking.c.name == name, tracking.c.position == expected).values(position=new)
    ).rowcount
    if moved != 1:
        raise TrackingConflict(
            f"projection {name!r} is no longer at position {expected}: another worker applied this batch"
        )


class Bulk(Protocol):
    """A faster way to write a batch's rows (`projections.accel.bulk`): each method writes the
    rows and says True, or writes nothing and says False (the view then writes them plainly)."""

    def insert(self, conn: Connection, table: Table, rows: list[Any]) -> bool: ...

    def upsert(self, conn: Connection, table: Table, rows: list[Any], keep: tuple[str, ...], adding: bool) -> bool: ...


class BatchView:
    """Rows a projection has produced for one batch, written together by `write`. A row is a
    dict of columns, or a tuple of every column in the table's order (see `execute_many`).

    - `insert(table, row)`: a new row (facts are only ever appended);
    - `upsert(table, key, row)`: fold state (a deal, a customer, a lead), last write per key wins;
    - `update(table, key_column, row)`: set some columns of an existing row by its key (a
      follow-up's completion), applied after the inserts of the same batch;
    - `increment(table, key, row)`: add the row's values to the stored ones (rollup sums);
    - `run(statement)`: a write of its own (a fold done in SQL: `accel.activity_in_store`), called with
      the connection after the rows above.
    An upsert may `keep` columns: on conflict they keep their stored value.
    `bulk` (the accelerators'; plain: None): writes the inserts, upserts and increments in bulk.
    """

    def __init__(self, name: str, expected: int, bulk: Bulk | None = None):
        self.name = name
        self.expected = expected
        self.bulk = bulk
        self.inserts: dict[Table, list[Any]] = defaultdict(list)
        self.upserts: dict[tuple[Table, tuple[str, ...]], dict[Any, Any]] = defaultdict(dict)
        self.updates: dict[tuple[Table, str], list[dict[str, Any]]] = defaultdict(list)
        self.increments: dict[Table, dict[Any, Any]] = defaultdict(dict)
        self.statements: list[Callable[[Connection], None]] = []

    def insert(self, table: Table, row: Any) -> None:
        self.inserts[table].append(row)

    def upsert(self, table: Table, key: Any, row: Any, keep: tuple[str, ...] = ()) -> None:
        self.upserts[(table, keep)][key] = row

    def increment(self, table: Table, key: Any, row: Any) -> None:
        self.increments[table][key] = row

    def update(self, table: Table, key_column: str, row: dict[str, Any]) -> None:
        self.updates[(table, key_column)].append(row)

    def run(self, statement: Callable[[Connection], None]) -> None:
        self.statements.append(statement)

    def write(self, conn: Connection, position: int) -> None:
        """Claim the batch (compare-and-set of the tracked position), then write every row."""
        claim_batch(conn, self.name, self.expected, position)
        self.write_rows(conn)

    def write_rows(self, conn: Connection) -> None:
        bulk = self.bulk
        for table, rows in self.inserts.items():
            if rows and not (bulk and bulk.insert(conn, table, rows)):
                execute_many(conn, table.insert(), ("insert", table.name), rows)
        for (table, keep), keyed in self.upserts.items():
            if keyed and not (bulk and bulk.upsert(conn, table, list(keyed.values()), keep, False)):
                execute_many(
                    conn, upsert_statement(conn, table, keep), ("upsert", table.name, keep), list(keyed.values())
                )
        for table, keyed in self.increments.items():
            if keyed and not (bulk and bulk.upsert(conn, table, list(keyed.values()), (), True)):
                execute_many(
                    conn, upsert_statement(conn, table, adding=True), ("increment", table.name), list(keyed.values())
                )
        for (table, key_column), rows in self.updates.items():
            if rows:
                statement = update(table).where(table.c[key_column] == bindparam("key_"))
                changes = [
                    {**{k: v for k, v in row.items() if k != key_column}, "key_": row[key_column]} for row in rows
                ]
                execute_many(conn, statement, ("update", table.name, key_column), changes)
        for run in self.statements:
            run(conn)


def execute_many(conn: Connection, statement: Any, name: tuple[Hashable, ...], rows: list[Any]) -> None:
    """One executemany of a Core statement, compiled once per dialect, statement and column set.

    The rows go to the driver as they are (`exec_driver_sql`): none of our column types needs a
    bind processor, and skipping SQLAlchemy's per-row parameter processing halves the cost of a
    batch. A row is a dict of columns (every row of a call with the same keys: a fold writes one
    shape per table), or a tuple of every column of the table in the table's order, which goes
    to the driver untouched (a hot path's rows: no dict made and picked apart per row).
    """
    if type(rows[0]) is tuple:
        columns = tuple(column.key for column in statement.table.columns)
        sql, _, order = compiled(conn, statement, (conn.dialect.name, *name, columns))
        if order != columns:
            raise ValueError(f"{name}: rows given as tuples need every column in the table's order, not {order}")
        conn.exec_driver_sql(sql, rows)
        return
    sql, pick, _ = compiled(conn, statement, (conn.dialect.name, *name, tuple(rows[0])))
    conn.exec_driver_sql(sql, [pick(row) for row in rows])


def upsert_statement(conn: Connection, table: Table, keep: tuple[str, ...] = (), adding: bool = False) -> Any:
    """INSERT … ON CONFLICT (primary key) DO UPDATE SET every other column (but `keep`) to the new
    value, or with `adding` to the stored value plus the new one (SQLite and PostgreSQL)."""
    insert = sqlite_insert(table) if conn.dialect.name == "sqlite" else pg_insert(table)
    keys = [c.name for c in table.primary_key.columns]
    changed = [c for c in table.columns if c.name not in keys and c.name not in keep]
    if adding:
        changes = {c.name: c + insert.excluded[c.name] for c in changed}
    else:
        changes = {c.name: insert.excluded[c.name] for c in changed}
    return insert.on_conflict_do_update(index_elements=keys, set_=changes)
