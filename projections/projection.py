"""What a projection is: a name, the tables it owns, and one small handler per event type.

A handler takes the batch's fold (where it reads any state it needs and writes rows through the
batch's `BatchView`) and one `LogRecord`. The runner feeds every projection the same batch of
the log, in position order; a projection never sees an event twice (its tracked position moves
with its rows) and never skips one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol

from sqlalchemy import Connection, Table

from ledger.store import LogRecord

from .view import BatchView

Handler = Callable[[Any, LogRecord], None]


class Fold:
    """The working state of one projection over one batch; subclasses add caches of fold state.

    `memory`: fold state a catch-up carries from one batch to the next (the runner keeps it per
    projection and forgets it when a batch fails: it then matches the tables again only after
    a successful write). What a fold keeps there must be exactly what its tables hold once the
    batch is written, so the next batch can read it instead of the tables.
    """

    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None):
        self.conn = conn
        self.view = view
        self.memory: dict[str, Any] = {} if memory is None else memory

    def prefetch(self, records: list[LogRecord]) -> None:
        """Load, in a few bulk queries, the state the next part of the batch will ask for (what
        earlier parts loaded or made is still here)."""

    def finish(self) -> None:
        """Hand the batch's changed state to the view (called once, after the batch's last part)."""


class Projection:
    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    handlers: ClassVar[dict[str, Handler]]
    fold: ClassVar[type[Fold]] = Fold
    # True: folds the log's entries (their knowledge times), not its events: the runner calls
    # `feed_entries` with the stretch of positions each batch covers, and reads no event for it.
    reads_entries: ClassVar[bool] = False
    # False: the fold never reads the projection's tables (it folds the events alone), so the next
    # batch can be folded before this one is written (`runner.catch_up` holds batches so).
    reads_tables: ClassVar[bool] = True

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def begin(self, conn: Connection, view: BatchView, memory: dict[str, Any] | None = None) -> Fold:
        """The fold of one batch: `feed` it the batch's records, a part at a time, then `finish` it."""
        return self.fold(conn, view, memory)

    def feed(self, fold: Fold, records: list[LogRecord]) -> None:
        """Fold the next part of the batch (this projection's records, in position order)."""
        fold.prefetch(records)
        handlers = self.handlers
        for record in records:
            handlers[record.type](fold, record)

    def feed_entries(self, fold: Fold, log: EntryReader, after: int, upto: int) -> None:
        """Fold the entries at positions (after, upto] (a projection that `reads_entries`)."""
        raise NotImplementedError(f"projection {self.name!r} does not read the log's entries")


class EntryReader(Protocol):
    """What a projection that reads entries may ask of the log (`Ledger`, `BoundedLog`)."""

    def knowledge_spans(self, after: int, upto: int, block_bits: int) -> list[tuple[int, int, int]]: ...


def registrar(handlers: dict[str, Handler]) -> Callable[[str], Callable[[Handler], Handler]]:
    """`on = registrar(HANDLERS)`, then `@on("DealWon")` above the function that handles it."""

    def on(event_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            handlers[event_type] = handler
            return handler

        return register

    return on


def event_types(projections: Iterable[Projection]) -> set[str]:
    return {t for p in projections for t in p.event_types}
