"""A rep's feedback history: evaluations (each beside the previous one), feedback, improvement
plans and their reviews, trainings assigned and completed, in business-time order, as the ledger
knew them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, WithJsonSchema

from api.deps import AsOfMoment, EngineDep, FreshProjections, KnownAt, SettingsDep, VisibleRep
from api.openapi_events import data_ref
from projections.folds.people import TYPES_BY_KIND
from projections.queries.history import rep_history_page

router = APIRouter(prefix="/reps", tags=["reps"])


HISTORY_DATA = {
    "description": "The event's data: " + ", ".join(TYPES_BY_KIND.values()),
    "anyOf": [data_ref(name) for name in TYPES_BY_KIND.values()],
}


class Entry(BaseModel):
    kind: str  # evaluation | feedback | improvement_plan | plan_review | training_assigned | training | recognition
    occurred_at: datetime
    recorded_at: datetime
    position: int
    data: Annotated[dict[str, Any], WithJsonSchema(HISTORY_DATA)]  # the event's data, as its kind's schema says
    previous: dict[str, Any] | None = None  # evaluations: the one before, and how each score moved
    process_delta: dict[str, int] | None = None
    result_delta: int | None = None


class HistoryOut(BaseModel):
    rep_id: str
    as_of: datetime  # the cut-offs used: now unless asked
    known_at: datetime
    history: list[Entry]
    earlier: bool  # older entries were left out (at most 500, and 4 MiB): ask again with an earlier as_of


@router.get(
    "/{rep_id}/history",
    summary="Evaluations, feedback, improvement plans and trainings of a rep",
    responses={404: {"description": "no such rep within this token's reach"}},
)
def read_history(
    rep_id: VisibleRep,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
) -> HistoryOut:
    now = settings.now().astimezone(settings.tz)
    as_of, known_at = as_of or now, known_at or now
    history, earlier = rep_history_page(engine, settings, rep_id, as_of, known_at)
    return HistoryOut.model_validate(
        {"rep_id": rep_id, "as_of": as_of, "known_at": known_at, "history": history, "earlier": earlier}
    )
