"""Targets of a scope and period: the value in force, every revision, and (for a team) whether
it matches the sum of its reps' targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    AsOf,
    EngineDep,
    FreshProjections,
    JsonBody,
    KnownAt,
    LedgerDep,
    OrgDep,
    PeriodQuery,
    SettingsDep,
    VisibleScope,
    allowed,
    body_doc,
    parse_body,
)
from api.errors import BadRequest, problem
from api.routers.kpis import resolved, status_at
from ledger.messages import Msg
from projections.allocation import MAX_CHILDREN, METHODS, AllocationError
from projections.queries.cutoffs import PeriodStatus
from projections.queries.org import LEVELS
from projections.queries.targets import level_consistency, target_consistency, targets
from services.allocating import AllocationRequest, allocate_targets
from services.policy import User

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


class LevelConsistency(BaseModel):
    scope: str  # the parent: company, region:NAME or team:ID
    level: str  # its children: regions, teams or reps
    metric: str
    target: Decimal
    children_sum: Decimal
    difference: Decimal  # target − children_sum
    consistent: bool
    children: dict[str, Decimal]  # child scope → its target
    missing: list[str]  # children in the period without a target for the metric


class TargetsOut(BaseModel):
    scope: str
    period: str
    as_of: datetime  # the cut-offs used: the earlier of the period's end and now, and now, unless asked
    known_at: datetime
    period_status: PeriodStatus
    targets: dict[str, Target]  # metric → target
    consistency: list[Consistency] | None  # team scopes only: one row per additive metric with a team target
    # company, region and team scopes: the scope's target against the sum of its children's, per additive metric
    levels: list[LevelConsistency] | None = None


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
            "levels": level_consistency(engine, settings, scope, period, known_at, as_of),
        }
    )


def team_consistency(
    engine: EngineDep, settings: SettingsDep, scope: str, period: str, known_at: datetime, as_of: datetime
) -> list[dict[str, Any]] | None:
    if not scope.startswith("team:"):
        return None
    team_id = scope.removeprefix("team:")
    return [row for row in target_consistency(engine, settings, period, known_at, as_of) if row["team_id"] == team_id]


# ---------------------------------------------------------------- allocating down the org

DecimalText = Annotated[str, Field(min_length=1, max_length=40, description='a decimal string, e.g. "3" or "0.25"')]


class AllocationIn(BaseModel):
    """A company, region or team target and how to allocate it to the level below."""

    model_config = ConfigDict(extra="forbid")

    scope: Annotated[str, Field(min_length=1, max_length=220, description="company, region:NAME or team:ID")]
    metric: Annotated[str, Field(min_length=1, max_length=32, description="a target metric (see TargetSet)")]
    period: Annotated[str, Field(min_length=1, max_length=16, description="e.g. 2026-Q2")]
    value: DecimalText
    method: Literal[METHODS]  # type: ignore[valid-type]
    to: Literal[LEVELS] | None = None  # type: ignore[valid-type]
    weights: Annotated[dict[str, DecimalText], Field(max_length=MAX_CHILDREN)] = {}
    level_weights: Annotated[dict[str, DecimalText], Field(max_length=100)] = {}
    reason: Annotated[str | None, Field(min_length=1, max_length=4000)] = None
    allocation_id: Annotated[str | None, Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$")] = None
    occurred_at: datetime | None = None
    set_parent: bool = True


class ChildOut(BaseModel):
    scope: str
    weight: Decimal
    value: Decimal


class AllocationOut(BaseModel):
    allocation_id: str
    scope: str
    metric: str
    period: str
    value: Decimal
    method: str
    children: list[ChildOut]
    positions: list[int]
    duplicates: list[int]


_ALLOCATION_EXAMPLE = {
    "scope": "company",
    "metric": "revenue",
    "period": "2026-Q2",
    "value": "1000000.00",
    "method": "weights",
    "weights": {"East": "3", "West": "2", "North": "2"},
}


@router.post(
    "/allocations",
    status_code=201,
    openapi_extra=body_doc(AllocationIn, _ALLOCATION_EXAMPLE),
    summary="Set a company, region or team target and allocate it to the level below (records TargetSet events)",
    description="One batch of TargetSet events citing one `allocation_id`: the parent's (unless `set_parent` is "
    "false) and each child's. Methods: `equal`, `weights` (by child id), `last_period_share` (each child's share of "
    "the metric in the previous period), `rep_level` (`level_weights` by RepLevelSet level). Money children sum to "
    "the parent to the cent, counts to one (largest remainder); a rate or average is given to every child as is.",
    responses={403: {"description": "a child or the parent is beyond this token's reach"}},
)
def allocate(
    user: Annotated[User, allowed("targets.allocate")],
    body: JsonBody,
    ledger: LedgerDep,
    engine: EngineDep,
    settings: SettingsDep,
    org: OrgDep,
    _: FreshProjections,  # the children and last period's figures are read from the projections
) -> AllocationOut:
    asked = parse_body(AllocationIn, body)
    request = AllocationRequest(
        scope=asked.scope,
        metric=asked.metric,
        period=asked.period,
        value=_decimal("body.value", asked.value),
        method=asked.method,
        to=asked.to,
        weights={k: _decimal(f"body.weights.{k}", v) for k, v in asked.weights.items()},
        level_weights={k: _decimal(f"body.level_weights.{k}", v) for k, v in asked.level_weights.items()},
        reason=asked.reason,
        allocation_id=asked.allocation_id,
        occurred_at=asked.occurred_at,
        set_parent=asked.set_parent,
    )
    try:
        return AllocationOut.model_validate(allocate_targets(ledger, engine, settings, user, org, request))
    except AllocationError as error:
        raise BadRequest(problem(f"body.{error.field}", error.args[0])) from None


def _decimal(field: str, text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise BadRequest(problem(field, Msg("number.invalid", "{value!r} is not a decimal number", value=text)))
    return number
