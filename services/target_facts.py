"""The fact a target revision stands on, checked against the projections before recording: a
target to revise. One rule, here, for every face that revises (`POST /targets/revisions`,
`perfledger target revise`).

`POST /events` cannot apply it: a TargetSet there both sets a target and revises one (the first
of a scope, metric and period sets it; `target set`, an allocation and an import record the
same event), and nothing in the event says which was meant. The revise command says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from ledger.aggregates import scope_key
from ledger.config import Settings
from ledger.messages import Msg
from ledger.schemas import Command, Problem
from ledger.store import Ledger
from projections.db import reading
from projections.queries.targets import recorded_targets
from projections.runner import catch_up


def check_revised(ledger: Ledger, engine: Engine, settings: Settings, commands: Sequence[Command]) -> list[Problem]:
    """A problem for each TargetSet of the batch that revises nothing: no target was ever recorded
    for its scope, metric and period. The field named is the one to fix: `data.metric` when the
    scope has other targets for the period, `data.period` when it has this metric's for other
    periods, else `data.scope`."""
    revised = [c for c in commands if c.type == "TargetSet"]
    if not revised:
        return []
    catch_up(ledger, engine)
    problems = []
    with reading(engine) as conn:
        for command in revised:
            scope, metric, period = scope_key(command.data["scope"]), command.data["metric"], command.data["period"]
            exact, same_period, same_metric = recorded_targets(conn, scope, metric, period)
            if exact:
                continue
            field = "data.metric" if same_period else "data.period" if same_metric else "data.scope"
            problems.append(
                Problem(
                    command.index,
                    field,
                    Msg(
                        "target.nothing_to_revise",
                        "{scope} has no {metric} target for {period} to revise: set one first (target set)",
                        scope=scope,
                        metric=metric,
                        period=period,
                    ),
                )
            )
    return problems
