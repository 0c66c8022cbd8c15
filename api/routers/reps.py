"""A rep's feedback history: evaluations (each beside the previous one), feedback, improvement
plans and their reviews, trainings assigned and completed, in business-time order, as the ledger
knew them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, WithJsonSchema

from api import exports
from api.deps import AsOfMoment, EngineDep, FreshProjections, KnownAt, SettingsDep, VisibleRep
from api.deps import Period as PeriodText
from api.errors import request_lang
from api.openapi_events import data_ref
from api.responses import model_response
from api.routers.common import ExportFormat, sheet_response
from projections.db import reading
from projections.folds.people import TYPES_BY_KIND
from projections.queries.cutoffs import cutoffs, known_micros
from projections.queries.history import rep_history_page
from projections.queries.pipeline import FOLLOWUP_STATES, MAX_PAGE, STAGES, rep_activities, rep_deals, rep_followups
from projections.units import micros, micros_to_time

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


# ---------------------------------------------------------------- the pipeline behind the figures


class Deal(BaseModel):
    deal_id: str
    owner: str  # the rep who opened it (a deal split to this rep may be another's)
    customer_id: str
    lead_id: str | None
    stage: str  # open | won | lost, at as_of as known at known_at
    opened_at: datetime
    closed_at: datetime | None
    stage_days: int  # whole days in its stage at as_of
    expected_amount: Decimal | None
    amount: Decimal | None  # won: the won amount as corrected
    credited: Decimal | None  # won: this rep's revenue of it (its share, less refunds)
    events: list[int]  # the log positions behind it (GET /events?after=P-1&limit=1)


class Activity(BaseModel):
    activity_id: str
    kind: str
    replied: bool | None
    occurred_at: datetime
    events: list[int]


class FollowUp(BaseModel):
    followup_id: str
    state: str  # due | done | overdue
    due_at: datetime
    overdue_days: int | None
    deal_id: str | None
    lead_id: str | None
    completed_at: datetime | None
    events: list[int]


class Page(BaseModel):
    rep_id: str
    period: str | None
    as_of: datetime
    known_at: datetime
    total: int
    next_offset: int | None


class DealsOut(Page):
    deals: list[Deal]


class ActivitiesOut(Page):
    activities: list[Activity]


class FollowUpsOut(Page):
    followups: list[FollowUp]


OptionalPeriod = Annotated[
    PeriodText | None, Query(description="only what belongs to this period (YYYY-MM, YYYY-Qn, YYYY-Www, YYYY)")
]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
NOT_VISIBLE: dict[int | str, dict[str, Any]] = {404: {"description": "no such rep within this token's reach"}}


def _cut(settings: SettingsDep, period: str | None, as_of: datetime | None, known_at: datetime | None) -> Any:
    """(the period's cut-offs or None, as_of in µs, known_at in µs)."""
    if period is not None:
        cut = cutoffs(settings, period, as_of, known_at)
        return cut, cut.as_of_us, cut.known_us
    known_us = known_micros(settings, known_at)
    return None, micros(as_of) if as_of is not None else known_micros(settings, None), known_us


def _page(rep_id: str, period: str | None, as_of_us: int, known_us: int, total: int, offset: int, shown: int) -> dict:
    return {
        "rep_id": rep_id,
        "period": period,
        "as_of": micros_to_time(as_of_us),
        "known_at": micros_to_time(known_us),
        "total": total,
        "next_offset": offset + shown if offset + shown < total else None,
    }


def _answer(
    request: Request,
    settings: SettingsDep,
    out: dict[str, Any],
    format: str,
    sheet: Callable[..., exports.Sheet],
    model: type[BaseModel],
) -> Response:
    """A drill-down page as JSON, or as the spreadsheet the page's download link asks for."""
    if format != "json":
        speaker = request_lang(request)
        return sheet_response(sheet(speaker, out, settings.tz_name, settings.tz), format, speaker, settings)
    return model_response(model.model_validate(out))


@router.get("/{rep_id}/deals", summary="A rep's deals: open, won and lost, with their stage age", responses=NOT_VISIBLE)
def read_deals(
    request: Request,
    rep_id: VisibleRep,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    period: OptionalPeriod = None,
    stage: Annotated[str | None, Query(pattern="^(" + "|".join(STAGES) + ")$")] = None,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
    offset: Offset = 0,
    limit: Limit = 100,
    format: ExportFormat = "json",
) -> Response:
    cut, as_of_us, known_us = _cut(settings, period, as_of, known_at)
    with reading(engine) as conn:
        found, total = rep_deals(conn, rep_id, as_of_us, known_us, cut, stage, offset, limit)
    out = {**_page(rep_id, period, as_of_us, known_us, total, offset, len(found)), "deals": found}
    return _answer(request, settings, out, format, exports.deals_sheet, DealsOut)


@router.get("/{rep_id}/activities", summary="A rep's activities, latest first", responses=NOT_VISIBLE)
def read_activities(
    request: Request,
    rep_id: VisibleRep,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    period: OptionalPeriod = None,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
    offset: Offset = 0,
    limit: Limit = 100,
    format: ExportFormat = "json",
) -> Response:
    cut, as_of_us, known_us = _cut(settings, period, as_of, known_at)
    with reading(engine) as conn:
        found, total = rep_activities(conn, rep_id, as_of_us, known_us, cut, offset, limit)
    out = {**_page(rep_id, period, as_of_us, known_us, total, offset, len(found)), "activities": found}
    return _answer(request, settings, out, format, exports.activities_sheet, ActivitiesOut)


@router.get("/{rep_id}/followups", summary="A rep's follow-ups, the overdue first", responses=NOT_VISIBLE)
def read_followups(
    request: Request,
    rep_id: VisibleRep,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    period: OptionalPeriod = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(FOLLOWUP_STATES) + ")$")] = None,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
    offset: Offset = 0,
    limit: Limit = 100,
    format: ExportFormat = "json",
) -> Response:
    cut, as_of_us, known_us = _cut(settings, period, as_of, known_at)
    with reading(engine) as conn:
        found, total = rep_followups(conn, rep_id, as_of_us, known_us, cut, state, offset, limit)
    out = {**_page(rep_id, period, as_of_us, known_us, total, offset, len(found)), "followups": found}
    return _answer(request, settings, out, format, exports.followups_sheet, FollowUpsOut)
