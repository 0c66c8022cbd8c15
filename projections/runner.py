"""Running the projections: catch up from the tracked positions, rebuild from zero, wait for a position.

The log is read once per batch and offered to every projection that has not yet applied it;
all of a batch's rows and every moved tracking row are committed in ONE transaction (one commit
and one fsync per batch, not per event). A crash anywhere in a batch rolls the whole batch back,
tracking included, so the next `catch_up` redoes exactly that batch: nothing lost, nothing
doubled. Two workers running `catch_up` at once cannot both apply a batch: the second one's
compare-and-set fails (`view.TrackingConflict`) and it carries on from where the first got to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from weakref import WeakSet

from sqlalchemy import Connection, Engine, Table, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.gc_pause import paused_gc
from ledger.store import Ledger, LogRecord

from .db import writing
from .fold_activity import ActivityProjection
from .fold_incentives import IncentivesProjection
from .fold_org import OrgProjection
from .fold_people import PeopleProjection
from .fold_sales import SalesProjection
from .fold_targets import TargetsProjection
from .fold_trust import TrustProjection
from .projection import Projection
from .rollups import LogProjection
from .tables import SCHEMA_VERSION, metadata, projection_meta, tracking
from .view import BatchView, TrackingConflict

PROJECTIONS: tuple[Projection, ...] = (
    OrgProjection(), TargetsProjection(), SalesProjection(), ActivityProjection(), PeopleProjection(),
    IncentivesProjection(), TrustProjection(), LogProjection(),
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
        _one_schema_change_at_a_time(conn)
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


def _one_schema_change_at_a_time(conn: Connection) -> None:
    """PostgreSQL: processes (or threads) starting together on a fresh database would race on the
    catalogue (duplicate key in pg_type); this lock, held to the end of the transaction, makes
    them take turns. SQLite's BEGIN IMMEDIATE already does."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727275)")


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


def catch_up(ledger: Ledger, engine: Engine, batch_size: int = DEFAULT_BATCH, progress: Progress | None = None) -> int:
    """Apply the log from each projection's tracked position to the head; return the position reached.

    One batch at a time, read then applied, with the cyclic garbage collector paused over each
    batch (`ledger.gc_pause`). Reading the next batch in a second thread was measured slower (the
    read is decoding, which holds the GIL, so the two threads only took turns).
    """
    positions = tracked_positions(engine)
    after = min(positions.values())
    head = ledger.head().position
    if head <= after:
        return after  # the common case of a read that finds nothing new
    while True:
        with paused_gc():
            records = ledger.read_log(after, batch_size)
            if not records:
                return after
            try:
                positions = apply_batch(engine, records, positions)
            except (TrackingConflict, IntegrityError):
                # Another worker applied (part of) this stretch first: carry on from where it got to.
                positions = tracked_positions(engine)
        after = min(positions.values())
        if progress is not None:
            progress(after, max(head, after))


def apply_batch(engine: Engine, records: list[LogRecord], positions: dict[str, int]) -> dict[str, int]:
    """One transaction: each projection behind the batch's end applies its part and moves its position."""
    last = records[-1].position
    moved = dict(positions)
    routed = route(records)
    with writing(engine) as conn:
        for projection in PROJECTIONS:
            start = positions[projection.name]
            if start >= last:
                continue
            mine = routed[projection.name]
            unseen = mine if not mine or start < mine[0].position else [r for r in mine if r.position > start]
            view = BatchView(projection.name, start)
            projection.apply(conn, view, unseen)
            view.write(conn, last)
            moved[projection.name] = last
    return moved


def route(records: list[LogRecord]) -> dict[str, list[LogRecord]]:
    """Each projection's records of the batch, in position order, in one pass over the batch."""
    routed: dict[str, list[LogRecord]] = {p.name: records if p.all_events else [] for p in PROJECTIONS}
    appenders = {t: [routed[name].append for name in names] for t, names in _CONSUMERS.items()}
    for record in records:
        for append in appenders.get(record.type, ()):
            append(record)
    return routed


_CONSUMERS: dict[str, list[str]] = {}
for _projection in PROJECTIONS:
    for _type in _projection.event_types:
        _CONSUMERS.setdefault(_type, []).append(_projection.name)


REBUILD_BATCH = 20_000  # fewer, larger transactions when replaying the whole log


def rebuild(ledger: Ledger, engine: Engine, progress: Progress | None = None, batch_size: int = REBUILD_BATCH) -> int:
    """Drop every projected row and reset the tracking in one transaction, then replay from 0.

    The read side's query indexes are dropped for the replay and built once at the end (faster
    than keeping them up to date row by row); the indexes the folds themselves read through stay.
    If the rebuild is interrupted, the next `ensure_schema` (any new engine) builds them again.
    """
    ensure_schema(engine)
    indexes = [i for table in projected_tables() for i in table.indexes if not i.info.get("fold")]
    with writing(engine) as conn:
        for table in projected_tables():
            conn.execute(table.delete())
        conn.execute(tracking.update().values(position=0))
        for index in indexes:
            index.drop(conn, checkfirst=True)
    try:
        return catch_up(ledger, engine, batch_size=batch_size, progress=progress)
    finally:
        with writing(engine) as conn:
            for index in indexes:
                index.create(conn, checkfirst=True)


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
