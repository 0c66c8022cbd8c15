"""What a projection is: a name, the tables it owns, and one small handler per event type.

A handler takes the batch's fold (where it reads any state it needs and writes rows through the
batch's `BatchView`) and one `LogRecord`. The runner feeds every projection the same batch of
the log, in position order; a projection never sees an event twice (its tracked position moves
with its rows) and never skips one.

The handlers are the whole definition of a projection's rows: folding the log through them,
batch by batch, is the plain path (`PERFLEDGER_ACCEL=0`), the specification. What a projection
may do faster (fold in SQL, carry state from batch to batch, be held unwritten) is declared
apart, in `projections.accel`, and writes exactly the rows its handlers write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from sqlalchemy import Connection, Table

from ledger.decoding import LogRecord
from projections.view import BatchView

Handler = Callable[[Any, LogRecord], None]


class Fold:
    """The working state of one projection over one batch; subclasses add caches of fold state."""

    def __init__(self, conn: Connection, view: BatchView):
        self.conn = conn
        self.view = view

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

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def begin(self, conn: Connection, view: BatchView) -> Fold:
        """The fold of one batch: `feed` it the batch's records, a part at a time, then `finish` it."""
        return self.fold(conn, view)

    def feed(self, fold: Fold, records: list[LogRecord]) -> None:
        """Fold the next part of the batch (this projection's records, in position order)."""
        fold.prefetch(records)
        handlers = self.handlers
        for record in records:
            handlers[record.type](fold, record)


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
