"""What a rep is shown: their statement, whether they signed their plan, and their disputes.

A statement is the payout explanation of a period (lines, inputs, the events and deals behind
them, approved against current, adjustments, the draw balance) plus the rep's acknowledgement of
the plan it was computed under, the disputes they opened on it and their non-cash recognitions
of the period (RecognitionGranted: 荣誉证书, 优秀销售; never a payout line). A dispute is one query: its
timeline and, once resolved, the payout just before and just after the resolution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ledger.config import Settings
from ledger.decoding import micros_to_time
from ledger.store import Ledger
from projections.db import reading
from projections.folds.trust import dispute_events, plan_acknowledgements
from projections.payouts.assembly import active_reps, payout, plan_in_force
from projections.queries.cutoffs import aware_micros, cutoffs, now_micros
from projections.tables import rep_timeline
from replay.explain import explain, line_diff


class DisputeNotFound(LookupError):
    """No such dispute (or not one the caller may see)."""


def statement(
    ledger: Ledger, engine: Engine, settings: Settings, rep_id: str, period: str, known_at: datetime | None = None
) -> dict[str, Any]:
    explained = explain(ledger, engine, settings, rep_id, period, known_at)
    plan = explained["plan"]
    with reading(engine) as conn:
        acknowledged = None if plan is None else _acknowledgement(conn, rep_id, plan["plan_id"], plan["version"])
        disputes = _disputes_of(conn, rep_id, explained["period"])
        recognitions = recognitions_of(
            conn, rep_id, explained["period"], aware_micros(explained["known_at"], "known_at")
        )
    return {
        **explained,
        "deals": _deals_behind(explained["tree"]),
        "plan_acknowledged": acknowledged,
        "disputes": disputes,
        "recognitions": recognitions,
    }


def recognitions_of(conn: Any, rep_id: str, period: str, known_us: int) -> list[dict[str, Any]]:
    """The rep's non-cash recognitions (RecognitionGranted) for the period, as known at known_us."""
    t = rep_timeline.c
    rows = conn.execute(
        select(t.position, t.occurred_us, t.payload)
        .where(t.rep_id == rep_id, t.kind == "recognition", t.recorded_us <= known_us)
        .order_by(t.position)
    ).all()
    found = []
    for row in rows:
        data = orjson.loads(row.payload)
        if data.get("period") == period:
            found.append(
                {
                    "title": data["title"],
                    "reason": data.get("reason"),
                    "position": row.position,
                    "occurred_at": micros_to_time(row.occurred_us),
                }
            )
    return found


def _acknowledgement(conn: Any, rep_id: str, plan_id: str, version: int | None) -> dict[str, Any] | None:
    a = plan_acknowledgements.c
    row = conn.execute(
        select(a.position, a.recorded_us)
        .where(a.rep_id == rep_id, a.plan_id == plan_id, a.version == version)
        .order_by(a.position)
    ).first()
    return None if row is None else {"position": row.position, "recorded_at": micros_to_time(row.recorded_us)}


def _deals_behind(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Every deal whose events a line used, with those events, in the order first used."""
    deals: dict[str, dict[str, Any]] = {}
    for line in tree["lines"]:
        for event in line["events"]:
            deal_id = event["data"].get("deal_id")
            if deal_id is None:
                continue
            entry = deals.setdefault(deal_id, {"deal_id": deal_id, "lines": [], "events": {}})
            if line["component"] not in entry["lines"]:
                entry["lines"].append(line["component"])
            entry["events"][event["position"]] = event
    return [{**d, "events": [d["events"][p] for p in sorted(d["events"])]} for d in deals.values()]


def _disputes_of(conn: Any, rep_id: str, period: str) -> list[dict[str, Any]]:
    d = dispute_events.c
    rows = conn.execute(
        select(d.dispute_id, d.kind, d.outcome, d.position)
        .where(d.rep_id == rep_id, d.period == period)
        .order_by(d.position)
    ).all()
    status: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = status.setdefault(
            row.dispute_id,
            {"dispute_id": row.dispute_id, "opened_position": row.position, "status": "open", "outcome": None},
        )
        if row.kind == "resolved":
            entry.update(status="resolved", outcome=row.outcome)
    return list(status.values())


def dispute(ledger: Ledger, engine: Engine, settings: Settings, dispute_id: str) -> dict[str, Any]:
    """A dispute's timeline, and its effect on the payout: figure before and after the resolution."""
    d = dispute_events.c
    with reading(engine) as conn:
        rows = conn.execute(select(dispute_events).where(d.dispute_id == dispute_id).order_by(d.position)).all()
    if not rows:
        raise DisputeNotFound(f"no dispute {dispute_id}")
    opened, resolved = rows[0], next((r for r in rows if r.kind == "resolved"), None)
    timeline = [
        {
            "kind": r.kind,
            "position": r.position,
            "occurred_at": micros_to_time(r.occurred_us),
            "recorded_at": micros_to_time(r.recorded_us),
            **orjson.loads(r.payload),
        }
        for r in rows
    ]
    answer: dict[str, Any] = {
        "dispute_id": dispute_id,
        "rep_id": opened.rep_id,
        "period": opened.period,
        "status": "resolved" if resolved else "open",
        "outcome": resolved.outcome if resolved else None,
        "timeline": timeline,
        "effect": None,
    }
    if resolved is not None:
        answer["corrections"] = [_describe(r) for r in ledger.events_at(_correction_positions(resolved))]
        answer["effect"] = _effect(ledger, engine, settings, opened.rep_id, opened.period, resolved)
    return answer


def _correction_positions(resolved: Any) -> list[int]:
    if resolved.first_correction is None:
        return []
    return list(range(resolved.first_correction, resolved.position))


def _describe(record: Any) -> dict[str, Any]:
    return {"position": record.position, "type": record.type, "occurred_at": record.occurred_at, "data": record.data}


def _effect(
    ledger: Ledger, engine: Engine, settings: Settings, rep_id: str, period: str, resolved: Any
) -> dict[str, Any]:
    """The payout as known just before the resolution's batch, and as known with it."""
    first = resolved.first_correction or resolved.position
    before_us = ledger.recorded_at_of(first - 1) if first > 1 else 0
    before = payout(engine, settings, rep_id, period, known_at=micros_to_time(before_us or 0))
    after = payout(engine, settings, rep_id, period, known_at=micros_to_time(resolved.recorded_us))
    return {
        "before": before.total,
        "after": after.total,
        "delta": after.total - before.total,
        "lines": line_diff(before, after),
    }


def unacknowledged(
    engine: Engine, settings: Settings, period: str, known_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Reps active in the period who have not acknowledged the plan version they are paid under."""
    cut = cutoffs(settings, period, known_at=known_at)
    missing = []
    with reading(engine) as conn:
        for rep_id in active_reps(conn, cut):
            plan, _ = plan_in_force(conn, rep_id, cut)
            if plan is None:
                continue
            if _acknowledgement(conn, rep_id, plan.plan_id, plan.version) is None:
                missing.append({"rep_id": rep_id, "plan_id": plan.plan_id, "version": plan.version})
    return missing


__all__ = ["DisputeNotFound", "dispute", "statement", "unacknowledged", "now_micros"]
