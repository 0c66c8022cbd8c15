"""Recording a client's events: the batch validated whole, authorised for its writer, then appended
in one transaction (`Ledger.record`), or nothing at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.errors import InvalidBatch
from ledger.schemas import Command, Problem, parse_batch
from ledger.store import Ledger, Recorded
from services import bounds
from services.dispute_facts import check_opened
from services.policy import OrgView, User, refusals, with_people_from_token

FactCheck = Callable[[Ledger, Engine, Settings, Sequence[Command]], list[Problem]]
"""A rule a batch must meet against the projections (a revision's target): a problem per event that does not."""


class Refused(Exception):
    """Some events of a batch are beyond this writer's reach: each is named; nothing was recorded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} event(s) may not be recorded with this token; nothing was recorded")


def record_events(
    ledger: Ledger,
    envelopes: Sequence[object],
    user: User,
    org: OrgView,
    engine: Engine | None = None,
    settings: Settings | None = None,
    checks: Sequence[FactCheck] = (),
) -> Recorded:
    """Validate the batch, check that `user` may record every event of it, and record it. With
    the projections (`engine`, `settings`), a DisputeOpened must also name a line of a computed
    payout (services/dispute_facts.py), and the batch meet a command's own `checks` (a revision's
    target: services/target_facts.py)."""
    envelopes, named_others = with_people_from_token(user, envelopes)
    if named_others:
        raise Refused(named_others)
    commands, problems = parse_batch(list(envelopes), currency=ledger.settings.currency)
    if problems:
        raise InvalidBatch(problems)  # before authorising: only well-formed events can be judged
    refused = refusals(user, [(c.type, c.data) for c in commands], org)
    if refused:
        raise Refused(refused)
    out_of_time = bounds.check_time(ledger, user, commands)
    if out_of_time:
        raise InvalidBatch(out_of_time)
    if engine is not None and settings is not None:
        unfounded = check_opened(ledger, engine, settings, commands)
        unfounded += [problem for check in checks for problem in check(ledger, engine, settings, commands)]
        if unfounded:
            raise InvalidBatch(unfounded)
    bounds.check_volume(ledger, user, commands)
    return ledger.record(envelopes, actor=user.actor)


def record_batch(
    ledger: Ledger,
    envelopes: Sequence[object],
    actor: str,
    engine: Engine | None = None,
    settings: Settings | None = None,
    checks: Sequence[FactCheck] = (),
) -> Recorded:
    """Record a batch an operator's own tool made (the demo's generated department, a command on
    the command line): validated and appended like any batch, with no token to authorise; with
    the projections, the command's own `checks` first."""
    if checks and engine is not None and settings is not None:
        commands, problems = parse_batch(list(envelopes), currency=ledger.settings.currency)
        if problems:
            raise InvalidBatch(problems)
        unfounded = [problem for check in checks for problem in check(ledger, engine, settings, commands)]
        if unfounded:
            raise InvalidBatch(unfounded)
    return ledger.record(envelopes, actor)
