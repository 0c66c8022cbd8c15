"""The activities folded in SQL, in the store: the twin of `folds.activity`'s handler, writing
the same rows (`tests/test_activity_in_store.py` compares the two).

Where the read side shares the ledger's SQLite file (or attaches it: `in_store`), a batch's
activities are written by one INSERT … SELECT of the stretch's events, their fields read with
SQLite's JSON functions, then one grouped INSERT … ON CONFLICT of its rollup, both run in the
batch's write transaction: no event is read into Python or decoded, which is most of what the
handler costs. A rebuild replays them whole: the same SQL, run outside the write lock into
temporary tables, then copied in by one write (`in_store.replay_staged`). On PostgreSQL, where
the read side is the ledger's own database, the same fold in its dialect (jsonb), a replay's
stretches written straight into the tables. Elsewhere (another store) the handler folds them.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Engine

from ledger.aggregates import Activity
from projections.accel.base import EventsAlone, LogReader
from projections.accel.in_store import (
    events_sql,
    fields_sql,
    in_store,
    left_by_sql,
    mark,
    micros_sql,
    pg_fields_sql,
    pg_micros_sql,
    replay_staged,
    replayed_into,
)
from projections.folds import rollups
from projections.folds.activity import EVENT, ActivityProjection, activity_row
from projections.folds.rep_rollups import SHORTEST, SPANS
from projections.folds.rollups import HOUR_US
from projections.projection import Fold
from projections.tables import activities, activity_hours, rep_activity_spans
from projections.units import DAY_US

IN_STORE_VERSIONS = {Activity.ActivityLogged: 1}  # what the SQL below reads (others: `activity_row`)


class InStoreActivities(EventsAlone):
    """The `activity` projection: each batch's stretch folded in SQL, a rebuild's replayed whole."""

    def reads_stretches(self, log: LogReader, engine: Engine) -> bool:
        return in_store(log, engine, IN_STORE_VERSIONS)

    def feed_stretch(self, fold: Fold, log: LogReader, after: int, upto: int) -> None:
        expected = log.count_of_type(EVENT, after, upto)  # read now, outside the write lock
        if expected:
            fold.view.run(lambda conn: fold_in_store(conn, log, after, upto, expected))

    def replay(self, log: LogReader, engine: Engine, upto: int) -> bool:
        if not in_store(log, engine, IN_STORE_VERSIONS):
            return False
        replay_staged(
            engine,
            ActivityProjection.name,
            upto,
            ActivityProjection.tables,
            lambda conn, after, end: stage(conn, log, after, end),
        )
        return True


def stage(conn: Connection, log: LogReader, after: int, upto: int) -> None:
    """A replay's stretch (`replay_staged`): the fold in SQL into the staged tables."""
    expected = log.count_of_type(EVENT, after, upto)
    if expected:
        fold_in_store(
            conn,
            log,
            after,
            upto,
            expected,
            into=(
                replayed_into(conn, activities),
                replayed_into(conn, activity_hours),
                replayed_into(conn, rep_activity_spans),
            ),
        )


def fold_in_store(
    conn: Connection,
    log: LogReader,
    after: int,
    upto: int,
    expected: int,
    into: tuple[str, str, str] = (activities.name, activity_hours.name, rep_activity_spans.name),
) -> None:
    """Write the activities at positions (after, upto] and add them into the rollups, in SQL:
    into the projection's tables, or `into` others of the same columns (`stage`).

    An event the SQL does not read (another class version, or a time SQLite cannot parse) is
    left out by it; the count tells, and those are folded by `activity_row` before the rollup,
    which sums the stretch's rows whoever wrote them."""
    insert, rollup, by_rep = _statements(events_sql(log, conn.engine), rollups.BLOCK_BITS, into, conn.dialect.name)
    params = {"type": EVENT, "after": after, "upto": upto}
    written = conn.exec_driver_sql(insert, params).rowcount
    if written != expected:
        _fold_the_rest(conn, log, after, upto, into[0])
    conn.exec_driver_sql(rollup, {"after": after, "upto": upto})
    conn.exec_driver_sql(by_rep, {"after": after, "upto": upto})


def _fold_the_rest(conn: Connection, log: LogReader, after: int, upto: int, table: str) -> None:
    done = f"SELECT position FROM {table} WHERE position > ? AND position <= ?"
    rows = [activity_row(r) for r in left_by_sql(conn, log, after, upto, EVENT, done)]
    if rows:
        marks = ", ".join(mark(conn) for _ in activities.columns)
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", rows)


@lru_cache(maxsize=8)
def _statements(
    events_sql: str, block_bits: int, into: tuple[str, str, str], dialect: str = "sqlite"
) -> tuple[str, str, str]:
    """The fold's three statements over the ledger's `events_sql` (see `Ledger.stored_events_sql`),
    the company rollup by blocks of 2**block_bits positions (`rollups.BLOCK_BITS`, read at each
    call), into the tables `into` (the activities', the company rollup's, the rep rollup's), in
    `dialect`'s SQL."""
    if dialect == "postgresql":
        return _pg_statements(events_sql, block_bits, into)
    fields = fields_sql(
        events_sql,
        {
            "activity_id": "$.activity_id",
            "rep_id": "$.rep_id",
            "kind": "$.kind",
            "replied": "$.replied",
            "t": "$.occurred_at._data_",
        },
    )
    columns = ", ".join(c.name for c in activities.columns)
    insert = (
        f"INSERT INTO {into[0]} ({columns}) "
        "SELECT position, activity_id, rep_id, kind, "
        "CASE WHEN kind = 'email' THEN CASE WHEN replied THEN 1 ELSE 0 END END, "
        f"{micros_sql('t')} AS occurred_us, recorded_at FROM ({fields}) "
        "WHERE version IS NULL AND occurred_us IS NOT NULL"  # version 1 is stored without it
    )
    hour = f"(occurred_us - occurred_us % {HOUR_US})"  # times are after 1970: % is Python's
    sums = [c.name for c in activity_hours.columns if c.name not in ("hour_us", "block")]
    counted = [f"SUM(kind = '{name}')" if name != "replied" else "SUM(coalesce(replied, 0))" for name in sums]
    rollup = (
        f"INSERT INTO {into[1]} (hour_us, block, {', '.join(sums)}) "
        f"SELECT {hour}, position >> {block_bits}, {', '.join(counted)} "
        f"FROM {into[0]} WHERE position > :after AND position <= :upto "
        f"GROUP BY {hour}, position >> {block_bits} "
        "ON CONFLICT (hour_us, block) DO UPDATE SET " + ", ".join(f"{name} = {name} + excluded.{name}" for name in sums)
    )
    return insert, rollup, _by_rep(into, "position > :after AND position <= :upto", "activities", "d.day % span")


FIELDS = {
    "activity_id": "$.activity_id",
    "rep_id": "$.rep_id",
    "kind": "$.kind",
    "replied": "$.replied",
    "t": "$.occurred_at._data_",
}


def _pg_statements(events_sql: str, block_bits: int, into: tuple[str, str, str]) -> tuple[str, str, str]:
    """`_statements` on PostgreSQL: the fields read from jsonb as text (`replied` is JSON's
    `true` or `false`, or absent), the rollup's counts by FILTER; psycopg's named parameters."""
    fields = pg_fields_sql(events_sql, FIELDS)
    columns = ", ".join(c.name for c in activities.columns)
    insert = (
        f"INSERT INTO {into[0]} ({columns}) "
        "SELECT position, activity_id, rep_id, kind, "
        "CASE WHEN kind = 'email' THEN CASE WHEN replied = 'true' THEN 1 ELSE 0 END END, "
        f"occurred_us, recorded_at FROM (SELECT f.*, {pg_micros_sql('f.t')} AS occurred_us FROM ({fields}) AS f) AS a "
        "WHERE version IS NULL AND occurred_us IS NOT NULL"  # version 1 is stored without it
    )
    hour = f"(occurred_us - mod(occurred_us, {HOUR_US}))"  # times are after 1970: mod is Python's %
    sums = [c.name for c in activity_hours.columns if c.name not in ("hour_us", "block")]
    counted = [
        f"count(*) FILTER (WHERE kind = '{name}')" if name != "replied" else "coalesce(sum(replied), 0)"
        for name in sums
    ]
    quoted = [f'"{name}"' for name in sums]
    target = into[1]
    rollup = (
        f"INSERT INTO {target} (hour_us, block, {', '.join(quoted)}) "
        f"SELECT {hour}, position >> {block_bits}, {', '.join(counted)} "
        f"FROM {into[0]} WHERE position > %(after)s AND position <= %(upto)s "
        f"GROUP BY {hour}, position >> {block_bits} "
        "ON CONFLICT (hour_us, block) DO UPDATE SET " + ", ".join(f"{q} = {target}.{q} + excluded.{q}" for q in quoted)
    )
    return (
        insert,
        rollup,
        _by_rep(into, "position > %(after)s AND position <= %(upto)s", f"{into[2]}.activities", "mod(d.day, span)"),
    )


def _by_rep(into: tuple[str, str, str], stretch: str, current: str, remainder: str) -> str:
    """The rep rollup's statement (`folds.rep_rollups`): the stretch's activities counted by rep
    and by each aligned span that holds their business day, added into its rows. They are
    counted by rep and shortest span first, then those few counts summed into every span: one
    grouping of the stretch's rows rather than one of each row for every span (four times as many
    to sort, which made SQLite's rebuild of a million events 40% slower). Integer division is
    floor division here: business times are after 1970. `current` names the stored row's count
    (SQLite's upsert takes it bare, PostgreSQL's by its table), `remainder` the day's within its
    span (PostgreSQL's driver reads `%` as a placeholder)."""
    spans = ", ".join(f"({span})" for span in SPANS)
    shortest = f"occurred_us / {DAY_US * SHORTEST} * {SHORTEST}"  # the first day of its shortest span
    return (
        f"WITH spans(span) AS (VALUES {spans}), "
        f"d AS (SELECT rep_id, {shortest} AS day, count(*) AS n FROM {into[0]} WHERE {stretch} "
        f"GROUP BY rep_id, {shortest}) "
        f"INSERT INTO {into[2]} (span, day, rep_id, activities) "
        f"SELECT span, d.day - {remainder}, rep_id, sum(n) FROM d CROSS JOIN spans "
        f"WHERE true GROUP BY span, d.day - {remainder}, rep_id "  # WHERE: SQLite's upsert after a SELECT needs one
        f"ON CONFLICT (span, day, rep_id) DO UPDATE SET activities = {current} + excluded.activities"
    )
