"""Running the projections: catch up from the tracked positions, rebuild from zero, wait for a position.

The log is read once per batch and offered to every projection that has not yet applied it;
all of a batch's rows and every moved tracking row are committed in ONE transaction (one commit
and one fsync per batch, not per event). A crash anywhere in a batch rolls the whole batch back,
tracking included, so the next `catch_up` redoes exactly that batch: nothing lost, nothing
doubled. Two workers running `catch_up` at once cannot both apply a batch: the second one's
compare-and-set fails (`view.TrackingConflict`) and it carries on from where the first got to.
The folds read their state before that transaction, in a read transaction of their own: the
compare-and-set is what proves the state they read is still the state the batch starts from.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple
from weakref import WeakSet

from sqlalchemy import Connection, Engine, Index, Table, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.config import Settings
from ledger.decoding import LogRecord, StoredEvent, decoded
from ledger.gc_pause import paused_gc
from ledger.reading import BoundedLog
from ledger.store import Ledger
from projections.db import (
    database_url_of,
    engine_for,
    one_schema_change_at_a_time,
    reading,
    reads_ledger_of,
    try_writing,
    writing,
)
from projections.folds.activity import ActivityProjection
from projections.folds.followups import FollowUpProjection
from projections.folds.incentives import IncentivesProjection
from projections.folds.org import OrgProjection
from projections.folds.people import PeopleProjection
from projections.folds.rollups import LogProjection
from projections.folds.sales import SalesProjection
from projections.folds.targets import TargetsProjection
from projections.folds.trust import TrustProjection
from projections.projection import HOLD_AT_MOST, LogReader, Projection, event_types
from projections.tables import SCHEMA_VERSION, metadata, projection_meta, tracking
from projections.view import BatchView, TrackingConflict

PROJECTIONS: tuple[Projection, ...] = (
    OrgProjection(),
    TargetsProjection(),
    SalesProjection(),
    ActivityProjection(),
    FollowUpProjection(),
    PeopleProjection(),
    IncentivesProjection(),
    TrustProjection(),
    LogProjection(),
)
DEFAULT_BATCH = 5000
DENSE = 10  # a full page spanning fewer than DENSE × its size in positions: the log is read by scan
log = logging.getLogger("perfledger.projections.runner")
Progress = Callable[[int, int], None]  # (position reached, head of the log when the run started)

_ready: WeakSet[Engine] = WeakSet()


def ensure_schema(engine: Engine) -> None:
    """Create any missing table, index and tracking row (cheap after the first call per engine).

    Projected tables are disposable: when they were made by another version of this code
    (`SCHEMA_VERSION` differs), they are dropped with their tracking and made afresh, and the
    next `catch_up` replays the log into them from position 0.
    """
    if engine in _ready:
        return
    with writing(engine) as conn:
        one_schema_change_at_a_time(conn)
        if _stored_version(conn) != SCHEMA_VERSION:
            metadata.drop_all(conn, tables=[t for t in metadata.sorted_tables if t is not projection_meta])
        metadata.create_all(conn)
        for index in (i for t in metadata.sorted_tables for i in t.indexes):
            index.create(conn, checkfirst=True)  # e.g. after an interrupted rebuild dropped it
        _store_version(conn)
        known = set(conn.execute(select(tracking.c.name)).scalars())
        missing = [{"name": p.name, "position": 0} for p in PROJECTIONS if p.name not in known]
        if missing:
            conn.execute(tracking.insert(), missing)
    _ready.add(engine)


def _stored_version(conn: Connection) -> str | None:
    if not inspect(conn).has_table(projection_meta.name):
        return None
    return conn.execute(select(projection_meta.c.value).where(projection_meta.c.key == "schema_version")).scalar()


def _store_version(conn: Connection) -> None:
    conn.execute(projection_meta.delete().where(projection_meta.c.key == "schema_version"))
    conn.execute(projection_meta.insert().values(key="schema_version", value=SCHEMA_VERSION))


def tracked_positions(engine: Engine) -> dict[str, int]:
    ensure_schema(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(tracking.c.name, tracking.c.position)).all())
    return {p.name: rows.get(p.name, 0) for p in PROJECTIONS}


def projected_position(engine: Engine) -> int:
    """The position every projection has reached: reads are complete up to here."""
    return min(tracked_positions(engine).values())


def catch_up(
    ledger: Ledger | BoundedLog,
    engine: Engine,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    projections: tuple[Projection, ...] = PROJECTIONS,
    part_size: int | None = None,
) -> int:
    """Apply the log from each projection's tracked position to the head (as it stood when the
    call began); return the position reached.

    One batch at a time, read, folded, written, with the cyclic garbage collector paused over
    the whole catch-up (`ledger.gc_pause`): resumed between batches, its collections walked the
    folds' remembered states again and again, for nothing (a batch makes no reference cycle).
    The next batch is not read in a second thread: the read is decoding, which holds the GIL,
    so the two threads only took turns. `projections`, a part of PROJECTIONS, reads only the events that
    part consumes: a batch is the next `batch_size` of those (of positions, when each of them
    reads its stretch itself: `Projection.reads_stretches`), and covers every position up to its
    last (to the head, for the last batch), so each projection's tracked position reaches the
    head. `part_size`: see `fold_batch`.

    A batch's write does not wait for SQLite's write lock while there is other work (another
    process writing: a split rebuild's other half, each half had waited for the other).
    When every projection of the batch is holdable (`Projection.holdable`), the batch is held and
    the next one folded; held batches are written, in order, in the next transaction that gets
    the lock. Otherwise the next page is read from the log before waiting for the lock.
    """
    positions = {name: at for name, at in tracked_positions(engine).items() if name in _names(projections)}
    after = min(positions.values())
    head = ledger.head().position
    read_here = (p for p in projections if not p.reads_stretches(ledger, engine))
    pages = _Pages(ledger, batch_size, head, sorted(event_types(read_here)))
    memory: dict[str, dict] = {}  # each fold's state carried between batches (`Fold.memory`)
    held: list[Folded] = []  # folded, not yet written
    ahead: tuple[int, Page] | None = None  # the next page, read while waiting for the write lock
    with paused_gc():
        while after < head:
            stored, end = ahead[1] if ahead is not None and ahead[0] == after else pages.read(after)
            ahead = None
            try:
                held.append(
                    folded := fold_batch(engine, ledger, stored, positions, projections, memory, part_size, end)
                )
                positions = {**positions, **{view.name: folded.last for view in folded.views}}
                if write_batches(engine, held, wait=False):
                    held = []
                elif not folded.holdable or folded.last >= head or len(held) >= HOLD_AT_MOST:
                    # Another process is writing: read the next page meanwhile, then wait for it.
                    following = min(positions.values())
                    ahead = (following, pages.read(following)) if following < head else None
                    write_batches(engine, held)
                    held = []
            except (TrackingConflict, IntegrityError):
                # Another worker applied (part of) this stretch first: carry on from where it got
                # to, with no memory of a state that is no longer the tables'.
                memory.clear()
                held, ahead = [], None
                positions = {name: at for name, at in tracked_positions(engine).items() if name in positions}
            after = min(positions.values())
            if progress is not None:
                progress(after, max(head, after))
    return after


Page = tuple[list[StoredEvent], int]  # a page of stored events, and the position its batch reaches


class _Pages:
    """The pages of a catch-up: the next `size` events of its types after a position, up to the
    head the catch-up began at."""

    def __init__(self, ledger: Ledger | BoundedLog, size: int, head: int, types: list[str]):
        self.ledger, self.size, self.head, self.types = ledger, size, head, types
        self.walk = True

    def read(self, after: int) -> Page:
        if not self.types:  # every projection reads its stretch itself: stretches of `size` positions
            return [], min(self.head, after + self.size)
        stored = self.ledger.read_stored(
            after, self.size, upto=self.head, types=self.types, walk=self.walk, details=False
        )
        full = len(stored) == self.size
        end = stored[-1][0] if full else self.head  # a page short of full: no more of these types up to the head
        if self.walk and full and end - after < DENSE * self.size:
            self.walk = False  # these types fill a good part of the log: scan it (`Ledger._log_rows`)
        return stored, end


class Folded(NamedTuple):
    """A folded batch: its projections' views, the position it reaches, and whether the next
    batch may be folded before it is written (every projection of it is: `Projection.holdable`)."""

    views: list[BatchView]
    last: int
    holdable: bool


def _names(projections: tuple[Projection, ...]) -> set[str]:
    return {p.name for p in projections}


def fold_batch(
    engine: Engine,
    log: LogReader,
    stored: Sequence[StoredEvent],
    positions: dict[str, int],
    projections: tuple[Projection, ...] = PROJECTIONS,
    memory: dict[str, dict] | None = None,
    part_size: int | None = None,
    end: int | None = None,
) -> Folded:
    """Each projection behind the batch's end folds its part, into a view of the rows to write
    and the position to move to: `end` (default: the batch's last event).

    With `part_size`, the batch is decoded and folded that many events at a time, each part's
    records dropped before the next is decoded (see `Ledger.read_stored`): less per event for
    the activities (PART_SIZE), but more for the sales fold, which asks its tables for state once
    per part; without, the batch is one part. A projection that `reads_stretches`
    folds the stretch of positions it has not seen itself, from `log`.
    The folds read their state (`prefetch`) in a read transaction, outside the write lock: the
    write's compare-and-set of each tracked position proves that nobody changed a projection's
    tables in between (they change only with its position), else the batch fails whole with
    `TrackingConflict`. Holding SQLite's one write lock only to write lets the ledger record
    meanwhile, and lets a rebuild fold in two processes at once. `memory` (per projection) is
    what the folds carry to the next batch; a failed batch leaves it unusable: the caller drops it.
    """
    last = stored[-1][0] if end is None else end
    behind = tuple(p for p in projections if positions[p.name] < last)
    views = {p.name: BatchView(p.name, positions[p.name]) for p in behind}
    with reading(engine) as conn:
        folds = {
            p.name: p.begin(conn, views[p.name], None if memory is None else memory.setdefault(p.name, {}))
            for p in behind
        }
        stretched = {p.name for p in behind if p.reads_stretches(log, engine)}
        for projection in behind:
            if projection.name in stretched:
                projection.feed_stretch(folds[projection.name], log, positions[projection.name], last)
        fed = tuple(p for p in behind if p.name not in stretched)
        part_size = part_size or len(stored) or 1
        for start in range(0, len(stored), part_size):
            routed = route(decoded(stored[start : start + part_size]), fed)
            for projection in fed:
                mine, seen = routed[projection.name], positions[projection.name]
                unseen = mine if not mine or seen < mine[0].position else [r for r in mine if r.position > seen]
                if unseen:
                    projection.feed(folds[projection.name], unseen)
        for fold in folds.values():
            fold.finish()
    return Folded(list(views.values()), last, all(p.holdable(folds[p.name]) for p in behind))


def write_batches(engine: Engine, batches: list[Folded], wait: bool = True) -> bool:
    """Write folded batches in ONE transaction, in order: each projection's rows and the move of
    its tracked position (a compare-and-set: `BatchView.write`). Without `wait`, write nothing and
    say False if another connection holds SQLite's write lock."""
    with writing(engine) if wait else try_writing(engine) as conn:
        if conn is None:
            return False
        for batch in batches:
            for view in batch.views:
                view.write(conn, batch.last)
    return True


PART_SIZE = 1000  # the rebuild's worker: activities decode and fold fastest in parts of 500-1000


def route(records: list[LogRecord], projections: tuple[Projection, ...] = PROJECTIONS) -> dict[str, list[LogRecord]]:
    """Each projection's records of the batch, in position order, in one pass over the batch."""
    routed: dict[str, list[LogRecord]] = {p.name: [] for p in projections}
    appenders = {
        t: [routed[p.name].append for p in projections if t in p.event_types] for t in event_types(projections)
    }
    for record in records:
        for append in appenders.get(record.type, ()):
            append(record)
    return routed


REBUILD_BATCH = 30_000  # fewer, larger transactions when replaying the whole log (the best of 20k-40k)
SPLIT_FROM = 200_000  # events: below this, a second process costs more to start than it saves


def rebuild(
    ledger: Ledger | BoundedLog,
    engine: Engine,
    progress: Progress | None = None,
    batch_size: int = REBUILD_BATCH,
    split: bool | None = None,
) -> int:
    """Drop every projected row and reset the tracking in one transaction, then replay from 0:
    first each projection that can replay the log whole (`replayed_whole`), then the others
    batch by batch (`catch_up`).

    The read side's query indexes are dropped for the replay and built once its tables are full
    (faster than keeping them up to date row by row); the indexes the folds themselves read
    through stay.
    If the rebuild is interrupted, the next `ensure_schema` (any new engine) builds them again.

    A log of SPLIT_FROM events or more (or `split=True`) is replayed in two processes at once:
    a worker process folds a part (`split_off`) while this one folds the rest, each reading only the
    events it consumes; `write_batches` holds the write lock only to write, so both fold at once.
    The worker starts first and opens the store while this process resets it (its start-up
    takes about as long as the reset of a large store). Each builds
    its own tables' indexes when its fold is done, this one also those of the worker's tables
    already full by then. If the worker fails (or cannot start), what it left is folded here,
    after the rest: its committed batches are whole, so the last `catch_up` carries on from its
    tracked position.
    """
    ensure_schema(engine)
    target = _worker_target(ledger, engine)
    if split is None:
        split = ledger.head().position >= SPLIT_FROM
    worker_part = split_off(ledger, engine) if split and target is not None else ()
    try:
        with _worker(target, worker_part, batch_size) as begin:
            _reset(engine)
            begin()
            rest = _rest(worker_part)
            if worker_part:
                catch_up(ledger, engine, batch_size, progress, projections=rest)
                build_indexes(engine, rest + _full(ledger, engine, worker_part))  # while the worker still folds
            else:
                replayed_whole(ledger, engine, PROJECTIONS)  # the others: the catch-up below
        return catch_up(ledger, engine, batch_size=batch_size, progress=progress)
    finally:
        build_indexes(engine, PROJECTIONS)


def _reset(engine: Engine) -> None:
    """Every projected row dropped, every tracked position at 0, the query indexes dropped: one transaction."""
    with writing(engine) as conn:
        for table in projected_tables():
            conn.execute(table.delete())
        conn.execute(tracking.update().values(position=0))
        for index in query_indexes(PROJECTIONS):
            index.drop(conn, checkfirst=True)


def _full(ledger: Ledger | BoundedLog, engine: Engine, names: tuple[str, ...]) -> tuple[Projection, ...]:
    """Those of `names` that have reached the head: their tables are full, their indexes can be built."""
    at, head = tracked_positions(engine), ledger.head().position
    return tuple(p for p in PROJECTIONS if p.name in names and at[p.name] >= head)


def query_indexes(projections: tuple[Projection, ...]) -> list[Index]:
    """The read side's indexes of these projections' tables: all but those the folds read through."""
    return [i for p in projections for table in p.tables for i in table.indexes if not i.info.get("fold")]


def build_indexes(engine: Engine, projections: tuple[Projection, ...]) -> None:
    """Build the missing query indexes of `projections`, one transaction each (SQLite's write lock
    is held for one index at a time, so a process folding beside this one waits at most that)."""
    for index in query_indexes(projections):
        with writing(engine) as conn:
            index.create(conn, checkfirst=True)


def split_off(ledger: Ledger | BoundedLog, engine: Engine) -> tuple[str, ...]:
    """What the worker process of a split rebuild folds; this process folds the rest, each
    reading only the events of its own projections. The sales fold is the longest (state at
    every step): this process folds it, with the small projections. The worker folds the
    activities (two thirds of the log) and the follow-ups; where the activities fold in SQL, in
    the store (`in_store`: the ledger's own SQLite file, or a scratch store that attaches it,
    the audit's), it replays them whole first. Elsewhere (PostgreSQL, a scratch store of a
    PostgreSQL ledger), it folds the activities alone. (Every projection but the sales in the
    worker was tried too, and was slower: docs/performance.md.)"""
    activity = next(p for p in PROJECTIONS if p.name == "activity")
    if activity.reads_stretches(ledger, engine):
        return ("activity", "followups")
    return (activity.name,)


def _rest(names: tuple[str, ...]) -> tuple[Projection, ...]:
    return tuple(p for p in PROJECTIONS if p.name not in names)


Target = tuple[str, int | None, str, str | None]


def _worker_target(ledger: Ledger | BoundedLog, engine: Engine) -> Target | None:
    """What a worker process opens to fold the same log into the same store: the ledger's
    database URL, the position the log is read up to, the projections' database URL, and the
    ledger's URL again if the store attaches it (`engine_for`'s `reads_ledger`)."""
    projections_url = database_url_of(engine)
    if projections_url is None:
        return None
    return ledger.settings.database_url, getattr(ledger, "upto", None), projections_url, reads_ledger_of(engine)


@contextmanager
def _worker(target: Target | None, names: tuple[str, ...], batch_size: int) -> Iterator[Callable[[], None]]:
    """A process folding `names` while the block runs, from when the block calls what it is
    given (before, it opens the store); none without `names`. A warning if it did not finish
    cleanly (the caller's last `catch_up` then folds what it left: a real error surfaces there)."""
    if not names or target is None:
        yield lambda: None
        return
    context = multiprocessing.get_context("spawn")
    begin = context.Event()
    process = context.Process(
        target=_fold_in_worker, args=(*target, names, batch_size, begin), name=f"rebuild-{'-'.join(names)}"
    )
    process.start()
    try:
        yield begin.set
    finally:
        if not begin.is_set():  # the block failed before the store was reset: the worker has only opened it
            process.terminate()
        process.join()
    if begin.is_set() and process.exitcode != 0:
        log.warning(
            "the rebuild's worker process for the %s projection(s) failed (exit code %s); "
            "folding what it left in this process",
            ", ".join(names),
            process.exitcode,
        )


def _fold_in_worker(
    ledger_url: str,
    upto: int | None,
    projections_url: str,
    reads_ledger: str | None,
    names: tuple[str, ...],
    batch_size: int,
    begin: Any,
) -> None:
    ledger = Ledger(Settings(database_url=ledger_url))
    source = ledger if upto is None else BoundedLog(ledger, upto)
    engine = engine_for(Settings(database_url=projections_url), reads_ledger=reads_ledger)
    _ready.add(engine)  # the schema is made, and its read indexes dropped on purpose: leave them so
    try:
        while not begin.wait(1.0):  # for the store's reset
            if not multiprocessing.parent_process().is_alive():  # gone before it: nothing to fold
                return
        mine = tuple(p for p in PROJECTIONS if p.name in names)
        left = replayed_whole(source, engine, mine)
        if left:
            catch_up(source, engine, batch_size, projections=left, part_size=PART_SIZE)
        build_indexes(engine, mine)
    finally:
        engine.dispose()
        ledger.close()


def replayed_whole(
    log: Ledger | BoundedLog, engine: Engine, projections: tuple[Projection, ...]
) -> tuple[Projection, ...]:
    """A rebuild's first step: each of `projections` that can replays the log up to its head
    into its empty tables (`Projection.replay`); those that cannot are returned, for `catch_up`."""
    upto = log.head().position
    return tuple(p for p in projections if not p.replay(log, engine, upto))


def projected_tables() -> list[Table]:
    return [table for projection in PROJECTIONS for table in projection.tables]


def wait_for(engine: Engine, position: int, timeout: float = 5.0, poll: float = 0.02) -> bool:
    """Block until every projection has applied `position` (read-your-writes); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if projected_position(engine) >= position:
                return True
        except OperationalError:
            pass  # a writer holds the database for a moment: try again
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
