"""Plain tables for payouts: plan versions and assignments, awards, approvals, adjustments, closes.

Each row keeps its event's position and both times, so a payout can be computed "as the
ledger knew it" (`recorded_us <= K`) and its lines can name the events behind them.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from ledger.aggregates import scope_key
from ledger.decoding import LogRecord
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import (
    awards,
    payout_adjustments,
    payout_approvals,
    period_closes,
    plan_assignments,
    plan_versions,
)
from projections.units import cents, micros, occurred_us

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


def _stamp(r: LogRecord) -> dict:
    return {"position": r.position, "occurred_us": occurred_us(r), "recorded_us": r.recorded_at}


def _micros_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


@on("IncentivePlanPublished")
def plan_published(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        plan_versions,
        {
            **_stamp(r),
            "plan_id": d["plan_id"],
            "version": d["version"],
            "effective_from": d["effective_from"],
            "rules": orjson.dumps(d["rules"], default=str).decode(),
        },
    )


@on("IncentivePlanAssigned")
def plan_assigned(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        plan_assignments,
        {**_stamp(r), "scope_key": scope_key(d["scope"]), "plan_id": d["plan_id"], "from_period": d["from_period"]},
    )


@on("AwardGranted")
def award_granted(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        awards,
        {
            **_stamp(r),
            "rep_id": d["rep_id"],
            "period": d["period"],
            "amount_cents": cents(d["amount"]),
            "reason": d["reason"],
        },
    )


@on("PayoutApproved")
def payout_approved(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        payout_approvals,
        {
            **_stamp(r),
            "rep_id": d["rep_id"],
            "period": d["period"],
            "amount_cents": cents(d["amount"]),
            "plan_id": d["plan_id"],
            "plan_version": d["plan_version"],
            "digest": d["digest"],
            "known_at_us": _micros_or_none(d.get("known_at")),
        },
    )


@on("PayoutAdjusted")
def payout_adjusted(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        payout_adjustments,
        {
            **_stamp(r),
            "rep_id": d["rep_id"],
            "period": d["period"],
            "amount_cents": cents(d["amount"]),
            "reason": d["reason"],
            "replay_id": d.get("replay_id"),
        },
    )


@on("PeriodClosed")
def period_closed(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        period_closes,
        {**_stamp(r), "period": d["period"], "head": d.get("head"), "head_position": d.get("head_position")},
    )


class IncentivesProjection(Projection):
    name = "incentives"
    tables = (plan_versions, plan_assignments, awards, payout_approvals, payout_adjustments, period_closes)
    handlers = HANDLERS
