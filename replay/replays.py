"""Replaying a period under another plan: every rep's payout, and the difference, line by line.

Each difference is split by cause (`causes`): the rule's effect (the facts as known at approval,
under the replayed plan), the facts' effect (what was learned since approval, under the approved
plan, each event with the lines it moved and, for a dispute's correction, its dispute) and what
the two make together beyond their sum.

The baseline of each rep is what was approved (recomputed from the approval's own knowledge
time under the plan it recorded, plus the adjustments since) or, where nothing was approved, the
payout computed under the plan in force. A replay writes nothing; `record_adjustments` then
records the differences as `PayoutAdjusted` events in one atomic batch, each with an event_id
derived from the replay, so recording the same replay twice writes it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Engine

from ledger.config import PinnedClock, Settings
from ledger.decoding import micros_to_time
from ledger.gc_pause import paused_gc
from ledger.plan_schema import parse_rules, rules_to_json
from ledger.store import Ledger
from ledger.transcoder import canonical
from projections.db import held_reading, reading
from projections.payouts.assembly import (
    ApprovalState,
    Payout,
    PlanError,
    PlanVersion,
    active_reps,
    approval_states,
    figures_alike,
    memo_value,
    memoized,
    payout,
    period_payouts,
    plan_version,
    read_figures_ahead,
)
from projections.queries.cutoffs import Cutoffs, cutoffs
from projections.runner import catch_up
from replay.explain import describe, events_between, line_diff
from replay.slices import in_slices


@dataclass(frozen=True)
class PlanRequest:
    """`{"plan_id", "version"}` of a published plan, or `{"rules": {…}}` for a draft."""

    plan_id: str | None = None
    version: int | None = None
    rules: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PlanRequest:
        if "rules" in body:
            return cls(plan_id=str(body.get("plan_id") or "draft"), rules=body["rules"])
        if "plan_id" in body and "version" in body:
            return cls(plan_id=str(body["plan_id"]), version=int(body["version"]))
        raise PlanError('plan: give {"plan_id": …, "version": …} or {"rules": {…}}')


def resolve_plan(engine: Engine, request: PlanRequest, known_us: int) -> PlanVersion:
    if request.rules is not None:
        parsed, problems = parse_rules(request.rules)
        if problems:
            raise PlanError("; ".join(f"plan.rules.{p.field}: {p.message}" for p in problems))
        assert parsed is not None
        return PlanVersion(request.plan_id or "draft", None, None, rules_to_json(parsed))
    with reading(engine) as conn:
        found = plan_version(conn, request.plan_id or "", request.version or 0, known_us)
    if found is None:
        raise PlanError(f"plan {request.plan_id} version {request.version} is not published (as known at that time)")
    return found


def replay(
    ledger: Ledger, engine: Engine, settings: Settings, period: str, plan: PlanRequest, known_at: datetime | None = None
) -> dict[str, Any]:
    head = catch_up(ledger, engine)
    # one "now" for the whole replay, its worker processes' slices included: a period in progress
    # is read as of the same moment for every rep
    settings = replace(settings, clock=PinnedClock(settings.now()))
    if known_at is None:
        known_us = ledger.recorded_at_of(head) or 0  # pin the replay to what the ledger knows now
        known_at = micros_to_time(known_us)
    cut = cutoffs(settings, period, known_at=known_at)
    chosen = resolve_plan(engine, plan, cut.known_us)
    # every rep's payouts and difference; thousands of reps in slices, several processes at once.
    # This process's reads are one read transaction, its slice's included (`held_reading`).
    with held_reading(engine):
        with reading(engine) as conn:
            reps = active_reps(conn, cut)
        asked = Asked(str(cut.period), chosen, known_at)
        payouts, diff = in_slices(replay_reps, ledger, engine, settings, asked, reps)
    replay_id = _replay_id(str(cut.period), chosen, cut.known_us)
    return {
        "replay_id": replay_id,
        "period": str(cut.period),
        "known_at": known_at,
        "plan": {**chosen.label(), "draft": chosen.version is None},
        "payouts": payouts,
        "diff": diff,
    }


class Asked(NamedTuple):
    """What a replay asks of each rep: its period, the plan replayed and the knowledge time."""

    period: str
    plan: PlanVersion
    known_at: datetime


def replay_reps(
    ledger: Ledger, engine: Engine, settings: Settings, asked: Asked, reps: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The payouts of `reps` under the replayed plan and their differences (`replay`'s "payouts"
    and "diff" for these reps, in their order)."""
    period, chosen, known_at = asked
    cut = cutoffs(settings, period, known_at=known_at)
    # The baseline reuses the replay's reads of each rep's figures (same cut-offs); every read of
    # the projections is one read transaction (`held_reading`).
    with memoized(), held_reading(engine), paused_gc():
        replayed = period_payouts(engine, settings, period, known_at=known_at, plan=chosen, rep_ids=reps)
        states = approval_states(engine, period, cut.known_us, reps)
        approved = _approved_cuts(settings, period, states)
        positions = ledger.positions_at([c.known_us for c in approved.values()] + [cut.known_us]) if approved else {}
        # an approval after which only payout bookkeeping was recorded saw the figures read now
        taken = set(
            figures_alike({rep: (cut, approved[rep]) for rep in _unchanged_since(ledger, approved, positions, cut)})
        )
        read_figures_ahead(engine, settings, {rep: c for rep, c in approved.items() if rep not in taken})
        baseline = {rep: _baseline(engine, settings, rep, period, states[rep], known_at) for rep in reps}
        causes = {
            p.rep_id: _causes(ledger, engine, settings, p, baseline[p.rep_id], chosen, cut.known_us, positions)
            for p in replayed
        }
    return (
        [p.to_json() for p in replayed],
        [{**_diff_row(p, baseline[p.rep_id][0], states[p.rep_id]), **causes[p.rep_id]} for p in replayed],
    )


# What finance records once a period's payouts are computed: none of it is read by a rep's figures.
PAYOUT_BOOKKEEPING = ("PayoutApproved", "PayoutAdjusted", "PeriodClosed", "PlanAcknowledged")


def _unchanged_since(
    ledger: Ledger, approved: dict[str, Cutoffs], positions: dict[int, int], cut: Cutoffs
) -> list[str]:
    """The approved reps whose figures at their approval's knowledge time are their figures now:
    the log holds nothing but payout bookkeeping after their approval's position, so every row a
    figure reads was recorded by then. (A closed quarter of 4,963 reps approved team by team at
    10M events, each rep's figures read at its approval and now: the replay 11.8 -> 7.8 s.)"""
    if not approved or cut.known_us not in positions:  # (no positions: each rep's read on its own)
        return []
    last = ledger.last_position_except(PAYOUT_BOOKKEEPING, positions[cut.known_us])
    return [rep for rep, approved_cut in approved.items() if positions.get(approved_cut.known_us, -1) >= last]


def _approved_cuts(settings: Settings, period: str, states: dict[str, ApprovalState | None]) -> dict[str, Cutoffs]:
    """The cut-offs each approved payout was computed at (its own knowledge time), to read the
    figures of all of them together (`read_figures_ahead`) before `_baseline` reproduces each."""
    return {
        rep_id: cutoffs(settings, period, known_at=micros_to_time(state.known_at_us))
        for rep_id, state in states.items()
        if state is not None and state.amount is not None and state.known_at_us is not None
    }


def _baseline(
    engine: Engine, settings: Settings, rep_id: str, period: str, state: ApprovalState | None, known_at: datetime
) -> tuple[Payout, PlanVersion | None]:
    """The approved computation (reproduced at its own knowledge time) and its plan, else today's
    under the plan in force (and None)."""
    if state is not None and state.amount is not None and state.known_at_us is not None:
        with reading(engine) as conn:
            approved_plan = plan_version(conn, state.plan_id or "", state.plan_version or 0, state.known_at_us)
        if approved_plan is not None:
            computed = payout(
                engine, settings, rep_id, period, known_at=micros_to_time(state.known_at_us), plan=approved_plan
            )
            return computed, approved_plan
    return payout(engine, settings, rep_id, period, known_at=known_at), None


def _causes(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    replayed: Payout,
    base: tuple[Payout, PlanVersion | None],
    chosen: PlanVersion,
    known_us: int,
    positions: dict[int, int],
) -> dict[str, Any]:
    """The replay's difference against the baseline, split by cause (`positions`: the log's
    position at each approval's knowledge time and at `known_us`, `Ledger.positions_at`):

    - `rule`: the facts as known at approval, under the replayed plan, against the approval (the
      plan's effect alone); its events: the plans' publications;
    - `facts`: what was learned since approval (the facts as known now), under the approved plan
      (the facts' effect alone); its events: those recorded since approval that touched the
      payout's inputs, each with the lines it moved and, for a dispute's correction, the dispute;
    - `both`: what the two changes make together beyond their sum (a new rate on new revenue).

    rule + facts + both = after − the approved figure. A payout never approved has no facts
    learned since: its whole difference is the rule's."""
    baseline, approved_plan = base
    period = baseline.period
    plans = [p for p in (baseline.plan, chosen) if p is not None and p.position is not None]
    plan_events = _described(ledger, tuple(sorted({p.position for p in plans if p.position})))
    if approved_plan is None:
        rule = _effect(baseline, replayed, plan_events)
        return {"causes": {"rule": rule, "facts": _effect(baseline, baseline, []), "both": Decimal("0.00")}}
    approved_us = baseline.cut.known_us
    under_new_rule = payout(
        engine, settings, replayed.rep_id, period, known_at=micros_to_time(approved_us), plan=chosen
    )
    with_new_facts = payout(
        engine, settings, replayed.rep_id, period, known_at=micros_to_time(known_us), plan=approved_plan
    )
    span = (positions[approved_us], positions[known_us]) if approved_us in positions else None
    learned = events_between(ledger, engine, baseline, with_new_facts, approved_us, known_us, span)
    rule = _effect(baseline, under_new_rule, plan_events)
    facts = _effect(baseline, with_new_facts, learned)
    both = replayed.total - baseline.total - rule["delta"] - facts["delta"]
    return {"causes": {"rule": rule, "facts": facts, "both": both}}


def _described(ledger: Ledger, positions: tuple[int, ...]) -> list[dict[str, Any]]:
    """The plans' publications, described: every rep of a period names the same one or two, read
    once a replay (within `memoized()`) where each rep read them (a lookup in the log a rep: 17 s
    of a 5,000-rep replay on PostgreSQL). Each caller gets its own copies."""
    found = memo_value(("described", positions), lambda: [describe(r) for r in ledger.events_at(positions)])
    return [dict(event) for event in found]


def _effect(before: Payout, after: Payout, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "delta": after.total - before.total,
        "lines": [row for row in line_diff(before, after) if row["delta"]],
        "events": events,
        "disputes": sorted({e["dispute_id"] for e in events if "dispute_id" in e}),
    }


def _diff_row(replayed: Payout, baseline: Payout, state: ApprovalState | None) -> dict[str, Any]:
    before = state.current if state is not None else baseline.total
    return {
        "rep_id": replayed.rep_id,
        "before": before,
        "after": replayed.total,
        "delta": replayed.total - before,
        "basis": "approved" if state is not None else "computed",
        "lines": line_diff(baseline, replayed),
    }


def _replay_id(period: str, plan: PlanVersion, known_us: int) -> str:
    body = canonical({"period": period, "plan": plan.label(), "rules": plan.rules_json, "known_us": known_us})
    return "rp-" + hashlib.sha256(body).hexdigest()[:20]
