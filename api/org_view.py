"""The org as authorisation sees it now (`services.policy.OrgView`): the projections' tables, and
the log beyond their position folded in memory.

Every write is authorised against the log's head, not against projections that may lag behind
it (a customer another rep took a moment ago is not "new to the ledger"). So each request's view
reads the projections for what they hold and keeps, in process, a fold of the org events
recorded after the projections' position (`OrgCache` from there): the last few events while a
worker keeps the projections, all of them (as the in-memory cache always did) while nothing
projects. Nothing is loaded on start: a server on ten million events answers its first request
as fast as its thousandth.

A view lives for one request. Its answers are remembered for the request, and a batch of events
asks for all the owners it names in a few statements (`prefetch`), not one per event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from api.log_queries import LogReader
from api.org_cache import OrgCache, place_now
from projections.db import reading
from projections.queries import ownership
from projections.queries.ownership import Move
from projections.runner import ensure_schema, projected_position

# The tail is folded afresh from the projections' position once they are this far past its
# start: the events between are in both, which is harmless, but kept in memory for nothing.
REFOLD_AFTER = 20_000
OWNED = ("deal", "lead", "followup", "dispute")


class ProjectedOrg:
    """The app's org (create_app's default `org`): `view()` once per request."""

    def __init__(self, log: LogReader, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._log = log
        self._engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._tail: OrgCache | None = None
        # The reps, teams and regions known: once named in the log, a name stays known (the log
        # only grows), so every request after the first answers `knows` without a read. Bounded
        # by the org's size: only names found are kept.
        self.known: set[tuple[str, str]] = set()

    def view(self) -> OrgNow:
        """This request's view; reads nothing until it is asked something."""
        return OrgNow(self)

    def tail(self) -> OrgCache:
        """The fold of the org events the log holds beyond the projections, up to its head now."""
        head = self._log.head_position()
        projected = projected_position(self._engine)
        with self._lock:
            tail = self._tail
            # The projections went back (a rebuild) or are far past the fold's start: fold afresh.
            if tail is None or tail.start > projected or projected - tail.start > REFOLD_AFTER:
                tail = self._tail = OrgCache(self._log, self.clock, after=min(projected, head))
        tail.refresh(upto=head)
        return tail

    def read(self) -> AbstractContextManager[Connection]:
        ensure_schema(self._engine)  # a first request may come before anything projected
        return reading(self._engine)


class OrgNow:
    """`policy.OrgView` for one request: the tail first, then the projections, answers remembered."""

    def __init__(self, org: ProjectedOrg):
        self._org = org
        self._tail: OrgCache | None = None
        self._owners: dict[str, dict[str, str | None]] = {kind: {} for kind in OWNED}
        self._holders: dict[str, frozenset[str]] = {}
        self._moves: dict[str, dict[str, list[Move]]] = {"team_id": {}, "region": {}}
        self._named: dict[tuple[str, str], bool] = {}

    @property
    def tail(self) -> OrgCache:
        if self._tail is None:
            self._tail = self._org.tail()
        return self._tail

    def _query(self, ask: Callable[[Connection], Any]) -> Any:
        with self._org.read() as conn:
            return ask(conn)

    # ---------------------------------------------------------------- a batch's keys at once

    def prefetch(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Ask for every owner, customer and rep the events name in one statement per kind."""
        wanted: dict[str, set[str]] = {kind: set() for kind in (*OWNED, "customer", "rep")}
        for _, data in events:
            for kind in wanted:
                key = data.get(f"{kind}_id")
                if isinstance(key, str):
                    wanted[kind].add(key)
            for split in data.get("splits") or ():
                if isinstance(split, Mapping) and isinstance(split.get("rep_id"), str):
                    wanted["rep"].add(split["rep_id"])
        for kind in OWNED:
            self._load_owners(kind, wanted[kind])
        self._load_holders(wanted["customer"])
        # whether the writer reaches a rep asks where that rep is now: the owners' too
        reps = wanted["rep"] | {self._owners[kind][key] or "" for kind in OWNED for key in wanted[kind]}
        reps |= {rep for key in wanted["customer"] for rep in self._holders[key]}
        tail = self.tail
        for field in ("team_id", "region"):
            self._load_moves(field, reps - {""}, tail)

    def _load_owners(self, kind: str, keys: Collection[str]) -> None:
        missing = {key for key in keys if key not in self._owners[kind]}
        if missing:
            found = self._query(lambda conn: ownership.owners(conn, kind, missing))
            self._owners[kind].update({key: found.get(key) for key in missing})

    def _load_holders(self, customer_ids: Collection[str]) -> None:
        missing = {key for key in customer_ids if key not in self._holders}
        if missing:
            found = self._query(lambda conn: ownership.customer_holders(conn, missing))
            self._holders.update({key: found.get(key, frozenset()) for key in missing})

    def _load_moves(self, field: str, rep_ids: Iterable[str], tail: OrgCache) -> None:
        known = self._moves[field]
        missing = {rep for rep in rep_ids if rep not in known}
        if missing:
            found = self._query(lambda conn: ownership.moves(conn, field, missing))
            for rep in missing:
                known[rep] = sorted({*found.get(rep, ()), *tail.moves_of(field, rep)})

    # ---------------------------------------------------------------- policy.OrgView

    def _owner(self, kind: str, key: str) -> str | None:
        # An owner never changes once recorded: the projections' answer stands when they have
        # one, and the tail is read only for what they have not folded yet.
        if key not in self._owners[kind]:
            self._owners[kind][key] = self._query(lambda conn: ownership.owners(conn, kind, (key,))).get(key)
        return self._owners[kind][key] or _tail_owner(self.tail, kind, key)

    def deal_rep(self, deal_id: str) -> str | None:
        return self._owner("deal", deal_id)

    def lead_rep(self, lead_id: str) -> str | None:
        return self._owner("lead", lead_id)

    def followup_rep(self, followup_id: str) -> str | None:
        return self._owner("followup", followup_id)

    def dispute_rep(self, dispute_id: str) -> str | None:
        return self._owner("dispute", dispute_id)

    def customer_reps(self, customer_id: str) -> frozenset[str]:
        self._load_holders((customer_id,))
        return self._holders[customer_id] | self.tail.customer_reps(customer_id)

    def _place(self, field: str, rep_id: str) -> str | None:
        self._load_moves(field, (rep_id,), self.tail)
        return place_now(self._moves[field][rep_id], self._org.clock())

    def team_of(self, rep_id: str) -> str | None:
        return self._place("team_id", rep_id)

    def region_of(self, rep_id: str) -> str | None:
        return self._place("region", rep_id)

    def _reps_now_in(self, field: str, place: str) -> frozenset[str]:
        tail = self.tail
        ever = self._query(lambda conn: ownership.reps_ever_in(conn, field, place)) | tail.reps_moved_into(field, place)
        self._load_moves(field, ever, tail)
        now = self._org.clock()
        return frozenset(rep for rep in ever if place_now(self._moves[field][rep], now) == place)

    def reps_in_team(self, team_id: str) -> frozenset[str]:
        return self._reps_now_in("team_id", team_id)

    def reps_in_region(self, region: str) -> frozenset[str]:
        return self._reps_now_in("region", region)

    def region_of_team(self, team_id: str) -> str | None:
        """The region a team was created in; for a team never created, the one region all of
        its reps are in now (None when they are in several, or it has none)."""
        created = self.tail.created_region(team_id) or self._query(lambda conn: ownership.created_region(conn, team_id))
        if created is not None:
            return created
        found = {self.region_of(rep) for rep in self.reps_in_team(team_id)}
        return found.pop() if len(found) == 1 else None

    def knows(self, kind: str, key: str) -> bool:
        if (kind, key) in self._org.known:
            return True
        if (kind, key) not in self._named:
            self._named[kind, key] = self._query(lambda conn: ownership.named(conn, kind, key)) or self.tail.knows(
                kind, key
            )
            if self._named[kind, key]:
                self._org.known.add((kind, key))
        return self._named[kind, key]


def _tail_owner(tail: OrgCache, kind: str, key: str) -> str | None:
    owner: str | None = getattr(tail, f"{kind}_rep")(key)  # OrgCache.deal_rep, lead_rep, followup_rep, dispute_rep
    return owner
