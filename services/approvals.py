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
from ledger.messages import Msg
from ledger.store import Ledger
from projections.db import reading
from projections.payouts.assembly import (
    Payout,
    active_reps,
    approval_state,
    approval_states,
    closed_by,
    payout,
    period_payouts,
)
from projections.queries.cutoffs import cutoffs
from projections.queries.membership import ScopeFilter, parse_scope, scope_exists
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


def _approval_envelope(ledger: Ledger, computed: Payout) -> dict:
    assert computed.plan is not None and computed.plan.version is not None
    return {
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


def _record_approval(ledger: Ledger, computed: Payout, actor: str) -> ApprovalResult:
    envelope = _approval_envelope(ledger, computed)
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


# ---------------------------------------------------------------- a whole scope at once

MAX_BULK_REPS = 500  # reps per bulk approval: a larger scope is approved a region or team at a time
BULK_SCOPES = ("company", "region", "team")


class BulkScopeError(ValueError):
    """The scope a bulk approval was asked for is not one it takes (a rep, or too many reps)."""


class ScopeUnknown(LookupError):
    """No rep was ever in the team or region named."""


class BulkTooLarge(BulkScopeError):
    """The scope holds more reps than one bulk approval takes; the message names the cap."""


@dataclass(frozen=True)
class BulkResult:
    """What a bulk approval did, rep by rep: approved now (one batch), unchanged (approved before
    at the figure computed now), adjusted (approved before, the figure moved since: nothing
    recorded, `what_to_do` says how) and refused (why)."""

    scope: str
    period: str
    known_at: str
    approved: list[dict]
    unchanged: list[dict]
    adjusted: list[dict]
    refused: list[dict]

    def to_json(self) -> dict:
        return {
            "scope": self.scope,
            "period": self.period,
            "known_at": self.known_at,
            "counts": {
                "approved": len(self.approved),
                "unchanged": len(self.unchanged),
                "adjusted": len(self.adjusted),
                "refused": len(self.refused),
            },
            "approved": self.approved,
            "unchanged": self.unchanged,
            "adjusted": self.adjusted,
            "refused": self.refused,
        }


def scope_reps(engine: Engine, settings: Settings, scope: str, period: str, known_us: int) -> list[str]:
    """The reps active in the period (as known at `known_us`) with any time in the scope during it."""
    try:
        parsed = parse_scope(scope)
    except ValueError as error:
        raise BulkScopeError(*error.args) from None
    if parsed.kind not in BULK_SCOPES:
        raise BulkScopeError(
            Msg("bulk.scope", "a bulk approval takes company, region:NAME or team:ID, not {scope}", scope=scope)
        )
    cut = cutoffs(settings, period, None, micros_to_time(known_us))
    with reading(engine) as conn:
        if not scope_exists(conn, parsed):
            raise ScopeUnknown(Msg("not_found", "{what} not found", what=f"scope {scope}"))
        active = active_reps(conn, cut)
        members = ScopeFilter.load(conn, parsed, known_us).reps(cut.start_us, cut.end_us)
    return active if members is None else [rep for rep in active if rep in set(members)]


def approve_scope(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    actor: str,
    reach: frozenset[str] | None = None,
) -> BulkResult:
    """Approve every payout of a scope (company, region, team) for a period in one batch.

    Each rep active in the period with time in the scope is computed as a single approval
    would; those never approved and with a plan in force are approved together, all or nothing.
    Nothing else is recorded: an approved payout whose figure moved is listed under `adjusted`
    with the way to record the difference; a rep beyond `reach` (None: every rep), without a
    plan, or in a closed period is listed under `refused` with why. At most MAX_BULK_REPS reps.
    """
    head = catch_up(ledger, engine)
    known_us = ledger.recorded_at_of(head) if head else None
    if known_us is None:
        raise ApprovalRefused("the ledger is empty: there is nothing to approve")
    reps = scope_reps(engine, settings, scope, period, known_us)
    if len(reps) > MAX_BULK_REPS:
        raise BulkTooLarge(
            Msg(
                "bulk.too_many",
                "{scope} has {count} reps in {period}, more than the {cap} one bulk approval takes: "
                "approve it a region or a team at a time",
                scope=scope,
                count=len(reps),
                period=period,
                cap=MAX_BULK_REPS,
            )
        )
    known = micros_to_time(known_us)
    cut = cutoffs(settings, period, None, known)
    found = BulkResult(scope, str(cut.period), known.isoformat(), [], [], [], [])
    with reading(engine) as conn:
        closed = closed_by(conn, str(cut.period), known_us)
    if closed is not None:
        why = Msg(
            "period.closed",
            "period {period} is closed and takes no approval: replay it (POST /replays), then record "
            "the difference as a PayoutAdjusted (POST /replays/adjustments with the replay's period, plan "
            "and known_at)",
            period=closed,
        )
        found.refused.extend({"rep_id": rep, "reason": why} for rep in reps)
        return found
    mine = [rep for rep in reps if reach is None or rep in reach]
    found.refused.extend(
        {
            "rep_id": rep,
            "reason": Msg("bulk.reach", "beyond your reach: approve it with a token that reads {rep_id}", rep_id=rep),
        }
        for rep in reps
        if rep not in mine
    )
    computed = period_payouts(engine, settings, str(cut.period), known_at=known, rep_ids=mine) if mine else []
    states = approval_states(engine, str(cut.period), known_us, mine)
    to_approve: list[Payout] = []
    for each in computed:
        state = states.get(each.rep_id)
        if each.plan is None or each.plan.version is None:
            reason = Msg(
                "bulk.no_plan",
                "no incentive plan is in force for {rep_id} in {period}: publish and assign one first",
                rep_id=each.rep_id,
                period=each.period,
            )
            found.refused.append({"rep_id": each.rep_id, "reason": reason})
        elif state is None:
            to_approve.append(each)
        elif state.current == each.total:
            found.unchanged.append({"rep_id": each.rep_id, "amount": each.total})
        else:
            found.adjusted.append(
                {
                    "rep_id": each.rep_id,
                    "approved": state.current,
                    "total": each.total,
                    "difference": each.total - state.current,
                    "what_to_do": Msg(
                        "bulk.adjusted",
                        "approved at {approved}, computed now at {total}: approve {rep_id} alone "
                        "(POST /payouts/{rep_id}/{period}/approve) to record the difference as a PayoutAdjusted",
                        approved=state.current,
                        total=each.total,
                        rep_id=each.rep_id,
                        period=each.period,
                    ),
                }
            )
    if to_approve:
        envelopes = [_approval_envelope(ledger, each) for each in to_approve]
        try:
            recorded = ledger.record(envelopes, actor, system=True)
        except InvalidBatch as refused:
            raise ApprovalRefused(refused.problems[0].message) from refused
        for each, position in zip(to_approve, recorded.positions, strict=True):
            found.approved.append(
                {"rep_id": each.rep_id, "amount": each.total, "digest": each.digest, "position": position}
            )
        catch_up(ledger, engine)
    found.refused.sort(key=lambda row: row["rep_id"])
    return found
