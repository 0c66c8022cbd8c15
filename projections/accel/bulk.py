"""A batch's rows written to PostgreSQL in bulk: the same rows `BatchView.write_rows` writes by
executemany, in a few statements.

Plain, each row of a batch is one INSERT (or INSERT … ON CONFLICT) sent through psycopg's
executemany: the server parses, binds and runs a statement per row. A rebuild on PostgreSQL
spent about half its time there (17 of 41 s at a million events, ~65 µs a row: 69k deal
upserts, 80k lead upserts, 49k deal facts; docs/performance.md). Here, on PostgreSQL:

- new rows (`BatchView.insert`) go by COPY, one per table and batch;
- upserts and increments by COPY into a temporary table of the same columns, then one
  INSERT … SELECT … ON CONFLICT … DO UPDATE per table and batch: the conflict clause is
  `upsert_statement`'s, and a batch holds one row per key (`BatchView` keeps the last), as
  ON CONFLICT requires. (One INSERT … SELECT FROM unnest(an array a column) was tried first:
  51k deals upserted twice took 4.9-6.0 s that way, 2.6-3.8 s by COPY, alternating runs.)

A table's rows are written in the order the plain path writes them; COPY writes the same values
the driver's parameters would (each column's text converted by the server to its type). Below
BULK_FROM rows a table's rows go the plain way (a live catch-up's small batches: a statement or
two either way). Updates (`BatchView.update`) always go the plain way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

BULK_FROM = 64  # rows of one table in one batch: fewer go by executemany


class PostgresBulk:
    """`BatchView.write_rows`'s inserts and upserts, in bulk on PostgreSQL (see the module).
    Each method writes the rows and says True, or writes nothing and says False (too few rows,
    or rows it does not take): the view then writes them the plain way."""

    def insert(self, conn: Connection, table: Table, rows: Sequence[Any]) -> bool:
        columns = _columns(table, rows)
        if columns is None:
            return False
        _copy(conn, _quoted(table.name), columns, rows)
        return True

    def upsert(self, conn: Connection, table: Table, rows: Sequence[Any], keep: tuple[str, ...], adding: bool) -> bool:
        columns = _columns(table, rows)
        if columns is None:
            return False
        staged = _staged(conn, table)
        _copy(conn, staged, columns, rows)
        conn.exec_driver_sql(_upsert_sql(table, staged, columns, keep, adding))
        return True


def _copy(conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[Any]) -> None:
    """COPY the rows into `table` (quoted), inside the connection's transaction."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table} ({', '.join(map(_quoted, columns))}) FROM STDIN") as copy:
            if type(rows[0]) is tuple:
                for row in rows:
                    copy.write_row(row)
            else:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
    finally:
        cursor.close()


def _staged(conn: Connection, table: Table) -> str:
    """The connection's temporary table of `table`'s columns (made on its first use, emptied at
    every commit; emptied here too, for a second batch in one transaction). Its name carries a
    digest of the columns, so a table made again with other columns gets another one, and it
    is never the name of a table of the schema (temporary tables come first in the search
    path)."""
    digest = hashlib.sha1(repr([(c.name, str(c.type)) for c in table.columns]).encode()).hexdigest()[:8]
    name = _quoted(f"bulk_{table.name}_{digest}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS "
        f"AS SELECT * FROM {_quoted(table.name)} WITH NO DATA"
    )
    conn.exec_driver_sql(f"DELETE FROM {name}")
    return name


def _columns(table: Table, rows: Sequence[Any]) -> tuple[str, ...] | None:
    """The columns the rows give values for, in the order they give them (a tuple: every column
    in the table's order; a dict: its keys, the same in every row of a batch), or None when they
    are too few to bulk."""
    if len(rows) < BULK_FROM:
        return None
    if type(rows[0]) is tuple:
        return tuple(c.name for c in table.columns)
    return tuple(rows[0])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], bool], str] = {}


def _upsert_sql(table: Table, staged: str, columns: tuple[str, ...], keep: tuple[str, ...], adding: bool) -> str:
    """INSERT … SELECT the staged rows … ON CONFLICT (primary key) DO UPDATE SET every other
    column but `keep` to the new value (`adding`: the stored one plus the new one), as
    `view.upsert_statement` does. The staged rows come in the order they were copied."""
    key = (table.name, staged, columns, keep, adding)
    if key not in _UPSERTS:
        name = _quoted(table.name)
        keys = [c.name for c in table.primary_key.columns]
        # every other column of the table, given or not (one not given: its default), as
        # `upsert_statement` sets them
        changed = [c.name for c in table.columns if c.name not in keys and c.name not in keep]
        if adding:
            changes = [f"{_quoted(c)} = {name}.{_quoted(c)} + excluded.{_quoted(c)}" for c in changed]
        else:
            changes = [f"{_quoted(c)} = excluded.{_quoted(c)}" for c in changed]
        conflict = f"DO UPDATE SET {', '.join(changes)}" if changes else "DO NOTHING"
        listed = ", ".join(map(_quoted, columns))
        _UPSERTS[key] = (
            f"INSERT INTO {name} ({listed}) SELECT {listed} FROM {staged} "
            f"ON CONFLICT ({', '.join(map(_quoted, keys))}) {conflict}"
        )
    return _UPSERTS[key]
