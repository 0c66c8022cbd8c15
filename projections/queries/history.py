"""A rep's feedback history: evaluations, feedback, improvement plans and trainings in the order
they happened (business time, then log position): those that had happened by `as_of` (default:
now), as known at `known_at` (default: now).

Each entry: kind (evaluation | feedback | improvement_plan | training), occurred_at,
recorded_at, position, and the event's data. Each evaluation also comes with the previous
evaluation of the rep (the one before it in that order): its id, period, result score and
process scores, and the change of each process score (`process_delta`, for the processes scored
both times) and of the result score, so growth in how the rep works is visible next to the
results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ledger.config import Settings
from projections.db import reading
from projections.queries.cutoffs import aware_micros, known_micros
from projections.tables import rep_timeline
from projections.units import micros_to_time


def rep_history(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[dict[str, Any]]:
    known_us = known_micros(settings, known_at)
    as_of_us = known_micros(settings, None) if as_of is None else aware_micros(as_of, "as_of")
    t = rep_timeline.c
    query = (
        select(t.kind, t.occurred_us, t.recorded_us, t.position, t.payload)
        .where(t.rep_id == rep_id, t.recorded_us <= known_us, t.occurred_us <= as_of_us)
        .order_by(t.occurred_us, t.position)
    )
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    timeline, previous = [], None
    for row in rows:
        entry = {
            "kind": row.kind,
            "occurred_at": micros_to_time(row.occurred_us),
            "recorded_at": micros_to_time(row.recorded_us),
            "position": row.position,
            "data": orjson.loads(row.payload),
        }
        if row.kind == "evaluation":
            entry.update(compared_with(previous, entry))
            previous = entry
        timeline.append(entry)
    return timeline


def compared_with(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """The previous evaluation beside this one, and how each score moved since (None for the first)."""
    if previous is None:
        return {"previous": None, "process_delta": {}, "result_delta": None}
    before, now = previous["data"], current["data"]
    return {
        "previous": {key: before[key] for key in ("evaluation_id", "period", "result_score", "process_scores")},
        "process_delta": {
            name: score - before["process_scores"][name]
            for name, score in now["process_scores"].items()
            if name in before["process_scores"]
        },
        "result_delta": now["result_score"] - before["result_score"],
    }
