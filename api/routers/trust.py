"""Rep-facing trust: a rep's statement (JSON, or a printable page), a dispute's timeline and its
effect on the payout, and who has not signed the plan they are paid under.

Disputes and sign-offs are recorded like every other fact, through POST /events
(`PlanAcknowledged`, `DisputeOpened`, `DisputeCommented`, and `DisputeResolved` preceded in the
same batch by its correcting events); these routes read them.
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.deps import (
    CurrentUser,
    EngineDep,
    FreshProjections,
    KnownAt,
    LedgerDep,
    OrgDep,
    PeriodPath,
    PeriodQuery,
    SettingsDep,
    VisibleRep,
    allowed,
)
from api.routers.payouts import Explanation
from replay.statements import DisputeNotFound, dispute, statement, unacknowledged
from services.policy import NotVisible, User, may_read_rep

router = APIRouter(tags=["trust"])


class Statement(Explanation):
    deals: list[dict[str, Any]]  # each deal a line used, with its events
    plan_acknowledged: dict[str, Any] | None  # the rep's PlanAcknowledged of this plan version, if any
    disputes: list[dict[str, Any]]  # the rep's disputes on this period and their status


class DisputeOut(BaseModel):
    dispute_id: str
    rep_id: str
    period: str
    status: str  # open | resolved
    outcome: str | None  # accepted | rejected
    timeline: list[dict[str, Any]]
    corrections: list[dict[str, Any]] = []
    effect: dict[str, Any] | None  # the payout before and after the resolution, line by line


class Unsigned(BaseModel):
    rep_id: str
    plan_id: str
    version: int | None


class UnsignedOut(BaseModel):
    period: str
    reps: list[Unsigned]


Format = Annotated[str, Query(pattern="^(json|html)$", description="json (default) or html: a printable page")]


@router.get(
    "/statements/{rep_id}/{period}",
    summary="A rep's statement: lines, deals, approved vs current, sign-off, disputes",
    responses={404: {"description": "no such rep within this token's reach"}},
    response_model=Statement,
)
def read_statement(
    rep_id: VisibleRep,
    period: PeriodPath,
    settings: SettingsDep,
    ledger: LedgerDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
    format: Format = "json",
) -> Any:
    answer = Statement(**statement(ledger, engine, settings, rep_id, period, known_at))
    if format == "html":
        return HTMLResponse(render_statement(answer, settings.currency))
    return answer


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


@router.get("/plans/unacknowledged", summary="Reps who have not acknowledged the plan version they are paid under")
def read_unsigned(
    _user: Annotated[User, allowed("plans.signoff_report")],
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    known_at: KnownAt = None,
) -> UnsignedOut:
    return UnsignedOut(period=period, reps=unacknowledged(engine, settings, period, known_at))


def render_statement(s: Statement, currency: str) -> str:
    """A printable statement: every figure is the API's own, only laid out."""
    e = html.escape

    def money(value: Decimal | None) -> str:
        return "—" if value is None else f"{e(str(value))} {e(currency)}"

    lines = "".join(
        f"<tr><td>{e(line.component)}</td><td>{e(line.kind)}</td><td class=n>{money(line.amount)}</td>"
        f"<td>{e(', '.join(str(p) for p in line.events))}</td></tr>"
        for line in s.lines
    )
    deals = "".join(
        f"<li><b>{e(d['deal_id'])}</b> ({e(', '.join(d['lines']))}): "
        + "; ".join(f"#{ev['position']} {e(ev['type'])} {e(str(ev['occurred_at']))}" for ev in d["events"])
        + "</li>"
        for d in s.deals
    )
    approved = (
        "not approved"
        if s.approved is None
        else f"approved {money(s.approved.amount)} (digest {e((s.approved.digest or '')[:16])}…), "
        f"owed now {money(s.approved.current)}, reproduced: {'yes' if s.reproduced else 'NO'}"
    )
    adjustments = "".join(
        f"<li>{money(a.amount)} — {e(a.reason or '')}</li>" for a in (s.approved.adjustments if s.approved else [])
    )
    signed = "acknowledged" if s.plan_acknowledged else "NOT acknowledged by the rep"
    plan = "no plan" if s.plan is None else f"{e(s.plan.plan_id)} v{e(str(s.plan.version))} ({signed})"
    disputes = "".join(f"<li>{e(d['dispute_id'])}: {e(d['status'])} {e(d['outcome'] or '')}</li>" for d in s.disputes)
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>Statement {e(s.rep_id)} {e(s.period)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:.3em;text-align:left}}.n{{text-align:right}}@media print{{a{{display:none}}}}</style></head>
<body><h1>Statement — {e(s.rep_id)}, {e(s.period)}</h1>
<p>Plan: {plan}. Known at {e(str(s.known_at))}; as of {e(str(s.as_of))}.</p>
<table><thead><tr><th>component</th><th>kind</th><th class=n>amount</th><th>events</th></tr></thead><tbody>{lines}</tbody>
<tfoot><tr><th colspan=2>total</th><th class=n>{money(s.total)}</th><th></th></tr></tfoot></table>
<p>{approved}. Today: {money(s.today.total)} (difference {money(s.today.difference)}).</p>
<h2>Adjustments</h2><ul>{adjustments or "<li>none</li>"}</ul>
<h2>Deals behind the lines</h2><ul>{deals or "<li>none</li>"}</ul>
<h2>Disputes</h2><ul>{disputes or "<li>none</li>"}</ul>
<p><small>Digest {e(s.digest)}</small></p></body></html>"""
