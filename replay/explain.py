"""Explaining a payout: total → lines → inputs → the events behind them, as the ledger knew them.

With no `known_at`, an approved payout is recomputed from exactly what the ledger knew when it
was approved (the approval's knowledge time) under the plan version it recorded, and the digest
says whether that reproduces it. `trail` tells an adjusted payout's story: the approved figure,
every adjustment since (its reason, its replay) and the figure now. Later corrections, backdated
deals and new plan versions cannot change that answer; they show as the difference between the
approved figure and today's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from ledger.config import Settings
from ledger.decoding import LogRecord, micros_to_time
from ledger.store import Ledger
from projections.db import reading
from projections.folds.trust import dispute_events
from projections.payouts.assembly import Payout, PlanError, approval_state, payout, plan_version
from projections.queries.cutoffs import aware_micros, now_micros


def explain(
    ledger: Ledger, engine: Engine, settings: Settings, rep_id: str, period: str, known_at: datetime | None = None
) -> dict[str, Any]:
    now_us = now_micros(settings)
    with reading(engine) as conn:
        approved = approval_state(conn, rep_id, period, now_us)
        plan = None
        if known_at is None and approved is not None and approved.amount is not None:
            assert approved.plan_id is not None and approved.plan_version is not None  # an approval names its plan
            plan = plan_version(conn, approved.plan_id, approved.plan_version, now_us)
            if plan is None:
                raise PlanError(f"plan {approved.plan_id} v{approved.plan_version} of the approval is not in the log")
    if plan is not None:
        assert approved is not None and approved.known_at_us is not None
        computed = payout(engine, settings, rep_id, period, known_at=micros_to_time(approved.known_at_us), plan=plan)
    else:
        computed = payout(engine, settings, rep_id, period, known_at=known_at)
    today = payout(engine, settings, rep_id, period) if plan is not None else computed
    reproduced = approved is not None and approved.digest is not None and approved.digest == computed.digest
    return {
        **computed.to_json(),
        "approved": None if approved is None else approved.to_json(),
        "reproduced": reproduced,
        "today": {
            "total": today.total,
            "digest": today.digest,
            "difference": today.total - (approved.current if approved else computed.total),
        },
        "tree": derivation_tree(ledger, computed),
        "trail": trail(approved, today.total),
    }


def trail(approved: Any, now: Decimal) -> list[dict[str, Any]]:
    """An approved payout's story: the approved figure, every adjustment since (with what was owed
    after it), and the figure computed now (`difference`: now − owed). Empty when never approved."""
    if approved is None:
        return []
    steps: list[dict[str, Any]] = []
    owed = approved.amount or Decimal("0.00")
    if approved.amount is not None:
        steps.append({"kind": "approved", "amount": approved.amount, "position": approved.position, "owed": owed})
    for adjustment in approved.adjustments:
        owed += adjustment["amount"]
        steps.append({"kind": "adjusted", **adjustment, "owed": owed})
    steps.append({"kind": "now", "amount": now, "owed": owed, "difference": now - owed})
    return steps


def derivation_tree(ledger: Ledger, computed: Payout) -> dict[str, Any]:
    """total → lines → inputs → events (type, business time, knowledge time, position, data); and
    `events`: each event behind the payout once, in the order it happened, with the `lines` (their
    components) resting on it, for a reader who follows the lines back to one list."""
    positions = {p for line in computed.evaluation.lines for p in line.events}
    events = {record.position: describe(record) for record in ledger.events_at(sorted(positions))}
    resting: dict[int, list[str]] = {}
    for line in computed.evaluation.lines:
        for position in line.events:
            if position in events and line.component not in resting.setdefault(position, []):
                resting[position].append(line.component)
    once = sorted(
        events.values(), key=lambda e: (e["occurred_at"].timestamp() if e["occurred_at"] else 0.0, e["position"])
    )
    return {
        "events": [{**event, "lines": resting.get(event["position"], [])} for event in once],
        "total": computed.total,
        "lines": [
            {
                "component": line.component,
                "kind": line.kind,
                "amount": line.amount,
                "inputs": line.inputs,
                "events": [events[p] for p in line.events if p in events],
            }
            for line in computed.evaluation.lines
        ],
    }


def describe(record: LogRecord) -> dict[str, Any]:
    return {
        "position": record.position,
        "type": record.type,
        "occurred_at": record.occurred_at,
        "recorded_at": micros_to_time(record.recorded_at),
        "rep_id": record.rep_id,
        "data": record.data,
    }


def explain_change(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    rep_id: str,
    period: str,
    from_known_at: datetime,
    to_known_at: datetime,
) -> dict[str, Any]:
    """Why a payout moved between two knowledge times: the events recorded in between that
    touched its inputs, each with the lines it moved, and the lines they changed."""
    lo, hi = aware_micros(from_known_at, "from_known_at"), aware_micros(to_known_at, "to_known_at")
    if hi < lo:
        raise ValueError("to_known_at must not be before from_known_at")
    before = payout(engine, settings, rep_id, period, known_at=from_known_at)
    after = payout(engine, settings, rep_id, period, known_at=to_known_at)
    events = events_between(ledger, engine, before, after, lo, hi)
    return {
        "rep_id": rep_id,
        "period": before.period,
        "from_known_at": from_known_at,
        "to_known_at": to_known_at,
        "before": before.total,
        "after": after.total,
        "delta": after.total - before.total,
        "plan": {
            "before": None if before.plan is None else before.plan.label(),
            "after": None if after.plan is None else after.plan.label(),
        },
        "lines": line_diff(before, after),
        "events": events,
    }


def events_between(
    ledger: Ledger,
    engine: Engine,
    before: Payout,
    after: Payout,
    lo: int,
    hi: int,
    positions: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The events recorded in (lo, hi] that touched either payout's inputs (or its plan), each
    with the `lines` it moved (the components whose events cite it and whose amount changed:
    every changed line for a plan) and, for a dispute's correction or resolution, its `dispute_id`.

    `positions`: the log's positions at lo and at hi (`Ledger.positions_at`), when the caller
    has them: the events recorded in (lo, hi] are then those at positions between, picked here,
    and the log is read only when some are (a replay of an approved quarter, where most reps
    learned nothing since their approval, asked the log about every rep's evidence)."""
    touched = {
        p for evidence in (before.evidence, after.evidence) for positions in evidence.values() for p in positions
    }
    for computed in (before, after):
        if computed.plan is not None and computed.plan.position is not None:
            touched.add(computed.plan.position)
    changed = {row["component"] for row in line_diff(before, after) if row["delta"]}
    citing: dict[int, set[str]] = {}
    for computed in (before, after):
        for line in computed.evaluation.lines:
            for position in line.events:
                citing.setdefault(position, set()).add(line.component)
    plans = {c.plan.position for c in (before, after) if c.plan is not None and c.plan.position is not None}
    wanted = sorted(touched)
    if positions is not None:
        wanted = [p for p in wanted if positions[0] < p <= positions[1]]
    records = ledger.events_at(wanted, recorded_in=(lo, hi)) if wanted else []
    disputes = dispute_of_positions(engine, [r.position for r in records])
    found = []
    for record in records:
        moved = changed if record.position in plans else citing.get(record.position, set()) & changed
        entry = {**describe(record), "lines": sorted(moved)}
        if record.position in disputes:
            entry["dispute_id"] = disputes[record.position]
        found.append(entry)
    return found


def dispute_of_positions(engine: Engine, positions: list[int]) -> dict[int, str]:
    """position → the dispute whose accepted resolution it corrects (or is), for those positions."""
    if not positions:
        return {}
    d = dispute_events.c
    lo, hi = min(positions), max(positions)
    with reading(engine) as conn:
        rows = conn.execute(
            select(d.dispute_id, d.position, d.first_correction).where(
                d.kind == "resolved", d.position >= lo, func.coalesce(d.first_correction, d.position) <= hi
            )
        ).all()
    wanted, found = set(positions), {}
    for row in rows:
        for position in range(row.first_correction or row.position, row.position + 1):
            if position in wanted:
                found[position] = row.dispute_id
    return found


def line_diff(before: Payout, after: Payout) -> list[dict[str, Any]]:
    """Per component: amount before, after and the difference (a line may exist on one side only)."""
    zero = Decimal("0.00")
    old = _amounts(before)
    new = _amounts(after)
    keys = list(dict.fromkeys([*old, *new]))
    return [
        {
            "component": k,
            "before": old.get(k, zero),
            "after": new.get(k, zero),
            "delta": new.get(k, zero) - old.get(k, zero),
        }
        for k in keys
    ]


def _amounts(computed: Payout) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in computed.evaluation.lines:
        amounts[line.component] = amounts.get(line.component, Decimal("0.00")) + line.amount
    return amounts
