"""A catch-up's batches, faster: held unwritten while another process writes, the next page read
ahead, the log scanned rather than walked where its types are dense, fold state carried from
batch to batch, the cyclic garbage collector paused.

SQLite has one write lock. Beside another process that writes (a split rebuild's other half,
the ledger recording), the plain path would wait for it at every batch. Here a batch's write
does not wait while there is other work: when every projection of the batch is holdable
(`Accelerator.holdable`), the batch is held and the next one folded; held batches are written,
in order, in the next transaction that gets the lock (at most HOLD_AT_MOST of them: their rows
are in memory). Otherwise the next page is read from the log before waiting for the lock.

The collector is paused over the whole catch-up (`ledger.gc_pause`): resumed between batches,
its collections walked the folds' remembered states again and again, for nothing (a batch makes
no reference cycle). Reading the next batch in a second thread was tried and was slower: the
read is mostly decoding, which holds the GIL, so the two threads only took turns.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, Protocol

from sqlalchemy import Engine

from ledger.decoding import StoredEvent
from ledger.gc_pause import paused_gc
from projections.accel.base import HOLD_AT_MOST

Page = tuple[list[StoredEvent], int]  # as the plain batches read it: its events, the position it reaches
DENSE = 10  # a full page spanning fewer than DENSE × its size in positions: the log is read by scan


class PlainBatches(Protocol):
    """The plain path's batches (`runner.Batches`), which `HeldBatches` wraps."""

    engine: Engine
    head: int
    size: int
    types: list[str] | None
    walk: bool
    memory: dict[str, dict] | None

    def read(self, after: int) -> Page: ...


class FoldedBatch(Protocol):
    @property
    def last(self) -> int: ...

    @property
    def holdable(self) -> bool: ...


WriteBatches = Callable[..., bool]  # the runner's `write_batches(engine, batches, wait=True)`


class HeldBatches:
    """The plain batches of a catch-up, read, folded and written faster (see the module)."""

    def __init__(self, plain: PlainBatches, write_batches: WriteBatches):
        self.plain, self.write_batches = plain, write_batches
        self.memory: dict[str, dict] = {}  # each projection's fold state carried between batches
        self.held: list[Any] = []  # folded, not yet written
        self.ahead: tuple[int, Page] | None = None  # the next page, read while waiting for the write lock
        self._stack = ExitStack()

    def __enter__(self) -> HeldBatches:
        self._stack.enter_context(paused_gc())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def read(self, after: int) -> Page:
        ahead, self.ahead = self.ahead, None
        if ahead is not None and ahead[0] == after:
            return ahead[1]
        return self._read(after)

    def write(self, folded: FoldedBatch, following: int) -> None:
        """Write the batch with those held, or hold it while another process holds the write
        lock; `following`: the position the next batch starts after (read ahead while waiting)."""
        self.held.append(folded)
        head = self.plain.head
        if self.write_batches(self.plain.engine, self.held, wait=False):
            self.held = []
        elif not folded.holdable or folded.last >= head or len(self.held) >= HOLD_AT_MOST:
            self.ahead = (following, self._read(following)) if following < head else None
            self.write_batches(self.plain.engine, self.held)
            self.held = []

    def forget(self) -> None:
        """Another worker applied (part of) a batch first: nothing held, read ahead or remembered
        is kept (the memory was of a state that is no longer the tables')."""
        self.memory.clear()
        self.held, self.ahead = [], None

    def _read(self, after: int) -> Page:
        plain = self.plain
        if plain.types == []:  # every projection folds its stretch itself: stretches of `size` positions
            return [], min(plain.head, after + plain.size)
        page = plain.read(after)
        stored, end = page
        if plain.walk and len(stored) == plain.size and end - after < DENSE * plain.size:
            plain.walk = False  # these types fill a good part of the log: scan it (`Ledger._log_rows`)
        return page
