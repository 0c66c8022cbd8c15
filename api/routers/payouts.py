"""Payouts: every rep's for a period, one rep's explained down to its events, what changed it
between two knowledge times, and its approval (which records the digest of the computation)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from api import exports
from api.deps import (
    ID_PATTERN,
    AsOf,
    CurrentUser,
    EngineDep,
    FreshProjections,
    JsonBody,
    KnownAt,
    LedgerDep,
    Moment,
    OrgDep,
    PayoutReps,
    Period,
    PeriodPath,
    PeriodQuery,
    RepId,
    ScopeText,
    SettingsDep,
    VisibleRep,
    _policy,
    allowed,
    body_doc,
    invalid_as,
    parse_body,
    refused_as,
)
from api.errors import BadRequest, problem, request_lang
from api.routers.common import ExportFormat, sheet_response
from api.routers.kpis import resolved
from projections.payouts.assembly import PlanError, approval_states, payouts_page
from projections.queries.cutoffs import PeriodStatus, aware_micros, cutoffs
from projections.queries.membership import teams_during
from replay.explain import explain, explain_change
from services.approvals import (
    MAX_BULK_REPS,
    ApprovalRefused,
    BulkScopeError,
    ScopeUnknown,
    approve,
    approve_scope,
    scope_reps,
)
from services.policy import OutOfRole, User, check_scope

router = APIRouter(prefix="/payouts", tags=["payouts"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such rep within this token's reach"}}


class Assigned(BaseModel):
    scope: str  # the assignment that put the rep on this plan: rep:…, team:…, region:… or company
    position: int


class PlanRef(BaseModel):
    plan_id: str
    version: int | None  # null for draft rules given to a replay


class PlanLabel(PlanRef):
    position: int | None  # the IncentivePlanPublished event (null for a draft)
    assigned_by: Assigned | None  # null when the plan was given (a replay) rather than assigned


class Line(BaseModel):
    component: str
    kind: str
    amount: Decimal
    inputs: dict[str, Any]  # the figures and plan terms this line used
    events: list[int]  # positions of the events behind those figures


class Payout(BaseModel):
    rep_id: str
    period: str
    total: Decimal
    plan: PlanLabel | None
    lines: list[Line]
    problems: list[str]
    figures: dict[str, Any]
    targets: dict[str, Decimal]
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus  # where the period stood at as_of
    digest: str  # sha256 of the inputs, the plan and the lines: what an approval records


class ApprovalSummary(BaseModel):
    # not_approved | approved | adjusted (approved, then adjusted) | adjusted_only (closed before approval)
    state: str
    amount: Decimal | None  # approved (null: never approved)
    owed: Decimal | None  # approved + adjustments (null: never approved nor adjusted)
    difference: Decimal | None  # computed now − owed: a payout approved, then moved (null: nothing owed yet)


class TeamMove(BaseModel):
    team_id: str | None  # moved to this team
    region: str | None
    on: datetime


class ListedPayout(Payout):
    approval: ApprovalSummary
    # the team the rep was in at the period's end (or as_of), not the one it has now; null: no membership
    team_id: str | None = None
    region: str | None = None
    teams: list[str] = []  # every team the rep was in during the period, in order
    moved: list[TeamMove] = []  # each change of team during the period: to which team, when


class PayoutTotals(BaseModel):
    reps: int  # payouts on this page
    total: Decimal  # the sum of their computed totals
    owed: Decimal  # the sum of what is owed (approved + adjustments) to those approved


class PayoutsOut(BaseModel):
    period: str
    as_of: datetime
    known_at: datetime
    scope: str | None = None  # the scope asked for (none: every rep this token may see)
    payouts: list[ListedPayout]  # the reps this token may see: all, a manager's team, or the rep alone
    totals: PayoutTotals  # of this page's payouts
    next_after_rep: str | None = None  # more reps follow: ask again with after_rep=this


class Adjustment(BaseModel):
    amount: Decimal
    reason: str | None
    replay_id: str | None
    position: int
    recorded_at: datetime


class Approved(BaseModel):
    amount: Decimal | None  # null: closed before approval, only adjustments recorded
    digest: str | None
    plan_id: str | None
    plan_version: int | None
    known_at: datetime | None  # the knowledge time the approval computed with
    recorded_at: datetime | None
    position: int | None
    adjustments: list[Adjustment]
    current: Decimal  # approved + adjustments: what the rep is owed now


class Today(BaseModel):
    total: Decimal
    digest: str
    difference: Decimal  # today's total − what is owed (approved + adjustments)


class Explanation(Payout):
    approved: Approved | None
    reproduced: bool  # does recomputing at the approval's knowledge time give its digest?
    today: Today
    tree: dict[str, Any]  # total → lines → inputs → events (type, times, data)
    # approved → each adjustment (with what was owed after it) → now; empty when never approved
    trail: list[dict[str, Any]] = []


class LineChange(BaseModel):
    component: str
    before: Decimal
    after: Decimal
    delta: Decimal


class PlanChange(BaseModel):
    before: PlanRef | None
    after: PlanRef | None


class Changes(BaseModel):
    rep_id: str
    period: str
    from_known_at: datetime
    to_known_at: datetime
    before: Decimal
    after: Decimal
    delta: Decimal
    plan: PlanChange
    lines: list[LineChange]
    events: list[dict[str, Any]]  # recorded in between and touching the payout's inputs


class ApprovalOut(BaseModel):
    kind: str  # approved | adjusted (approved before: the difference is recorded as PayoutAdjusted)
    rep_id: str
    period: str
    amount: Decimal
    total: Decimal
    digest: str
    position: int


class BulkApprovalIn(BaseModel):
    scope: ScopeText  # company, region:NAME or team:ID
    period: Period


class BulkApproved(BaseModel):
    rep_id: str
    amount: Decimal
    digest: str
    position: int  # its PayoutApproved


class BulkUnchanged(BaseModel):
    rep_id: str
    amount: Decimal  # approved before at this figure, and computed now at it


class BulkAdjusted(BaseModel):
    rep_id: str
    approved: Decimal  # what is owed now (approved + adjustments)
    total: Decimal  # computed now
    difference: Decimal
    what_to_do: str


class BulkRefused(BaseModel):
    rep_id: str
    reason: str


class BulkCounts(BaseModel):
    approved: int
    unchanged: int
    adjusted: int
    refused: int


class BulkApprovalOut(BaseModel):
    scope: str
    period: str
    known_at: datetime  # the knowledge time every payout was computed at
    counts: BulkCounts
    approved: list[BulkApproved]  # recorded now, in one batch
    unchanged: list[BulkUnchanged]
    adjusted: list[BulkAdjusted]  # nothing recorded: `what_to_do` says how
    refused: list[BulkRefused]


DEFAULT_PAGE = 1000
AfterRep = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="continue after this rep id (a page's next_after_rep)",
    ),
]
PageLimit = Annotated[int, Query(ge=1, le=DEFAULT_PAGE, description="reps per page, by rep id")]


async def _listed_scope(
    user: CurrentUser,
    org: OrgDep,
    scope: Annotated[
        ScopeText | None,
        Query(description="company, region:NAME or team:ID: the reps a bulk approval of it would take (default: all)"),
    ] = None,
) -> str | None:
    if scope is not None:
        try:
            await _policy(org, check_scope, user, scope, org)  # out of reach: 404, or 403 for a role
        except OutOfRole as error:
            raise HTTPException(403, str(error)) from None
    return scope


ListedScope = Annotated[str | None, Depends(_listed_scope)]


def approval_summary(state: Any, total: Decimal) -> dict[str, Any]:
    """A payout's approval state beside its figure computed now (api/exports.py's labels)."""
    owed = None if state is None else state.current
    return {
        "state": exports.approval_label(state),
        "amount": None if state is None else state.amount,
        "owed": owed,
        "difference": None if owed is None else total - owed,
    }


@router.get(
    "",
    summary="Every visible rep's payout for a period, computed at the cut-offs, a page at a time",
    response_model=PayoutsOut,
)
def read_payouts(
    request: Request,
    period: PeriodQuery,
    reps: PayoutReps,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    scope: ListedScope,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    after_rep: AfterRep = None,
    limit: PageLimit = DEFAULT_PAGE,
    format: ExportFormat = "json",
) -> Any:
    as_of, known_at = resolved(settings, period, as_of, known_at)
    known_us = aware_micros(known_at, "known_at")
    if scope is not None:
        with invalid_as("query.scope", BulkScopeError), refused_as(404, ScopeUnknown):
            in_scope = scope_reps(engine, settings, scope, period, known_us)
        reps = frozenset(in_scope if reps is None else [rep for rep in in_scope if rep in reps])
    payouts, next_after = payouts_page(engine, settings, period, as_of, known_at, reps, after_rep, limit)
    rows = [p.to_json() for p in payouts]
    states = approval_states(engine, period, known_us, [p["rep_id"] for p in rows])
    cut = cutoffs(settings, period, as_of, known_at)
    teams = teams_during(engine, known_us, [row["rep_id"] for row in rows], cut.start_us, cut.upto_us)
    for row in rows:
        row.update(teams.get(row["rep_id"], {}))
    if format != "json":  # the page's payouts beside their approval state, for finance's spreadsheet
        speaker = request_lang(request)
        sheet = exports.payouts_sheet(speaker, period, rows, states, as_of, known_at, settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    for row in rows:
        row["approval"] = approval_summary(states.get(row["rep_id"]), row["total"])
    owed = [row["approval"]["owed"] for row in rows if row["approval"]["owed"] is not None]
    return PayoutsOut.model_validate(
        {
            "period": period,
            "as_of": as_of,
            "known_at": known_at,
            "scope": scope,
            "payouts": rows,
            "totals": {
                "reps": len(rows),
                "total": sum((row["total"] for row in rows), Decimal("0.00")),
                "owed": sum(owed, Decimal("0.00")),
            },
            "next_after_rep": next_after,
        }
    )


@router.get(
    "/{rep_id}/{period}/explain",
    responses=NOT_FOUND,
    summary="A payout line by line down to its events; an approved one as it was approved",
)
def read_explanation(
    rep_id: VisibleRep,
    period: PeriodPath,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
) -> Explanation:
    with refused_as(409, PlanError):
        return Explanation(**explain(ledger, engine, settings, rep_id, period, known_at))


FromKnownAt = Annotated[Moment, Query(description="the earlier knowledge time")]


@router.get(
    "/{rep_id}/{period}/changes",
    responses=NOT_FOUND,
    summary="Why a payout moved between two knowledge times: the lines and the events in between",
)
def read_changes(
    rep_id: VisibleRep,
    period: PeriodPath,
    from_known_at: FromKnownAt,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    _: FreshProjections,
    to_known_at: KnownAt = None,
) -> Changes:
    to_known_at = to_known_at or settings.now().astimezone(settings.tz)
    if to_known_at < from_known_at:
        raise BadRequest(problem("query.to_known_at", "must not be before from_known_at"))
    return Changes(**explain_change(ledger, engine, settings, rep_id, period, from_known_at, to_known_at))


@router.post(
    "/{rep_id}/{period}/approve",
    status_code=201,
    responses={409: {"description": "already approved at this amount, no plan in force, or the period is closed"}},
    summary="Approve a payout as computed now: records PayoutApproved with its digest",
)
def approve_payout(
    user: Annotated[User, allowed("payouts.approve")],
    rep_id: RepId,
    period: PeriodPath,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
) -> ApprovalOut:
    with refused_as(409, ApprovalRefused, PlanError):
        return ApprovalOut(**approve(ledger, engine, settings, rep_id, period, user.actor).to_json())


@router.post(
    "/approve",
    openapi_extra=body_doc(BulkApprovalIn, {"scope": "region:East", "period": "2026-Q1"}),
    responses={
        404: {"description": "no rep was ever in this team or region"},
        409: {"description": "the ledger is empty, or the batch was refused (nothing recorded)"},
        422: {"description": f"a malformed scope or period, a rep scope, or more than {MAX_BULK_REPS} reps"},
    },
    summary="Approve every payout of a scope (company, region, team) for a period in one batch, "
    "with a summary: approved, unchanged, adjusted (what to do), refused (why)",
    description=f"Records one PayoutApproved per rep approved now, all in one batch (all or nothing). "
    f"A payout approved before at the same figure is unchanged; approved before at another figure, it is "
    f"listed under adjusted with the single approval to call; a rep without a plan, or a closed period, is "
    f"refused with why. At most {MAX_BULK_REPS} reps a call: approve a larger company a region or team at a time.",
)
def approve_payouts(
    user: Annotated[User, allowed("payouts.approve")],
    body: JsonBody,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
) -> BulkApprovalOut:
    asked = parse_body(BulkApprovalIn, body)
    with (
        invalid_as("body.scope", BulkScopeError),
        refused_as(404, ScopeUnknown),
        refused_as(409, ApprovalRefused, PlanError),
    ):
        result = approve_scope(ledger, engine, settings, asked.scope, asked.period, user.actor)
    return BulkApprovalOut.model_validate(result.to_json())
