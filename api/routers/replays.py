"""Replays: a period's payouts under another plan (published, or draft rules) or another
knowledge time, and the difference from what was approved; then, once reviewed, the
differences recorded as adjustments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import (
    EngineDep,
    JsonBody,
    LedgerDep,
    Moment,
    Period,
    SettingsDep,
    allowed,
    body_doc,
    invalid_as,
    parse_body,
)
from api.errors import BadRequest, problem
from api.heavy import HeavySlot
from api.routers.payouts import LineChange, Payout, PlanRef
from projections.payouts.assembly import PlanError
from replay.replays import PlanRequest, replay
from services.adjustments import record_adjustments
from services.policy import User

router = APIRouter(prefix="/replays", tags=["replays"])

PlanId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f]+$")]


class PlanChoice(BaseModel):
    """A published plan version, or draft rules (a rules document: docs/design.md, "Incentive plans")."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"anyOf": [{"required": ["plan_id", "version"]}, {"required": ["rules"]}]}
    )

    plan_id: PlanId | None = None
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    rules: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _published_or_draft(self) -> PlanChoice:
        if self.rules is None and (self.plan_id is None or self.version is None):
            raise ValueError('give {"plan_id": …, "version": …} of a published plan, or {"rules": {…}} for a draft')
        if self.rules is not None and self.version is not None:
            raise ValueError("draft rules have no version: drop version, or drop rules to replay a published plan")
        return self

    def request(self) -> PlanRequest:
        return PlanRequest.from_json(self.model_dump(exclude_none=True))


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Period
    plan: PlanChoice
    known_at: Moment | None = None  # default: what the ledger knows now (the answer names it)


class AdjustIn(ReplayIn):
    known_at: Moment  # required: the known_at of the replay that was reviewed, so the same figures are recorded
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class DiffRow(BaseModel):
    rep_id: str
    before: Decimal  # approved + adjustments, or (never approved) computed under the plan in force
    after: Decimal
    delta: Decimal
    basis: str  # approved | computed
    lines: list[LineChange]


class ReplayedPlan(PlanRef):
    draft: bool  # rules given inline rather than a published version


class ReplayOut(BaseModel):
    replay_id: str  # the same period, plan and known_at always give the same id
    period: str
    known_at: datetime
    plan: ReplayedPlan
    payouts: list[Payout]
    diff: list[DiffRow]


class AdjustmentRow(BaseModel):
    rep_id: str
    amount: Decimal


class AdjustmentsOut(BaseModel):
    replay_id: str
    positions: list[int]
    duplicates: list[int]  # already recorded by an earlier call with the same replay: not written twice
    adjustments: list[AdjustmentRow]


_EXAMPLE = {"period": "2026-Q1", "plan": {"plan_id": "std", "version": 2}}
_ADJUST_EXAMPLE = {**_EXAMPLE, "known_at": "2026-04-10T00:00:00+00:00", "reason": "plan v2 applied to Q1"}


@router.post(
    "",
    openapi_extra=body_doc(ReplayIn, _EXAMPLE),
    responses={422: {"description": "a malformed body, or a plan that is not published or does not parse"}},
    summary="Recompute a period under another plan and diff it against what was approved (writes nothing)",
)
def run_replay(
    _: Annotated[User, allowed("replays.run")],
    __: HeavySlot,
    body: JsonBody,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
) -> ReplayOut:
    asked = parse_body(ReplayIn, body)
    with invalid_as("body.plan", PlanError):
        return ReplayOut(**replay(ledger, engine, settings, asked.period, asked.plan.request(), asked.known_at))


@router.post(
    "/adjustments",
    status_code=201,
    openapi_extra=body_doc(AdjustIn, _ADJUST_EXAMPLE),
    summary="Record a reviewed replay's differences as PayoutAdjusted (atomic; repeating it writes nothing)",
)
def record_replay(
    user: Annotated[User, allowed("payouts.adjust")],
    _: HeavySlot,
    body: JsonBody,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
) -> AdjustmentsOut:
    asked = parse_body(AdjustIn, body)
    if asked.known_at > settings.now():
        raise BadRequest(
            problem("body.known_at", "must not be in the future: send the known_at of the replay you reviewed")
        )
    with invalid_as("body.plan", PlanError):
        return AdjustmentsOut(
            **record_adjustments(
                ledger, engine, settings, asked.period, asked.plan.request(), asked.known_at, user.actor, asked.reason
            )
        )
