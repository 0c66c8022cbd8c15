"""Sales activities: each one a plain fact at its business time (`activities`), added into the
company's hourly rollup (`activity_hours`). Follow-ups have a projection of their own
(`fold_followups.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.store import LogRecord

from .projection import Fold, Handler, Projection, registrar
from .rollups import Rollup
from .tables import activities, activity_hours
from .units import micros
from .view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


class ActivityFold(Fold):
    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None):
        super().__init__(conn, view, memory)
        self.hours = Rollup(view, activity_hours)

    def finish(self) -> None:
        self.hours.flush()


@on("ActivityLogged")
def activity_logged(fold: ActivityFold, r: LogRecord) -> None:
    d = r.data
    replied = (1 if d.get("replied") else 0) if d["kind"] == "email" else None
    occurred_us = micros(r.occurred_at)
    # the table's columns in order: position, activity_id, rep_id, kind, replied, occurred_us, recorded_us
    fold.view.insert(activities, (r.position, d["activity_id"], d["rep_id"], d["kind"], replied, occurred_us, r.recorded_at))
    fold.hours.add(occurred_us, r.position, d["kind"], 1)
    if replied:
        fold.hours.add(occurred_us, r.position, "replied", 1)


class ActivityProjection(Projection):
    name = "activity"
    tables = (activities, activity_hours)
    handlers = HANDLERS
    reads_tables = False  # it folds the events alone
    fold = ActivityFold
