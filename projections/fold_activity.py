"""Sales activities and follow-ups.

An activity is a plain fact at its business time. A follow-up row is written when it is
scheduled; its completion (a fact of its own) sets `completed_us` / `completed_recorded_us`
on that row, so "done as of A, as known at K" is `completed_us <= A AND completed_recorded_us
<= K`, and the row itself is visible from its own `recorded_us`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.store import LogRecord

from .projection import Fold, Handler, Projection, registrar
from .rollups import Rollup
from .tables import activities, activity_hours, followups
from .units import micros
from .view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


class ActivityFold(Fold):
    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None):
        super().__init__(conn, view, memory)
        self.scheduled: dict[str, dict[str, Any]] = {}  # follow-ups scheduled in this batch
        self.hours = Rollup(view, activity_hours)

    def finish(self) -> None:
        self.hours.flush()


@on("ActivityLogged")
def activity_logged(fold: ActivityFold, r: LogRecord) -> None:
    d = r.data
    replied = (1 if d.get("replied") else 0) if d["kind"] == "email" else None
    occurred_us = micros(r.occurred_at)
    fold.view.insert(activities, {
        "position": r.position, "activity_id": d["activity_id"], "rep_id": d["rep_id"], "kind": d["kind"],
        "replied": replied, "occurred_us": occurred_us, "recorded_us": r.recorded_at,
    })
    fold.hours.add(occurred_us, r.position, d["kind"], 1)
    if replied:
        fold.hours.add(occurred_us, r.position, "replied", 1)


@on("FollowUpScheduled")
def followup_scheduled(fold: ActivityFold, r: LogRecord) -> None:
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
def followup_completed(fold: ActivityFold, r: LogRecord) -> None:
    completion = {"completed_us": micros(r.occurred_at), "completed_recorded_us": r.recorded_at,
                  "completed_position": r.position}
    pending = fold.scheduled.get(r.data["followup_id"])
    if pending is not None:  # scheduled in this very batch: its row is not written yet
        pending.update(completion)
    else:
        fold.view.update(followups, "followup_id", {"followup_id": r.data["followup_id"], **completion})


class ActivityProjection(Projection):
    name = "activity"
    tables = (activities, followups, activity_hours)
    handlers = HANDLERS
    fold = ActivityFold
