"""Coaching as commands: set an improvement plan, review it, assign a training, complete it.

Each builds the one event it records and hands it to `recording.record_events`, so it is
validated, authorised (a manager for the reps now in their team, admin for anyone) and stamped
with its writer (`set_by`, `reviewer_id`, `assigned_by` from the token) exactly as the same
event sent to POST /events; a refusal names the field (`data.improvement_plan_id`) and records
nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.store import Ledger, Recorded
from services.policy import OrgView, User
from services.recording import record_events


def _envelope(event_type: str, occurred_at: datetime | str, event_id: str | None, **data: Any) -> dict[str, Any]:
    moment = occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at
    envelope: dict[str, Any] = {"type": event_type, "occurred_at": moment, "data": _plain(data)}
    if event_id is not None:
        envelope["event_id"] = event_id
    return envelope


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """The event's fields as JSON values (times as ISO 8601); a field not given is left out."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in data.items()
        if value is not None
    }


def set_improvement_plan(
    ledger: Ledger,
    user: User,
    org: OrgView,
    *,
    rep_id: str,
    improvement_plan_id: str,
    goals: list[str],
    review_by: datetime | str,
    occurred_at: datetime | str,
    trainings: list[str] | None = None,
    gaps: list[str] | None = None,
    event_id: str | None = None,
) -> Recorded:
    """Records ImprovementPlanSet: the plan is open until reviewed."""
    envelope = _envelope(
        "ImprovementPlanSet",
        occurred_at,
        event_id,
        improvement_plan_id=improvement_plan_id,
        rep_id=rep_id,
        goals=goals,
        trainings=trainings or [],
        gaps=gaps or [],
        review_by=review_by,
    )
    return record_events(ledger, [envelope], user, org)


def review_improvement_plan(
    ledger: Ledger,
    user: User,
    org: OrgView,
    *,
    rep_id: str,
    improvement_plan_id: str,
    outcome: str,
    occurred_at: datetime | str,
    note: str | None = None,
    next_review_by: datetime | str | None = None,
    event_id: str | None = None,
) -> Recorded:
    """Records ImprovementPlanReviewed: met or missed closes the plan; extended moves its review date."""
    envelope = _envelope(
        "ImprovementPlanReviewed",
        occurred_at,
        event_id,
        improvement_plan_id=improvement_plan_id,
        rep_id=rep_id,
        outcome=outcome,
        note=note,
        next_review_by=next_review_by,
    )
    return record_events(ledger, [envelope], user, org)


def assign_training(
    ledger: Ledger,
    user: User,
    org: OrgView,
    *,
    rep_id: str,
    training_id: str,
    training: str,
    gap: str,
    due_by: datetime | str,
    occurred_at: datetime | str,
    improvement_plan_id: str | None = None,
    event_id: str | None = None,
) -> Recorded:
    """Records TrainingAssigned: pending until completed, overdue past its due date."""
    envelope = _envelope(
        "TrainingAssigned",
        occurred_at,
        event_id,
        training_id=training_id,
        rep_id=rep_id,
        training=training,
        gap=gap,
        due_by=due_by,
        improvement_plan_id=improvement_plan_id,
    )
    return record_events(ledger, [envelope], user, org)


def complete_training(
    ledger: Ledger,
    user: User,
    org: OrgView,
    *,
    rep_id: str,
    training_id: str,
    occurred_at: datetime | str,
    event_id: str | None = None,
) -> Recorded:
    """Records TrainingCompleted for an assignment."""
    envelope = _envelope("TrainingCompleted", occurred_at, event_id, rep_id=rep_id, training_id=training_id)
    return record_events(ledger, [envelope], user, org)
