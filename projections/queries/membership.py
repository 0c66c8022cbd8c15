"""Scopes (`rep:ID`, `team:ID`, `region:NAME`, `company`) and who belonged to them, when.

A deal, a lead, an activity counts for the team and region its rep had at the fact's business
time (the instant that places it in its period), as known at `known_at`. Membership is
resolved here, at query time, from the bitemporal `memberships` rows recorded up to K:
- a rep's team (region) at time t is the one named by their latest membership row with
  `occurred_us <= t` that names a team (a region); rows at the same instant apply in log order;
- before their onboarding a rep is taken to be in their first team and region, so that a fact
  dated before it still counts somewhere (company = sum of its regions);
- a backdated transfer recorded later changes history only for reads with known_at after it
  was recorded: a read at an earlier K never sees the row.
A scope becomes a SQL condition on (rep column, time column): for a team or region, `rep IN
(…)` for the reps in it for the whole window, OR-ed with one time range per partial stint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, and_, false, or_, select

from ledger.messages import Msg
from projections.db import reading
from projections.tables import memberships, regions, teams
from projections.units import micros_to_time

EARLIEST = -(2**62)
LATEST = 2**62
SCOPE_KINDS = ("rep", "team", "region", "company")


@dataclass(frozen=True)
class Scope:
    kind: str  # rep | team | region | company
    value: str | None = None

    def __str__(self) -> str:
        return "company" if self.kind == "company" else f"{self.kind}:{self.value}"


def parse_scope(text: str) -> Scope:
    """`rep:R-1`, `team:T-1`, `region:East` or `company`; ValueError with the accepted forms otherwise."""
    if text == "company":
        return Scope("company")
    kind, _, value = text.partition(":") if isinstance(text, str) else ("", "", "")
    if kind not in ("rep", "team", "region") or not value:
        raise ValueError(
            Msg("scope.text", "{text!r} is not a scope: use rep:ID, team:ID, region:NAME or company", text=text)
        )
    return Scope(kind, value)


def scope_exists(conn: Connection, scope: Scope) -> bool:
    """Whether the scope names someone the ledger knows: a rep ever onboarded, a team or region
    some rep was ever in or that was created (the company always). A scope that does not is answered 404, not zeros."""
    if scope.kind == "company":
        return True
    column = {"rep": memberships.c.rep_id, "team": memberships.c.team_id, "region": memberships.c.region}[scope.kind]
    if conn.execute(select(column).where(column == scope.value).limit(1)).first() is not None:
        return True
    created = {"team": teams.c.team_id, "region": regions.c.region}.get(scope.kind)  # created, nobody in it yet
    return created is not None and conn.execute(select(created).where(created == scope.value)).first() is not None


def known_scope(engine: Engine, text: str) -> bool:
    """`scope_exists` for a scope's text, on its own read."""
    with reading(engine) as conn:
        return scope_exists(conn, parse_scope(text))


class Stint(NamedTuple):
    """A stretch of business time [lo, hi) during which a rep had one team and one region. A
    tuple: a company's list makes one for every one of thousands of reps (`Track`'s reason)."""

    rep_id: str
    lo: int
    hi: int
    team_id: str | None
    region: str | None

    def of(self, scope: Scope) -> bool:
        return (self.team_id if scope.kind == "team" else self.region) == scope.value


_m = memberships.c
_STINT_ROWS = select(_m.rep_id, _m.occurred_us, _m.team_id, _m.region, _m.recorded_us).order_by(
    _m.rep_id, _m.occurred_us, _m.position
)


def stints(conn: Connection, known_us: int, rep_ids: Iterable[str] | None = None) -> list[Stint]:
    """Every rep's stints as known at `known_us` (optionally only the given reps)."""
    query = _STINT_ROWS.where(_m.recorded_us <= known_us)
    if rep_ids is not None:
        query = query.where(_m.rep_id.in_(sorted(set(rep_ids))))
    return _stints_of_rows(conn.execute(query).all())


def membership_history(conn: Connection) -> dict[str, list[Any]]:
    """Every rep's membership rows, whenever recorded, in the order their stints walk them: read
    once, then each rep's stints at any knowledge time are `stints_at` (a replay of an approved
    quarter asks each rep's at its own approval's knowledge time: a read of the whole table a
    rep, 5,000 of them at 5,000 reps)."""
    by_rep: dict[str, list[Any]] = {}
    for row in conn.execute(_STINT_ROWS).all():
        by_rep.setdefault(row.rep_id, []).append(row)
    return by_rep


def stints_at(rows: Sequence[Any], known_us: int) -> list[Stint]:
    """`stints` of one rep as known at `known_us`, from its `membership_history` rows."""
    return _stints_of_rows([row for row in rows if row.recorded_us <= known_us])


def _stints_of_rows(rows: Sequence[Any]) -> list[Stint]:
    """The stints of membership rows (rep_id, occurred_us, team_id, region, …) ordered by rep,
    business time and position."""
    result: list[Stint] = []
    for rep_id, group in groupby(rows, key=itemgetter(0)):  # by place, not by name: a company's 5k rows
        mine = list(group)
        if len(mine) == 1:  # hired once and never moved, as most reps: `_stints_of_rep` of one row
            _, _, team_id, region, *_ = mine[0]
            result.append(Stint(rep_id, EARLIEST, LATEST, team_id or None, region or None))
        else:
            result.extend(_stints_of_rep(mine))
    return result


def _stints_of_rep(rows: Sequence[Any]) -> list[Stint]:
    """Walk one rep's membership rows in business-time order, carrying an unnamed team or region."""
    changes: list[tuple[int, str | None, str | None]] = []
    team = region = None
    for row in rows:
        team = row.team_id or team
        region = row.region or region
        if changes and changes[-1][0] == row.occurred_us:
            changes[-1] = (row.occurred_us, team, region)
        else:
            changes.append((row.occurred_us, team, region))
    result: list[Stint] = []
    for i, (lo, team_id, region_name) in enumerate(changes):
        hi = changes[i + 1][0] if i + 1 < len(changes) else LATEST
        lo = EARLIEST if i == 0 else lo
        if result and (result[-1].team_id, result[-1].region) == (team_id, region_name):
            result[-1] = Stint(rows[0].rep_id, result[-1].lo, hi, team_id, region_name)
        else:
            result.append(Stint(rows[0].rep_id, lo, hi, team_id, region_name))
    return result


def reps_ever_in(conn: Connection, scope: Scope, known_us: int) -> list[str]:
    """The reps a membership row known at `known_us` ever put in a team or region (a rep's team
    or region at any time is the one its latest row naming one named), or the rep of a rep scope."""
    if scope.kind == "rep":
        return [str(scope.value)]
    column = memberships.c.team_id if scope.kind == "team" else memberships.c.region
    ever = select(memberships.c.rep_id).where(column == scope.value, memberships.c.recorded_us <= known_us).distinct()
    return sorted(conn.execute(ever).scalars())


def stints_in(conn: Connection, scope: Scope, known_us: int) -> list[Stint]:
    """The stints during which reps were in a team or region scope, as known at `known_us`."""
    column = memberships.c.team_id if scope.kind == "team" else memberships.c.region
    ever = select(memberships.c.rep_id).where(column == scope.value, memberships.c.recorded_us <= known_us).distinct()
    reps = list(conn.execute(ever).scalars())
    return [s for s in stints(conn, known_us, reps) if s.of(scope)] if reps else []


class ScopeFilter:
    """The SQL condition "this fact belongs to the scope" for a window of business time."""

    def __init__(self, scope: Scope, scope_stints: list[Stint] | None = None):
        self.scope = scope
        self.stints = scope_stints or []

    @classmethod
    def load(cls, conn: Connection, scope: Scope, known_us: int) -> ScopeFilter:
        if scope.kind in ("team", "region"):
            return cls(scope, stints_in(conn, scope, known_us))
        return cls(scope)

    def where(self, rep_column: ColumnElement, time_column: ColumnElement, lo: int, hi: int) -> ColumnElement[bool]:
        if hi <= lo:
            return false()
        in_window = and_(time_column >= lo, time_column < hi)
        if self.scope.kind == "company":
            return in_window
        if self.scope.kind == "rep":
            return and_(rep_column == self.scope.value, in_window)
        return self._members(rep_column, time_column, lo, hi)

    def members(self, lo: int, hi: int) -> tuple[list[str], list[tuple[str, int, int]]]:
        """(reps in the scope for the whole window, [(rep, a, b)] for those in it only for [a, b))."""
        whole, partial = set(), []
        for stint in self.stints:
            a, b = max(stint.lo, lo), min(stint.hi, hi)
            if a >= b:
                continue
            if (a, b) == (lo, hi):
                whole.add(stint.rep_id)
            else:
                partial.append((stint.rep_id, a, b))
        return sorted(whole), partial

    def _members(self, rep_column: ColumnElement, time_column: ColumnElement, lo: int, hi: int) -> ColumnElement[bool]:
        whole, partial = self.members(lo, hi)
        terms = [and_(rep_column == rep_id, time_column >= a, time_column < b) for rep_id, a, b in partial]
        if whole:
            terms = [and_(rep_column.in_(whole), time_column >= lo, time_column < hi), *terms]
        return or_(*terms) if terms else false()

    def reps(self, lo: int, hi: int) -> list[str] | None:
        """The reps of the scope with any time in [lo, hi); None for the company (everyone)."""
        if self.scope.kind == "company":
            return None
        if self.scope.kind == "rep":
            return [self.scope.value or ""]
        return sorted({s.rep_id for s in self.stints if max(s.lo, lo) < min(s.hi, hi)})


__all__ = ["EARLIEST", "LATEST", "Scope", "ScopeFilter", "Stint", "parse_scope", "stints", "stints_in"]


def teams_during(engine: Engine, known_us: int, rep_ids: Iterable[str], lo: int, hi: int) -> dict[str, dict[str, Any]]:
    """rep → the teams it was in during the window [lo, hi) of business time, as known at
    `known_us`: `team_id` and `region` at the window's last instant (the team the rep ended the
    period in, not the one it has now), `teams` every team of the window in order, and `moved`
    each change of team inside the window (to which team and region, `on` when). A rep with no
    membership is left out."""
    with reading(engine) as conn:
        known = stints(conn, known_us, rep_ids)
    by_rep: dict[str, list[Stint]] = {}
    for stint in known:
        if max(stint.lo, lo) < min(stint.hi, hi):
            by_rep.setdefault(stint.rep_id, []).append(stint)
    found: dict[str, dict[str, Any]] = {}
    for rep_id, inside in by_rep.items():
        teams_in: list[str] = []
        moved: list[dict[str, Any]] = []
        for previous, stint in zip([None, *inside], inside, strict=False):
            if stint.team_id is not None and stint.team_id not in teams_in[-1:]:
                teams_in.append(stint.team_id)
            if previous is not None and stint.team_id != previous.team_id:
                moved.append({"team_id": stint.team_id, "region": stint.region, "on": micros_to_time(stint.lo)})
        last = inside[-1]
        found[rep_id] = {"team_id": last.team_id, "region": last.region, "teams": teams_in, "moved": moved}
    return found
