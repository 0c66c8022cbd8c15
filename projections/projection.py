"""What a projection is: a name, the tables it owns, and one small handler per event type.

A handler takes the batch's fold (where it reads any state it needs and writes rows through the
batch's `BatchView`) and one `LogRecord`. The runner feeds every projection the same batch of
the log, in position order; a projection never sees an event twice (its tracked position moves
with its rows) and never skips one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol

from sqlalchemy import Connection, Engine, Table

from ledger.config import Settings
from ledger.decoding import LogRecord, StoredEvent
from projections.view import BatchView

Handler = Callable[[Any, LogRecord], None]
# Batches `runner.catch_up` folds and holds, unwritten, while another process holds SQLite's
# write lock (this one included): bounds their rows in memory. A holdable fold that reads its
# tables keeps in memory all it changed in this many batches (see `Fold.holdable`).
HOLD_AT_MOST = 4


class Fold:
    """The working state of one projection over one batch; subclasses add caches of fold state.

    `memory`: fold state a catch-up carries from one batch to the next (the runner keeps it per
    projection and forgets it when a batch fails: it then matches the tables again only after
    a successful write). What a fold keeps there must be exactly what its tables hold once the
    batch is written, so the next batch can read it instead of the tables.
    """

    # True: the fold reads nothing from its tables that an unwritten batch changed, though it
    # reads them (see `Projection.holdable`).
    holdable: bool = False

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
    # `feed_stretch` with the stretch of positions each batch covers, and reads no event for it.
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

    def holdable(self, fold: Fold) -> bool:
        """May the runner fold the next batch before this fold's batch is written
        (`runner.catch_up` holds up to HOLD_AT_MOST batches while another process writes)? Yes
        if the projection never reads its tables, or its fold reads nothing there that such an
        unwritten batch changed (`Fold.holdable`)."""
        return not self.reads_tables or fold.holdable

    def reads_stretches(self, log: LogReader, engine: Engine) -> bool:
        """Does this projection fold each batch's stretch of positions itself (`feed_stretch`),
        rather than the events the runner reads and decodes? Those that `reads_entries` do; one
        may also where it can fold in SQL, in the store (`fold_activity`)."""
        return self.reads_entries

    def feed_stretch(self, fold: Fold, log: LogReader, after: int, upto: int) -> None:
        """Fold the positions (after, upto] of the log (a projection that `reads_stretches`)."""
        raise NotImplementedError(f"projection {self.name!r} does not fold stretches of the log itself")

    def replay(self, log: LogReader, engine: Engine, upto: int) -> bool:
        """Fold the positions (0, upto] into this projection's empty tables (tracked at 0) in one
        write, where it has a faster way to than batch by batch (`fold_activity`); False where it
        has not: the runner's batches fold it then."""
        return False


class LogReader(Protocol):
    """What a projection that reads stretches of the log itself may ask of it (`Ledger`, `BoundedLog`)."""

    @property
    def settings(self) -> Settings: ...

    def knowledge_spans(self, after: int, upto: int, block_bits: int) -> list[tuple[int, int, int]]: ...

    def stored_events_sql(self, schema: str = "main") -> str | None: ...

    def count_of_type(self, event_type: str, after: int, upto: int) -> int: ...

    def read_stored(self, after: int = 0, limit: int = 1000, **filters: Any) -> list[StoredEvent]: ...


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
