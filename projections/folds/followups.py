"""Follow-ups: a row is written when one is scheduled; its completion (a fact of its own) sets
`completed_us` / `completed_recorded_us` on that row, so "done as of A, as known at K" is
`completed_us <= A AND completed_recorded_us <= K`, and the row itself is visible from its own
`recorded_us`.

A rebuild, where the read side is the ledger's own SQLite file (or attaches it), replays them in
SQL, in the store (`in_store`): per stretch, one INSERT … SELECT of the scheduled, then one UPDATE … FROM of
the completed, into temporary tables copied in at the end (`replay_staged`); no event decoded
in Python. A catch-up's batches are folded by the handlers below (the SQL would run under
SQLite's write lock, the handlers' writes take a fifth of the time there). Both write the same
rows (`tests/test_followups_in_store.py`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine

from ledger.aggregates import FollowUp
from ledger.decoding import LogRecord
from projections.accel.in_store import (
    events_sql,
    fields_sql,
    in_store,
    left_by_sql,
    micros_sql,
    replay_staged,
    staged_name,
)
from projections.projection import Fold, Handler, LogReader, Projection, registrar
from projections.tables import followups
from projections.units import micros
from projections.view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)
SCHEDULED, COMPLETED = "FollowUpScheduled", "FollowUpCompleted"


class FollowUpFold(Fold):
    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None):
        super().__init__(conn, view, memory)
        self.scheduled: dict[str, dict[str, Any]] = {}  # follow-ups scheduled in this batch


@on(SCHEDULED)
def followup_scheduled(fold: FollowUpFold, r: LogRecord) -> None:
    row = scheduled_row(r)
    fold.scheduled[row["followup_id"]] = row
    fold.view.insert(followups, row)


def scheduled_row(r: LogRecord) -> dict[str, Any]:
    d = r.data
    return {
        "followup_id": d["followup_id"],
        "rep_id": d["rep_id"],
        "due_us": micros(d["due_at"]),
        "deal_id": d.get("deal_id"),
        "lead_id": d.get("lead_id"),
        "position": r.position,
        "occurred_us": micros(r.occurred_at),
        "recorded_us": r.recorded_at,
        "completed_us": None,
        "completed_recorded_us": None,
        "completed_position": None,
    }


def completion_of(r: LogRecord) -> dict[str, Any]:
    return {
        "completed_us": micros(r.occurred_at),
        "completed_recorded_us": r.recorded_at,
        "completed_position": r.position,
    }


@on(COMPLETED)
def followup_completed(fold: FollowUpFold, r: LogRecord) -> None:
    completion = completion_of(r)
    pending = fold.scheduled.get(r.data["followup_id"])
    if pending is not None:  # scheduled in this very batch: its row is not written yet
        pending.update(completion)
    else:
        fold.view.update(followups, "followup_id", {"followup_id": r.data["followup_id"], **completion})


class FollowUpProjection(Projection):
    name = "followups"
    tables = (followups,)
    handlers = HANDLERS
    reads_tables = False  # it folds the events alone
    fold = FollowUpFold

    def replay(self, log: LogReader, engine: Engine, upto: int) -> bool:
        if not in_store(log, engine, IN_STORE_VERSIONS):
            return False
        replay_staged(engine, self.name, upto, self.tables, lambda conn, after, end: stage(conn, log, after, end))
        return True


# ---------------------------------------------------------------- the fold in SQL

IN_STORE_VERSIONS = {FollowUp.FollowUpScheduled: 1, FollowUp.FollowUpCompleted: 1}  # what the SQL below reads


def stage(conn: Connection, log: LogReader, after: int, upto: int) -> None:
    """A replay's stretch (`replay_staged`): the follow-ups scheduled at positions (after, upto]
    written, then the completions of that stretch set on their rows, in SQL, into the staged
    table. An event the SQL does not read (see `in_store`) is left out by it; the counts tell,
    and the handlers' rows fill in."""
    table = staged_name(followups)
    schedule, complete = _statements(events_sql(log, conn.engine), table)
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
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows
            )
    expected = log.count_of_type(COMPLETED, after, upto)
    if expected and conn.exec_driver_sql(complete, {"type": COMPLETED, **params}).rowcount != expected:
        done = f"SELECT completed_position FROM {table} WHERE completed_position > ? AND completed_position <= ?"
        for r in left_by_sql(conn, log, after, upto, COMPLETED, done):
            conn.exec_driver_sql(
                f"UPDATE {table} SET completed_us = ?, completed_recorded_us = ?, completed_position = ? "
                "WHERE followup_id = ? AND (completed_position IS NULL OR completed_position < ?)",  # the last one wins
                (*completion_of(r).values(), r.data["followup_id"], r.position),
            )


@lru_cache(maxsize=4)
def _statements(events_sql: str, table: str) -> tuple[str, str]:
    """The INSERT of a stretch's scheduled follow-ups into `table` and the UPDATE there of its
    completed ones, over the ledger's `events_sql` (see `Ledger.stored_events_sql`). A follow-up is completed once
    (the write side refuses a second completion); were it completed twice in one stretch, the
    last completion would win, as in the handler."""
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
