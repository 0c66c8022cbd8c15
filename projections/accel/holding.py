"""A catch-up's batches, faster: held unwritten while another process writes, the next page read
ahead, the log scanned rather than walked where its types are dense, fold state carried from
batch to batch, the cyclic garbage collector paused.

SQLite has one write lock. Beside another process that writes (a split rebuild's other half,
the ledger recording), the plain path would wait for it at every batch. Here a batch's write
does not wait while there is other work: when every projection of the batch is holdable
(`Accelerator.holdable`), the batch is held and the next one folded; held batches are written,
in order, in the next transaction that gets the lock (at most HOLD_AT_MOST of them: their rows
are in memory). Otherwise the next page is read from the log before waiting for the lock.

On PostgreSQL, the next page is read in a thread while this one folds (`ReadAhead`): the read is
the server's time, the fold Python's.

The collector is paused over the whole catch-up (`ledger.gc_pause`): resumed between batches,
its collections walked the folds' remembered states again and again, for nothing (a batch makes
no reference cycle). On SQLite, reading the next batch in a second thread was tried and was
slower: the read was mostly decoding (since moved into the fold), which holds the GIL, so the two
threads only took turns.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Protocol

from sqlalchemy import Engine

from ledger.decoding import StoredEvent
from ledger.gc_pause import paused_gc
from projections.accel.base import HOLD_AT_MOST
from projections.db import is_sqlite

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
        self._read_ahead: ReadAhead | None = None  # PostgreSQL: the next page, read while this one folds
        self._stack = ExitStack()

    def __enter__(self) -> HeldBatches:
        self._stack.enter_context(paused_gc())
        if not is_sqlite(self.plain.engine):
            self._read_ahead = self._stack.enter_context(ReadAhead())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def read(self, after: int) -> Page:
        ahead, self.ahead = self.ahead, None
        if ahead is not None and ahead[0] == after:
            return ahead[1]
        page = self._read_ahead.take(after) if self._read_ahead else None
        if page is None:
            page = self._read(after)
        if self._read_ahead and page[1] < self.plain.head:
            self._read_ahead.start(page[1], self._read)  # the page after this one, while this one folds
        return page

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
        if self._read_ahead:
            self._read_ahead.drop()

    def _read(self, after: int) -> Page:
        plain = self.plain
        if plain.types == []:  # every projection folds its stretch itself: stretches of `size` positions
            return [], min(plain.head, after + plain.size)
        page = plain.read(after)
        stored, end = page
        if plain.walk and len(stored) == plain.size and end - after < DENSE * plain.size:
            plain.walk = False  # these types fill a good part of the log: scan it (`Ledger._log_rows`)
        return page


class ReadAhead:
    """One page of the log read in a thread while the catch-up folds the page before (PostgreSQL).

    A page read there is mostly the server's time, spent waiting on its socket with the GIL
    released, and the batch's fold is Python's: a rebuild's caller on PostgreSQL had spent
    ~4 s of ~24 reading its pages (a million events; docs/performance.md). The page is the one
    the catch-up would read itself: the log up to the head it began at does not change.
    Not on SQLite, where the reads take the GIL's turns with the fold (a thread was slower there).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._pending: tuple[int, Future[Page]] | None = None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()
        self._pool.shutdown(wait=True)

    def start(self, after: int, read: Callable[[int], Page]) -> None:
        self.drop()
        self._pending = (after, self._pool.submit(read, after))

    def take(self, after: int) -> Page | None:
        """The page after `after` if it is the one being read ahead (an error reading it is
        raised here), else None."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        if pending[0] != after:
            pending[1].cancel()
            return None
        return pending[1].result()

    def drop(self) -> None:
        """Forget the page being read ahead (its read ends in its thread; an error there is dropped)."""
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None
