"""The raw sums behind the KPIs: one aggregate query per family of facts, for a scope and window.

Every query filters on knowledge time (`recorded_us <= K`) and on the fact's business time
(the window [lo, hi), where hi already stops at as_of), and lets the scope add its reps. No
query reads the log or loads an aggregate.
- a rep: one indexed range scan per family, with statements built and compiled once (bound
  parameters) and handed to the driver as SQL (`prepared`), so a rep's KPIs cost a few SQLite
  microseconds each plus very little Python;
- a team or region: the same, for each member's stints (see `membership.py`);
- the company: the hourly rollups for the bulk of the window (see `rollups.py`) plus the few
  fact rows at its edges and in the block known only in part; the sales cycles read a partial
  index of the won deals; follow-ups and conversions are scanned (they are the small families).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    ColumnClause,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import iterate

from ledger.schemas import ACTIVITY_KINDS
from projections.db import BYTES, prepared
from projections.folds.rep_rollups import Days
from projections.folds.rollups import Split, Window, knowledge_split
from projections.queries.cutoffs import Cutoffs
from projections.queries.membership import ScopeFilter
from projections.queries.rep_rollups import as_ints, rolled_up
from projections.tables import (
    APART,
    NETTING_KINDS,
    activities,
    activity_hours,
    deal_facts,
    followups,
    lead_conversions,
    leads,
    rep_deal_spans,
    sales_hours,
)
from projections.units import PPB

K: BindParameter[Any] = bindparam("k")
AS_OF: BindParameter[Any] = bindparam("as_of")
DEAL_SUMS = ("won_cents", "refund_cents", "won_ppb", "lost_ppb", "new_customer_ppb")
ACTIVITY_SUMS = (*ACTIVITY_KINDS, "replied")
# Constants are written into the SQL, not bound: a statement run by `prepared` gets only the
# parameters its caller names.
ZERO: ColumnClause[Any] = literal_column("0")
ONE: ColumnClause[Any] = literal_column("1")


def _int(value: int | Decimal | None) -> int:
    return int(value or 0)  # PostgreSQL sums BIGINT into NUMERIC (Decimal); SQLite gives int


Build = Callable[[ColumnElement[bool]], Select]
_PREBUILT: dict[tuple[Build, str], Select] = {}


def scoped(
    build: Build, scope: ScopeFilter, rep_column: Any, time_column: Any, lo: int, hi: int
) -> tuple[Select, dict]:
    """The statement `build(where)` for the scope and window, and its parameters. Statements are
    built once with bound parameters (building Core expressions costs more than running an
    indexed SQLite query): for a rep, the company, and a team or region whose members stayed
    the whole window; a team or region with a move inside the window gets one built per call."""
    kind = scope.scope.kind
    params: dict[str, Any] = {"lo_": lo, "hi_": hi}
    if kind == "rep":
        params["rep_"] = scope.scope.value
    elif kind != "company":
        whole, partial = scope.members(lo, hi)
        if partial:  # someone moved in or out during the window: one time range per stint
            return build(scope.where(rep_column, time_column, lo, hi)), {}
        kind, params["reps_"] = "members", whole
    statement = _PREBUILT.get((build, kind))
    if statement is None:
        where = and_(time_column >= bindparam("lo_"), time_column < bindparam("hi_"))
        if kind == "rep":
            where = and_(rep_column == bindparam("rep_"), where)
        elif kind == "members":
            where = and_(rep_column.in_(bindparam("reps_", expanding=True)), where)
        statement = _PREBUILT[(build, kind)] = build(where)
    return statement, params


def run(
    conn: Connection,
    build: Build,
    scope: ScopeFilter,
    rep_column: Any,
    time_column: Any,
    lo: int,
    hi: int,
    **params: Any,
) -> Any:
    statement, bound = scoped(build, scope, rep_column, time_column, lo, hi)
    if scope.scope.kind in ("rep", "company"):  # prebuilt, without an IN list: driver SQL
        return prepared(conn, statement, (build.__name__, scope.scope.kind), {**bound, **params})
    return conn.execute(statement, {**bound, **params})


# ---------------------------------------------------------------- deals


class DealSums(NamedTuple):
    """A scope's deal figures over a window: money in cents (split by share) and whole counts.

    A count is the number of deals with credit in the scope: a deal split between reps counts
    once for each rep it credits, and once for a team, region or the company any of those reps
    is in (a deal split between two reps of one team counts 1 for the team), while its money
    keeps splitting by share.
    """

    won_cents: int = 0
    refund_cents: int = 0
    orders: int = 0  # deals won, with credit in the scope
    lost: int = 0  # deals lost, with credit in the scope
    new_customers: int = 0  # customers' first wins, with credit in the scope

    @property
    def revenue_cents(self) -> int:
        return self.won_cents - self.refund_cents

    @property
    def closed(self) -> int:
        return self.orders + self.lost


def sums_by_deal(rows: Iterable[Any]) -> DealSums:
    """DealSums from fact rows (deal_id, won_cents, refund_cents, won_ppb, lost_ppb, new_customer_ppb,
    …): money summed, each deal counted once where its summed share is above zero."""
    per_deal: dict[str, list[int]] = {}
    for row in rows:
        sums = per_deal.setdefault(row.deal_id, [0, 0, 0, 0, 0])
        for i, name in enumerate(DEAL_SUMS):
            sums[i] += int(getattr(row, name) or 0)
    return DealSums(
        sum(s[0] for s in per_deal.values()),
        sum(s[1] for s in per_deal.values()),
        *(sum(1 for s in per_deal.values() if s[i] > 0) for i in (2, 3, 4)),
    )


def counted_by_deal(where: ColumnElement[bool], *group: Any) -> Select:
    """Money sums and whole deal counts of the fact rows matching `where` (grouped by `group`):
    the rows are summed per deal first, and a deal counts where its summed share is above zero."""
    f = deal_facts.c
    per_deal = (
        select(*group, *[func.sum(f[name]).label(name) for name in DEAL_SUMS])
        .where(where)
        .group_by(*group, f.deal_id)
        .subquery("per_deal")
    )
    d = per_deal.c
    counts = [func.sum(case((d[name] > ZERO, ONE), else_=ZERO)) for name in DEAL_SUMS[2:]]
    outer = select(*[d[c.name] for c in group], func.sum(d.won_cents), func.sum(d.refund_cents), *counts)
    return outer.group_by(*[d[c.name] for c in group]) if group else outer


def pairs_apart(
    conn: Connection,
    columns: Iterable[ColumnElement[Any]],
    where: ColumnElement[bool],
    shared: ColumnElement[bool] | None = None,
) -> Sequence[Any]:
    """Rows (rep_id, deal_id, *columns) of the (rep, deal) pairs kept apart among the fact rows of
    `where` (`apart`)."""
    return conn.execute(apart(columns, where, shared)).all()


def apart(
    columns: Iterable[ColumnElement[Any]], where: ColumnElement[bool], shared: ColumnElement[bool] | None = None
) -> Select:
    """(rep_id, deal_id, *columns) of the (rep, deal) pairs kept apart among the fact rows of
    `where`: every fact of a deal a split or an unfirst nets there, and, with `shared`, the facts
    it picks of the other deals. All of them are rows of the `deal_facts_apart` index (every
    fact of a deal ever netted is flagged `netted`), read by business time: one range, grouped
    by deal then by pair, rather than each netted deal's facts looked up by its id (at ten
    million events, 6k deals of the year: 25 ms against 45-49, docs/performance.md, eighth run)."""
    f = deal_facts.c
    netting = case((f.kind.in_(NETTING_KINDS), ONE), else_=ZERO)
    deal_id, rep_id = f.deal_id.collate(BYTES), f.rep_id.collate(BYTES)  # sorted to be grouped: by bytes (`db.BYTES`)
    # the index's own condition ANDed word for word (SQLite then uses a partial index); whether
    # the deal is netted in the window, over its rows here (a window function: joined to a
    # grouping of the deals, PostgreSQL looked each deal's facts up by its id again)
    nets = func.max(netting).over(partition_by=deal_id, order_by=rep_id, range_=(None, None)).label("nets")
    # only the columns the caller's expressions read: the sort carries every column it is given
    columns = list(columns)
    asked = columns if shared is None else [*columns, shared]
    read = {c.name for e in asked for c in iterate(e) if isinstance(c, Column) and c.table is deal_facts}
    picked = [f[name] for name in sorted(read - {"deal_id", "rep_id"})]
    rows = select(*picked, deal_id.label("deal_id"), rep_id.label("rep_id"), nets).where(where, APART).subquery("apart")
    adapted = ClauseAdapter(rows).traverse  # the caller's columns, of those rows
    kept = rows.c.nets == ONE if shared is None else or_(rows.c.nets == ONE, adapted(shared))
    return (
        select(rows.c.rep_id, rows.c.deal_id, *map(adapted, columns))
        .where(kept)
        .group_by(rows.c.deal_id, rows.c.rep_id)  # in the order the window sorted them
    )


def corrections_by_rep(
    conn: Connection, counted: Sequence[tuple[ColumnElement[Any], ColumnElement[Any]]], where: ColumnElement[bool]
) -> dict[str, list[int]]:
    """rep → what turns each of its counts of facts into a count of deals, for each (share,
    facts) of `counted` (a share summed over a pair's rows, and the count of those rows with a
    share): Σ over the rep's pairs `apart` (the deals a split or an unfirst nets) of (1 when
    the pair's share is above zero) − its facts. Summed in the store, a row a rep: at ten
    million events the year's pairs are 13k rows, each a Python loop's turn (docs/performance.md,
    ninth run). A rep without such a pair has no row."""
    labelled = [column.label(f"c{i}") for i, column in enumerate(c for pair in counted for c in pair)]
    pairs = apart(labelled, where).subquery("pairs")
    summed = list(pairs.c)[2:]
    deltas = [
        cast(func.sum(case((share > ZERO, ONE), else_=ZERO) - facts), BigInteger)
        for share, facts in zip(summed[0::2], summed[1::2], strict=True)
    ]
    return as_ints(conn.execute(select(pairs.c.rep_id, *deltas).group_by(pairs.c.rep_id)))


def count_deals(
    conn: Connection,
    found: dict[str, list[int]],
    counted: Sequence[tuple[ColumnElement[Any], ColumnElement[Any]]],
    where: ColumnElement[bool],
    first: int,
) -> None:
    """Make each rep's counts of facts in `found` (its sums, the counts from column `first` on, in
    the order of `counted`) counts of deals: `corrections_by_rep` added in."""
    for rep_id, deltas in corrections_by_rep(conn, counted, where).items():
        summed = found[rep_id]
        for i, delta in enumerate(deltas, first):
            summed[i] += delta


def sums_by_rep(conn: Connection, where: ColumnElement[bool], days: Days | None = None) -> dict[str, DealSums]:
    """rep → the `DealSums` of its fact rows matching `where`, as `counted_by_deal(where, rep_id)`
    counts them, without grouping every (rep, deal) pair: each rep's facts summed in one group,
    a fact with a share above zero counting its deal, then corrected by the pairs of the deals a
    split or an unfirst nets (`NETTING_KINDS`), summed pair by pair. Two reads, each a hash
    aggregate: one grouping by rep and by pair is sorted (a sort of every fact of the window).

    `days`: the business-time window of `where`, when the read knows every fact: each rep's
    facts are then summed from the rep rollup for the window's whole days (`rep_rollups`)."""
    f, r = deal_facts.c, rep_deal_spans.c
    shares = DEAL_SUMS[2:]
    facts_with = [func.sum(case((f[name] > ZERO, ONE), else_=ZERO)) for name in shares]

    def per_rep(where: ColumnElement[bool]) -> Select:
        return (
            select(f.rep_id, func.sum(f.won_cents), func.sum(f.refund_cents), *facts_with)
            .where(where)
            .group_by(f.rep_id)
        )

    if days is None:
        found = as_ints(conn.execute(per_rep(where)))
    else:
        columns = (r.won_cents, r.refund_cents, r.won_facts, r.lost_facts, r.new_customer_facts)
        found = rolled_up(conn, rep_deal_spans, columns, days, per_rep, f.occurred_us)
    counted = [(func.sum(f[name]), facts) for name, facts in zip(shares, facts_with, strict=True)]
    count_deals(conn, found, counted, where, 2)
    return {rep_id: DealSums(*values) for rep_id, values in found.items()}


def _deal_sums(where: ColumnElement[bool]) -> Select:
    return counted_by_deal(and_(where, deal_facts.c.recorded_us <= K))


def _deal_ppb_sums(where: ColumnElement[bool]) -> Select:
    f = deal_facts.c
    return select(*[func.sum(f[name]) for name in DEAL_SUMS]).where(where, f.recorded_us <= K)


def deal_sums(conn: Connection, scope: ScopeFilter, lo: int, hi: int, known_us: int) -> DealSums:
    if scope.scope.kind == "company":
        # Every deal's credit sums to one whole deal (PPB) across the company: its share-weighted
        # sums are its whole counts, read through the rollups.
        won, refund, *shares = company_sums(
            conn,
            sales_hours,
            DEAL_SUMS,
            _deal_ppb_sums,
            deal_facts.c.occurred_us,
            deal_facts.c.position,
            lo,
            hi,
            known_us,
        )
        return DealSums(won, refund, *(share // PPB for share in shares))
    row = run(conn, _deal_sums, scope, deal_facts.c.rep_id, deal_facts.c.occurred_us, lo, hi, k=known_us).one()
    return DealSums(*map(_int, row))


def _deal_cycles(where: ColumnElement[bool]) -> Select:
    f = deal_facts.c
    return (
        select(func.max(f.cycle_us))
        .where(where, f.recorded_us <= K, f.won_ppb != ZERO)
        .group_by(f.deal_id)
        .having(func.sum(f.won_ppb) > ZERO)
    )


# Each won deal has exactly one row with deal_count = 1 (written by its win); the literal lets
# SQLite use the partial index deal_facts_wins.
_COMPANY_CYCLES = select(deal_facts.c.cycle_us).where(
    text("deal_facts.deal_count = 1"),
    deal_facts.c.occurred_us >= bindparam("lo_"),
    deal_facts.c.occurred_us < bindparam("hi_"),
    deal_facts.c.recorded_us <= K,
)


@dataclass(frozen=True)
class Cycles:
    """The sales cycles (won − opened, µs) of a window: how many, their sum, and the one (odd
    count) or two (even) in the middle of them in order: all a mean and a median need."""

    count: int
    total: int
    middle: tuple[int, ...]


_ONE, _TWO = literal_column("1", Integer), literal_column("2", Integer)  # written into the SQL (`prepared`)


def _middle_of(cycles: Select) -> Select:
    """The middle row(s) of a one-column set in order, each with the set's count and sum: the
    database sorts and sums, and two rows travel instead of a company's thousands."""
    one = cycles.subquery()
    value = one.c[0]
    ranked = select(
        value.label("cycle"),
        func.row_number().over(order_by=value).label("rank"),
        func.count().over().label("n"),
        func.sum(value).over().label("total"),
    ).subquery()
    r = ranked.c
    middle = or_(r.rank == (r.n + _ONE) // _TWO, r.rank == (r.n + _TWO) // _TWO)
    return select(r.cycle, r.n, r.total).where(middle).order_by(r.rank)


def _deal_cycle_middle(where: ColumnElement[bool]) -> Select:
    return _middle_of(_deal_cycles(where))


_COMPANY_CYCLE_MIDDLE = _middle_of(_COMPANY_CYCLES)


def sales_cycles(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> Cycles:
    """The cycles of the deals won in the window with credit in the scope (once per deal)."""
    if scope.scope.kind == "company":
        params = {"lo_": cut.start_us, "hi_": cut.upto_us, "k": cut.known_us}
        rows = conn.execute(_COMPANY_CYCLE_MIDDLE, params).all()
    else:
        rows = run(
            conn,
            _deal_cycle_middle,
            scope,
            deal_facts.c.rep_id,
            deal_facts.c.occurred_us,
            cut.start_us,
            cut.upto_us,
            k=cut.known_us,
        ).all()
    if not rows:
        return Cycles(0, 0, ())
    return Cycles(int(rows[0].n), int(rows[0].total), tuple(int(row.cycle) for row in rows))


# ---------------------------------------------------------------- leads


def _lead_count(where: ColumnElement[bool]) -> Select:
    return select(func.count()).select_from(leads).where(where, leads.c.recorded_us <= K)


def _conversions(where: ColumnElement[bool]) -> Select:
    c = lead_conversions.c
    return select(func.sum(c.delta)).where(where, c.won_us <= AS_OF, c.recorded_us <= K)


def lead_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> tuple[int, int]:
    """(leads created in the window, those of them whose deal was won by as_of), as known at K."""
    if scope.scope.kind == "company":
        (created,) = company_sums(
            conn,
            sales_hours,
            ("leads",),
            _lead_count,
            leads.c.created_us,
            leads.c.position,
            cut.start_us,
            cut.upto_us,
            cut.known_us,
        )
    else:
        created = _int(
            run(
                conn, _lead_count, scope, leads.c.rep_id, leads.c.created_us, cut.start_us, cut.upto_us, k=cut.known_us
            ).scalar()
        )
    converted = run(
        conn,
        _conversions,
        scope,
        lead_conversions.c.rep_id,
        lead_conversions.c.created_us,
        cut.start_us,
        cut.upto_us,
        k=cut.known_us,
        as_of=cut.as_of_us,
    ).scalar()
    return created, _int(converted)


# ---------------------------------------------------------------- activities and follow-ups


def _activity_kinds(where: ColumnElement[bool]) -> Select:
    a = activities.c
    return select(a.kind, func.count(), func.sum(a.replied)).where(where, a.recorded_us <= K).group_by(a.kind)


def _activity_sums(where: ColumnElement[bool]) -> Select:
    a = activities.c
    return select(
        *[func.sum(case((a.kind == kind, 1), else_=0)) for kind in ACTIVITY_KINDS], func.sum(a.replied)
    ).where(where, a.recorded_us <= K)


def activity_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> dict[str, tuple[int, int]]:
    """kind → (activities in the window, of which replied emails)."""
    if scope.scope.kind == "company":
        *counts, replied = company_sums(
            conn,
            activity_hours,
            ACTIVITY_SUMS,
            _activity_sums,
            activities.c.occurred_us,
            activities.c.position,
            cut.start_us,
            cut.upto_us,
            cut.known_us,
        )
        return {
            kind: (count, replied if kind == "email" else 0)
            for kind, count in zip(ACTIVITY_KINDS, counts, strict=True)
            if count
        }
    rows = run(
        conn,
        _activity_kinds,
        scope,
        activities.c.rep_id,
        activities.c.occurred_us,
        cut.start_us,
        cut.upto_us,
        k=cut.known_us,
    ).all()
    return {kind: (_int(count), _int(replied)) for kind, count, replied in rows}


def _followups(where: ColumnElement[bool]) -> Select:
    u = followups.c
    done = (u.completed_recorded_us <= K) & (u.completed_us <= AS_OF)
    return select(
        func.count(),
        func.sum(case((done, ONE), else_=ZERO)),
        func.sum(case((done, ZERO), (u.due_us < AS_OF, ONE), else_=ZERO)),
    ).where(where, u.occurred_us <= AS_OF, u.recorded_us <= K)


def followup_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> tuple[int, int, int]:
    """(due in the period, done, overdue): follow-ups scheduled by as_of (known at K) whose due
    time falls in the period; done = completed by as_of (known at K); overdue = due before
    as_of and not done."""
    due, completed, overdue = run(
        conn,
        _followups,
        scope,
        followups.c.rep_id,
        followups.c.due_us,
        cut.start_us,
        cut.end_us,
        k=cut.known_us,
        as_of=cut.as_of_us,
    ).one()
    return _int(due), _int(completed), _int(overdue)


# ---------------------------------------------------------------- company sums through the rollups


def company_sums(
    conn: Connection,
    rollup: Table,
    columns: tuple[str, ...],
    raw: Build,
    time_column: Any,
    position_column: Any,
    lo: int,
    hi: int,
    known_us: int,
) -> list[int]:
    """Sums of fact columns over [lo, hi) as known at K: rollup rows where they are exact, fact
    rows elsewhere (see rollups.py for why the three parts add up to the plain sum)."""
    if hi <= lo:
        return [0] * len(columns)
    window, split = Window.of(lo, hi), knowledge_split(conn, known_us)
    parts = [_rollup_part(conn, rollup, columns, window, split)]
    for a, b in window.edges():
        parts.append(_fact_part(conn, raw, "edge", time_column, position_column, a, b, 0, 0, known_us))
    if split.partial_hi > split.partial_lo and window.hours_lo < window.hours_hi:
        parts.append(
            _fact_part(
                conn,
                raw,
                "partial",
                time_column,
                position_column,
                window.hours_lo,
                window.hours_hi,
                split.partial_lo,
                split.partial_hi,
                known_us,
            )
        )
    return [sum(_int(part[i]) for part in parts) for i in range(len(columns))]


_ROLLUPS: dict[tuple[str, tuple[str, ...]], Select] = {}


def _rollup_part(conn: Connection, rollup: Table, columns: tuple[str, ...], window: Window, split: Split) -> Any:
    if window.hours_lo >= window.hours_hi or split.known_below == 0:
        return [0] * len(columns)
    statement = _ROLLUPS.get((rollup.name, columns))
    if statement is None:
        r = rollup.c
        statement = _ROLLUPS[(rollup.name, columns)] = select(*[func.sum(r[name]) for name in columns]).where(
            r.hour_us >= bindparam("lo_"), r.hour_us < bindparam("hi_"), r.block < bindparam("below_")
        )
    return conn.execute(statement, {"lo_": window.hours_lo, "hi_": window.hours_hi, "below_": split.known_below}).one()


def _fact_part(
    conn: Connection,
    raw: Build,
    part: str,
    time_column: Any,
    position_column: Any,
    lo: int,
    hi: int,
    first: int,
    after: int,
    known_us: int,
) -> Any:
    statement = _PREBUILT.get((raw, part))
    if statement is None:
        if part == "partial":
            # Read the block through the position index: a few thousand positions at most (none
            # past the last block), where the time index would walk the whole window. Wrapping the
            # time column (never NULL) in COALESCE keeps SQLite's planner off the time index.
            timed = func.coalesce(time_column, 0)
            where = and_(
                position_column >= bindparam("first_"),
                position_column < bindparam("after_"),
                timed >= bindparam("lo_"),
                timed < bindparam("hi_"),
            )
        else:
            where = and_(time_column >= bindparam("lo_"), time_column < bindparam("hi_"))
        statement = _PREBUILT[(raw, part)] = raw(where)
    params = {"lo_": lo, "hi_": hi, "k": known_us}
    if part == "partial":
        params.update(first_=first, after_=after)
    return conn.execute(statement, params).one()
