"""The facts a DisputeOpened must stand on, checked against the projections before recording:
the payout line it names exists (see services/disputes.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.messages import Msg
from ledger.schemas import Command, Problem
from ledger.store import Ledger
from projections.payouts.assembly import payout
from projections.runner import catch_up


def check_opened(ledger: Ledger, engine: Engine, settings: Settings, commands: Sequence[Command]) -> list[Problem]:
    """A problem for each DisputeOpened of the batch that names no payout line of its rep and period."""
    opened = [c for c in commands if c.type == "DisputeOpened"]
    if not opened:
        return []
    catch_up(ledger, engine)
    problems = []
    for command in opened:
        rep_id, period, component = command.data["rep_id"], command.data["period"], command.data.get("component")
        if component is None:
            problems.append(
                Problem(
                    command.index,
                    "data.component",
                    Msg("dispute.component_missing", "name the payout line disputed (its component id)"),
                )
            )
            continue
        computed = payout(engine, settings, rep_id, period)
        lines = [line.component for line in computed.evaluation.lines]
        if computed.plan is None or not lines:
            problems.append(
                Problem(
                    command.index,
                    "data.period",
                    Msg(
                        "dispute.no_payout",
                        "{rep_id} has no computed payout for {period}: there is no line to dispute",
                        rep_id=rep_id,
                        period=period,
                    ),
                )
            )
        elif component not in lines:
            problems.append(
                Problem(
                    command.index,
                    "data.component",
                    Msg(
                        "dispute.component_unknown",
                        "{component} is not a line of {rep_id}'s payout for {period}: its lines are {lines}",
                        component=component,
                        rep_id=rep_id,
                        period=period,
                        lines=", ".join(lines),
                    ),
                )
            )
    return problems
