"""Recording a replay's differences as adjustments: once finance has reviewed a replay, every
non-zero difference becomes a `PayoutAdjusted`, in one atomic batch whose event ids derive from
the replay (recording it twice writes it once)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.store import Ledger
from projections.db import reading
from projections.payouts.assembly import closed_by
from projections.queries.cutoffs import aware_micros
from projections.runner import catch_up
from replay.replays import PlanRequest, replay


def _reason(replay_id: str, plan: dict[str, Any], row: dict[str, Any]) -> str:
    """Why, by cause: the rule change apart from the facts learned (and the disputes that corrected them)."""
    causes = row["causes"]
    text = f"replay {replay_id} under {plan['plan_id']} v{plan['version']}: rule {causes['rule']['delta']:+}"
    text += f", facts {causes['facts']['delta']:+}"
    if causes["facts"]["disputes"]:
        text += f" (dispute corrections: {', '.join(causes['facts']['disputes'])})"
    if causes["both"]:
        text += f", both {causes['both']:+}"
    return text


def record_adjustments(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    period: str,
    plan: PlanRequest,
    known_at: datetime,
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Record every non-zero difference of a replay as PayoutAdjusted, atomically and idempotently.

    `known_at` is required: it pins the replay (the one a replay answer carries), so the same
    call always computes the same differences and the same event_ids.
    """
    result = replay(ledger, engine, settings, period, plan, known_at)
    replay_id = result["replay_id"]
    with reading(engine) as conn:
        closed = closed_by(conn, result["period"], aware_micros(known_at, "known_at")) is not None
    # A rep never approved in an open period is approved, not adjusted; in a closed period the
    # adjustment is the only record there can be.
    adjustable = [
        row for row in result["diff"] if row["delta"] != Decimal("0.00") and (row["basis"] == "approved" or closed)
    ]
    envelopes: list[dict[str, Any]] = [
        {
            "type": "PayoutAdjusted",
            "event_id": f"{replay_id}-{row['rep_id']}",
            "occurred_at": known_at.isoformat(),
            "data": {
                "rep_id": row["rep_id"],
                "period": result["period"],
                "amount": str(row["delta"]),
                "reason": reason or _reason(replay_id, result["plan"], row),
                "replay_id": replay_id,
            },
        }
        for row in adjustable
    ]
    if not envelopes:
        return {"replay_id": replay_id, "positions": [], "duplicates": [], "adjustments": []}
    recorded = ledger.record(envelopes, actor, system=True)
    catch_up(ledger, engine)
    return {
        "replay_id": replay_id,
        "positions": recorded.positions,
        "duplicates": recorded.duplicates,
        "adjustments": [{"rep_id": e["data"]["rep_id"], "amount": Decimal(e["data"]["amount"])} for e in envelopes],
    }
