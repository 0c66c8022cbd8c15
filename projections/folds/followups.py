"""Follow-ups: a row is written when one is scheduled; its completion (a fact of its own) sets
`completed_us` / `completed_recorded_us` on that row, so "done as of A, as known at K" is
`completed_us <= A AND completed_recorded_us <= K`, and the row itself is visible from its own
`recorded_us`.

A rebuild where the read side shares the ledger's SQLite file replays them in SQL instead
(`projections.accel.followups_in_store`), into the rows `scheduled_row` and `completion_of` make.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.decoding import LogRecord
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import followups
from projections.units import micros, occurred_us
from projections.view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)
SCHEDULED, COMPLETED = "FollowUpScheduled", "FollowUpCompleted"


class FollowUpFold(Fold):
    def __init__(self, conn: Connection, view: BatchView):
        super().__init__(conn, view)
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
        "occurred_us": occurred_us(r),
        "recorded_us": r.recorded_at,
        "completed_us": None,
        "completed_recorded_us": None,
        "completed_position": None,
    }


def completion_of(r: LogRecord) -> dict[str, Any]:
    return {
        "completed_us": occurred_us(r),
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
    fold = FollowUpFold
