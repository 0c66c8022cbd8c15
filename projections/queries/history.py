"""A rep's feedback history: evaluations, feedback, improvement plans and trainings in the order
they happened (business time, then log position): those that had happened by `as_of` (default:
now), as known at `known_at` (default: now).

Each entry: kind (evaluation | feedback | improvement_plan | plan_review | training_assigned |
training | recognition), occurred_at,
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

MAX_HISTORY_ENTRIES = 500  # the latest entries a read returns at most
MAX_HISTORY_BYTES = 4 * 1024 * 1024  # …and at most this many stored bytes of them


def rep_history(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[dict[str, Any]]:
    return rep_history_page(engine, settings, rep_id, as_of, known_at)[0]


def rep_history_page(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The rep's latest history up to `as_of` (at most MAX_HISTORY_ENTRIES entries and
    MAX_HISTORY_BYTES of them), oldest first, and whether earlier entries were left out (ask
    again with an `as_of` before the first one)."""
    known_us = known_micros(settings, known_at)
    as_of_us = known_micros(settings, None) if as_of is None else aware_micros(as_of, "as_of")
    t = rep_timeline.c
    query = (
        select(t.kind, t.occurred_us, t.recorded_us, t.position, t.payload)
        .where(t.rep_id == rep_id, t.recorded_us <= known_us, t.occurred_us <= as_of_us)
        .order_by(t.occurred_us.desc(), t.position.desc())
        .limit(MAX_HISTORY_ENTRIES + 1)
    )
    with reading(engine) as conn:
        latest = conn.execute(query).all()
    kept: list[Any] = []
    size = 0
    for row in latest[:MAX_HISTORY_ENTRIES]:
        size += len(row.payload)
        if kept and size > MAX_HISTORY_BYTES:
            break
        kept.append(row)
    earlier = len(kept) < len(latest)
    timeline, previous = [], None
    for row in reversed(kept):
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
    return timeline, earlier


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
