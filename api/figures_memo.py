"""Read figures remembered at one log position: a repeated GET /kpis answers without recomputing.

Never stale, by construction:
- an entry is used only while the request's `Glance` shows every projection at the head of the
  log (`settled`) and that head is the position the entry was stored under; the first request
  that sees a new head (anything recorded, by anyone) starts an empty memo for it;
- only for a read at the default knowledge time (now) that is at or after the head entry's own
  knowledge time: then every event up to the head is known and none after it exists yet, so the
  figures depend on nothing but the position, the scope, the period and `as_of` (the key);
  an explicit `known_at` is always computed.
A request's head is read after it arrived, so every write acknowledged before it is at or below
that head, and the figures stored under the head were computed from projections at or beyond it:
read-your-writes holds as without the memo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from api.probe import Glance
from projections.units import micros

MEMO_CAPACITY = 4096  # figures kept for the current head (then the memo starts afresh)


class FiguresMemo:
    def __init__(self, capacity: int = MEMO_CAPACITY):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._position = -1
        self._figures: dict[Hashable, Any] = {}

    def figures(
        self, glance: Glance, key: Hashable, known_at: datetime, known_at_given: bool, compute: Callable[[], Any]
    ) -> Any:
        """compute(), or what it gave for `key` at this head (the figures are shared: read-only)."""
        if not self._usable(glance, known_at, known_at_given):
            return compute()
        with self._lock:
            if self._position == glance.head and key in self._figures:
                return self._figures[key]
        figures = compute()
        with self._lock:
            if self._position != glance.head:
                if glance.head < self._position:
                    return figures  # a request that read an older head: keep the newer memo
                self._position, self._figures = glance.head, {}
            if len(self._figures) >= self.capacity:
                self._figures.clear()
            self._figures[key] = figures
        return figures

    @staticmethod
    def _usable(glance: Glance, known_at: datetime, known_at_given: bool) -> bool:
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
