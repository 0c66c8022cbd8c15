"""Folding in SQL, in the store: where the read side is the ledger's own SQLite file (or one
that attaches it, the audit's scratch store: `db.ledger_schema`), or the ledger's own PostgreSQL
database (`db.same_postgres_database`), a projection whose rows depend on each event alone can
write a stretch of the log's events with one statement, its fields read by the database's JSON
functions (SQLite's `json_extract`, PostgreSQL's jsonb operators), and no event decoded in
Python (`activity_in_store`, `followups_in_store`).

The SQL reads an event's stored state as the transcoder writes it, at the class version it is
written for; an event it does not read (another version, a time the SQL cannot parse) is left
out by it, and the projection's handler folds it: each fold counts what its statement wrote
against the stretch's events of the type, read before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Table

from ledger.decoding import LogRecord, decoded
from projections.accel.base import LogReader
from projections.db import is_sqlite, ledger_schema, same_postgres_database, writing
from projections.view import claim_batch


def in_store(log: LogReader, engine: Engine, versions: Mapping[Any, int]) -> bool:
    """Can a projection fold this log in SQL in this store: the ledger's own SQLite file, or one
    that attaches it (`db.ledger_schema`), or the ledger's own PostgreSQL database
    (`db.same_postgres_database`); and each event class at the version (`class_version`) its
    SQL is written for (`versions`)?"""
    if not all(cls.class_version == version for cls, version in versions.items()):
        return False
    if log.stored_events_sql() is None:
        return False
    if is_sqlite(engine):
        return ledger_schema(engine, log.settings.database_url) is not None
    return same_postgres_database(engine, log.settings.database_url)


def events_sql(log: LogReader, engine: Engine) -> str:
    """The log's stored events as `engine`'s statements read them (`Ledger.stored_events_sql`)."""
    if not is_sqlite(engine):
        sql = log.stored_events_sql()
    else:
        sql = log.stored_events_sql(ledger_schema(engine, log.settings.database_url) or "main")
    assert sql is not None, "only a ledger the store can read folds in the store (see `in_store`)"
    return sql


def mark(conn: Connection) -> str:
    """The driver's positional parameter mark: SQLite's `?`, psycopg's `%s`."""
    return "?" if is_sqlite(conn.engine) else "%s"


def left_by_sql(conn: Connection, log: LogReader, after: int, upto: int, kind: str, done_sql: str) -> list[LogRecord]:
    """The events of `kind` at positions (after, upto] that a fold's SQL left out (`done_sql`:
    the positions it folded, given after and upto), decoded for the projection's handler."""
    done = set(conn.exec_driver_sql(done_sql.replace("?", mark(conn)), (after, upto)).scalars())
    stored = log.read_stored(after, upto - after, upto=upto, types=[kind], details=False)
    return log.opened(decoded([s for s in stored if s[0] not in done]))


def fields_sql(events_sql: str, fields: dict[str, str]) -> str:
    """The stored events of `events_sql` (see `Ledger.stored_events_sql`) as rows of position,
    recorded_at, each of `fields` (name: JSON path in the state) and `version` (the stored class
    version: NULL for version 1, which is stored without it).

    Each field is read once a row: LIMIT -1 keeps SQLite from flattening this SELECT into the
    one around it, which would read a field again at each use."""
    read = "".join(f"json_extract(state, '{path}') AS {name}, " for name, path in fields.items())
    return (
        f"SELECT position, recorded_at, {read}json_extract(state, '$.class_version') AS version "
        f"FROM ({events_sql}) LIMIT -1"
    )


def pg_fields_sql(events_sql: str, fields: dict[str, str]) -> str:
    """`fields_sql` on PostgreSQL: the fields as text (`#>>`), `version` as jsonb.

    OFFSET 0 keeps the planner from flattening either SELECT into the one around it (as SQLite's
    LIMIT -1 does): flattened, each use of a field parsed the stored JSON again (a 100,000-event
    stretch of activities: 4.8 s, against ~1 s parsed once a row)."""

    def path(json_path: str) -> str:
        return "{" + ",".join(json_path.removeprefix("$.").split(".")) + "}"

    read = "".join(f"state #>> '{path(p)}' AS {name}, " for name, p in fields.items())
    return (
        f"SELECT position, recorded_at, {read}state -> 'class_version' AS version "
        f"FROM ({events_sql} OFFSET 0) AS stored OFFSET 0"
    )


# The forms the transcoder writes for nearly every time (`datetime.isoformat`: whole seconds, or
# six digits of fraction; an offset of hours and minutes), each digit written as 0: the SQL
# converts only these, an event of another form (an offset with seconds) is left to the handler.
# Checked by `translate`, not a regular expression: the expression cost ~3 µs a row, a sixth of
# the activities' SQL besides its join and JSON (docs/performance.md).
PG_ISO_FORMS = tuple(f"0000-00-00T00:00:00{fraction}{sign}00:00" for fraction in ("", ".000000") for sign in ("+", "-"))


def pg_micros_sql(t: str) -> str:
    """`micros_sql` on PostgreSQL: the time parsed as a timestamptz (microseconds, its offset
    applied), its epoch exact (`extract` answers numeric); NULL for a form other than those
    of PG_ISO_FORMS."""
    forms = ", ".join(f"'{form}'" for form in PG_ISO_FORMS)
    return (
        f"CASE WHEN translate({t}, '0123456789', '0000000000') IN ({forms}) "
        f"THEN (extract(epoch FROM {t}::timestamptz) * 1000000)::bigint END"
    )


def micros_sql(t: str) -> str:
    """An ISO 8601 time in column `t`, as the transcoder writes it (YYYY-MM-DDTHH:MM:SS[.ffffff]
    ±HH:MM, years 1970-2999), in microseconds since the epoch: the whole seconds by `unixepoch`
    (the offset applied) of the time without its fraction (SQLite rounds a fraction to
    milliseconds: .999999 would make the next second), plus the fraction's six digits. NULL for
    a form `unixepoch` does not read (an offset with seconds): that event is left to the handler."""
    return (
        f"unixepoch(substr({t}, 1, 19) || substr({t}, CASE WHEN substr({t}, 20, 1) = '.' THEN 27 ELSE 20 END)) "
        f"* 1000000 + CASE WHEN substr({t}, 20, 1) = '.' THEN CAST(substr({t}, 21, 6) AS INTEGER) ELSE 0 END"
    )


# ---------------------------------------------------------------- a replay from position 0

STAGE_STRETCH = 100_000  # positions staged per read transaction (each a snapshot the WAL keeps)
# positions replayed per write transaction on PostgreSQL: a rollup row of a long span (a rep's
# 256 days) is rewritten by every stretch that reaches it, so the fewer stretches the fewer
# rewrites (a million positions: a tenth of those of 100k, for 10M events of 5,050 reps)
DIRECT_STRETCH = 1_000_000


def staged_name(table: Table) -> str:
    """The temporary table a replay stages `table`'s rows in (SQLite)."""
    return f"temp.{table.name}_staged"


def replayed_into(conn: Connection, table: Table) -> str:
    """Where a replay's stretch writes `table`'s rows: its staged table on SQLite, the table
    itself on PostgreSQL (`replay_staged`)."""
    return staged_name(table) if is_sqlite(conn.engine) else table.name


def replay_staged(
    engine: Engine, name: str, upto: int, tables: tuple[Table, ...], stage: Callable[[Connection, int, int], None]
) -> None:
    """Replay positions (0, upto] into projection `name`'s empty `tables`, SQLite's write lock
    held only to copy the rows in.

    Folded batch by batch, a fold in SQL runs inside each batch's write transaction: over the
    whole log, a long hold of SQLite's one write lock, which the rest of a rebuild waits for.
    Here `stage(conn, after, upto)` runs it over stretches of STAGE_STRETCH positions in read
    transactions, into temporary tables (`staged_name`: the connection's own, no other
    connection waits for them); then one write transaction moves the tracked position from 0
    (a compare-and-set, as every batch's: `claim_batch`) and copies the rows in. At position 0
    the tables hold nothing: rows are written only with the position that passes them.

    PostgreSQL has no one write lock to spare: `stage` is given the projection's own tables
    (`staged=False`) and each stretch is written in one transaction with its tracked position
    (`replay_direct`)."""
    if not is_sqlite(engine):
        replay_direct(engine, name, upto, lambda conn, after, end: stage(conn, after, end))
        return
    with engine.connect() as conn:  # one connection throughout: the temporary tables are its own
        try:
            with conn.begin():
                for table in tables:
                    for statement in _staging_table(table):
                        conn.exec_driver_sql(statement)
            for after in range(0, upto, STAGE_STRETCH):
                with conn.begin():  # reads the store, writes only the temporary tables
                    stage(conn, after, min(upto, after + STAGE_STRETCH))
            with conn.execution_options(for_write=True).begin():
                claim_batch(conn, name, 0, upto)
                for table in tables:
                    columns = ", ".join(c.name for c in table.columns)
                    conn.exec_driver_sql(
                        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {staged_name(table)}"
                    )
        finally:
            conn.invalidate()  # closes it: the temporary tables go with it, not back to the pool


def replay_direct(engine: Engine, name: str, upto: int, fold: Callable[[Connection, int, int], None]) -> None:
    """Replay positions (0, upto] into projection `name`'s tables stretch by stretch, each
    stretch's rows and its tracked position in one transaction (as a catch-up's batch: a crash
    leaves a whole stretch or none, and the next catch-up carries on from it)."""
    for after in range(0, upto, DIRECT_STRETCH):
        end = min(upto, after + DIRECT_STRETCH)
        with writing(engine) as conn:
            claim_batch(conn, name, after, end)
            fold(conn, after, end)


def _staging_table(table: Table) -> list[str]:
    """A temporary table of `table`'s columns (no types: SQLite keeps each value as given) and
    key, none of its indexes; a `position` key is the rowid, read by ranges of positions. Rows
    are read back in rowid order: the order they were staged in, the log's."""
    keys = [c.name for c in table.primary_key.columns]
    if keys == ["position"]:
        columns, key = (
            ", ".join("position INTEGER PRIMARY KEY" if c.name == "position" else c.name for c in table.columns),
            "",
        )
    else:
        columns, key = ", ".join(c.name for c in table.columns), f", PRIMARY KEY ({', '.join(keys)})"
    name = staged_name(table)
    return [f"DROP TABLE IF EXISTS {name}", f"CREATE TABLE {name} ({columns}{key})"]
