"""The raw sums behind the KPIs: one aggregate query per family of facts, for a scope and window.

Every query filters on knowledge time (`recorded_us <= K`) and on the fact's business time
(the window [lo, hi), where hi already stops at as_of), and lets the scope add its reps. No
query reads the log or loads an aggregate; each is one indexed range scan per rep or one range
scan of the window for the company.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from .cutoffs import Cutoffs
from .membership import ScopeFilter
from .tables import activities, deal_facts, followups, lead_conversions, leads


def _int(value: object) -> int:
    return int(value or 0)  # PostgreSQL sums BIGINT into NUMERIC (Decimal); SQLite gives int


@dataclass(frozen=True)
class DealSums:
    won_cents: int = 0
    refund_cents: int = 0
    won_ppb: int = 0
    lost_ppb: int = 0
    new_customer_ppb: int = 0

    @property
    def revenue_cents(self) -> int:
        return self.won_cents - self.refund_cents


def deal_sums(conn: Connection, scope: ScopeFilter, lo: int, hi: int, known_us: int) -> DealSums:
    f = deal_facts.c
    query = select(func.sum(f.won_cents), func.sum(f.refund_cents), func.sum(f.won_ppb), func.sum(f.lost_ppb),
                   func.sum(f.new_customer_ppb)).where(scope.where(f.rep_id, f.occurred_us, lo, hi),
                                                       f.recorded_us <= known_us)
    return DealSums(*map(_int, conn.execute(query).one()))


def sales_cycles(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> list[int]:
    """Won − opened, in µs, of each deal won in the window with credit in the scope (once per deal)."""
    f = deal_facts.c
    query = (select(func.max(f.cycle_us))
             .where(scope.where(f.rep_id, f.occurred_us, cut.start_us, cut.upto_us), f.recorded_us <= cut.known_us,
                    f.won_ppb != 0)
             .group_by(f.deal_id).having(func.sum(f.won_ppb) > 0))
    return [int(value) for value in conn.execute(query).scalars()]


def lead_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> tuple[int, int]:
    """(leads created in the window, those of them whose deal was won by as_of), as known at K."""
    created = select(func.count()).select_from(leads).where(
        scope.where(leads.c.rep_id, leads.c.created_us, cut.start_us, cut.upto_us), leads.c.recorded_us <= cut.known_us)
    c = lead_conversions.c
    converted = select(func.sum(c.delta)).where(
        scope.where(c.rep_id, c.created_us, cut.start_us, cut.upto_us), c.won_us <= cut.as_of_us,
        c.recorded_us <= cut.known_us)
    return _int(conn.execute(created).scalar()), _int(conn.execute(converted).scalar())


def activity_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> dict[str, tuple[int, int]]:
    """kind → (activities in the window, of which replied emails)."""
    a = activities.c
    query = (select(a.kind, func.count(), func.sum(a.replied))
             .where(scope.where(a.rep_id, a.occurred_us, cut.start_us, cut.upto_us), a.recorded_us <= cut.known_us)
             .group_by(a.kind))
    return {kind: (_int(count), _int(replied)) for kind, count, replied in conn.execute(query).all()}


def followup_counts(conn: Connection, scope: ScopeFilter, cut: Cutoffs) -> tuple[int, int, int]:
    """(due in the period, done, overdue): follow-ups scheduled by as_of (known at K) whose due
    time falls in the period; done = completed by as_of (known at K); overdue = due before
    as_of and not done."""
    u = followups.c
    done = (u.completed_recorded_us <= cut.known_us) & (u.completed_us <= cut.as_of_us)
    query = select(
        func.count(),
        func.sum(case((done, 1), else_=0)),
        func.sum(case((done, 0), (u.due_us < cut.as_of_us, 1), else_=0)),
    ).where(scope.where(u.rep_id, u.due_us, cut.start_us, cut.end_us), u.occurred_us <= cut.as_of_us,
            u.recorded_us <= cut.known_us)
    due, completed, overdue = conn.execute(query).one()
    return _int(due), _int(completed), _int(overdue)
