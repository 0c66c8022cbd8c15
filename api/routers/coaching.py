"""Coaching followed through: a rep's improvement plans (open, met, missed, overdue), trainings
assigned against a gap (pending, overdue, completed), progress since the previous evaluation and
the latest feedback; a team's overdue reviews and trainings. The commands that record them are
typed commands (services/commands.py): improvement.set, improvement.review, training.assign,
training.complete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import (
    AsOfMoment,
    EngineDep,
    FreshProjections,
    KnownAt,
    SettingsDep,
    VisibleRep,
    VisibleTeam,
)
from projections.queries.coaching import rep_coaching, team_coaching

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
