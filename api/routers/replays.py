"""Replays: a period's payouts under another plan (published, or draft rules) or another
knowledge time, and the difference from what was approved; then, once reviewed, the
differences recorded as adjustments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import exports
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
from api.errors import BadRequest, problem, request_lang
from api.heavy import HeavySlot
from api.routers.common import ExportFormat, sheet_response
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

    plan_id: Annotated[PlanId | None, Field(description="A published plan's id (with `version`).")] = None
    version: Annotated[
        int | None, Field(ge=1, le=1_000_000, description="The published version of `plan_id` to replay under.")
    ] = None
    rules: Annotated[
        dict[str, Any] | None,
        Field(
            description='Draft rules instead of a published plan (a rules document: docs/design.md, "Incentive plans").'
        ),
    ] = None

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

    period: Annotated[Period, Field(description="The period to recompute: 2026-03, 2026-Q1, 2026-W48 or 2026.")]
    plan: Annotated[
        PlanChoice, Field(description="The plan to recompute it under: a published version, or draft rules.")
    ]
    known_at: Annotated[
        Moment | None,
        Field(description="Knowledge-time cut-off, ISO 8601 with a zone; default: what the ledger knows now."),
    ] = None


class AdjustIn(ReplayIn):
    period: Annotated[Period, Field(description="The replayed period, as sent to POST /replays.")]
    plan: Annotated[PlanChoice, Field(description="The replayed plan, as sent to POST /replays.")]
    # required: the known_at of the replay that was reviewed, so the same figures are recorded
    known_at: Annotated[
        Moment,
        Field(
            description="The `known_at` the reviewed POST /replays answered with (required, not in the future): "
            "the differences recorded are exactly the ones reviewed."
        ),
    ]
    reason: Annotated[
        str | None,
        Field(min_length=1, max_length=500, description="Why, kept on each PayoutAdjusted (optional)."),
    ] = None


class Effect(BaseModel):
    delta: Decimal
    lines: list[LineChange]  # the lines this cause moved
    events: list[dict[str, Any]]  # its events: the plans' publications, or the facts learned (with `lines`)
    disputes: list[str]  # the disputes whose corrections are among those events


class Causes(BaseModel):
    rule: Effect  # the facts as known at approval, under the replayed plan, against the approval
    facts: Effect  # what was learned since approval, under the approved plan
    both: Decimal  # what the two changes make together beyond their sum


class DiffRow(BaseModel):
    rep_id: str
    before: Decimal  # approved + adjustments, or (never approved) computed under the plan in force
    after: Decimal
    delta: Decimal
    basis: str  # approved | computed
    lines: list[LineChange]
    causes: Causes  # rule + facts + both = after − the approved (or computed) figure


class ReplayedPlan(PlanRef):
    draft: bool  # rules given inline rather than a published version


class ReplayTotals(BaseModel):
    reps: int
    before: Decimal
    after: Decimal
    delta: Decimal
    rule: Decimal  # the causes' deltas, summed over the reps
    facts: Decimal
    both: Decimal


class ReplayOut(BaseModel):
    replay_id: str  # the same period, plan and known_at always give the same id
    period: str
    known_at: datetime
    plan: ReplayedPlan
    payouts: list[Payout]
    diff: list[DiffRow]
    totals: ReplayTotals  # the diff's columns summed


def replay_totals(diff: list[dict[str, Any]]) -> dict[str, Any]:
    def total(pick: Any) -> Decimal:
        return sum((pick(row) for row in diff), Decimal("0.00"))

    return {
        "reps": len(diff),
        "before": total(lambda row: row["before"]),
        "after": total(lambda row: row["after"]),
        "delta": total(lambda row: row["delta"]),
        "rule": total(lambda row: row["causes"]["rule"]["delta"]),
        "facts": total(lambda row: row["causes"]["facts"]["delta"]),
        "both": total(lambda row: row["causes"]["both"]),
    }


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
    description="`?format=csv` or `xlsx` answers the difference by rep as a spreadsheet instead: the biggest "
    "change first, each split by cause, the totals last.",
    response_model=ReplayOut,
)
def run_replay(
    request: Request,
    _: Annotated[User, allowed("replays.run")],
    __: HeavySlot,
    body: JsonBody,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    format: ExportFormat = "json",
) -> Any:
    asked = parse_body(ReplayIn, body)
    with invalid_as("body.plan", PlanError):
        answer = replay(ledger, engine, settings, asked.period, asked.plan.request(), asked.known_at)
    answer["totals"] = replay_totals(answer["diff"])
    if format != "json":
        speaker = request_lang(request)
        sheet = exports.replay_sheet(speaker, answer, settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    return ReplayOut(**answer)


@router.post(
    "/adjustments",
    status_code=201,
    openapi_extra=body_doc(AdjustIn, _ADJUST_EXAMPLE),
    summary="Record a reviewed replay's differences as PayoutAdjusted (atomic; repeating it writes nothing)",
    description="How a closed period's payouts change: POST /replays first, review its `diff`, then send the same "
    "`period` and `plan` with the `known_at` it answered; each rep's difference is recorded as a PayoutAdjusted.",
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
