"""Rep-facing trust: a rep's statement (JSON, or a printable page), a dispute's timeline and its
effect on the payout, and who has not signed the plan they are paid under.

Disputes and sign-offs are recorded like every other fact, through POST /events
(`PlanAcknowledged`, `DisputeOpened`, `DisputeCommented`, and `DisputeResolved` preceded in the
same batch by its correcting events); these routes read them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api import exports
from api.deps import (
    CurrentUser,
    EngineDep,
    FreshProjections,
    JsonBody,
    KnownAt,
    LedgerDep,
    OrgDep,
    PeriodPath,
    PeriodQuery,
    SettingsDep,
    VisibleRep,
    allowed,
    body_doc,
    invalid_as,
    parse_body,
)
from api.errors import request_lang
from api.i18n import lang as lang_named
from api.routers.common import download, sheet_response
from api.routers.payouts import Explanation
from api.statement_render import render_html, render_pdf
from replay.statements import DisputeNotFound, dispute, statement, unacknowledged
from services.disputes import MAX_CORRECTIONS, ResolutionRefused, resolve
from services.policy import NotVisible, User, may_read_rep

router = APIRouter(tags=["trust"])


class Statement(Explanation):
    deals: list[dict[str, Any]]  # each deal a line used, with its events
    plan_acknowledged: dict[str, Any] | None  # the rep's PlanAcknowledged of this plan version, if any
    disputes: list[dict[str, Any]]  # the rep's disputes on this period and their status
    recognitions: list[dict[str, Any]] = []  # non-cash: {title, reason, position, occurred_at}


class DisputeOut(BaseModel):
    dispute_id: str
    rep_id: str
    period: str
    status: str  # open | resolved
    outcome: str | None  # accepted | rejected
    timeline: list[dict[str, Any]]
    corrections: list[dict[str, Any]] = []
    effect: dict[str, Any] | None  # the payout before and after the resolution, line by line


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["accepted", "rejected"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    # the correcting events (envelopes, as POST /events takes them), recorded just before the
    # resolution; their event_ids (given, or made) become its `corrections`
    corrections: Annotated[list[dict[str, Any]], Field(max_length=MAX_CORRECTIONS)] = []


class ResolutionOut(DisputeOut):
    positions: list[int]  # the corrections', then the DisputeResolved's


class Unsigned(BaseModel):
    rep_id: str
    plan_id: str
    version: int | None


class UnsignedOut(BaseModel):
    period: str
    reps: list[Unsigned]


Format = Annotated[
    str,
    Query(
        pattern="^(json|html|pdf|csv|xlsx)$",
        description="json (default); html: a printable page; pdf; csv or xlsx: the lines for a spreadsheet",
    ),
]


StatementLang = Annotated[
    str | None,
    Query(
        pattern="^(zh-CN|en)$",
        description="the language of a page, PDF or spreadsheet (default: Accept-Language): a link says which",
    ),
]


@router.get(
    "/statements/{rep_id}/{period}",
    summary="A rep's statement: lines, deals, approved vs current, sign-off, disputes",
    responses={404: {"description": "no such rep within this token's reach"}},
    response_model=Statement,
)
def read_statement(
    request: Request,
    rep_id: VisibleRep,
    period: PeriodPath,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
    format: Format = "json",
    lang: StatementLang = None,
) -> Any:
    answer = statement(ledger, engine, settings, rep_id, period, known_at)
    if format == "json":
        return Statement(**answer)
    speaker = lang_named(lang) if lang else request_lang(request)
    if format == "html":
        return HTMLResponse(render_html(answer, speaker, settings.currency, settings.tz_name, settings.tz))
    if format == "pdf":
        body = render_pdf(answer, speaker, settings.currency, settings.tz_name, settings.tz)
        return download(body, "application/pdf", f"statement-{rep_id}-{period}.pdf")
    sheet = exports.statement_sheet(speaker, answer, settings.tz_name, settings.tz)
    return sheet_response(sheet, format, speaker, settings)


DisputeId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f]+$")]


@router.get(
    "/disputes/{dispute_id}",
    summary="A dispute's timeline and its effect on the payout",
    responses={404: {"description": "no such dispute within this token's reach"}},
)
def read_dispute(
    dispute_id: DisputeId,
    user: CurrentUser,
    org: OrgDep,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    _: FreshProjections,
) -> DisputeOut:
    try:
        found = dispute(ledger, engine, settings, dispute_id)
    except DisputeNotFound:
        raise NotVisible(f"dispute {dispute_id}") from None
    if not may_read_rep(user, found["rep_id"], org):
        raise NotVisible(f"dispute {dispute_id}")  # never confirm another rep's dispute exists
    return DisputeOut(**found)


RESOLUTION_EXAMPLE = {
    "outcome": "accepted",
    "reason": "the CRM had the wrong amount",
    "corrections": [
        {
            "type": "DealAmountCorrected",
            "occurred_at": "2026-04-05T10:00:00+08:00",
            "data": {"deal_id": "D-1", "amount": "120000.00", "reason": "missing line item"},
        }
    ],
}


@router.post(
    "/disputes/{dispute_id}/resolve",
    status_code=201,
    openapi_extra=body_doc(ResolutionIn, RESOLUTION_EXAMPLE),
    responses={
        403: {"description": "a role that does not resolve disputes, or a correction beyond the token's reach"},
        404: {"description": "no such dispute within this token's reach"},
        422: {"description": "a malformed resolution or correction, named by its field; nothing recorded"},
    },
    summary="Resolve a dispute: its correcting events recorded just before DisputeResolved in one batch, "
    "linked automatically; the answer shows the payout before and after",
    description="Records the `corrections` (events, as POST /events takes them) and then DisputeResolved, "
    "whose `corrections` field is filled with their event_ids and whose resolver is the token's person. "
    "All or nothing. The answer is GET /disputes/{id} after it, with `effect` (the disputed period's payout "
    "before and after, line by line) and the positions recorded.",
)
def resolve_dispute(
    dispute_id: DisputeId,
    user: Annotated[User, allowed("disputes.resolve")],
    body: JsonBody,
    org: OrgDep,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
) -> ResolutionOut:
    asked = parse_body(ResolutionIn, body)
    with invalid_as("body.corrections", ResolutionRefused):
        answer = resolve(
            ledger, engine, settings, user, org, dispute_id, asked.outcome, asked.reason, asked.corrections
        )
    return ResolutionOut(**answer)


@router.get("/plans/unacknowledged", summary="Reps who have not acknowledged the plan version they are paid under")
def read_unsigned(
    _user: Annotated[User, allowed("plans.signoff_report")],
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
) -> UnsignedOut:
    return UnsignedOut.model_validate({"period": period, "reps": unacknowledged(engine, settings, period, known_at)})
