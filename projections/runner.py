"""Running the projections: catch up from the tracked positions, rebuild from zero, wait for a position.

The plain algorithm, which is the specification (PERFLEDGER_ACCEL=0 runs it alone):
- `catch_up`: read the next page of the events the projections consume, after the lowest tracked
  position; route each event to the handlers of the projections that have not applied it yet
  (`fold_batch`); write the batch's rows and move every tracked position it passed, with a
  compare-and-set, in ONE transaction (`write_batches`); repeat up to the head.
- `rebuild`: drop every projected row and reset every tracked position in one transaction
  (`reset`), then `catch_up` from position 0, in this process.

One commit and one fsync per batch, not per event. A crash anywhere in a batch rolls the whole
batch back, tracking included, so the next `catch_up` redoes exactly that batch: nothing lost,
nothing doubled. Two workers running `catch_up` at once cannot both apply a batch: the second
one's compare-and-set fails (`view.TrackingConflict`) and it carries on from where the first got
to. The folds read their state before that transaction, in a read transaction of their own: the
compare-and-set is what proves the state they read is still the state the batch starts from.

The speed machinery (`projections.accel`, on unless PERFLEDGER_ACCEL=0) is called at the points
marked `# ── accel`; whatever it does, it writes exactly the rows the plain path writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple
from weakref import WeakSet

from sqlalchemy import Connection, Engine, Table, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.decoding import LogRecord, StoredEvent, decoded
from ledger.reading import BoundedLog
from ledger.schemas import DATA_MODELS
from ledger.store import Ledger
from projections.accel import registry as accel
from projections.accel.base import LogReader
from projections.accel.holding import HeldBatches
from projections.accel.rebuild import Plain
from projections.accel.rebuild import rebuild as accelerated_rebuild
from projections.db import is_sqlite, one_schema_change_at_a_time, reading, try_writing, writing
from projections.folds.activity import ActivityProjection
from projections.folds.followups import FollowUpProjection
from projections.folds.incentives import IncentivesProjection
from projections.folds.org import OrgProjection
from projections.folds.people import PeopleProjection
from projections.folds.rollups import LogProjection
from projections.folds.sales import SalesProjection
from projections.folds.targets import TargetsProjection
from projections.folds.trust import TrustProjection
from projections.projection import Projection, event_types
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


def schema_made(engine: Engine) -> None:
    """Take `engine`'s schema as made, as `ensure_schema` leaves it (a rebuild's worker process:
    the schema is made, and its query indexes dropped on purpose)."""
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

    A batch is the next `batch_size` of the events `projections` (a part of PROJECTIONS) consume,
    and covers every position up to its last (to the head, for the last batch), so each
    projection's tracked position reaches the head. `part_size`: see `fold_batch`. If another
    worker applied (part of) a batch first, the batch fails whole and this run carries on from
    where that worker got to.
    """
    positions = {name: at for name, at in tracked_positions(engine).items() if name in _names(projections)}
    after = min(positions.values())
    head = ledger.head().position
    # ── accel: a projection that folds its stretch of the log itself has no events read for it
    read_here = (p for p in projections if not accel.of(p).reads_stretches(ledger, engine))
    plain = Batches(ledger, engine, batch_size, head, event_types(read_here))
    # ── accel: batches held while another process writes, pages read ahead, fold state carried
    batches: Batches | HeldBatches = HeldBatches(plain, write_batches) if accel.enabled() else plain
    with batches:
        while after < head:
            stored, end = batches.read(after)
            try:
                folded = fold_batch(engine, ledger, stored, positions, projections, batches.memory, part_size, end)
                positions = {**positions, **{view.name: folded.last for view in folded.views}}
                batches.write(folded, min(positions.values()))
            except (TrackingConflict, IntegrityError):
                # Another worker applied (part of) this stretch first: carry on from where it got to.
                batches.forget()
                positions = {name: at for name, at in tracked_positions(engine).items() if name in positions}
            after = min(positions.values())
            if progress is not None:
                progress(after, max(head, after))
    return after


Page = tuple[list[StoredEvent], int]  # a page of stored events, and the position its batch reaches


class Batches:
    """A catch-up's pages and writes, the plain way: the next `size` events of its types after a
    position, up to the head the catch-up began at, each read when it is wanted; each folded
    batch written before the next page is read."""

    memory: dict[str, dict] | None = None  # fold state carried between batches: none

    def __init__(self, ledger: Ledger | BoundedLog, engine: Engine, size: int, head: int, types: set[str]):
        self.ledger, self.engine, self.size, self.head = ledger, engine, size, head
        # every type the ledger records: read every event, unfiltered
        self.types: list[str] | None = None if types >= set(DATA_MODELS) else sorted(types)
        self.walk = True  # how the ledger finds a page of these types: walking its type index (see `Ledger._log_rows`)

    def __enter__(self) -> Batches:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, after: int) -> Page:
        stored = self.ledger.read_stored(
            after, self.size, upto=self.head, types=self.types, walk=self.walk, details=False
        )
        end = stored[-1][0] if len(stored) == self.size else self.head  # short of full: no more of them up to the head
        return stored, end

    def write(self, folded: Folded, following: int) -> None:
        write_batches(self.engine, [folded])

    def forget(self) -> None:
        """Another worker applied (part of) a batch first: nothing read or folded ahead is kept (none is)."""


class Folded(NamedTuple):
    """A folded batch: its projections' views and the position it reaches. `holdable`: may the
    next batch be folded before this one is written (`accel.holding`: every projection of it is
    `Accelerator.holdable`)? Never on the plain path."""

    views: list[BatchView]
    last: int
    holdable: bool = False


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
    records dropped before the next is decoded (see `Ledger.read_stored`): less per event for the
    activities (a rebuild's worker folds them so), but more for the sales fold, which asks its
    tables for state once per part; without, the batch is one part. A fold writes the same rows
    however its batch is cut into parts.
    The folds read their state (`prefetch`) in a read transaction, outside the write lock: the
    write's compare-and-set of each tracked position proves that nobody changed a projection's
    tables in between (they change only with its position), else the batch fails whole with
    `TrackingConflict`. Holding SQLite's one write lock only to write lets the ledger record
    meanwhile. `memory` (per projection): what the folds carry to the next batch (`accel`).
    """
    last = stored[-1][0] if end is None else end
    behind = tuple(p for p in projections if positions[p.name] < last)
    bulk = accel.bulk(engine)  # ── accel: the rows written in bulk (plain: by executemany)
    views = {p.name: BatchView(p.name, positions[p.name], bulk) for p in behind}
    speed = {p.name: accel.of(p) for p in behind}  # ── accel: each projection's (plain: none)
    memory = {} if memory is None else memory
    # Planned for their own parameters, as the writes are: a rebuild's tables grow from empty,
    # and a generic plan of the folds' key lookups made early stays a sequential scan (at 10M:
    # seconds a lookup of 60 customers, the rebuild stalled).
    with reading(engine, custom_plans=True) as conn:
        # ── accel: a fold may carry on from what the batch before left in memory (plain: `p.begin`)
        folds = {p.name: speed[p.name].begin(p, conn, views[p.name], memory.setdefault(p.name, {})) for p in behind}
        fed = []
        for projection in behind:
            if speed[projection.name].reads_stretches(log, engine):  # ── accel: it folds its stretch itself
                speed[projection.name].feed_stretch(folds[projection.name], log, positions[projection.name], last)
            else:
                fed.append(projection)
        part_size = part_size or len(stored) or 1
        for start in range(0, len(stored), part_size):
            routed = route(log.opened(decoded(stored[start : start + part_size])), tuple(fed))
            for projection in fed:
                mine, seen = routed[projection.name], positions[projection.name]
                unseen = mine if not mine or seen < mine[0].position else [r for r in mine if r.position > seen]
                if unseen:
                    projection.feed(folds[projection.name], unseen)
        for fold in folds.values():
            fold.finish()
    holdable = all(speed[p.name].holdable(folds[p.name]) for p in behind)  # ── accel: `accel.holding`
    return Folded(list(views.values()), last, holdable)


def write_batches(engine: Engine, batches: list[Folded], wait: bool = True) -> bool:
    """Write folded batches in ONE transaction, in order: each projection's rows and the move of
    its tracked position (a compare-and-set: `BatchView.write`). Without `wait` (`accel.holding`),
    write nothing and say False if another connection holds SQLite's write lock."""
    with writing(engine) if wait else try_writing(engine) as conn:
        if conn is None:
            return False
        for batch in batches:
            for view in batch.views:
                view.write(conn, batch.last)
    return True


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


def rebuild(
    ledger: Ledger | BoundedLog,
    engine: Engine,
    progress: Progress | None = None,
    batch_size: int = REBUILD_BATCH,
    split: bool | None = None,
) -> int:
    """Drop every projected row and reset every tracked position in one transaction (`reset`),
    then catch up from position 0; return the position reached.

    With the accelerators on, `accel.rebuild` runs these same steps faster: the query indexes
    built once at the end, projections replayed whole, and (`split`; None: by the log's length)
    a part of them folded by a worker process meanwhile.
    """
    ensure_schema(engine)
    if accel.enabled():  # ── accel
        plain = Plain(PROJECTIONS, reset, catch_up, tracked_positions, schema_made)
        reached = accelerated_rebuild(ledger, engine, plain, progress, batch_size, split)
    else:
        reset(engine)
        reached = catch_up(ledger, engine, batch_size=batch_size, progress=progress)
    analyze(engine)
    return reached


def reset(engine: Engine) -> None:
    """Every projected row dropped, every tracked position at 0: one transaction. PostgreSQL:
    TRUNCATE (transactional there), not DELETE, which left every old row a dead tuple for
    autovacuum to reclaim (and none is reclaimed where autovacuum is off)."""
    with writing(engine) as conn:
        if is_sqlite(engine):
            for table in projected_tables():
                conn.execute(table.delete())
        else:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in projected_tables())}")
        conn.execute(tracking.update().values(position=0))


def analyze(engine: Engine) -> None:
    """PostgreSQL: every projected table vacuumed and its statistics taken afresh after a rebuild
    (`VACUUM (ANALYZE)`). Without statistics the planner took the freshly filled tables for nearly
    empty (82 rows estimated for 49,949 deal facts at a million events) and sorted the quarter's
    facts on disk; without the vacuum's visibility map no read is index-only (the company's
    follow-ups at 10M: a parallel scan of 604,424 rows, 73 ms, against 41 ms through
    `followups_due`). Autovacuum does both in time, where it runs (docs/performance.md)."""
    if is_sqlite(engine):
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # VACUUM takes no transaction
        for table in projected_tables():
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


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
