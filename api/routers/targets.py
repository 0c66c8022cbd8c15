"""Targets of a scope and period: the value in force, every revision, and (for a team) whether
it matches the sum of its reps' targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EngineDep, FreshProjections, KnownAt, PeriodQuery, SettingsDep, VisibleScope
from api.routers.kpis import resolved
from projections.queries.targets import target_consistency, targets

router = APIRouter(prefix="/targets", tags=["targets"])


class Revision(BaseModel):
    value: Decimal
    reason: str | None
    position: int
    occurred_at: datetime
    recorded_at: datetime


class Target(BaseModel):
    value: Decimal  # the revision in force: the latest known at known_at
    position: int
    revisions: list[Revision]  # oldest first


class Consistency(BaseModel):
    team_id: str
    metric: str
    team_target: Decimal
    reps_sum: Decimal
    difference: Decimal
    consistent: bool
    reps: dict[str, Decimal]
    missing: list[str]  # reps of the team in the period without a target for the metric


class TargetsOut(BaseModel):
    scope: str
    period: str
    known_at: datetime
    targets: dict[str, Target]  # metric → target
    consistency: list[Consistency] | None  # team scopes only: one row per additive metric with a team target


@router.get("", summary="Targets in force for a scope and period, with their revision history")
def read_targets(
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
) -> TargetsOut:
    known_at = resolved(settings, period, None, known_at)[1]
    return TargetsOut.model_validate(
        {
            "scope": scope,
            "period": period,
            "known_at": known_at,
            "targets": targets(engine, scope, period, known_at),
            "consistency": team_consistency(engine, settings, scope, period, known_at),
        }
    )


def team_consistency(
    engine: EngineDep, settings: SettingsDep, scope: str, period: str, known_at: datetime
) -> list[dict[str, Any]] | None:
    if not scope.startswith("team:"):
        return None
    team_id = scope.removeprefix("team:")
    return [row for row in target_consistency(engine, settings, period, known_at) if row["team_id"] == team_id]
