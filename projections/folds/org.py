"""Organisation over time: who each rep is, and their team and region from each moment on;
the regions and teams created (company → region → team → rep), and each rep's level.

A team created with a region (TeamCreated) puts its reps in that region: the ledger refuses an
onboarding or transfer into it naming another region, and fills the team's region into a
transfer that leaves the region out, so the memberships below always agree with the teams.

A membership row is bitemporal: `occurred_us` is when the move takes effect in the world,
`recorded_us` when the ledger learned it. A transfer names a new team, a new region or both;
the other stays NULL ("unchanged") and is resolved at query time (see `membership.py`), so a
backdated transfer recorded later changes history only for reads that know about it.
"""

from __future__ import annotations

from ledger.decoding import LogRecord
from ledger.personal import erased_value
from projections.erasing import erased_categories
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import memberships, regions, rep_levels, reps, teams
from projections.units import occurred_us

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


def _membership(fold: Fold, r: LogRecord, kind: str, team_id: str | None, region: str | None) -> None:
    fold.view.insert(
        memberships,
        {
            "position": r.position,
            "rep_id": r.data["rep_id"],
            "kind": kind,
            "team_id": team_id,
            "region": region,
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )


@on("RepOnboarded")
def rep_onboarded(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        reps,
        {
            "rep_id": d["rep_id"],
            "name": d["name"],
            "manager_id": d.get("manager_id"),
            "position": r.position,
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )
    _membership(fold, r, "onboarded", d["team_id"], d["region"])


@on("RepTransferred")
def rep_transferred(fold: Fold, r: LogRecord) -> None:
    _membership(fold, r, "transferred", r.data.get("team_id"), r.data.get("region"))


@on("RepOffboarded")
def rep_offboarded(fold: Fold, r: LogRecord) -> None:
    _membership(fold, r, "offboarded", None, None)


@on("RegionCreated")
def region_created(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        regions,
        {
            "region": d["region"],
            "name": d["name"],
            "director_id": d.get("director_id"),
            "position": r.position,
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )


@on("TeamCreated")
def team_created(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        teams,
        {
            "team_id": d["team_id"],
            "name": d["name"],
            "region": d["region"],
            "manager_id": d.get("manager_id"),
            "position": r.position,
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )


@on("RepLevelSet")
def rep_level_set(fold: Fold, r: LogRecord) -> None:
    fold.view.insert(
        rep_levels,
        {
            "rep_id": r.data["rep_id"],
            "level": r.data["level"],
            "position": r.position,
            "occurred_us": occurred_us(r),
            "recorded_us": r.recorded_at,
        },
    )


@on("PersonalDataErased")
def personal_data_erased(fold: Fold, r: LogRecord) -> None:
    if "identity" not in erased_categories(r.data):
        return
    fold.view.update(reps, "rep_id", {"rep_id": r.data["rep_id"], "name": erased_value("RepOnboarded", "name")})


class OrgProjection(Projection):
    name = "org"
    tables = (reps, memberships, regions, teams, rep_levels)
    handlers = HANDLERS
