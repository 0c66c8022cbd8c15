"""Whose is it, as the projections know: the rep of a deal, lead, follow-up or dispute, the reps
holding a customer, the teams and regions each rep moved into, and the names ever known.

These answer the authorisation questions (`services.policy.OrgView`) for every object the
projections have folded; `api/org_view.py` adds what the log recorded beyond them. Each query
takes many keys at once, so that a batch of events is authorised in a few statements, not one
per event.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import Connection, select, union

from projections.folds.trust import dispute_events
from projections.queries.membership import Scope, scope_exists
from projections.tables import deals, followups, leads, memberships, teams

MOVES = ("onboarded", "transferred")  # the membership rows that put a rep somewhere (an offboarding does not)


class Move(NamedTuple):
    """A rep's move into a team or region, from its business time on (the later position wins
    at the same instant)."""

    occurred_us: int
    position: int
    place: str


def owners(conn: Connection, kind: str, keys: Collection[str]) -> dict[str, str]:
    """key → the rep whose deal, lead, follow-up or dispute (`kind`) it is, for the keys known."""
    if not keys:
        return {}
    table, column = {
        "deal": (deals, deals.c.deal_id),
        "lead": (leads, leads.c.lead_id),
        "followup": (followups, followups.c.followup_id),
        "dispute": (dispute_events, dispute_events.c.dispute_id),
    }[kind]
    query = select(column, table.c.rep_id).where(column.in_(sorted(keys)))
    if kind == "dispute":
        query = query.where(dispute_events.c.kind == "opened")
    return {key: rep_id for key, rep_id in conn.execute(query)}


def customer_holders(conn: Connection, customer_ids: Collection[str]) -> dict[str, frozenset[str]]:
    """customer → the reps with a lead or a deal of it (customers nobody holds are absent)."""
    if not customer_ids:
        return {}
    wanted = sorted(customer_ids)
    query = union(
        select(leads.c.customer_id, leads.c.rep_id).where(leads.c.customer_id.in_(wanted)),
        select(deals.c.customer_id, deals.c.rep_id).where(deals.c.customer_id.in_(wanted)),
    )
    found: dict[str, set[str]] = {}
    for customer_id, rep_id in conn.execute(query):
        found.setdefault(customer_id, set()).add(rep_id)
    return {customer_id: frozenset(reps) for customer_id, reps in found.items()}


def moves(conn: Connection, field: str, rep_ids: Collection[str]) -> dict[str, list[Move]]:
    """rep → its moves into a team (`field` team_id) or region (`field` region), in order."""
    if not rep_ids:
        return {}
    m = memberships.c
    place = m[field]
    query = (
        select(m.rep_id, m.occurred_us, m.position, place)
        .where(m.rep_id.in_(sorted(rep_ids)), m.kind.in_(MOVES), place.is_not(None))
        .order_by(m.rep_id, m.occurred_us, m.position)
    )
    found: dict[str, list[Move]] = {rep_id: [] for rep_id in rep_ids}
    for rep_id, occurred, position, where in conn.execute(query):
        found[rep_id].append(Move(occurred, position, where))
    return found


def reps_ever_in(conn: Connection, field: str, place: str) -> set[str]:
    """The reps with a move into this team (`field` team_id) or region (`field` region)."""
    m = memberships.c
    return set(conn.execute(select(m.rep_id).where(m[field] == place, m.kind.in_(MOVES)).distinct()).scalars())


def created_region(conn: Connection, team_id: str) -> str | None:
    """The region a team was created in (TeamCreated), None for a team never created."""
    return conn.execute(select(teams.c.region).where(teams.c.team_id == team_id)).scalar()


def named(conn: Connection, kind: str, key: str) -> bool:
    """A rep, team or region the ledger knows (`scope_exists`), a region also by the team created
    in it."""
    if kind not in ("rep", "team", "region"):
        return False
    if scope_exists(conn, Scope(kind, key)):
        return True
    return (
        kind == "region"
        and conn.execute(select(teams.c.team_id).where(teams.c.region == key).limit(1)).first() is not None
    )
