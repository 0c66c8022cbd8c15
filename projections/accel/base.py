"""What an accelerator is: what one projection may do faster than its handlers batch by batch,
writing exactly the rows they write.

The plain path is the specification: the runner reads pages of events, routes them to each
projection's handlers, and writes each batch with its tracked position before it reads the next
(`projections.runner`). An `Accelerator` says, for one projection, where it may depart from that
(the base departs nowhere: it is what a projection without accelerators gets, and what every
projection gets with PERFLEDGER_ACCEL=0):

- `begin`: the fold of a batch carries on from state the batch before left in memory, instead
  of reading it back from the tables (`remembered`);
- `holdable`: the next batch may be folded before this one is written (`holding`);
- `reads_stretches` / `feed_stretch`: the fold reads the stretch of positions a batch covers
  itself (in SQL in the store, or from the ledger's entries), and no event is read for it;
- `replay`: a rebuild replays the whole log into the projection's empty tables at once (`rebuild`).

Which projection has which is declared in `registry.ACCELERATORS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from ledger.config import Settings
from ledger.decoding import LogRecord, StoredEvent
from ledger.reading import Head
from projections.projection import Fold, Projection
from projections.view import BatchView

# Batches a catch-up folds and holds, unwritten, while another process holds SQLite's write lock
# (`holding`): bounds their rows in memory. A holdable fold that reads its tables keeps in memory
# all it changed in this many batches (`remembered`).
HOLD_AT_MOST = 4


class LogReader(Protocol):
    """What an accelerator that reads stretches of the log itself may ask of it (`Ledger`, `BoundedLog`)."""

    @property
    def settings(self) -> Settings: ...

    def head(self) -> Head: ...

    def knowledge_spans(self, after: int, upto: int, block_bits: int) -> list[tuple[int, int, int]]: ...

    def stored_events_sql(self, schema: str = "main") -> str | None: ...

    def count_of_type(self, event_type: str, after: int, upto: int) -> int: ...

    def read_stored(
        self,
        after: int = 0,
        limit: int = 1000,
        *,
        upto: int | None = None,
        types: Sequence[str] | None = None,
        walk: bool = True,
        details: bool = True,
    ) -> list[StoredEvent]: ...

    def opened(self, records: list[LogRecord]) -> list[LogRecord]: ...


class Accelerator:
    """One projection's accelerators: none here (the plain path). Subclasses override what applies."""

    def begin(self, projection: Projection, conn: Connection, view: BatchView, memory: dict[str, Any]) -> Fold:
        """The fold of one batch of a catch-up. `memory` is this projection's own, kept from batch
        to batch of the catch-up and emptied when a batch fails: a fold may carry state there
        that is exactly what its tables hold once the batch is written, and read it instead of
        the tables. Plain: a fresh fold, which reads the tables."""
        return projection.begin(conn, view)

    def holdable(self, fold: Fold) -> bool:
        """May the next batch be folded before this fold's batch is written? Only if the fold
        reads nothing from its tables that an unwritten batch changed."""
        return False

    def reads_stretches(self, log: LogReader, engine: Engine) -> bool:
        """Does this projection fold each batch's stretch of positions itself (`feed_stretch`),
        rather than the events the runner reads and decodes?"""
        return False

    def feed_stretch(self, fold: Fold, log: LogReader, after: int, upto: int) -> None:
        """Fold the positions (after, upto] of the log (where `reads_stretches`)."""
        raise NotImplementedError(f"{type(self).__name__} does not fold stretches of the log itself")

    def replay(self, log: LogReader, engine: Engine, upto: int) -> bool:
        """Fold the positions (0, upto] into the projection's empty tables (tracked at 0) in one
        write, where it has a faster way to than batch by batch; False where it has not: the
        runner's batches fold it then."""
        return False


class EventsAlone(Accelerator):
    """A projection whose fold never reads its tables (it folds the events alone): the next
    batch can always be folded before this one is written."""

    def holdable(self, fold: Fold) -> bool:
        return True
