"""The follow-ups replayed in SQL, in the store: the twin of `folds.followups`' handlers, writing
the same rows (`tests/test_followups_in_store.py` compares the two).

A rebuild, where the read side is the ledger's own SQLite file (or attaches it: `in_store`),
replays them whole: per stretch, one INSERT … SELECT of the scheduled, then one UPDATE … FROM
of the completed, into temporary tables copied in at the end (`in_store.replay_staged`); no
event is read into Python or decoded. A catch-up's batches are folded by the handlers: the SQL
would run under SQLite's write lock, where the handlers' writes take much less of it. On
PostgreSQL, where the read side is the ledger's own database, the same replay in its dialect
(jsonb; the last completion of a follow-up by DISTINCT ON), each stretch written straight into
the table with its tracked position.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Engine

from ledger.aggregates import FollowUp
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
from projections.folds.followups import COMPLETED, SCHEDULED, FollowUpProjection, completion_of, scheduled_row
from projections.tables import followups

IN_STORE_VERSIONS = {FollowUp.FollowUpScheduled: 1, FollowUp.FollowUpCompleted: 1}  # what the SQL below reads


class StagedFollowUps(EventsAlone):
    """The `followups` projection: a rebuild's replayed whole, in SQL."""

    def replay(self, log: LogReader, engine: Engine, upto: int) -> bool:
        if not in_store(log, engine, IN_STORE_VERSIONS):
            return False
        replay_staged(
            engine,
            FollowUpProjection.name,
            upto,
            FollowUpProjection.tables,
            lambda conn, after, end: stage(conn, log, after, end),
        )
        return True


def stage(conn: Connection, log: LogReader, after: int, upto: int) -> None:
    """A replay's stretch (`replay_staged`): the follow-ups scheduled at positions (after, upto]
    written, then the completions of that stretch set on their rows, in SQL, into the staged
    table. An event the SQL does not read (see `in_store`) is left out by it; the counts tell,
    and the handlers' rows fill in."""
    table = replayed_into(conn, followups)
    schedule, complete = _statements(events_sql(log, conn.engine), table, conn.dialect.name)
    m = mark(conn)
    params = {"after": after, "upto": upto}
    expected = log.count_of_type(SCHEDULED, after, upto)
    if expected and conn.exec_driver_sql(schedule, {"type": SCHEDULED, **params}).rowcount != expected:
        done = f"SELECT position FROM {table} WHERE position > ? AND position <= ?"
        columns = [c.name for c in followups.columns]
        rows = [
            tuple(row[c] for c in columns)
            for row in map(scheduled_row, left_by_sql(conn, log, after, upto, SCHEDULED, done))
        ]
        if rows:
            conn.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(m for _ in columns)})", rows
            )
    expected = log.count_of_type(COMPLETED, after, upto)
    if expected and conn.exec_driver_sql(complete, {"type": COMPLETED, **params}).rowcount != expected:
        done = f"SELECT completed_position FROM {table} WHERE completed_position > ? AND completed_position <= ?"
        for r in left_by_sql(conn, log, after, upto, COMPLETED, done):
            conn.exec_driver_sql(  # the last one wins
                f"UPDATE {table} SET completed_us = {m}, completed_recorded_us = {m}, completed_position = {m} "
                f"WHERE followup_id = {m} AND (completed_position IS NULL OR completed_position < {m})",
                (*completion_of(r).values(), r.data["followup_id"], r.position),
            )


@lru_cache(maxsize=4)
def _statements(events_sql: str, table: str, dialect: str = "sqlite") -> tuple[str, str]:
    """The INSERT of a stretch's scheduled follow-ups into `table` and the UPDATE there of its
    completed ones, over the ledger's `events_sql` (see `Ledger.stored_events_sql`), in
    `dialect`'s SQL. A follow-up is completed once (the write side refuses a second
    completion); were it completed twice in one stretch, the last completion would win, as in
    the handler."""
    if dialect == "postgresql":
        return _pg_statements(events_sql, table)
    scheduled = fields_sql(
        events_sql,
        {
            "followup_id": "$.followup_id",
            "rep_id": "$.rep_id",
            "due": "$.due_at._data_",
            "deal_id": "$.deal_id",
            "lead_id": "$.lead_id",
            "t": "$.occurred_at._data_",
        },
    )
    columns = ", ".join(c.name for c in followups.columns)
    schedule = (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT followup_id, rep_id, due_us, deal_id, lead_id, position, occurred_us, recorded_at, NULL, NULL, NULL "
        f"FROM (SELECT *, {micros_sql('due')} AS due_us, {micros_sql('t')} AS occurred_us FROM ({scheduled})) "
        "WHERE version IS NULL AND due_us IS NOT NULL AND occurred_us IS NOT NULL"  # version 1 is stored without it
    )
    completed = fields_sql(events_sql, {"followup_id": "$.followup_id", "t": "$.occurred_at._data_"})
    complete = (
        f"UPDATE {table} SET completed_us = c.completed_us, completed_recorded_us = c.recorded_at, "
        "completed_position = c.position "
        # max(position): SQLite takes the other columns from that row
        f"FROM (SELECT followup_id, max(position) AS position, recorded_at, completed_us "
        f"FROM (SELECT *, {micros_sql('t')} AS completed_us FROM ({completed})) "
        "WHERE version IS NULL AND completed_us IS NOT NULL GROUP BY followup_id) AS c "
        f"WHERE {table.split('.')[-1]}.followup_id = c.followup_id"
    )
    return schedule, complete


SCHEDULED_FIELDS = {
    "followup_id": "$.followup_id",
    "rep_id": "$.rep_id",
    "due": "$.due_at._data_",
    "deal_id": "$.deal_id",
    "lead_id": "$.lead_id",
    "t": "$.occurred_at._data_",
}


def _pg_statements(events_sql: str, table: str) -> tuple[str, str]:
    """`_statements` on PostgreSQL (psycopg's named parameters)."""
    scheduled = pg_fields_sql(events_sql, SCHEDULED_FIELDS)
    columns = ", ".join(c.name for c in followups.columns)
    schedule = (
        f"INSERT INTO {table} ({columns}) "
        "SELECT followup_id, rep_id, due_us, deal_id, lead_id, position, occurred_us, recorded_at, NULL, NULL, NULL "
        f"FROM (SELECT f.*, {pg_micros_sql('f.due')} AS due_us, {pg_micros_sql('f.t')} AS occurred_us "
        f"FROM ({scheduled}) AS f) AS s "
        "WHERE version IS NULL AND due_us IS NOT NULL AND occurred_us IS NOT NULL"  # version 1 is stored without it
    )
    completed = pg_fields_sql(events_sql, {"followup_id": "$.followup_id", "t": "$.occurred_at._data_"})
    complete = (
        f"UPDATE {table} SET completed_us = c.completed_us, completed_recorded_us = c.recorded_at, "
        "completed_position = c.position "
        "FROM (SELECT DISTINCT ON (followup_id) followup_id, position, recorded_at, completed_us "
        f"FROM (SELECT f.*, {pg_micros_sql('f.t')} AS completed_us FROM ({completed}) AS f) AS d "
        "WHERE version IS NULL AND completed_us IS NOT NULL ORDER BY followup_id, position DESC) AS c "
        f"WHERE {table}.followup_id = c.followup_id"
    )
    return schedule, complete
