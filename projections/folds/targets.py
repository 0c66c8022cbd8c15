"""Targets with their revision history: every TargetSet is kept; the latest known one counts.

A later TargetSet for the same scope, metric and period revises the target. "Later" is
knowledge order (log position): the revision in force at `known_at = K` is the last one
recorded up to K. The value is kept exactly as written (a decimal string).
"""

from __future__ import annotations

from ledger.aggregates import scope_key
from ledger.decoding import LogRecord
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import target_revisions
from projections.units import occurred_us

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


@on("TargetSet")
def target_set(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        target_revisions,
        {
            "position": r.position,
            "scope_key": scope_key(d["scope"]),
            "metric": d["metric"],
            "period": d["period"],
            "value": str(d["value"]),
            "reason": d.get("reason"),
            "allocation_id": d.get("allocation_id"),
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )


class TargetsProjection(Projection):
    name = "targets"
    tables = (target_revisions,)
    handlers = HANDLERS
