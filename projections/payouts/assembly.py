"""Payouts: the plan in force, the rep's figures as the ledger knew them, and the plan's lines.

A payout is computed, never stored: from the projected KPI tables at the read's `as_of` and
`known_at` (the same cut-offs as the KPIs), with the plan version in force, through the pure
`plan_evaluation.evaluate`. What is stored is the approval (`PayoutApproved`), which carries the
digest of the computation and the knowledge time it used, so it can be reproduced exactly.

Which plan: the `IncentivePlanAssigned` of the most specific scope that covers the rep — rep,
then team, then region, then company — with the latest `from_period` starting at or before the
period (ties: the later in the log), as known at known_at. The rep's team and region are those
they had at the end of the window (the last instant counted). Of that plan, the highest version
whose `effective_from` starts at or before the period, as known at known_at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Select, bindparam, or_, select

from ledger.config import Settings
from ledger.gc_pause import paused_gc
from ledger.periods import Period, parse_period
from ledger.plan_schema import Draw, Rules, parse_rules
from ledger.transcoder import canonical
from projections.db import held_reading, reading
from projections.payouts.evaluation import Award, Evaluation, evaluate
from projections.payouts.rep_figures import figures_by_rep
from projections.queries.cutoffs import Cutoffs, cutoffs
from projections.queries.membership import membership_history, stints, stints_at
from projections.queries.targets import Target, current_targets, in_force, revisions_by_scope
from projections.tables import (
    awards,
    memberships,
    payout_adjustments,
    payout_approvals,
    period_closes,
    plan_assignments,
    plan_versions,
)
from projections.units import micros_to_time, money

SCOPE_ORDER = ("rep", "team", "region", "company")


class PlanError(ValueError):
    """A plan asked for does not exist or its rules do not parse; the message says which."""


@dataclass(frozen=True)
class PlanVersion:
    plan_id: str
    version: int | None  # None for a draft given inline (a replay of rules not yet published)
    effective_from: str | None
    rules_json: dict[str, Any]
    position: int | None = None  # the IncentivePlanPublished event; None for a draft

    @cached_property
    def rules(self) -> Rules:
        parsed, problems = parse_rules(self.rules_json)
        if problems:
            raise PlanError("; ".join(f"rules.{p.field}: {p.message}" for p in problems))
        assert parsed is not None
        return parsed

    def label(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "version": self.version}


@dataclass(frozen=True)
class Assignment:
    scope_key: str
    plan_id: str
    position: int


@dataclass(frozen=True)
class Payout:
    rep_id: str
    period: str
    cut: Cutoffs
    plan: PlanVersion | None
    assignment: Assignment | None
    figures: dict[str, Any]
    targets: dict[str, Decimal]
    evidence: dict[str, list[int]]
    awards: tuple[Award, ...]
    evaluation: Evaluation
    problems: tuple[str, ...] = field(default=())
    draw_before: Decimal = Decimal("0.00")  # the recoverable draw owed when the period began

    @property
    def total(self) -> Decimal:
        return self.evaluation.total

    @cached_property
    def digest(self) -> str:
        """sha256 over the canonical inputs, the plan (id, version, rules) and the lines."""
        return hashlib.sha256(canonical(self.digest_body())).hexdigest()

    def digest_body(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "period": self.period,
            "plan": None if self.plan is None else {**self.plan.label(), "rules": self.plan.rules_json},
            "figures": self.figures,
            "targets": self.targets,
            "evidence": self.evidence,
            "awards": [[a.amount, a.reason, a.position] for a in self.awards],
            "lines": [line_json(line) for line in self.evaluation.lines],
            "total": self.total,
            "draw_before": self.draw_before,
        }

    def to_json(self) -> dict[str, Any]:
        """The payout object of the API (Decimals stay Decimal: the API writes them as strings)."""
        return {
            "rep_id": self.rep_id,
            "period": self.period,
            "total": self.total,
            "plan": None
            if self.plan is None
            else {
                **self.plan.label(),
                "position": self.plan.position,
                "assigned_by": None
                if self.assignment is None
                else {"scope": self.assignment.scope_key, "position": self.assignment.position},
            },
            "lines": [line_json(line) for line in self.evaluation.lines],
            "problems": list(self.problems) + list(self.evaluation.problems),
            "figures": self.figures,
            "targets": self.targets,
            "draw_balance": {"before": self.draw_before, "after": self.evaluation.draw_balance},
            "as_of": micros_to_time(self.cut.as_of_us),
            "known_at": micros_to_time(self.cut.known_us),
            "period_status": self.cut.status,
            "digest": self.digest,
        }


def line_json(line: Any) -> dict[str, Any]:
    return {
        "component": line.component,
        "kind": line.kind,
        "amount": line.amount,
        "inputs": line.inputs,
        "events": list(line.events),
    }


# ---------------------------------------------------------------- plans


def plan_version(conn: Connection, plan_id: str, version: int, known_us: int) -> PlanVersion | None:
    rows = _rows(
        conn,
        "plan_versions",
        _VERSIONS,
        {"k": known_us},
        {"plan": plan_id},
        lambda row: row.plan_id == plan_id and row.recorded_us <= known_us,
    )
    return next((_plan_of(row) for row in rows if row.version == version), None)


def _plan_of(row: Any) -> PlanVersion:
    return _plan_version_of(row.plan_id, row.version, row.effective_from, row.rules, row.position)


@lru_cache(maxsize=256)
def _plan_version_of(plan_id: str, version: int, effective_from: str, rules: str, position: int) -> PlanVersion:
    """One (immutable) PlanVersion per stored version row, so its rules are parsed once, not once
    per payout: a period's payouts all read the same one or two plan versions."""
    return PlanVersion(plan_id, version, effective_from, orjson.loads(rules), position)


def plan_in_force(conn: Connection, rep_id: str, cut: Cutoffs) -> tuple[PlanVersion | None, Assignment | None]:
    assignment = _assignment(conn, rep_id, cut)
    if assignment is None:
        return None, None
    candidates = _rows(
        conn,
        "plan_versions",
        _VERSIONS,
        {"k": cut.known_us},
        {"plan": assignment.plan_id},
        lambda row: row.plan_id == assignment.plan_id and row.recorded_us <= cut.known_us,
    )
    for row in candidates:
        if parse_period(row.effective_from).first_month_index <= cut.period.first_month_index:
            return _plan_of(row), assignment
    return None, assignment


_p, _a = plan_versions.c, plan_assignments.c
# Built once, each with its narrowing to one rep's rows (see `_rows`): building a Core statement
# costs more than running it on these small tables.
_VERSIONS = (
    select(_p.plan_id, _p.version, _p.effective_from, _p.rules, _p.recorded_us, _p.position)
    .where(_p.recorded_us <= bindparam("k"))
    .order_by(_p.version.desc()),
    _p.plan_id == bindparam("plan"),
)
_ASSIGNMENTS = (
    select(_a.scope_key, _a.plan_id, _a.from_period, _a.recorded_us, _a.position).where(
        _a.recorded_us <= bindparam("k")
    ),
    _a.scope_key.in_(bindparam("keys", expanding=True)),
)


def _assignment(conn: Connection, rep_id: str, cut: Cutoffs) -> Assignment | None:
    keys = _scope_keys(conn, rep_id, cut)
    rows = _rows(
        conn,
        "assignments",
        _ASSIGNMENTS,
        {"k": cut.known_us},
        {"keys": keys},
        lambda row: row.scope_key in keys and row.recorded_us <= cut.known_us,
    )
    best: tuple | None = None
    for row in rows:
        if parse_period(row.from_period).first_month_index > cut.period.first_month_index:
            continue
        rank = (-keys.index(row.scope_key), parse_period(row.from_period).first_month_index, row.position)
        if best is None or rank > best[0]:
            best = (rank, row)
    return None if best is None else Assignment(best[1].scope_key, best[1].plan_id, best[1].position)


def _scope_keys(conn: Connection, rep_id: str, cut: Cutoffs) -> list[str]:
    """rep, team, region, company: most specific first, membership at the window's last instant."""
    moment = cut.upto_us - 1
    keys = [f"rep:{rep_id}"]
    # Within `memoized()`, the memberships are read once for every rep and knowledge time.
    history = _bulk(("memberships",), lambda: membership_history(conn))
    if history is None:
        found = stints(conn, cut.known_us, [rep_id])
    else:
        found = stints_at(history.get(rep_id, []), cut.known_us)
    for stint in found:
        if stint.lo <= moment < stint.hi:
            keys += [f"team:{stint.team_id}"] if stint.team_id else []
            keys += [f"region:{stint.region}"] if stint.region else []
    return [*keys, "company"]


# ---------------------------------------------------------------- computing


# Within `memoized()` (a period's payouts, a replay), what a payout reads that depends only on
# (rep, period window, cut-offs) is read once: the plan in force (asked for the carried draw and
# again for the evaluation), the rep's figures and evidence, targets and awards (the same for the
# replayed plan and the baseline when their cut-offs are the same). The cut-offs pin what is read (rows
# recorded after known_at are never seen), so a second read would give the same answer. The figures
# of all the reps are read ahead together (`read_figures_ahead`); the small tables once for every
# rep and knowledge time (`_rows`).
_MEMO: ContextVar[dict | None] = ContextVar("payouts_memo", default=None)


@contextmanager
def memoized() -> Iterator[None]:
    token = _MEMO.set({}) if _MEMO.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _MEMO.reset(token)


def _memo(key: tuple, compute: Any) -> Any:
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def memo_value(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, once per key within `memoized()` (a replay's reads of the log beside its
    payouts); every time outside."""
    return _memo(("caller", *key), compute)


def _plan_in_force(conn: Connection, rep_id: str, cut: Cutoffs) -> tuple[PlanVersion | None, Assignment | None]:
    return _memo(("plan", rep_id, cut), lambda: plan_in_force(conn, rep_id, cut))


def _read_plan_in_force(engine: Engine, rep_id: str, cut: Cutoffs) -> tuple[PlanVersion | None, Assignment | None]:
    with reading(engine) as conn:
        return plan_in_force(conn, rep_id, cut)


def _bulk(key: tuple, load: Any) -> Any:
    """Within `memoized()`: what every rep's payout reads from one small table (stints, plan
    assignments and versions, targets and awards of the period), read once for all of them and
    then picked per rep in memory; None outside (each payout reads its own rows, as before)."""
    memo = _MEMO.get()
    if memo is None:
        return None
    if key not in memo:
        memo[key] = load()
    return memo[key]


TIMES = ("k", "as_of")  # the parameters a bulk read lifts (see `_rows`)
UNBOUNDED = 2**62


def _rows(
    conn: Connection,
    name: str,
    query: tuple[Select, Any],
    params: dict[str, Any],
    narrowing: dict[str, Any],
    keep: Callable[[Any], bool],
) -> Sequence[Any]:
    """One rep's rows of a small table. `query` is (statement, condition): the statement narrowed
    in SQL by the condition (with the `narrowing` parameters). Within `memoized()`: the statement
    read once for every rep and every knowledge time (its time parameters, `TIMES`, unbounded),
    under `name` and its other parameters; `keep` picks the rep's rows at the caller's times. A
    replay reads approved payouts each at its own knowledge time: one read each would be as many
    reads of the whole table as there are reps."""
    statement, condition = query
    fixed = {key: value for key, value in params.items() if key not in TIMES}
    every = _bulk(
        (name, *sorted(fixed.items())),
        lambda: conn.execute(statement, {**fixed, **{key: UNBOUNDED for key in params if key in TIMES}}).all(),
    )
    if every is None:
        return conn.execute(statement.where(condition), {**params, **narrowing}).all()
    return [row for row in every if keep(row)]


def _rep_targets(conn: Connection, rep_id: str, cut: Cutoffs) -> dict[str, Target]:
    """`current_targets` of the rep; within `memoized()`, from one read of the period's revisions
    (whenever recorded: each rep's payout may be at its own knowledge time)."""
    period = str(cut.period)
    every = _bulk(("targets", period), lambda: revisions_by_scope(conn, period))
    if every is None:
        return current_targets(conn, f"rep:{rep_id}", period, cut)
    return in_force(every.get(f"rep:{rep_id}", []), cut)


def payout(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    plan: PlanVersion | None = None,
) -> Payout:
    """A rep's payout for a period, under the plan in force (or `plan`, for a replay)."""
    cut = cutoffs(settings, period, as_of, known_at)
    balance = _carried_draw(engine, settings, rep_id, cut, plan)
    return _payout_at(engine, settings, rep_id, cut, plan, balance)


def _payout_at(
    engine: Engine, settings: Settings, rep_id: str, cut: Cutoffs, plan: PlanVersion | None, draw_balance: Decimal
) -> Payout:
    with reading(engine) as conn:  # one read transaction for the figures and the evaluation
        figures, evidence = _memo(
            ("figures", rep_id, cut), lambda: figures_by_rep(conn, settings, {rep_id: cut})[rep_id]
        )
        figures, evidence = dict(figures), {metric: list(positions) for metric, positions in evidence.items()}
        return _evaluate(conn, rep_id, cut, figures, evidence, plan, draw_balance)


def projected_payout(
    engine: Engine, settings: Settings, rep_id: str, cut: Cutoffs, projected: Mapping[str, Decimal]
) -> Payout:
    """The rep's payout if the forecast lands: the plan in force evaluated with `projected`
    (metric → figure) in place of the actual figures, the rest as they stand at the cut-offs."""
    balance = _carried_draw(engine, settings, rep_id, cut, None)
    with reading(engine) as conn:  # within `memoized()`, the figures read ahead for every rep (or once)
        figures, evidence = _memo(
            ("figures", rep_id, cut), lambda: figures_by_rep(conn, settings, {rep_id: cut})[rep_id]
        )
        landed = {**figures, **projected}
        return _evaluate(conn, rep_id, cut, landed, {m: list(p) for m, p in evidence.items()}, None, balance)


MAX_DRAW_PERIODS = 36


def _carried_draw(engine: Engine, settings: Settings, rep_id: str, cut: Cutoffs, plan: PlanVersion | None) -> Decimal:
    """The recoverable draw owed at the start of the period: the periods of the same length since
    the plan took effect, each evaluated in turn with the balance the one before left."""
    chosen = (
        plan if plan is not None else _memo(("plan", rep_id, cut), lambda: _read_plan_in_force(engine, rep_id, cut))[0]
    )
    if chosen is None or chosen.effective_from is None or not any(isinstance(c, Draw) for c in chosen.rules.components):
        return Decimal("0.00")
    first = parse_period(chosen.effective_from)
    earlier: list[Period] = []
    period = cut.period.previous()
    while period.first_month_index >= first.first_month_index and len(earlier) < MAX_DRAW_PERIODS:
        earlier.append(period)
        period = period.previous()
    balance = Decimal("0.00")
    for period in reversed(earlier):
        previous = cutoffs(settings, period, known_at=micros_to_time(cut.known_us))
        balance = _payout_at(engine, settings, rep_id, previous, plan, balance).evaluation.draw_balance
    return balance


def _evaluate(
    conn: Connection,
    rep_id: str,
    cut: Cutoffs,
    figures: dict[str, Any],
    evidence: dict[str, list[int]],
    plan: PlanVersion | None,
    draw_balance: Decimal = Decimal("0.00"),
) -> Payout:
    # The plan in force and the assignment that put the rep on it. A plan given (an approval's,
    # recomputed; a replay's) keeps that assignment when it is the same version: the approval was
    # of the assigned plan. Another version, or draft rules, was given rather than assigned.
    in_force, assignment = _plan_in_force(conn, rep_id, cut)
    if plan is None:
        plan = in_force
    elif in_force is None or plan.label() != in_force.label() or plan.version is None:
        assignment = None
    goals = _rep_targets(conn, rep_id, cut)
    targets = {metric: goal.value for metric, goal in goals.items()}
    granted = _memo(("awards", rep_id, cut), lambda: tuple(_awards(conn, rep_id, cut)))
    if plan is None:
        problem = f"no incentive plan is assigned to {rep_id} for {cut.period}"
        lines = (
            evaluate(Rules(components=()), figures, targets, evidence, granted)
            if granted
            else Evaluation((), Decimal("0.00"), ())
        )
        return Payout(
            rep_id, str(cut.period), cut, None, assignment, figures, targets, evidence, granted, lines, (problem,)
        )
    evaluation = _evaluated(rep_id, plan.rules, figures, targets, evidence, granted, draw_balance)
    return Payout(
        rep_id,
        str(cut.period),
        cut,
        plan,
        assignment,
        figures,
        targets,
        evidence,
        granted,
        evaluation,
        draw_before=draw_balance,
    )


def _evaluated(
    rep_id: str,
    rules: Rules,
    figures: dict[str, Any],
    targets: dict[str, Decimal],
    evidence: dict[str, list[int]],
    granted: tuple[Award, ...],
    draw_balance: Decimal,
) -> Evaluation:
    """`evaluate`, once per rep, rules and inputs within `memoized()`. A replay of an approved
    quarter evaluates each rep four times: the replayed rules and the approved ones, at the
    approval's knowledge time and now; where nothing was learned since the approval the inputs
    at both times are the same, and the evaluation is pure: two of the four are the others.
    Inputs are the same when they are equal and written alike (a Decimal's digits appear in the
    lines: 1.0 and 1.00 are not taken for each other), in the same order."""
    memo = _MEMO.get()
    if memo is None:
        return evaluate(rules, figures, targets, evidence, granted, draw_balance)
    inputs = (_written(figures), _written(targets), tuple(evidence.items()), granted, str(draw_balance))
    # keyed by the rules' identity, kept alive beside it (an id is unique only while its object lives)
    seen = memo.setdefault(("evaluations", rep_id, id(rules)), (rules, []))[1]
    for earlier, evaluation in seen:
        if earlier == inputs:
            return evaluation
    evaluation = evaluate(rules, figures, targets, evidence, granted, draw_balance)
    seen.append((inputs, evaluation))
    return evaluation


def _written(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((key, repr(value)) for key, value in values.items())


_w = awards.c
_AWARDS = (
    select(_w.rep_id, _w.amount_cents, _w.reason, _w.recorded_us, _w.occurred_us, _w.position)
    .where(_w.period == bindparam("period"), _w.recorded_us <= bindparam("k"), _w.occurred_us <= bindparam("as_of"))
    .order_by(_w.position),
    _w.rep_id == bindparam("rep"),
)


def _awards(conn: Connection, rep_id: str, cut: Cutoffs) -> list[Award]:
    """AwardGranted for the rep and this period (by the award's period), known at known_at."""
    rows = _rows(
        conn,
        "awards",
        _AWARDS,
        {"period": str(cut.period), "k": cut.known_us, "as_of": cut.as_of_us},
        {"rep": rep_id},
        lambda row: row.rep_id == rep_id and row.recorded_us <= cut.known_us and row.occurred_us <= cut.as_of_us,
    )
    return [Award(money(row.amount_cents), row.reason, row.position) for row in rows]


def period_payouts(
    engine: Engine,
    settings: Settings,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    plan: PlanVersion | None = None,
    rep_ids: list[str] | None = None,
) -> list[Payout]:
    """Every rep's payout for the period (reps active in it, as known at known_at)."""
    cut = cutoffs(settings, period, as_of, known_at)
    known = micros_to_time(cut.known_us)
    # every rep's reads at once, in one read transaction: see ledger.gc_pause, db.held_reading
    with memoized(), held_reading(engine), paused_gc():
        with reading(engine) as conn:
            reps = active_reps(conn, cut) if rep_ids is None else sorted(rep_ids)
        read_figures_ahead(engine, settings, dict.fromkeys(reps, cut))
        return [payout(engine, settings, rep_id, str(cut.period), as_of, known, plan) for rep_id in reps]


FIGURES_BATCH = 512  # reps whose figures one statement reads (`read_figures_ahead`)


def read_figures_ahead(engine: Engine, settings: Settings, cuts: dict[str, Cutoffs]) -> None:
    """Within `memoized()`: the figures and evidence of each rep at its cut-offs, read together
    (`figures_by_rep`), where each payout would read its own; a payout then finds its rep's
    under its own key. Outside `memoized()` there is nowhere to keep them: nothing is read.

    `FIGURES_BATCH` reps a statement: the statements are built and compiled for a table of a
    power of two of reps (`rep_figures._knowledge`), and at 5,000 reps one table of 8,192 took
    longer to compile than to run (1.4 s of a 6.4 s quarter's payouts on PostgreSQL); one of 512
    is compiled once and run ten times."""
    if _MEMO.get() is None or not cuts:
        return
    reps = sorted(cuts)
    period = str(next(iter(cuts.values())).period)
    with reading(engine) as conn:
        revised = _bulk(("targets", period), lambda: revisions_by_scope(conn, period))  # as `_rep_targets` reads them
        for start in range(0, len(reps), FIGURES_BATCH):
            batch = {rep_id: cuts[rep_id] for rep_id in reps[start : start + FIGURES_BATCH]}
            for rep_id, figures in figures_by_rep(conn, settings, batch, revised).items():
                _memo(("figures", rep_id, cuts[rep_id]), lambda figures=figures: figures)


def figures_alike(known: Mapping[str, tuple[Cutoffs, Cutoffs]]) -> list[str]:
    """Within `memoized()`: for each rep of `known`, (read, alike): its figures and evidence at
    `alike` taken to be those already read at `read`, when both name the same window (period
    and as_of). The caller vouches that every row a figure reads is the same at both knowledge
    times: nothing a figure reads was recorded between them (a replay: only approvals since the
    rep's own, `replay.replays`). The reps whose figures were taken; the others' are still to read."""
    memo = _MEMO.get()
    if memo is None:
        return []
    taken = []
    for rep_id, (read, alike) in known.items():
        found = memo.get(("figures", rep_id, read))
        if found is not None and (read.period, read.as_of_us) == (alike.period, alike.as_of_us):
            memo[("figures", rep_id, alike)] = found
            taken.append(rep_id)
    return taken


def payouts_page(
    engine: Engine,
    settings: Settings,
    period: str,
    as_of: datetime | None,
    known_at: datetime | None,
    visible: frozenset[str] | None,
    after_rep: str | None,
    limit: int,
) -> tuple[list[Payout], str | None]:
    """At most `limit` payouts of the period, by rep id, after `after_rep`, of the reps `visible`
    (None: every active rep); and the rep id to continue after (None: this was the last page)."""
    cut = cutoffs(settings, period, as_of, known_at)
    if visible is None:
        with reading(engine) as conn:
            reps = active_reps(conn, cut)
    else:
        reps = sorted(visible)
    following = [rep for rep in reps if after_rep is None or rep > after_rep]
    page = following[:limit]
    payouts = period_payouts(engine, settings, period, as_of, known_at, rep_ids=page) if page else []
    return payouts, (page[-1] if len(following) > limit else None)


def active_reps(conn: Connection, cut: Cutoffs) -> list[str]:
    """Reps onboarded before the window ends and not offboarded before the period starts."""
    m = memberships.c
    rows = conn.execute(
        select(m.rep_id, m.kind, m.occurred_us).where(
            m.recorded_us <= cut.known_us, or_(m.kind == "onboarded", m.kind == "offboarded")
        )
    ).all()
    onboarded = {r.rep_id for r in rows if r.kind == "onboarded" and r.occurred_us < cut.upto_us}
    gone = {r.rep_id for r in rows if r.kind == "offboarded" and r.occurred_us < cut.start_us}
    return sorted(onboarded - gone)


# ---------------------------------------------------------------- approvals


@dataclass(frozen=True)
class ApprovalState:
    """What was approved for a rep and period, and the adjustments since, as known at a time."""

    amount: Decimal | None  # the approved amount; None when only adjustments exist (closed before approval)
    digest: str | None
    plan_id: str | None
    plan_version: int | None
    known_at_us: int | None
    recorded_us: int | None
    position: int | None
    adjustments: tuple[dict[str, Any], ...]

    @property
    def current(self) -> Decimal:
        """The approved amount plus every adjustment: what the rep is owed for the period now."""
        return (self.amount or Decimal("0.00")) + sum((a["amount"] for a in self.adjustments), Decimal("0.00"))

    def to_json(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "digest": self.digest,
            "plan_id": self.plan_id,
            "plan_version": self.plan_version,
            "known_at": None if self.known_at_us is None else micros_to_time(self.known_at_us),
            "recorded_at": None if self.recorded_us is None else micros_to_time(self.recorded_us),
            "position": self.position,
            "adjustments": list(self.adjustments),
            "current": self.current,
        }


def approval_state(conn: Connection, rep_id: str, period: str, known_us: int) -> ApprovalState | None:
    a = payout_approvals.c
    approved = conn.execute(
        select(*_APPROVAL_COLUMNS)
        .where(a.rep_id == rep_id, a.period == period, a.recorded_us <= known_us)
        .order_by(a.position)
    ).first()
    j = payout_adjustments.c
    adjustments = conn.execute(
        select(*_ADJUSTMENT_COLUMNS)
        .where(j.rep_id == rep_id, j.period == period, j.recorded_us <= known_us)
        .order_by(j.position)
    ).all()
    return _approval_state_of(approved, adjustments)


_APPROVAL_COLUMNS = tuple(
    payout_approvals.c[name]
    for name in ("amount_cents", "digest", "plan_id", "plan_version", "known_at_us", "recorded_us", "position")
)
_ADJUSTMENT_COLUMNS = tuple(
    payout_adjustments.c[name] for name in ("amount_cents", "reason", "replay_id", "position", "recorded_us")
)


def _approval_state_of(approved: Any, adjustment_rows: Sequence[Any]) -> ApprovalState | None:
    """The state from the rep's first approval row (or None) and adjustment rows, in log order."""
    adjustments = tuple(
        {
            "amount": money(r.amount_cents),
            "reason": r.reason,
            "replay_id": r.replay_id,
            "position": r.position,
            "recorded_at": micros_to_time(r.recorded_us),
        }
        for r in adjustment_rows
    )
    if approved is None and not adjustments:
        return None
    if approved is None:
        return ApprovalState(None, None, None, None, None, None, None, adjustments)
    return ApprovalState(
        money(approved.amount_cents),
        approved.digest,
        approved.plan_id,
        approved.plan_version,
        approved.known_at_us,
        approved.recorded_us,
        approved.position,
        adjustments,
    )


def approval_states(engine: Engine, period: str, known_us: int, rep_ids: list[str]) -> dict[str, ApprovalState | None]:
    """`approval_state` of each rep, read in two queries for the whole period (not two per rep)."""
    a, j = payout_approvals.c, payout_adjustments.c
    with reading(engine) as conn:
        approvals = conn.execute(
            select(a.rep_id, *_APPROVAL_COLUMNS)
            .where(a.period == period, a.recorded_us <= known_us)
            .order_by(a.position)
        ).all()
        adjustments = conn.execute(
            select(j.rep_id, *_ADJUSTMENT_COLUMNS)
            .where(j.period == period, j.recorded_us <= known_us)
            .order_by(j.position)
        ).all()
    first: dict[str, Any] = {}
    for row in approvals:
        first.setdefault(row.rep_id, row)
    later: dict[str, list[Any]] = {}
    for row in adjustments:
        later.setdefault(row.rep_id, []).append(row)
    return {rep_id: _approval_state_of(first.get(rep_id), later.get(rep_id, [])) for rep_id in rep_ids}


def closed_by(conn: Connection, period: str, known_us: int) -> str | None:
    """The period (this one, or its quarter or year) whose PeriodClosed is known, if any."""
    c = period_closes.c
    names = [str(p) for p in parse_period(period).enclosing()]
    row = conn.execute(select(c.period).where(c.period.in_(names), c.recorded_us <= known_us).limit(1)).first()
    return None if row is None else row.period
