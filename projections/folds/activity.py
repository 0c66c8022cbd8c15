"""Sales activities: each one a plain fact at its business time (`activities`), added into the
company's hourly rollup (`activity_hours`) and its rep's rollup (`rep_activity_spans`).
Follow-ups have a projection of their own (`followups.py`).

An activity's row depends on its own event alone, and the rollup is a sum, so a stretch of the
log can be folded in any order, or set-wise: `projections.accel.activity_in_store` folds them in
SQL where the read side shares the ledger's SQLite file, into the rows `activity_row` makes.
"""

from __future__ import annotations

from sqlalchemy import Connection

from ledger.decoding import LogRecord
from projections.folds.rep_rollups import RepRollup
from projections.folds.rollups import Rollup
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import activities, activity_hours, rep_activity_spans
from projections.units import occurred_us
from projections.view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)
EVENT = "ActivityLogged"
ONE = (1,)  # an activity, in its rep's rollup rows


class ActivityFold(Fold):
    def __init__(self, conn: Connection, view: BatchView):
        super().__init__(conn, view)
        self.hours = Rollup(view, activity_hours)
        self.reps = RepRollup(view, rep_activity_spans)

    def finish(self) -> None:
        self.hours.flush()
        self.reps.flush()


def activity_row(r: LogRecord) -> tuple:
    """The `activities` row of an ActivityLogged: the table's columns in order (position,
    activity_id, rep_id, kind, replied, occurred_us, recorded_us). `replied` is said of emails
    only: 1 if replied, else 0."""
    d = r.data
    replied = (1 if d.get("replied") else 0) if d["kind"] == "email" else None
    return (r.position, d["activity_id"], d["rep_id"], d["kind"], replied, occurred_us(r), r.recorded_at)


@on(EVENT)
def activity_logged(fold: ActivityFold, r: LogRecord) -> None:
    row = activity_row(r)
    fold.view.insert(activities, row)
    _, _, rep_id, kind, replied, occurred_us, _ = row
    fold.hours.add(occurred_us, r.position, kind, 1)
    fold.reps.add(rep_id, occurred_us, ONE)
    if replied:
        fold.hours.add(occurred_us, r.position, "replied", 1)


class ActivityProjection(Projection):
    name = "activity"
    tables = (activities, activity_hours, rep_activity_spans)
    handlers = HANDLERS
    fold = ActivityFold
