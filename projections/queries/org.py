"""The org below a scope during a period: its regions, teams and reps, and each rep's level.

A child is in the parent when one of its reps was in the parent at some time during the period
(as known at known_at), as the consistency check counts them; a region or team created in the
parent (RegionCreated, TeamCreated) is a child too, with nobody in it yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from ledger.config import Settings
from projections.db import reading
from projections.queries.cutoffs import Cutoffs, cutoffs
from projections.queries.membership import Scope, Stint, stints
from projections.tables import regions, rep_levels, teams

LEVELS = ("regions", "teams", "reps")  # below the company, a region, a team
NEXT_LEVEL = {"company": "regions", "region": "teams", "team": "reps"}
_DEPTH = {"company": 0, "region": 1, "team": 2, "rep": 3}


@dataclass(frozen=True)
class Child:
    scope: str  # region:East, team:T-1, rep:R-1
    reps: frozenset[str]  # its reps in the parent during the period


def below(parent: Scope, level: str) -> bool:
    """Is `level` (regions, teams, reps) below the parent scope?"""
    return LEVELS.index(level) + 1 > _DEPTH[parent.kind]


def children(
    engine: Engine, settings: Settings, parent: Scope, period: str, level: str, known_at: datetime | None = None
) -> list[Child]:
    """The parent's children of `level` during the period, in scope order."""
    cut = cutoffs(settings, period, None, known_at)
    with reading(engine) as conn:
        during = [s for s in stints(conn, cut.known_us) if max(s.lo, cut.start_us) < min(s.hi, cut.end_us)]
        created = _created(conn, parent, level, cut)
    found: dict[str, set[str]] = {key: set() for key in created}
    for stint in during:
        if not _in(stint, parent):
            continue
        key = _key(stint, level)
        if key is not None:
            found.setdefault(key, set()).add(stint.rep_id)
    return [Child(key, frozenset(reps)) for key, reps in sorted(found.items())]


def _in(stint: Stint, parent: Scope) -> bool:
    if parent.kind == "company":
        return True
    return stint.of(parent)


def _key(stint: Stint, level: str) -> str | None:
    if level == "regions":
        return f"region:{stint.region}" if stint.region is not None else None
    if level == "teams":
        return f"team:{stint.team_id}" if stint.team_id is not None else None
    return f"rep:{stint.rep_id}"


def _created(conn: Connection, parent: Scope, level: str, cut: Cutoffs) -> list[str]:
    """Regions or teams created in the parent by the period's end (as known at known_at)."""
    if level == "regions" and parent.kind == "company":
        query = select(regions.c.region).where(
            regions.c.recorded_us <= cut.known_us, regions.c.occurred_us < cut.end_us
        )
        return [f"region:{name}" for name in conn.execute(query).scalars()]
    if level == "teams" and parent.kind in ("company", "region"):
        query = select(teams.c.team_id).where(teams.c.recorded_us <= cut.known_us, teams.c.occurred_us < cut.end_us)
        if parent.kind == "region":
            query = query.where(teams.c.region == parent.value)
        return [f"team:{team}" for team in conn.execute(query).scalars()]
    return []


def levels_at(engine: Engine, settings: Settings, rep_ids: list[str], period: str) -> dict[str, str]:
    """Each rep's level as the period ends (the latest RepLevelSet before its end, as known now)."""
    cut = cutoffs(settings, period)
    query = (
        select(rep_levels.c.rep_id, rep_levels.c.level)
        .where(
            rep_levels.c.rep_id.in_(sorted(rep_ids)),
            rep_levels.c.occurred_us < cut.end_us,
            rep_levels.c.recorded_us <= cut.known_us,
        )
        .order_by(rep_levels.c.occurred_us, rep_levels.c.position)
    )
    with reading(engine) as conn:
        return {row.rep_id: row.level for row in conn.execute(query)}


__all__ = ["LEVELS", "NEXT_LEVEL", "Child", "below", "children", "levels_at"]
