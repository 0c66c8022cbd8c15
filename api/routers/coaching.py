"""Coaching followed through: a rep's improvement plans (open, met, missed, overdue), trainings
assigned against a gap (pending, overdue, completed), progress since the previous evaluation and
the latest feedback; a team's overdue reviews and trainings; and the four commands that record
them (each one event, authorised and stamped with its writer as POST /events would)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import (
    AsOfMoment,
    EngineDep,
    FreshProjections,
    JsonBody,
    KnownAt,
    LedgerDep,
    OrgDep,
    SettingsDep,
    VisibleRep,
    VisibleTeam,
    allowed,
    body_doc,
    parse_body,
)
from projections.queries.coaching import rep_coaching, team_coaching
from services import coaching
from services.policy import User

router = APIRouter(prefix="/reps", tags=["coaching"])
teams = APIRouter(prefix="/teams", tags=["coaching"])

_Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f/]+$")]
_PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f/]+$")]
_Text = Annotated[str, Field(min_length=1, max_length=4000)]


# ---------------------------------------------------------------- reads


class Review(BaseModel):
    reviewed_at: datetime
    outcome: str  # met | missed | extended
    note: str | None
    reviewer_id: str | None
    next_review_by: datetime | None


class Plan(BaseModel):
    improvement_plan_id: str
    set_at: datetime
    review_by: datetime  # the latest review date (an extension moves it)
    status: str  # open | met | missed
    overdue: bool  # open, and its review date before as_of
    goals: list[str]
    trainings: list[str]
    gaps: list[str]
    set_by: str | None
    reviews: list[Review]


class Training(BaseModel):
    training_id: str
    training: str
    gap: str
    assigned_at: datetime
    due_by: datetime
    assigned_by: str | None
    improvement_plan_id: str | None
    completed_at: datetime | None
    overdue: bool  # not completed, and its due date before as_of


class EvaluationRef(BaseModel):
    evaluation_id: str
    period: str
    occurred_at: datetime


class ScoreProgress(BaseModel):
    score: str  # `result`, or a process score's name
    kind: str  # result | process
    previous: int | None
    latest: int | None
    delta: int | None  # latest − previous; null when either is missing


class Progress(BaseModel):
    latest: EvaluationRef | None
    previous: EvaluationRef | None
    scores: list[ScoreProgress]


class Feedback(BaseModel):
    feedback_id: str
    kind: str
    text: str
    author_id: str | None
    evaluation_id: str | None
    occurred_at: datetime


class CoachingOut(BaseModel):
    rep_id: str
    as_of: datetime  # the cut-offs used: now unless asked
    known_at: datetime
    open_plans: list[Plan]
    overdue_reviews: list[Plan]
    closed_plans: list[Plan]
    trainings_pending: list[Training]
    trainings_overdue: list[Training]
    trainings_completed: list[Training]
    progress: Progress
    latest_feedback: Feedback | None
    earlier: bool  # older plan and training entries were left out (at most 5000 are folded)


class OverduePlan(Plan):
    rep_id: str


class OverdueTraining(Training):
    rep_id: str


class RepSummary(BaseModel):
    rep_id: str
    open_plans: int
    overdue_reviews: int
    trainings_pending: int
    trainings_overdue: int


class TeamCoachingOut(BaseModel):
    team_id: str
    as_of: datetime
    known_at: datetime
    reps: list[RepSummary]  # the reps in the team at as_of
    overdue_reviews: list[OverduePlan]  # oldest review date first
    overdue_trainings: list[OverdueTraining]  # oldest due date first
    earlier: bool


def _cut_offs(settings: Any, as_of: datetime | None, known_at: datetime | None) -> tuple[datetime, datetime]:
    now = settings.now().astimezone(settings.tz)
    return as_of or now, known_at or now


@router.get(
    "/{rep_id}/coaching",
    summary="A rep's coaching: open plans, overdue reviews, trainings pending and overdue, progress per "
    "score since the previous evaluation, the latest feedback",
    responses={404: {"description": "no such rep within this token's reach"}},
)
def read_coaching(
    rep_id: VisibleRep,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
) -> CoachingOut:
    as_of, known_at = _cut_offs(settings, as_of, known_at)
    answer = rep_coaching(engine, settings, rep_id, as_of, known_at)
    return CoachingOut.model_validate({**answer, "as_of": as_of, "known_at": known_at})


@teams.get(
    "/{team_id}/coaching",
    summary="What is overdue across a team's reps: improvement plans past their review date, trainings "
    "past their due date",
    responses={404: {"description": "no such team within this token's reach"}},
)
def read_team_coaching(
    team_id: VisibleTeam,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    as_of: AsOfMoment = None,
    known_at: KnownAt = None,
) -> TeamCoachingOut:
    as_of, known_at = _cut_offs(settings, as_of, known_at)
    answer = team_coaching(engine, settings, team_id, as_of, known_at)
    return TeamCoachingOut.model_validate({**answer, "as_of": as_of, "known_at": known_at})


# ---------------------------------------------------------------- commands


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime | None = None
    """When it happened (default: now)."""
    event_id: _Id | None = None
    """Your id for the event: sending the same command again records nothing twice."""


class PlanIn(Command):
    improvement_plan_id: _Id
    goals: Annotated[list[_Text], Field(min_length=1, max_length=50)]
    review_by: AwareDatetime
    trainings: Annotated[list[_Text], Field(max_length=50)] = []
    gaps: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)] = []


class ReviewIn(Command):
    outcome: Literal["met", "missed", "extended"]
    note: _Text | None = None
    next_review_by: AwareDatetime | None = None


class TrainingIn(Command):
    training_id: _Id
    training: _Text
    gap: Annotated[str, Field(min_length=1, max_length=200)]
    due_by: AwareDatetime
    improvement_plan_id: _Id | None = None


class RecordedOut(BaseModel):
    event_type: str
    position: int
    duplicate: bool  # answered from an earlier append of the same event_id


def _out(event_type: str, recorded: Any) -> RecordedOut:
    return RecordedOut(event_type=event_type, position=recorded.positions[0], duplicate=bool(recorded.duplicates))


_WRITES: dict[int | str, dict[str, Any]] = {
    403: {"description": "this token may not record it"},
    404: {"description": "no such rep within this token's reach"},
}
_WHEN = "2026-03-01T09:00:00+08:00"


@router.post(
    "/{rep_id}/improvement-plans",
    status_code=201,
    openapi_extra=body_doc(
        PlanIn,
        {"improvement_plan_id": "IP-1", "goals": ["Qualify every lead"], "gaps": ["discovery"], "review_by": _WHEN},
    ),
    responses=_WRITES,
    summary="Set an improvement plan (records ImprovementPlanSet; set_by from the token)",
)
def set_improvement_plan(
    user: Annotated[User, allowed("events.record")],
    rep_id: VisibleRep,
    body: JsonBody,
    ledger: LedgerDep,
    org: OrgDep,
    settings: SettingsDep,
) -> RecordedOut:
    asked = parse_body(PlanIn, body)
    recorded = coaching.set_improvement_plan(
        ledger,
        user,
        org,
        rep_id=rep_id,
        improvement_plan_id=asked.improvement_plan_id,
        goals=asked.goals,
        trainings=asked.trainings,
        gaps=asked.gaps,
        review_by=asked.review_by,
        occurred_at=asked.occurred_at or settings.now(),
        event_id=asked.event_id,
    )
    return _out("ImprovementPlanSet", recorded)


@router.post(
    "/{rep_id}/improvement-plans/{improvement_plan_id}/reviews",
    status_code=201,
    openapi_extra=body_doc(ReviewIn, {"outcome": "met", "note": "Every lead qualified in March"}),
    responses=_WRITES,
    summary="Review an improvement plan: met or missed (final), or extended to next_review_by "
    "(records ImprovementPlanReviewed; reviewer_id from the token)",
)
def review_improvement_plan(
    user: Annotated[User, allowed("events.record")],
    rep_id: VisibleRep,
    improvement_plan_id: _PathId,
    body: JsonBody,
    ledger: LedgerDep,
    org: OrgDep,
    settings: SettingsDep,
) -> RecordedOut:
    asked = parse_body(ReviewIn, body)
    recorded = coaching.review_improvement_plan(
        ledger,
        user,
        org,
        rep_id=rep_id,
        improvement_plan_id=improvement_plan_id,
        outcome=asked.outcome,
        note=asked.note,
        next_review_by=asked.next_review_by,
        occurred_at=asked.occurred_at or settings.now(),
        event_id=asked.event_id,
    )
    return _out("ImprovementPlanReviewed", recorded)


@router.post(
    "/{rep_id}/trainings",
    status_code=201,
    openapi_extra=body_doc(
        TrainingIn, {"training_id": "TR-1", "training": "SPIN selling", "gap": "discovery", "due_by": _WHEN}
    ),
    responses=_WRITES,
    summary="Assign a training against a named gap (records TrainingAssigned; assigned_by from the token)",
)
def assign_training(
    user: Annotated[User, allowed("events.record")],
    rep_id: VisibleRep,
    body: JsonBody,
    ledger: LedgerDep,
    org: OrgDep,
    settings: SettingsDep,
) -> RecordedOut:
    asked = parse_body(TrainingIn, body)
    recorded = coaching.assign_training(
        ledger,
        user,
        org,
        rep_id=rep_id,
        training_id=asked.training_id,
        training=asked.training,
        gap=asked.gap,
        due_by=asked.due_by,
        improvement_plan_id=asked.improvement_plan_id,
        occurred_at=asked.occurred_at or settings.now(),
        event_id=asked.event_id,
    )
    return _out("TrainingAssigned", recorded)


@router.post(
    "/{rep_id}/trainings/{training_id}/completion",
    status_code=201,
    openapi_extra=body_doc(Command, {"occurred_at": _WHEN}),
    responses=_WRITES,
    summary="Complete an assigned training (records TrainingCompleted naming the assignment)",
)
def complete_training(
    user: Annotated[User, allowed("events.record")],
    rep_id: VisibleRep,
    training_id: _PathId,
    body: JsonBody,
    ledger: LedgerDep,
    org: OrgDep,
    settings: SettingsDep,
) -> RecordedOut:
    asked = parse_body(Command, body)
    recorded = coaching.complete_training(
        ledger,
        user,
        org,
        rep_id=rep_id,
        training_id=training_id,
        occurred_at=asked.occurred_at or settings.now(),
        event_id=asked.event_id,
    )
    return _out("TrainingCompleted", recorded)
