"""Every rep's people-process record: evaluations, feedback, improvement plans and their reviews,
trainings assigned and completed.

One timeline row per event, with the event's data as JSON (decimals and times as strings) and the
id of the object it concerns (`item_id`: the evaluation, feedback, plan, or training assignment);
`history.py` reads it back in business-time order, `coaching.py` folds it as of any cut-offs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ledger.decoding import LogRecord
from projections.erasing import erase_payloads, erased_categories
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import rep_timeline
from projections.units import occurred_us

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


def to_json(data: dict[str, Any]) -> str:
    return orjson.dumps(data, default=_plain).decode()


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a timeline payload")


def _timeline(kind: str, id_field: str | None) -> Handler:
    def handle(fold: Fold, r: LogRecord) -> None:
        fold.view.insert(
            rep_timeline,
            {
                "position": r.position,
                "rep_id": r.data["rep_id"],
                "kind": kind,
                "item_id": r.data.get(id_field) if id_field else None,
                "occurred_us": occurred_us(r),
                "recorded_us": r.recorded_at,
                "payload": to_json(r.data),
            },
        )

    return handle


on("EvaluationRecorded")(_timeline("evaluation", "evaluation_id"))
on("FeedbackGiven")(_timeline("feedback", "feedback_id"))
on("ImprovementPlanSet")(_timeline("improvement_plan", "improvement_plan_id"))
on("ImprovementPlanReviewed")(_timeline("plan_review", "improvement_plan_id"))
on("TrainingAssigned")(_timeline("training_assigned", "training_id"))
on("TrainingCompleted")(_timeline("training", "training_id"))  # item_id null: a completion of no assignment
on("RecognitionGranted")(_timeline("recognition", None))

# The rep history's kinds and the event type of each (GET /reps/{id}/history publishes their schemas).
TYPES_BY_KIND = {
    "evaluation": "EvaluationRecorded",
    "feedback": "FeedbackGiven",
    "improvement_plan": "ImprovementPlanSet",
    "plan_review": "ImprovementPlanReviewed",
    "training_assigned": "TrainingAssigned",
    "training": "TrainingCompleted",
    "recognition": "RecognitionGranted",
}


@on("PersonalDataErased")
def personal_data_erased(fold: Fold, r: LogRecord) -> None:
    rep_id, categories = r.data["rep_id"], erased_categories(r.data)
    fold.view.run(lambda conn: erase_payloads(conn, rep_timeline, rep_id, TYPES_BY_KIND, categories))


class PeopleProjection(Projection):
    name = "people"
    tables = (rep_timeline,)
    handlers = HANDLERS
