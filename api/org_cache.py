"""Who is in which team now, and whose deal, follow-up, lead or customer is whose, folded in memory
from the log.

The app's org view (`api/org_view.py`) asks the projections, and this fold for what the log
recorded beyond them (`after` their position): usually the last few events, read through the
(type, position) index. Folded from the start of the log it is a whole `policy.OrgView` on its
own, which the tests use as the specification of the projected one.
"""

from __future__ import annotations

import threading
from bisect import insort
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from api.log_queries import LogReader
from ledger.decoding import LogRecord
from projections.queries.ownership import Move
from projections.units import micros, occurred_us

ORG_TYPES = (
    "RepOnboarded",
    "RepTransferred",
    "DealOpened",
    "FollowUpScheduled",
    "DisputeOpened",
    "LeadCreated",
    "RegionCreated",
    "TeamCreated",
)


class OrgCache:
    def __init__(self, log: LogReader, clock: Callable[[], datetime] = lambda: datetime.now(UTC), after: int = 0):
        self._log = log
        self._clock = clock
        self._lock = threading.Lock()
        self.start = self._position = after  # folds the log from just past `after`
        # rep → its moves, ordered by business time: a transfer recorded ahead of its effective
        # date moves the rep only once that date has come.
        self._moves: dict[str, list[Move]] = {}
        self._region_moves: dict[str, list[Move]] = {}
        self._team_region: dict[str, str] = {}  # team → its region, for a team created with one
        self._deal_rep: dict[str, str] = {}
        self._followup_rep: dict[str, str] = {}
        self._dispute_rep: dict[str, str] = {}
        self._lead_rep: dict[str, str] = {}
        self._customer_reps: dict[str, frozenset[str]] = {}  # the reps with a lead or deal of the customer
        self._named: set[tuple[str, str]] = set()  # ("rep", id), ("team", id), ("region", name) ever onboarded into

    def view(self) -> OrgCache:
        """Catch up with the log, then answer as of now (one call per request)."""
        self.refresh()
        return self

    def covers(self, head: int) -> bool:
        """Has folded the log up to `head` already (then `view()` would find nothing to do)."""
        return self._position >= head

    def refresh(self, upto: int | None = None) -> None:
        """Fold what the log recorded since, up to `upto` (default: its head now)."""
        with self._lock:  # handlers run in a thread pool; one fold at a time
            head = self._log.head_position() if upto is None else upto
            if head <= self._position:
                return
            for record in self._log.iterate(self._position, types=ORG_TYPES, upto=head):
                self._fold(record)
            self._position = head

    def _fold(self, record: LogRecord) -> None:
        event_type, data = record.type, record.data
        if event_type in ("RepOnboarded", "RepTransferred"):
            self._name(data)
        if event_type in ("RepOnboarded", "RepTransferred") and data.get("team_id"):
            # Same business time: the later-recorded move wins.
            move = Move(occurred_us(record), record.position, data["team_id"])
            insort(self._moves.setdefault(data["rep_id"], []), move)
        if event_type in ("RepOnboarded", "RepTransferred") and data.get("region"):
            region_move = Move(occurred_us(record), record.position, data["region"])
            insort(self._region_moves.setdefault(data["rep_id"], []), region_move)
        if event_type == "RegionCreated":
            self._named.add(("region", data["region"]))
        elif event_type == "TeamCreated":
            self._named.update({("team", data["team_id"]), ("region", data["region"])})
            self._team_region[data["team_id"]] = data["region"]
        elif event_type == "DealOpened":
            self._deal_rep[data["deal_id"]] = data["rep_id"]
            self._hold(data.get("customer_id"), data["rep_id"])
        elif event_type == "LeadCreated":
            self._lead_rep[data["lead_id"]] = data["rep_id"]
            self._hold(data.get("customer_id"), data["rep_id"])
        elif event_type == "FollowUpScheduled":
            self._followup_rep[data["followup_id"]] = data["rep_id"]
        elif event_type == "DisputeOpened":
            self._dispute_rep[data["dispute_id"]] = data["rep_id"]

    def _name(self, data: dict) -> None:
        self._named.add(("rep", data["rep_id"]))
        for kind, field in (("team", "team_id"), ("region", "region")):
            if data.get(field):
                self._named.add((kind, data[field]))

    def _hold(self, customer_id: str | None, rep_id: str) -> None:
        if customer_id:
            self._customer_reps[customer_id] = self._customer_reps.get(customer_id, frozenset()) | {rep_id}

    # ---------------------------------------------------------------- what the fold holds

    def moves_of(self, field: str, rep_id: str) -> list[Move]:
        """The rep's moves into teams (`field` team_id) or regions (`field` region) folded here."""
        return (self._moves if field == "team_id" else self._region_moves).get(rep_id, [])

    def reps_moved_into(self, field: str, place: str) -> set[str]:
        moved = self._moves if field == "team_id" else self._region_moves
        return {rep for rep, its in list(moved.items()) if any(move.place == place for move in its)}

    def created_region(self, team_id: str) -> str | None:
        return self._team_region.get(team_id)

    # ---------------------------------------------------------------- policy.OrgView

    def team_of(self, rep_id: str) -> str | None:
        return place_now(self._moves.get(rep_id, ()), self._clock())

    def region_of(self, rep_id: str) -> str | None:
        return place_now(self._region_moves.get(rep_id, ()), self._clock())

    def region_of_team(self, team_id: str) -> str | None:
        """The region a team was created in; for a team never created, the one region all of
        its reps are in now (None when they are in several, or it has none)."""
        created = self._team_region.get(team_id)
        if created is not None:
            return created
        found = {self.region_of(rep) for rep in self.reps_in_team(team_id)}
        return found.pop() if len(found) == 1 else None

    def reps_in_region(self, region: str) -> frozenset[str]:
        return frozenset(rep for rep in list(self._region_moves) if self.region_of(rep) == region)

    def knows(self, kind: str, key: str) -> bool:
        return (kind, key) in self._named

    def reps_in_team(self, team_id: str) -> frozenset[str]:
        return frozenset(rep for rep in list(self._moves) if self.team_of(rep) == team_id)

    def deal_rep(self, deal_id: str) -> str | None:
        return self._deal_rep.get(deal_id)

    def followup_rep(self, followup_id: str) -> str | None:
        return self._followup_rep.get(followup_id)

    def dispute_rep(self, dispute_id: str) -> str | None:
        return self._dispute_rep.get(dispute_id)

    def lead_rep(self, lead_id: str) -> str | None:
        return self._lead_rep.get(lead_id)

    def customer_reps(self, customer_id: str) -> frozenset[str]:
        return self._customer_reps.get(customer_id, frozenset())


def place_now(moves: Iterable[Move], now: datetime) -> str | None:
    """Where the last of these moves (in order) that has taken effect by `now` put the rep."""
    now_us = micros(now)
    where = None
    for move in moves:
        if move.occurred_us > now_us:
            break
        where = move.place
    return where
