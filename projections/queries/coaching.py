"""A rep's coaching as it stands: improvement plans and their reviews, trainings assigned and
completed, progress since the previous evaluation, and the latest feedback; and a team's
overdue reviews and trainings. Read from the people timeline (`rep_timeline`), like the rep's
history, at two cut-offs: what had happened by `as_of` (default: now), as the ledger knew it at
`known_at` (default: now).

- A plan is open until a review says met or missed; a review that extends it moves its review
  date (`next_review_by`) and leaves it open. An open plan whose review date lies before `as_of`
  is overdue.
- A training assigned and not completed by `as_of` is pending; pending past its due date, overdue.
- Progress: each score of the latest evaluation beside the same score of the one before it (in
  business-time order): previous, latest and the change (`delta`, null when either is missing).
  The result score is named `result`, each process score by its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from ledger.config import Settings
from projections.db import reading
from projections.queries.cutoffs import aware_micros, known_micros
from projections.queries.membership import Scope, stints_in
from projections.tables import rep_timeline
from projections.units import micros, micros_to_time

# The kinds a plan's or a training's state is folded from.
FOLLOW_THROUGH = ("improvement_plan", "plan_review", "training_assigned", "training")
MAX_REP_ROWS = 5000  # the latest plan and training rows of one rep a read folds at most
MAX_TEAM_ROWS = 50_000  # …and of a whole team


def cut_offs(settings: Settings, as_of: datetime | None, known_at: datetime | None) -> tuple[int, int]:
    """(as_of, known_at) in microseconds; now for either not given."""
    known_us = known_micros(settings, known_at)
    as_of_us = known_micros(settings, None) if as_of is None else aware_micros(as_of, "as_of")
    return as_of_us, known_us


def rep_coaching(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The rep's open plans (and closed ones), overdue reviews, pending and overdue trainings,
    progress per score against the previous evaluation, and the latest feedback."""
    as_of_us, known_us = cut_offs(settings, as_of, known_at)
    t = rep_timeline.c
    seen = (t.rep_id == rep_id, t.recorded_us <= known_us, t.occurred_us <= as_of_us)
    with reading(engine) as conn:
        rows, earlier = _follow_through_rows(conn, [rep_id], as_of_us, known_us, MAX_REP_ROWS)
        evaluations = _latest(conn, seen, "evaluation", 2)
        feedback = _latest(conn, seen, "feedback", 1)
    plans, trainings = fold(rows)
    open_plans = [_plan_out(p, as_of_us) for p in plans.values() if p["status"] == "open"]
    pending = [_training_out(tr, as_of_us) for tr in trainings.values() if tr["completed_at"] is None]
    return {
        "rep_id": rep_id,
        "open_plans": open_plans,
        "overdue_reviews": [p for p in open_plans if p["overdue"]],
        "closed_plans": [_plan_out(p, as_of_us) for p in plans.values() if p["status"] != "open"],
        "trainings_pending": pending,
        "trainings_overdue": [tr for tr in pending if tr["overdue"]],
        "trainings_completed": [
            _training_out(tr, as_of_us) for tr in trainings.values() if tr["completed_at"] is not None
        ],
        "progress": progress(evaluations),
        "latest_feedback": _feedback_out(feedback[0]) if feedback else None,
        "earlier": earlier,
    }


def team_coaching(
    engine: Engine,
    settings: Settings,
    team_id: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """What is overdue across the reps in `team_id` at `as_of` (as known at `known_at`): every
    open plan past its review date and every training past its due date, oldest first, and
    per rep how many plans are open and trainings pending."""
    as_of_us, known_us = cut_offs(settings, as_of, known_at)
    with reading(engine) as conn:
        members = sorted(
            {s.rep_id for s in stints_in(conn, Scope("team", team_id), known_us) if s.lo <= as_of_us < s.hi}
        )
        rows, earlier = (
            _follow_through_rows(conn, members, as_of_us, known_us, MAX_TEAM_ROWS) if members else ([], False)
        )
    by_rep: dict[str, list[Any]] = {rep: [] for rep in members}
    for row in rows:
        by_rep[row.rep_id].append(row)
    reps, overdue_reviews, overdue_trainings = [], [], []
    for rep in members:
        plans, trainings = fold(by_rep[rep])
        open_plans = [_plan_out(p, as_of_us) for p in plans.values() if p["status"] == "open"]
        pending = [_training_out(tr, as_of_us) for tr in trainings.values() if tr["completed_at"] is None]
        late_plans = [{"rep_id": rep, **p} for p in open_plans if p["overdue"]]
        late_trainings = [{"rep_id": rep, **tr} for tr in pending if tr["overdue"]]
        overdue_reviews += late_plans
        overdue_trainings += late_trainings
        reps.append(
            {
                "rep_id": rep,
                "open_plans": len(open_plans),
                "overdue_reviews": len(late_plans),
                "trainings_pending": len(pending),
                "trainings_overdue": len(late_trainings),
            }
        )
    overdue_reviews.sort(key=lambda p: (p["review_by"], p["rep_id"], p["improvement_plan_id"]))
    overdue_trainings.sort(key=lambda tr: (tr["due_by"], tr["rep_id"], tr["training_id"]))
    return {
        "team_id": team_id,
        "reps": reps,
        "overdue_reviews": overdue_reviews,
        "overdue_trainings": overdue_trainings,
        "earlier": earlier,
    }


def _follow_through_rows(
    conn: Connection, rep_ids: Iterable[str], as_of_us: int, known_us: int, limit: int
) -> tuple[list[Any], bool]:
    """The plan and training rows of `rep_ids` within the cut-offs, in business-time order: the
    latest `limit` of them, and whether earlier ones were left out."""
    t = rep_timeline.c
    query = (
        select(t.rep_id, t.kind, t.item_id, t.occurred_us, t.position, t.payload)
        .where(
            t.rep_id.in_(sorted(set(rep_ids))),
            t.kind.in_(FOLLOW_THROUGH),
            t.recorded_us <= known_us,
            t.occurred_us <= as_of_us,
        )
        .order_by(t.occurred_us.desc(), t.position.desc())
        .limit(limit + 1)
    )
    rows = conn.execute(query).all()
    return list(reversed(rows[:limit])), len(rows) > limit


def _latest(conn: Connection, seen: tuple[Any, ...], kind: str, count: int) -> list[dict[str, Any]]:
    """The latest `count` entries of one kind, newest first: occurred_at and data."""
    t = rep_timeline.c
    rows = conn.execute(
        select(t.occurred_us, t.payload)
        .where(*seen, t.kind == kind)
        .order_by(t.occurred_us.desc(), t.position.desc())
        .limit(count)
    ).all()
    return [{"occurred_at": micros_to_time(row.occurred_us), "data": orjson.loads(row.payload)} for row in rows]


def fold(rows: Iterable[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Plans and training assignments by id, from a rep's rows in business-time order. A review or
    completion of something not among the rows (left out by a bound) is passed over; a review
    after a final one changes nothing (the ledger refuses it when recorded in order)."""
    plans: dict[str, dict[str, Any]] = {}
    trainings: dict[str, dict[str, Any]] = {}
    for row in rows:
        data = orjson.loads(row.payload)
        if row.kind == "improvement_plan":
            plans[row.item_id] = {
                "improvement_plan_id": row.item_id,
                "set_at": row.occurred_us,
                "review_by": _us(data["review_by"]),
                "status": "open",
                "goals": data.get("goals", []),
                "trainings": data.get("trainings", []),
                "gaps": data.get("gaps") or [],
                "set_by": data.get("set_by"),
                "reviews": [],
            }
        elif row.kind == "plan_review" and row.item_id in plans:
            plan = plans[row.item_id]
            if plan["status"] != "open":
                continue
            plan["reviews"].append(
                {
                    "reviewed_at": micros_to_time(row.occurred_us),
                    "outcome": data["outcome"],
                    "note": data.get("note"),
                    "reviewer_id": data.get("reviewer_id"),
                    "next_review_by": data.get("next_review_by"),
                }
            )
            if data["outcome"] == "extended" and data.get("next_review_by"):
                plan["review_by"] = _us(data["next_review_by"])
            else:
                plan["status"] = data["outcome"]
        elif row.kind == "training_assigned":
            trainings[row.item_id] = {
                "training_id": row.item_id,
                "training": data["training"],
                "gap": data["gap"],
                "assigned_at": row.occurred_us,
                "due_by": _us(data["due_by"]),
                "assigned_by": data.get("assigned_by"),
                "improvement_plan_id": data.get("improvement_plan_id"),
                "completed_at": None,
            }
        elif row.kind == "training" and trainings.get(row.item_id, {"completed_at": 0})["completed_at"] is None:
            trainings[row.item_id]["completed_at"] = row.occurred_us
    return plans, trainings


def progress(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest evaluation beside the previous one (`evaluations`: newest first, at most two)."""
    if not evaluations:
        return {"latest": None, "previous": None, "scores": []}
    latest = evaluations[0]
    previous = evaluations[1] if len(evaluations) > 1 else None
    now = _scores(latest["data"])
    before = _scores(previous["data"]) if previous else {}
    names = list(now) + [name for name in before if name not in now]
    scores = []
    for kind, name in names:
        old, new = before.get((kind, name)), now.get((kind, name))
        delta = new - old if old is not None and new is not None else None
        scores.append({"score": name, "kind": kind, "previous": old, "latest": new, "delta": delta})
    return {
        "latest": _evaluation_out(latest),
        "previous": _evaluation_out(previous) if previous else None,
        "scores": scores,
    }


def _scores(data: dict[str, Any]) -> dict[tuple[str, str], int]:
    scores = {("result", "result"): data["result_score"]}
    scores.update({("process", name): score for name, score in data["process_scores"].items()})
    return scores


def _evaluation_out(entry: dict[str, Any]) -> dict[str, Any]:
    data = entry["data"]
    return {"evaluation_id": data["evaluation_id"], "period": data["period"], "occurred_at": entry["occurred_at"]}


def _feedback_out(entry: dict[str, Any]) -> dict[str, Any]:
    data = entry["data"]
    keys = ("feedback_id", "kind", "text", "author_id", "evaluation_id")
    return {**{key: data.get(key) for key in keys}, "occurred_at": entry["occurred_at"]}


def _plan_out(plan: dict[str, Any], as_of_us: int) -> dict[str, Any]:
    return {
        **plan,
        "set_at": micros_to_time(plan["set_at"]),
        "review_by": micros_to_time(plan["review_by"]),
        "overdue": plan["status"] == "open" and plan["review_by"] < as_of_us,
    }


def _training_out(training: dict[str, Any], as_of_us: int) -> dict[str, Any]:
    done = training["completed_at"]
    return {
        **training,
        "assigned_at": micros_to_time(training["assigned_at"]),
        "due_by": micros_to_time(training["due_by"]),
        "completed_at": micros_to_time(done) if done is not None else None,
        "overdue": done is None and training["due_by"] < as_of_us,
    }


def _us(text: str) -> int:
    return micros(datetime.fromisoformat(text))
