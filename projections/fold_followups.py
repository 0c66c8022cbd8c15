"""Follow-ups: a row is written when one is scheduled; its completion (a fact of its own) sets
`completed_us` / `completed_recorded_us` on that row, so "done as of A, as known at K" is
`completed_us <= A AND completed_recorded_us <= K`, and the row itself is visible from its own
`recorded_us`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.store import LogRecord

from .projection import Fold, Handler, Projection, registrar
from .tables import followups
from .units import micros
from .view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


class FollowUpFold(Fold):
    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None):
        super().__init__(conn, view, memory)
        self.scheduled: dict[str, dict[str, Any]] = {}  # follow-ups scheduled in this batch


@on("FollowUpScheduled")
def followup_scheduled(fold: FollowUpFold, r: LogRecord) -> None:
    d = r.data
    row = {
        "followup_id": d["followup_id"], "rep_id": d["rep_id"], "due_us": micros(d["due_at"]),
        "deal_id": d.get("deal_id"), "lead_id": d.get("lead_id"), "position": r.position,
        "occurred_us": micros(r.occurred_at), "recorded_us": r.recorded_at,
        "completed_us": None, "completed_recorded_us": None, "completed_position": None,
    }
    fold.scheduled[d["followup_id"]] = row
    fold.view.insert(followups, row)


@on("FollowUpCompleted")
def followup_completed(fold: FollowUpFold, r: LogRecord) -> None:
    completion = {"completed_us": micros(r.occurred_at), "completed_recorded_us": r.recorded_at,
                  "completed_position": r.position}
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
