"""Targets of a scope and period: the value in force, every revision, and (for a team) whether
it matches the sum of its reps' targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import AsOf, EngineDep, FreshProjections, KnownAt, PeriodQuery, SettingsDep, VisibleScope
from api.routers.kpis import resolved, status_at
from projections.queries.cutoffs import PeriodStatus
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
    as_of: datetime  # the cut-offs used: the earlier of the period's end and now, and now, unless asked
    known_at: datetime
    period_status: PeriodStatus
    targets: dict[str, Target]  # metric → target
    consistency: list[Consistency] | None  # team scopes only: one row per additive metric with a team target


@router.get("", summary="Targets in force for a scope and period, with their revision history")
def read_targets(
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> TargetsOut:
    as_of, known_at = resolved(settings, period, as_of, known_at)
    return TargetsOut.model_validate(
        {
            "scope": scope,
            "period": period,
            "as_of": as_of,
            "known_at": known_at,
            "period_status": status_at(settings, period, as_of),
            "targets": targets(engine, settings, scope, period, as_of, known_at),
            "consistency": team_consistency(engine, settings, scope, period, known_at, as_of),
        }
    )


def team_consistency(
    engine: EngineDep, settings: SettingsDep, scope: str, period: str, known_at: datetime, as_of: datetime
) -> list[dict[str, Any]] | None:
    if not scope.startswith("team:"):
        return None
    team_id = scope.removeprefix("team:")
    return [row for row in target_consistency(engine, settings, period, known_at, as_of) if row["team_id"] == team_id]
