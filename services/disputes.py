"""Disputes that stand on facts: one opened names a payout line that exists, and one resolved with
corrections records them in the same batch, linked by the ledger, with its effect on the payout.

- `check_opened` (services/dispute_facts.py, run by every recording with the projections): every
  DisputeOpened of a batch names a `component` that is a line of the rep's payout for that
  period as computed now (a period with a computed payout: a plan in force). Its `deal_id`, if
  any, is checked by the ledger itself (the deal exists and is, or was, credited to the rep:
  `ledger.commands.dispute_opened`).
- `resolve`: the resolution's correcting events' bodies are recorded just before DisputeResolved
  in one batch (all or nothing); their event_ids (given or made here) fill its `corrections`,
  and the resolver is the token's person. The answer is the dispute as read back: its timeline,
  its corrections and the payout of the disputed period before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.errors import InvalidBatch
from ledger.messages import Msg
from ledger.schemas import Problem
from ledger.store import Ledger
from projections.runner import catch_up
from replay.statements import DisputeNotFound, dispute
from services.policy import NotVisible, OrgView, User, may_read_rep
from services.recording import record_events

MAX_CORRECTIONS = 20  # as DisputeResolved.corrections


class ResolutionRefused(ValueError):
    """The resolution asked for is malformed; `field` names what to fix."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def resolve(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    user: User,
    org: OrgView,
    dispute_id: str,
    outcome: str,
    reason: str,
    corrections: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Resolve a dispute the caller may read, recording `corrections` (event envelopes) just
    before the DisputeResolved in one batch. NotVisible for a dispute absent or beyond reach."""
    catch_up(ledger, engine)
    try:
        found = dispute(ledger, engine, settings, dispute_id)
    except DisputeNotFound:
        raise NotVisible(f"dispute {dispute_id}") from None
    if not may_read_rep(user, found["rep_id"], org):
        raise NotVisible(f"dispute {dispute_id}")  # never confirm another rep's dispute exists
    if outcome == "rejected" and corrections:
        raise ResolutionRefused(
            "body.corrections", Msg("dispute.rejected_corrections", "a rejected dispute corrects nothing")
        )
    if len(corrections) > MAX_CORRECTIONS:
        raise ResolutionRefused(
            "body.corrections",
            Msg("dispute.corrections_many", "at most {limit} corrections a resolution", limit=MAX_CORRECTIONS),
        )
    fixes = [_with_event_id(envelope, dispute_id) for envelope in corrections]
    resolution = {
        "type": "DisputeResolved",
        "occurred_at": settings.now().isoformat(),
        "data": {
            "dispute_id": dispute_id,
            "outcome": outcome,
            "reason": reason,
            "corrections": [fix["event_id"] for fix in fixes],
        },
    }
    try:
        recorded = record_events(ledger, [*fixes, resolution], user, org, engine, settings)
    except InvalidBatch as refused:
        raise InvalidBatch([_in_body(problem, len(fixes)) for problem in refused.problems]) from None
    catch_up(ledger, engine)
    return {**dispute(ledger, engine, settings, dispute_id), "positions": recorded.positions}


def _in_body(problem: Problem, fixes: int) -> Problem:
    """A problem of the recorded batch, named by where it came from in the command's body: a
    correction's field (`body.corrections[0].data.amount`), or the resolution's own (`body.reason`)."""
    if problem.index < fixes:
        return Problem(problem.index, f"body.corrections[{problem.index}].{problem.field}", problem.message)
    return Problem(problem.index, "body." + problem.field.removeprefix("data."), problem.message)


def _with_event_id(envelope: dict[str, Any], dispute_id: str) -> dict[str, Any]:
    if not isinstance(envelope, dict):
        return envelope  # the batch's validation names it
    if envelope.get("event_id"):
        return envelope
    return {**envelope, "event_id": f"{dispute_id}-fix-{uuid.uuid4().hex[:12]}"}
