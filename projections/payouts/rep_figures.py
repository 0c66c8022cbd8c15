"""A rep's figures for plan evaluation and the events behind each, for one rep or many at once.

A payout reads, for its rep and period, the KPI figures a plan can use (`kpis.FIGURE_METRICS`)
and the positions of the events behind each one: the evidence an auditor follows from a payout
line back to the log. A period's payouts read them for all of its reps together: five statements
joined to a small table of (rep, knowledge time), grouped by rep, instead of a dozen queries per
rep (at 500 reps, six thousand queries whose fixed cost was most of a quarter's replay). Each rep
has its own knowledge time, so a replay reads the approved payouts of a period (each approved at
its own moment) in the same five statements. One rep is the same read with a table of one. The
figures come out of the KPIs' own arithmetic (`kpis.plan_figures`), so a payout's revenue is the
KPI's revenue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Engine,
    Select,
    String,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    values,
)

from ledger.config import Settings
from projections.db import prepared, reading
from projections.queries.cutoffs import Cutoffs, cutoffs
from projections.queries.facts import DealSums, sums_by_deal
from projections.queries.kpis import FIGURE_METRICS, plan_figures
from projections.queries.targets import Target, in_force, revisions_by_scope
from projections.tables import activities, deal_facts, lead_conversions, leads

Figures = tuple[dict[str, Any], dict[str, list[int]]]

LO: BindParameter[Any] = bindparam("lo")
HI: BindParameter[Any] = bindparam("hi")
AS_OF: BindParameter[Any] = bindparam("as_of")


def _positions(column: Any) -> Any:
    """The positions of a group as one string ("12,15,40"): built by the database, where a row
    per activity would cost Python a row object each."""
    # The separator is written in, not bound (`prepared`); SQLAlchemy's stubs take a str only.
    return func.aggregate_strings(cast(column, String), literal_column("','"))  # type: ignore[arg-type]


NOTHING_KNOWN = -1  # the knowledge time of a padding row of `cut`: no row is recorded by then


def _knowledge(known: Mapping[str, int]) -> tuple[int, dict[str, Any]]:
    """The size of the reads for these reps, and the parameters that fill their table `cut(rep, k)`. The
    table has room for a power of two of reps (the rest padded with rows that match nothing),
    so the statements of each size are built and compiled once (`db.prepared`): building and
    compiling them costs more than a rep's read."""
    size = 1 << max(0, len(known) - 1).bit_length()
    rows = [*sorted(known.items()), *[("", NOTHING_KNOWN)] * (size - len(known))]
    params: dict[str, Any] = {f"rep{i}": rep_id for i, (rep_id, _) in enumerate(rows)}
    params.update({f"k{i}": known_us for i, (_, known_us) in enumerate(rows)})
    return size, params


@lru_cache(maxsize=16)
def _statements(size: int) -> dict[str, Select]:
    """The five reads, each joined to a table `cut` of `size` (rep, knowledge time) rows on its
    rep and knowledge time (SQLite walks each rep's range of the (rep_id, time) index, as it
    would for one rep)."""
    cut = (
        values(column("rep", String), column("k", BigInteger), name="cut")
        .data([(bindparam(f"rep{i}"), bindparam(f"k{i}")) for i in range(size)])
        .cte("cut")
    )
    f, ld, c, a = deal_facts.c, leads.c, lead_conversions.c, activities.c
    return {
        "facts": select(
            f.rep_id, f.deal_id, f.won_cents, f.refund_cents, f.won_ppb, f.lost_ppb, f.new_customer_ppb, f.sources
        )
        .join(cut, (f.rep_id == cut.c.rep) & (f.recorded_us <= cut.c.k))
        .where(f.occurred_us >= LO, f.occurred_us < HI),
        "leads": select(ld.rep_id, func.count(), _positions(ld.position))
        .join(cut, (ld.rep_id == cut.c.rep) & (ld.recorded_us <= cut.c.k))
        .where(ld.created_us >= LO, ld.created_us < HI)
        .group_by(ld.rep_id),
        "conversions": select(c.rep_id, c.delta, c.sources)
        .join(cut, (c.rep_id == cut.c.rep) & (c.recorded_us <= cut.c.k))
        .where(c.created_us >= LO, c.created_us < HI, c.won_us <= AS_OF),
        "activities": select(a.rep_id, a.kind, func.count(), func.sum(a.replied), _positions(a.position))
        .join(cut, (a.rep_id == cut.c.rep) & (a.recorded_us <= cut.c.k))
        .where(a.occurred_us >= LO, a.occurred_us < HI)
        .group_by(a.rep_id, a.kind),
    }


@dataclass
class RepRows:
    """What the statements return for one rep: the raw material of its figures and evidence."""

    facts: list[Any] = field(default_factory=list)  # deal_facts rows in the window
    facts_before: list[Any] = field(default_factory=list)  # … in the previous period (growth)
    leads: int = 0  # leads created in the window
    lead_positions: str = ""
    conversions: list[Any] = field(default_factory=list)  # (delta, sources) of leads won by as_of
    activities: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # kind → (count, replied, positions)
    goals: dict[str, Target] = field(default_factory=dict)  # metric → the target in force


def rep_figures(
    engine: Engine,
    settings: Settings,
    rep_id: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> Figures:
    """A rep's figures for plan evaluation, and the sorted event positions behind each.

    figures: revenue, orders, new_customers, conversion_rate, win_rate, avg_order_value,
    growth_rate, activities (total count), email_reply_rate, as in `kpis`.
    evidence[m]: the positions of the events that make figure m (for revenue: the wins,
    corrections, refunds and splits of the rep's fact rows in the window, including rows that
    moved credit away); evidence[f"{m}_attainment"] = the TargetSet in force, for each target.
    """
    cut = cutoffs(settings, period, as_of, known_at)
    with reading(engine) as conn:
        return figures_by_rep(conn, settings, {rep_id: cut})[rep_id]


def figures_by_rep(
    conn: Connection,
    settings: Settings,
    cuts: Mapping[str, Cutoffs],
    revised: Mapping[str, list[Any]] | None = None,
) -> dict[str, Figures]:
    """`rep_figures` of each rep at its cut-offs, inside a read transaction the caller holds. The
    cut-offs may differ in knowledge time only: one period, one as_of. `revised`: the period's
    target revisions by scope (`revisions_by_scope`), when the caller has read them for every
    rep already (a period's payouts read them by batches of reps: one read, not one a batch)."""
    rows = rows_by_rep(conn, settings, cuts, revised)
    return {rep_id: figures_of(found) for rep_id, found in rows.items()}


def rows_by_rep(
    conn: Connection,
    settings: Settings,
    cuts: Mapping[str, Cutoffs],
    revised: Mapping[str, list[Any]] | None = None,
) -> dict[str, RepRows]:
    rows = {rep_id: RepRows() for rep_id in cuts}
    if not cuts:
        return rows
    cut = next(iter(cuts.values()))
    if any((c.period, c.as_of_us) != (cut.period, cut.as_of_us) for c in cuts.values()):
        raise ValueError("figures_by_rep: the reps' cut-offs must share the period and as_of")
    size, known = _knowledge({rep_id: c.known_us for rep_id, c in cuts.items()})
    window = {**known, "lo": cut.start_us, "hi": cut.upto_us}

    def run(name: str, params: dict[str, Any]) -> Any:
        return prepared(conn, _statements(size)[name], ("rep_figures", name, str(size)), params)

    previous = cut.previous(settings)  # the same knowledge time, the period before: for growth
    for row in run("facts", window):
        rows[row.rep_id].facts.append(row)
    for row in run("facts", {**window, "lo": previous.start_us, "hi": previous.upto_us}):
        rows[row.rep_id].facts_before.append(row)
    for rep_id, count, positions in run("leads", window):
        rows[rep_id].leads, rows[rep_id].lead_positions = int(count), positions
    for row in run("conversions", {**window, "as_of": cut.as_of_us}):
        rows[row.rep_id].conversions.append(row)
    for rep_id, kind, count, replied, positions in run("activities", window):
        rows[rep_id].activities[kind] = (int(count), int(replied or 0), positions)
    if revised is None:
        revised = revisions_by_scope(conn, str(cut.period), [f"rep:{rep_id}" for rep_id in cuts])
    for rep_id, found in rows.items():
        found.goals = in_force(revised.get(f"rep:{rep_id}", []), cuts[rep_id])
    return rows


# ---------------------------------------------------------------- the fold (pure)


def figures_of(rows: RepRows) -> Figures:
    """A rep's figures and evidence from its rows: the KPI arithmetic over the same sums."""
    kinds = {kind: (count, replied) for kind, (count, replied, _) in rows.activities.items()}
    converted = sum(int(row.delta) for row in rows.conversions)
    figures = plan_figures(_sums(rows.facts), _sums(rows.facts_before), rows.leads, converted, kinds)
    return {m: figures[m] for m in FIGURE_METRICS}, evidence_of(rows)


def _sums(facts: list[Any]) -> DealSums:
    return sums_by_deal(facts)


def evidence_of(rows: RepRows) -> dict[str, list[int]]:
    found: dict[str, set[int]] = {m: set() for m in FIGURE_METRICS}
    for row in rows.facts:
        positions = _split(row.sources)
        won, refund, orders, lost, new = (
            bool(row.won_cents),
            bool(row.refund_cents),
            bool(row.won_ppb),
            bool(row.lost_ppb),
            bool(row.new_customer_ppb),
        )
        for metric, used in (
            ("revenue", won or refund),
            ("orders", orders),
            ("new_customers", new),
            ("win_rate", orders or lost),
            ("avg_order_value", won or orders),
        ):
            if used:
                found[metric].update(positions)
    found["growth_rate"].update(found["revenue"])
    for row in rows.facts_before:
        if row.won_cents or row.refund_cents:
            found["growth_rate"].update(_split(row.sources))
    found["conversion_rate"].update(_split(rows.lead_positions, ","))
    for row in rows.conversions:
        found["conversion_rate"].update(_split(row.sources))
    for kind, (_, _, joined) in rows.activities.items():
        logged = _split(joined, ",")
        found["activities"].update(logged)
        if kind == "email":
            found["email_reply_rate"].update(logged)
    evidence = {metric: sorted(positions) for metric, positions in found.items()}
    evidence.update({f"{metric}_attainment": [goal.position] for metric, goal in rows.goals.items()})
    return evidence


def _split(positions: str | None, separator: str | None = None) -> list[int]:
    """Positions from a fact's `sources` (space-separated) or an aggregated group (commas)."""
    return [int(p) for p in positions.split(separator)] if positions else []
