"""Read figures remembered at one log position: a repeated GET /kpis answers without recomputing.

Never stale, by construction:
- an entry is used only while the request's `Glance` shows every projection at the head of the
  log (`settled`) and that head is the position the entry was stored under; the first request
  that sees a new head (anything recorded, by anyone) starts an empty memo for it;
- only for a read at the default knowledge time (now) that is at or after the head entry's own
  knowledge time: then every event up to the head is known and none after it exists yet, so the
  figures depend on nothing but the position and what the key names (the scope, the period and
  `as_of`, or the bounds of the facts an input reads: see `projections.queries.forecast.tracks_of`);
  an explicit `known_at` is always computed.
A request's head is read after it arrived, so every write acknowledged before it is at or below
that head, and the figures stored under the head were computed from projections at or beyond it:
read-your-writes holds as without the memo.

Two requests that ask for the same key at the same head at once (the dashboard's panels, which
all read when the page opens) compute it once: the second waits for the first's figures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from api.probe import Glance
from projections.units import micros

MEMO_CAPACITY = 4096  # figures kept for the current head (then the memo starts afresh)
# Inputs of the projection queries (`remember`: a year of deal tracks, megabytes at 1M events)
# kept for the current head: the latest few, since "now" moving on gives new keys.
INPUTS_CAPACITY = 8
T = TypeVar("T")


class FiguresMemo:
    def __init__(self, capacity: int = MEMO_CAPACITY, inputs_capacity: int = INPUTS_CAPACITY):
        self.capacity = capacity
        self.inputs_capacity = inputs_capacity
        self._lock = threading.Lock()
        self._position = -1
        self._figures: dict[Hashable, Any] = {}
        self._inputs: dict[Hashable, Any] = {}  # in the order stored: the oldest goes first
        self._pending: dict[tuple[int, Hashable], threading.Event] = {}

    def figures(
        self, glance: Glance, key: Hashable, known_at: datetime, known_at_given: bool, compute: Callable[[], Any]
    ) -> Any:
        """compute(), or what it gave for `key` at this head (the figures are shared: read-only);
        a key None: always compute (figures that name no repeatable key, e.g. as of "now")."""
        if key is None or not self.usable(glance, known_at, known_at_given):
            return compute()
        return self.at_head(glance, key, compute)

    def kept(self, glance: Glance, key: Hashable, known_at: datetime, known_at_given: bool) -> Any | None:
        """What `figures` would answer without computing: the figures remembered for `key` at this
        head, or None (none kept, or not usable for this read). Never waits: a handler asks here
        first, in the event loop, and goes to the thread pool only to compute."""
        if key is None or not self.usable(glance, known_at, known_at_given):
            return None
        with self._lock:
            return self._figures.get(key) if self._position == glance.head else None

    def at_head(self, glance: Glance, key: Hashable, compute: Callable[[], Any], inputs: bool = False) -> Any:
        """`figures` once `usable` holds: remembered, or computed once for every caller asking now
        (`inputs`: kept among the latest `inputs_capacity` inputs rather than the figures)."""
        while True:
            with self._lock:
                kept = self._inputs if inputs else self._figures
                if self._position == glance.head and key in kept:
                    return kept[key]
                running = self._pending.get((glance.head, key))
                if running is None:
                    mine = self._pending[(glance.head, key)] = threading.Event()
                    break
            running.wait()  # the same figures, being computed by another request: then read them
            if self._position != glance.head:  # a newer head came meanwhile: compute our own
                return compute()
        try:
            figures = compute()
            with self._lock:
                if self._position != glance.head:
                    if glance.head < self._position:
                        return figures  # a request that read an older head: keep the newer memo
                    self._position, self._figures, self._inputs = glance.head, {}, {}
                if inputs:
                    while len(self._inputs) >= self.inputs_capacity:
                        del self._inputs[next(iter(self._inputs))]
                    self._inputs[key] = figures
                else:
                    if len(self._figures) >= self.capacity:
                        self._figures.clear()
                    self._figures[key] = figures
            return figures
        finally:
            with self._lock:
                del self._pending[(glance.head, key)]
            mine.set()

    @staticmethod
    def usable(glance: Glance, known_at: datetime, known_at_given: bool) -> bool:
        return (
            not known_at_given
            and glance.settled
            and glance.head_recorded_us is not None
            and micros(known_at) >= glance.head_recorded_us
        )


class MemoAtHead:
    """The memo as one request sees it (its glance): what a handler is given."""

    def __init__(self, memo: FiguresMemo, glance: Glance):
        self._memo, self._glance = memo, glance

    def figures(self, key: Hashable, known_at: datetime, known_at_given: bool, compute: Callable[[], Any]) -> Any:
        return self._memo.figures(self._glance, key, known_at, known_at_given, compute)

    def kept(self, key: Hashable, known_at: datetime, known_at_given: bool) -> Any | None:
        return self._memo.kept(self._glance, key, known_at, known_at_given)

    def remember(self, known_at: datetime, known_at_given: bool) -> Callable[[Hashable, Callable[[], T]], T] | None:
        """A `remember(key, compute)` for the projection queries (their inputs, keyed by what they
        read), or None when this read's figures may not be remembered (a `known_at` in the past, or
        projections behind the head)."""
        if not self._memo.usable(self._glance, known_at, known_at_given):
            return None
        glance, memo = self._glance, self._memo
        return lambda key, compute: memo.at_head(glance, key, compute, inputs=True)
