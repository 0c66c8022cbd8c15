"""Team against team, region against region: the roll-up of a scope into its children (the
company into its regions, a region into its teams, a team into its reps), each beside the
previous period and the same period a year before, with a totals row that is the parent's own
card; and who was in a team or region during a window (the team table of a past period).

The arithmetic is `projections/rollup.py` (pure); here, its inputs at the cut-offs:
- money: the deal sums of each child's window, read as `kpis` reads a scope's (a fact counts for
  the team and region its rep was in at its business time, as known at known_at), so a team's
  rep rows are the rep's facts *while in the team*, and the children's money sums to the parent's;
- the previous period as `growth_rate` takes it (whole, or up to as_of), and the same period a
  year before, up to the same point in it as as_of is in this one (like for like);
- the revenue target in force of each child's own scope and of the parent;
- the pipeline: each rep in the parent at as_of weighs its open deals as `/kpis/forecast` does,
  and adds to the child it is in at as_of.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_

from ledger.config import Settings
from ledger.messages import Msg
from ledger.periods import Period, Week
from projections.db import reading
from projections.forecasting import weighted as weigh
from projections.queries.cutoffs import Cutoffs, cutoffs, elapsed_share
from projections.queries.facts import DealSums, deal_sums, sums_by_rep
from projections.queries.forecast import Remember, everyone_at, in_scope, learned_by_rep, open_deals, pipelines
from projections.queries.membership import EARLIEST, LATEST, Scope, ScopeFilter, Stint, parse_scope, stints
from projections.queries.targets import current_targets
from projections.rollup import Sums, rollup
from projections.tables import deal_facts
from projections.units import micros_to_time

CHILD_KIND = {"company": "region", "region": "team", "team": "rep"}
MAX_CHILDREN = 1000  # a team of more reps than this is answered in part (see `truncated`)


# ---------------------------------------------------------------- who was in a scope, and where they went


def member_sums(conn: Connection, scope: Scope, lo: int, hi: int, known_us: int) -> dict[str, DealSums]:
    """rep → its deal sums over [lo, hi) *while in the scope* (a team or region; a rep: its own;
    the company: every rep's), as known at known_us: one grouped read for all of them."""
    f = deal_facts.c
    where = ScopeFilter.load(conn, scope, known_us).where(f.rep_id, f.occurred_us, lo, hi)
    return sums_by_rep(conn, and_(where, f.recorded_us <= known_us))


def scope_moves(conn: Connection, scope: Scope, cut: Cutoffs, rep_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """rep → how it came into and left a team or region scope around the window, as known at
    known_at: `joined` (from which team and region, when) if it came in after the window began,
    `left` (to which team and region, when) if it left it after its last stint in the window,
    whenever that was (a rep who moved in July is marked on the table of Q1)."""
    if scope.kind not in ("team", "region"):
        return {}
    by_rep: dict[str, list[Stint]] = defaultdict(list)
    for stint in stints(conn, cut.known_us, rep_ids):
        by_rep[stint.rep_id].append(stint)
    found: dict[str, dict[str, Any]] = {}
    for rep_id, own in by_rep.items():
        marks = moves_of(own, scope, cut.start_us, cut.upto_us)
        if marks:
            found[rep_id] = marks
    return found


def moves_of(own: list[Stint], scope: Scope, lo: int, hi: int) -> dict[str, Any]:
    """`scope_moves` for one rep's stints (in business-time order)."""
    inside = [i for i, s in enumerate(own) if s.of(scope) and max(s.lo, lo) < min(s.hi, hi)]
    if not inside:
        return {}
    marks: dict[str, Any] = {}
    first, last = inside[0], inside[-1]
    if first > 0 and own[first].lo > lo and own[first].lo != EARLIEST:
        before = own[first - 1]
        marks["joined"] = {"team_id": before.team_id, "region": before.region, "on": micros_to_time(own[first].lo)}
    if own[last].hi != LATEST and last + 1 < len(own):
        after = own[last + 1]
        marks["left"] = {"team_id": after.team_id, "region": after.region, "on": micros_to_time(own[last].hi)}
    return marks


# ---------------------------------------------------------------- the roll-up


def last_year(period: Period) -> Period | None:
    """The same period a year before (a week: the same ISO week number, if that year has it)."""
    if isinstance(period, Week):
        try:
            return Week.of(period.iso_year - 1, period.week)
        except ValueError:
            return None
    return dataclasses.replace(period, year=period.year - 1)


def like_for_like(settings: Settings, cut: Cutoffs) -> Cutoffs | None:
    """The same period a year before, up to the same point in it as as_of is in this one."""
    period = last_year(cut.period)
    if period is None:
        return None
    whole = cutoffs(settings, period, None, micros_to_time(cut.known_us))
    elapsed = cut.upto_us - cut.start_us
    as_of_us = min(whole.end_us - 1, whole.start_us + elapsed - 1) if elapsed > 0 else whole.start_us - 1
    return Cutoffs(period, whole.start_us, whole.end_us, as_of_us, cut.known_us)


def children_of(conn: Connection, scope: Scope, windows: list[Cutoffs]) -> list[str]:
    """The children of the scope with any time in it during any of the windows: regions (the
    company), teams (a region), reps (a team)."""
    lo = min(w.start_us for w in windows)
    hi = max(w.upto_us for w in windows)
    found: set[str] = set()
    for stint in stints(conn, windows[0].known_us):
        if max(stint.lo, lo) >= min(stint.hi, hi):
            continue
        if scope.kind == "company" and stint.region is not None:
            found.add(stint.region)
        elif scope.kind == "region" and stint.region == scope.value and stint.team_id is not None:
            found.add(stint.team_id)
        elif scope.kind == "team" and stint.team_id == scope.value:
            found.add(stint.rep_id)
    return sorted(found)


def child_scope(scope: Scope, key: str) -> Scope:
    return Scope(CHILD_KIND[scope.kind], key)


def rollup_table(
    engine: Engine,
    settings: Settings,
    scope: str,
    period: str,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    remember: Remember | None = None,
) -> dict[str, Any]:
    """The roll-up of a company, region or team scope (see the module docstring)."""
    parsed = parse_scope(scope)
    if parsed.kind not in CHILD_KIND:
        raise ValueError(
            Msg("rollup.scope", "a roll-up is of the company, a region or a team, not {scope}", scope=scope)
        )
    cut = cutoffs(settings, period, as_of, known_at)
    before = cut.previous(settings)
    year_ago = like_for_like(settings, cut)
    windows = [w for w in (cut, before, year_ago) if w is not None]
    with reading(engine) as conn:
        keys = children_of(conn, parsed, windows)
        truncated = len(keys) > MAX_CHILDREN
        keys = keys[:MAX_CHILDREN]
        money = child_money(conn, parsed, keys, cut, before, year_ago)
        pipeline = child_pipelines(conn, parsed, cut, remember)
        period_key = str(cut.period)
        children = [
            Sums(
                key=key,
                revenue_cents=money[key][0].revenue_cents,
                previous_cents=money[key][1].revenue_cents,
                last_year_cents=money[key][2].revenue_cents,
                orders=money[key][0].orders,
                target=target_of(conn, str(child_scope(parsed, key)), period_key, cut),
                pipeline=pipeline.get(key, Decimal(0)),
            )
            for key in keys
        ]
        own = ScopeFilter.load(conn, parsed, cut.known_us)
        whole = deal_sums(conn, own, cut.start_us, cut.upto_us, cut.known_us)
        parent = Sums(
            key=str(parsed),
            revenue_cents=whole.revenue_cents,
            orders=whole.orders,
            target=target_of(conn, str(parsed), period_key, cut),
        )
        moved = scope_moves(conn, parsed, cut, keys) if parsed.kind == "team" else {}
    table = rollup(children, parent, elapsed_share(cut))
    for row in table["rows"]:
        row.update(moved.get(row["key"], {}))
    return {
        "scope": str(parsed),
        "children": CHILD_KIND[parsed.kind],
        "period": period_key,
        "previous_period": str(before.period),
        "last_year_period": None if year_ago is None else str(year_ago.period),
        "as_of": micros_to_time(cut.as_of_us),
        "known_at": micros_to_time(cut.known_us),
        "period_status": cut.status,
        "truncated": truncated,
        **table,
    }


def target_of(conn: Connection, scope_key: str, period: str, cut: Cutoffs) -> Decimal | None:
    goal = current_targets(conn, scope_key, period, cut).get("revenue")
    return None if goal is None else goal.value


def child_money(conn: Connection, scope: Scope, keys: list[str], *windows: Cutoffs | None) -> dict[str, list[DealSums]]:
    """child → [its deal sums in each window] (an empty DealSums for a window that is None)."""
    found: dict[str, list[DealSums]] = {key: [] for key in keys}
    if scope.kind == "team":  # the reps: one grouped read per window, each rep while in the team
        for window in windows:
            sums = {} if window is None else member_sums(conn, scope, window.start_us, window.upto_us, window.known_us)
            for key in keys:
                found[key].append(sums.get(key, DealSums()))
        return found
    for key in keys:
        where = ScopeFilter.load(conn, child_scope(scope, key), windows[0].known_us if windows[0] else 0)
        for window in windows:
            found[key].append(
                DealSums()
                if window is None
                else deal_sums(conn, where, window.start_us, window.upto_us, window.known_us)
            )
    return found


def child_pipelines(
    conn: Connection, scope: Scope, cut: Cutoffs, remember: Remember | None = None
) -> Mapping[str, Decimal]:
    """child → Σ the weighted pipelines of the reps in it at as_of (as /kpis/forecast weighs them)."""
    everyone = everyone_at(conn, cut)
    reps = in_scope(everyone, scope)
    if not reps:
        return {}
    learned_from = learned_by_rep(conn, cut, everyone, reps, remember)
    pipeline = pipelines(open_deals(conn, cut, sorted(reps)), cut, learned_from)
    found: dict[str, Decimal] = defaultdict(Decimal)
    for rep_id, stint in reps.items():
        key = {"company": stint.region, "region": stint.team_id, "team": rep_id}[scope.kind]
        if key is not None:
            found[key] += weigh(pipeline[rep_id], learned_from[rep_id]).revenue
    return found
