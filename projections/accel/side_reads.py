"""Reads run beside a read, on a second PostgreSQL connection that sees the very same snapshot.

A company's off-track list reads ~150 ms of SQL and spends twice that in Python turning rows
into figures, one after the other in one thread (docs/performance.md, seventh run). Here a read
hands part of its statements to a worker thread with a connection of its own, which imports the
read's snapshot (`pg_export_snapshot`, `SET TRANSACTION SNAPSHOT`: what `pg_dump --jobs` does),
so both see exactly one state of the store; while the server answers one connection, Python
works on the other's rows (psycopg lets go of the interpreter while it waits).

The plain path runs the same function on the read's own connection, in order, when its result
is asked for: on SQLite, with PERFLEDGER_ACCEL=0, on a replica in recovery (which exports no
snapshot), and whenever the side pool has no connection free at once (never waited for: a read
waiting for a second connection while holding its first could wait on another doing the same).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import TimeoutError as PoolTimeout

from projections.accel.registry import enabled
from projections.db import WIDE_READ_SETTINGS, side_engine_for

T = TypeVar("T")
Later = Callable[[], T]
SIDE_CONNECTIONS = 2  # a process's reads beside reads at once (each its own connection and thread)
SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?")


class Side:
    """The side connections of one engine and the threads that use them, closed with it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.threads = ThreadPoolExecutor(SIDE_CONNECTIONS, thread_name_prefix="side-read")

    def close(self) -> None:
        self.threads.shutdown(wait=True)
        self.engine.dispose()


_SIDES: WeakKeyDictionary[Engine, Side | None] = WeakKeyDictionary()
_LOCK = threading.Lock()


def _side_of(conn: Connection) -> Side | None:
    engine = conn.engine
    with _LOCK:
        if engine not in _SIDES:
            side_engine = side_engine_for(engine, SIDE_CONNECTIONS)
            _SIDES[engine] = None if side_engine is None else Side(side_engine)
            if side_engine is not None:
                event.listen(engine, "engine_disposed", _closed)
        return _SIDES[engine]


def _closed(engine: Engine) -> None:
    """The engine was disposed (a store closed): its side connections and threads go with it."""
    with _LOCK:
        side = _SIDES.pop(engine, None)
    if side is not None:
        side.close()


@contextmanager
def alongside(conn: Connection) -> Iterator[Callable[[Callable[[Connection], T]], Later[T]]]:
    """`beside(read)` starts `read(connection)` on a side connection in the snapshot of `conn`'s
    transaction (PostgreSQL) and gives a function that waits for its result; the plain path runs
    `read(conn)` when that function is called. Every side read has ended when the block ends, and
    `conn`'s transaction must stay open until then."""
    side = _side_of(conn) if enabled() else None
    snapshot = _exported(conn) if side is not None else None
    started: list[Future] = []

    def beside(read: Callable[[Connection], T]) -> Later[T]:
        if side is None or snapshot is None:
            return lambda: read(conn)
        future = side.threads.submit(_in_snapshot, side.engine, snapshot, read)
        started.append(future)

        def result() -> T:
            try:
                return future.result()
            except PoolTimeout:  # no side connection free: read on the read's own
                return read(conn)

        return result

    try:
        yield beside
    finally:
        for future in started:  # none outlives the snapshot it reads
            future.cancel() or future.exception()


def _exported(conn: Connection) -> str | None:
    """The snapshot of `conn`'s transaction, for another connection to import; None on a standby
    in recovery (a replica), which cannot export one."""
    if conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar():
        return None
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
    if not SNAPSHOT_ID.fullmatch(snapshot):  # it goes into a statement's text: the server's form alone
        raise ValueError(f"unexpected snapshot id from pg_export_snapshot(): {snapshot!r}")
    return snapshot


def _in_snapshot(engine: Engine, snapshot: str, read: Callable[[Connection], T]) -> T:
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as side, side.begin():
        side.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # first, before any read
        side.exec_driver_sql(WIDE_READ_SETTINGS)
        return read(side)
