"""A rebuild, faster: the plain rebuild's steps (`runner.rebuild`: reset, then catch up from
position 0) with more around them.

- The read side's query indexes are dropped after the reset and built once the tables are full
  (cheaper than keeping them up to date row by row); the indexes the folds themselves read
  through stay. If the rebuild is interrupted, the next `ensure_schema` (any new engine) builds
  them again.
- Each projection that can replay the log whole (`Accelerator.replay`) does so first.
- A log of SPLIT_FROM events or more (or `split=True`) is folded in two processes at once: a
  worker process folds a part (`split_off`) while this one folds the rest, each reading only
  the events it consumes; the runner holds the write lock only to write, so both fold at once.
  The worker starts first and opens the store while this process resets it (starting a process
  and opening a store take about as long as resetting a large store). Each builds its own
  tables' indexes when its fold is done, this one also those of the worker's tables already
  full by then. If the worker fails (or cannot start), what it left is folded here, after the
  rest: its committed batches are whole, so the last catch-up carries on from its tracked
  positions.

The plain steps are the runner's, given to `rebuild` (`Plain`): the runner calls this module,
so this module does not import it.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine, Index

from ledger.config import Settings
from ledger.reading import BoundedLog
from ledger.store import Ledger
from projections.accel import registry
from projections.accel.base import LogReader
from projections.db import (
    database_url_of,
    engine_for,
    one_build_of_this_index_at_a_time,
    reads_ledger_of,
    writing,
)
from projections.projection import Projection

SPLIT_FROM = 200_000  # events: below this, a second process costs more to start than it saves
PART_SIZE = 1000  # the worker's parts (`runner.fold_batch`): activities decode and fold fastest in parts of 500-1000
log = logging.getLogger("perfledger.projections.accel")

CatchUp = Callable[..., int]  # the runner's `catch_up(ledger, engine, batch_size, progress, projections, part_size)`


class Plain(NamedTuple):
    """The runner's plain steps, which an accelerated rebuild runs."""

    projections: tuple[Projection, ...]
    reset: Callable[[Engine], None]  # every projected row dropped, every tracked position at 0
    catch_up: CatchUp
    tracked_positions: Callable[[Engine], dict[str, int]]
    schema_made: Callable[[Engine], None]  # take an engine's schema as made (`ensure_schema` leaves it)


def rebuild(
    ledger: Ledger | BoundedLog,
    engine: Engine,
    plain: Plain,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
    split: bool | None,
) -> int:
    """`runner.rebuild`, accelerated (see the module); the position reached."""
    target = _worker_target(ledger, engine)
    if split is None:
        split = ledger.head().position >= SPLIT_FROM
    worker_part = split_off(ledger, engine) if split and target is not None else ()
    try:
        with _worker(target, worker_part, batch_size, plain) as begin:
            plain.reset(engine)
            drop_query_indexes(engine, plain.projections)
            begin()
            rest = tuple(p for p in plain.projections if p.name not in worker_part)
            if worker_part:
                last = replayed_last(ledger, engine, worker_part)
                first = tuple(p for p in rest if p.name not in last)
                plain.catch_up(ledger, engine, batch_size, progress, projections=first)
                replayed_whole(ledger, engine, tuple(p for p in rest if p.name in last))  # any that cannot: below
                # the tables already full, the worker's among them, while the worker still folds
                build_indexes(engine, _full(ledger, engine, plain, tuple(p.name for p in plain.projections)))
            else:
                replayed_whole(ledger, engine, plain.projections)  # the others: the catch-up below
        return plain.catch_up(ledger, engine, batch_size=batch_size, progress=progress)
    finally:
        build_indexes(engine, plain.projections)


def split_off(ledger: LogReader, engine: Engine) -> tuple[str, ...]:
    """What the worker process of a split rebuild folds; this process folds the rest, each
    reading only the events of its own projections. The sales fold is the longest (state at
    every step): this process folds it, with the small projections. The worker folds the
    activities (two thirds of a typical log) and, where they fold in SQL in a SQLite store
    (`in_store`: the ledger's own file, or a scratch store that attaches it, the audit's), the
    follow-ups: it replays them whole first. On PostgreSQL the worker's SQL was the longer
    part once this process wrote in bulk and read ahead: it replays the activities alone, and
    this process replays the follow-ups after its catch-up (`replayed_last`). Elsewhere (a
    scratch store of a PostgreSQL ledger), it folds the activities alone. (Every projection but
    the sales in the worker was tried too, and was slower: docs/performance.md.)"""
    in_sql = registry.ACCELERATORS.get("activity", registry.PLAIN).reads_stretches(ledger, engine)
    if in_sql and engine.dialect.name == "sqlite":
        return ("activity", "followups")
    return ("activity",)


def replayed_last(ledger: LogReader, engine: Engine, worker_part: tuple[str, ...]) -> tuple[str, ...]:
    """What this process of a split rebuild replays whole after its catch-up: on PostgreSQL, the
    follow-ups, when the worker does not fold them (`split_off`). Replayed first, their SQL ran
    beside the worker's and took 10.5 s (6 s in the worker, after the activities); last, it
    runs while the worker ends (a million events, docs/performance.md)."""
    if engine.dialect.name == "sqlite" or "followups" in worker_part:
        return ()
    return ("followups",)


def replayed_whole(log: LogReader, engine: Engine, projections: tuple[Projection, ...]) -> tuple[Projection, ...]:
    """A rebuild's first step: each of `projections` that can replays the log up to its head
    into its empty tables (`Accelerator.replay`); those that cannot are returned, for a catch-up."""
    upto = log.head().position
    return tuple(p for p in projections if not registry.of(p).replay(log, engine, upto))


def query_indexes(projections: tuple[Projection, ...]) -> list[Index]:
    """The read side's indexes of these projections' tables: all but those the folds read through."""
    return [i for p in projections for table in p.tables for i in table.indexes if not i.info.get("fold")]


def drop_query_indexes(engine: Engine, projections: tuple[Projection, ...]) -> None:
    with writing(engine) as conn:
        for index in query_indexes(projections):
            index.drop(conn, checkfirst=True)


def build_indexes(engine: Engine, projections: tuple[Projection, ...]) -> None:
    """Build the missing query indexes of `projections`, one transaction each (SQLite's write lock
    is held for one index at a time, so a process folding beside this one waits at most that).
    A split rebuild's two processes may both build one (the caller builds those of the worker's
    tables already full): on PostgreSQL each takes the index's lock first
    (`one_build_of_this_index_at_a_time`), so the second finds the index made, rather than racing
    the first on the catalogue (a duplicate key in pg_class)."""
    for index in query_indexes(projections):
        with writing(engine) as conn:
            one_build_of_this_index_at_a_time(conn, str(index.name))
            index.create(conn, checkfirst=True)


def _full(ledger: Ledger | BoundedLog, engine: Engine, plain: Plain, names: tuple[str, ...]) -> tuple[Projection, ...]:
    """Those of `names` that have reached the head: their tables are full, their indexes can be built."""
    at, head = plain.tracked_positions(engine), ledger.head().position
    return tuple(p for p in plain.projections if p.name in names and at[p.name] >= head)


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
def _worker(
    target: Target | None, names: tuple[str, ...], batch_size: int, plain: Plain
) -> Iterator[Callable[[], None]]:
    """A process folding `names` while the block runs, from when the block calls what it is
    given (before, it opens the store); none without `names`. A warning if it did not finish
    cleanly (the caller's last catch-up then folds what it left: a real error surfaces there)."""
    if not names or target is None:
        yield lambda: None
        return
    context = multiprocessing.get_context("spawn")
    begin = context.Event()
    mine = tuple(p for p in plain.projections if p.name in names)
    process = context.Process(
        target=_fold_in_worker,
        args=(*target, mine, batch_size, begin, plain.catch_up, plain.schema_made),
        name=f"rebuild-{'-'.join(names)}",
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
    mine: tuple[Projection, ...],
    batch_size: int,
    begin: Any,
    catch_up: CatchUp,
    schema_made: Callable[[Engine], None],
) -> None:
    ledger = Ledger(Settings(database_url=ledger_url))
    source = ledger if upto is None else BoundedLog(ledger, upto)
    engine = engine_for(Settings(database_url=projections_url), reads_ledger=reads_ledger)
    schema_made(engine)  # and its query indexes dropped on purpose: `ensure_schema` must leave them so
    parent = multiprocessing.parent_process()
    try:
        while not begin.wait(1.0):  # for the store's reset
            if parent is None or not parent.is_alive():  # gone before it: nothing to fold
                return
        left = replayed_whole(source, engine, mine)
        if left:
            catch_up(source, engine, batch_size, projections=left, part_size=PART_SIZE)
        build_indexes(engine, mine)
    finally:
        engine.dispose()
        ledger.close()
