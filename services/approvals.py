"""Approving a payout: compute it from what the ledger knows now, and record that with a digest.

The knowledge time of an approval is the `recorded_at` of the last event the projections had
folded when the payout was computed — not the wall clock — so that recomputing at that
`known_at` later sees exactly the same events (positions are committed in order, so nothing
recorded later can carry an earlier knowledge time), and the digest is reproduced.

Approving twice is refused unless the figure changed; then the difference is recorded as a
`PayoutAdjusted`. A period closed before its approval takes no approval: replay it and record
the adjustment instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.errors import InvalidBatch
from ledger.store import Ledger
from projections.db import reading
from projections.payouts.assembly import Payout, approval_state, payout
from projections.runner import catch_up
from projections.units import micros_to_time


class ApprovalRefused(Exception):
    """The approval cannot be recorded; the message says why and what to do instead."""


@dataclass(frozen=True)
class ApprovalResult:
    kind: str  # approved | adjusted
    rep_id: str
    period: str
    amount: Decimal  # the approved amount, or the adjustment's difference
    total: Decimal  # the payout as computed now
    digest: str
    position: int

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "rep_id": self.rep_id,
            "period": self.period,
            "amount": self.amount,
            "total": self.total,
            "digest": self.digest,
            "position": self.position,
        }


def approve(ledger: Ledger, engine: Engine, settings: Settings, rep_id: str, period: str, actor: str) -> ApprovalResult:
    head = catch_up(ledger, engine)
    known_us = ledger.recorded_at_of(head) if head else None
    if known_us is None:
        raise ApprovalRefused("the ledger is empty: there is nothing to approve")
    computed = payout(engine, settings, rep_id, period, known_at=micros_to_time(known_us))
    if computed.plan is None:
        raise ApprovalRefused(f"no incentive plan is in force for {rep_id} in {period}: publish and assign one first")
    with reading(engine) as conn:
        state = approval_state(conn, rep_id, str(computed.cut.period), known_us)
    if state is not None and state.current == computed.total:
        raise ApprovalRefused(
            f"the payout of {rep_id} for {computed.period} is already approved at {state.current}; "
            "nothing changed since"
        )
    if state is None:
        result = _record_approval(ledger, computed, actor)
    else:
        result = _record_adjustment(ledger, computed, state.current, actor)
    catch_up(ledger, engine)
    return result


def _now(ledger: Ledger) -> str:
    return ledger.settings.now().isoformat()


def _record_approval(ledger: Ledger, computed: Payout, actor: str) -> ApprovalResult:
    assert computed.plan is not None and computed.plan.version is not None
    envelope = {
        "type": "PayoutApproved",
        "occurred_at": _now(ledger),
        "data": {
            "rep_id": computed.rep_id,
            "period": computed.period,
            "amount": str(computed.total),
            "plan_id": computed.plan.plan_id,
            "plan_version": computed.plan.version,
            "digest": computed.digest,
            "known_at": micros_to_time(computed.cut.known_us).isoformat(),
        },
    }
    try:
        recorded = ledger.record([envelope], actor, system=True)
    except InvalidBatch as refused:
        raise ApprovalRefused(refused.problems[0].message) from refused
    return ApprovalResult(
        "approved",
        computed.rep_id,
        computed.period,
        computed.total,
        computed.total,
        computed.digest,
        recorded.positions[0],
    )


def _record_adjustment(ledger: Ledger, computed: Payout, current: Decimal, actor: str) -> ApprovalResult:
    difference = computed.total - current
    envelope = {
        "type": "PayoutAdjusted",
        "occurred_at": _now(ledger),
        "data": {
            "rep_id": computed.rep_id,
            "period": computed.period,
            "amount": str(difference),
            "reason": f"re-approval: {current} → {computed.total} (digest {computed.digest[:16]})",
        },
    }
    try:
        recorded = ledger.record([envelope], actor, system=True)
    except InvalidBatch as refused:
        raise ApprovalRefused(refused.problems[0].message) from refused
    return ApprovalResult(
        "adjusted", computed.rep_id, computed.period, difference, computed.total, computed.digest, recorded.positions[0]
    )
