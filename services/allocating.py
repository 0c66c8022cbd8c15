"""Targets from strategy down: a company, region or team target allocated to the level below it,
recorded in one batch of ordinary TargetSet events that all cite the allocation.

The methods (docs/design.md, "Allocating targets"):
- `equal`: every child the same share;
- `weights`: the weights given, by child id (`{"East": "3", "West": "2"}`, ties to the first
  listed); children left out get
  nothing and no target;
- `last_period_share`: each child's share of the metric in the previous period (its actual, as
  known now; a negative actual counts 0);
- `rep_level`: each rep weighs the weight given for their level (`level_weights`, RepLevelSet);
  a team or region weighs the sum of its reps'.
The arithmetic is `projections.allocation.allocate` (largest remainder to the cent or to one).
The batch is authorised as any batch is: a manager allocates their team's target to its reps, a
director their region's to its teams and reps, finance and admin anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.messages import Msg
from ledger.periods import parse_period
from ledger.schemas import parse_envelope
from ledger.store import Ledger, Recorded
from projections.allocation import METHODS, SHARED_METRICS, AllocationError, allocate
from projections.queries.kpis import kpis
from projections.queries.membership import Scope, parse_scope
from projections.queries.org import LEVELS, NEXT_LEVEL, Child, below, children, levels_at
from services.policy import OrgView, User
from services.recording import record_batch, record_events


@dataclass(frozen=True)
class AllocationRequest:
    scope: str  # company, region:NAME or team:ID
    metric: str
    period: str
    value: Decimal
    method: str
    to: str | None = None  # regions, teams or reps: the level below by default
    weights: dict[str, Decimal] = field(default_factory=dict)
    level_weights: dict[str, Decimal] = field(default_factory=dict)
    reason: str | None = None
    allocation_id: str | None = None
    occurred_at: datetime | None = None
    set_parent: bool = True  # record the parent's own target too (the value allocated)


def allocate_targets(
    ledger: Ledger, engine: Engine, settings: Settings, user: User, org: OrgView, asked: AllocationRequest
) -> dict[str, Any]:
    """Compute the allocation and record it in one batch for a token's user (authorised as any
    batch is); AllocationError names a field of the request when it cannot be made (nothing is
    recorded)."""
    allocation_id, plan, envelopes = allocation_events(engine, settings, asked)
    return _answer(asked, allocation_id, plan, record_events(ledger, envelopes, user, org))


def allocate_as_operator(
    ledger: Ledger, engine: Engine, settings: Settings, actor: str, asked: AllocationRequest
) -> dict[str, Any]:
    """`allocate_targets` from the operator's own tool (the command line): no token to authorise."""
    allocation_id, plan, envelopes = allocation_events(engine, settings, asked)
    return _answer(asked, allocation_id, plan, record_batch(ledger, envelopes, actor))


def allocation_events(
    engine: Engine, settings: Settings, asked: AllocationRequest
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The allocation's id, each child's share and the TargetSet envelopes that record it."""
    plan = plan_allocation(engine, settings, asked)
    allocation_id = asked.allocation_id or f"alloc-{uuid.uuid4().hex[:16]}"
    when = (asked.occurred_at or settings.now()).isoformat()
    reason = asked.reason or f"allocated from {asked.scope} by {asked.method}"
    rows = ([(asked.scope, asked.value)] if asked.set_parent else []) + [(c["scope"], c["value"]) for c in plan]
    envelopes = [
        {
            "type": "TargetSet",
            "event_id": f"{allocation_id}.{n}",
            "occurred_at": when,
            "data": {
                "scope": scope_dict(scope),
                "metric": asked.metric,
                "period": asked.period,
                "value": str(value),
                "reason": reason,
                "allocation_id": allocation_id,
            },
        }
        for n, (scope, value) in enumerate(rows)
    ]
    return allocation_id, plan, envelopes


def _answer(
    asked: AllocationRequest, allocation_id: str, plan: list[dict[str, Any]], recorded: Recorded
) -> dict[str, Any]:
    return {
        "allocation_id": allocation_id,
        "scope": asked.scope,
        "metric": asked.metric,
        "period": asked.period,
        "value": asked.value,
        "method": asked.method,
        "children": plan,
        "positions": recorded.positions,
        "duplicates": recorded.duplicates,
    }


def plan_allocation(engine: Engine, settings: Settings, asked: AllocationRequest) -> list[dict[str, Any]]:
    """Each child's scope, weight and value (no writing)."""
    _check_target(asked)
    try:
        parent = parse_scope(asked.scope)
    except ValueError as error:
        raise AllocationError("scope", error.args[0]) from None
    if parent.kind == "rep":
        raise AllocationError("scope", Msg("allocation.rep", "a rep's target has nobody below it to allocate to"))
    level = asked.to or NEXT_LEVEL[parent.kind]
    if level not in LEVELS or not below(parent, level):
        raise AllocationError(
            "to", Msg("allocation.level", "{scope} allocates to {levels}", scope=str(parent), levels=_below(parent))
        )
    if asked.method not in METHODS:
        raise AllocationError("method", Msg("allocation.method", "use one of {methods}", methods=", ".join(METHODS)))
    if asked.metric in SHARED_METRICS and asked.method != "equal":
        raise AllocationError(
            "method",
            Msg(
                "allocation.shared",
                "{metric} is a rate or an average: each child is given the parent's value (method equal)",
                metric=asked.metric,
            ),
        )
    kids = children(engine, settings, parent, asked.period, level)
    weights = _weights(engine, settings, asked, kids, level)
    shares = allocate(asked.value, weights, asked.metric)
    return [{"scope": scope, "weight": weights[scope], "value": shares[scope]} for scope in weights]


def _check_target(asked: AllocationRequest) -> None:
    """The parent's target as a TargetSet would be checked: its metric, period and value (a rate
    within its range, a count whole), each refusal naming the request's field."""
    envelope = {
        "type": "TargetSet",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "data": {"scope": {"company": True}, "metric": asked.metric, "period": asked.period, "value": str(asked.value)},
    }
    parsed = parse_envelope(0, envelope, currency="")
    if isinstance(parsed, list) and parsed:
        first = parsed[0]
        raise AllocationError(first.field.removeprefix("data."), first.message)


def _weights(
    engine: Engine, settings: Settings, asked: AllocationRequest, kids: list[Child], level: str
) -> dict[str, Decimal]:
    if asked.method == "weights":
        if not asked.weights:
            raise AllocationError("weights", Msg("allocation.weights_missing", "give a weight for each child, by id"))
        known = {child.scope.partition(":")[2]: child.scope for child in kids}
        for key in asked.weights:
            if key not in known:
                raise AllocationError(
                    f"weights.{key}",
                    Msg(
                        "allocation.not_child",
                        "{key} is not one of the {level} of {scope} in {period}",
                        key=key,
                        level=level,
                        scope=asked.scope,
                        period=asked.period,
                    ),
                )
        return {known[key]: weight for key, weight in asked.weights.items()}  # in the order given
    if asked.method == "equal":
        return {child.scope: Decimal(1) for child in kids}
    if asked.method == "last_period_share":
        previous = str(parse_period(asked.period).previous())
        return {
            child.scope: max(Decimal(0), _actual(engine, settings, child.scope, previous, asked.metric))
            for child in kids
        }
    return _level_weights(engine, settings, asked, kids)


def _actual(engine: Engine, settings: Settings, scope: str, period: str, metric: str) -> Decimal:
    figures = kpis(engine, settings, scope, period)
    if metric == "activities":
        return Decimal(sum(figures["activities"].values()))
    if metric.startswith("activities."):
        return Decimal(figures["activities"][metric.removeprefix("activities.")])
    return Decimal(figures[metric] or 0)


def _level_weights(
    engine: Engine, settings: Settings, asked: AllocationRequest, kids: list[Child]
) -> dict[str, Decimal]:
    if not asked.level_weights:
        raise AllocationError(
            "level_weights", Msg("allocation.levels_missing", 'give a weight for each level: {{"senior": "3"}}')
        )
    reps = sorted({rep for child in kids for rep in child.reps})
    levels = levels_at(engine, settings, reps, asked.period)
    for rep in reps:
        if rep not in levels:
            raise AllocationError(
                "level_weights",
                Msg("allocation.no_level", "rep {rep} has no level: record RepLevelSet for them first", rep=rep),
            )
        if levels[rep] not in asked.level_weights:
            raise AllocationError(
                f"level_weights.{levels[rep]}",
                Msg(
                    "allocation.level_weight",
                    "rep {rep} is {level}: give that level a weight",
                    rep=rep,
                    level=levels[rep],
                ),
            )
    return {child.scope: sum((asked.level_weights[levels[rep]] for rep in child.reps), Decimal(0)) for child in kids}


def scope_dict(scope: str) -> dict[str, Any]:
    """`region:East` → {"region": "East"}; `company` → {"company": True}."""
    if scope == "company":
        return {"company": True}
    kind, _, key = scope.partition(":")
    return {kind: key}


def _below(parent: Scope) -> str:
    return ", ".join(level for level in LEVELS if below(parent, level))


__all__ = ["AllocationError", "AllocationRequest", "allocate_as_operator", "allocate_targets", "plan_allocation"]
