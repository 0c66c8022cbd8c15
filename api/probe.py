"""One cheap look at the store per request: where the log ends, where the projections are, and how
many tokens have been revoked (api/deps.py `Glance`).

Why it exists: every plain-`def` FastAPI dependency is a round trip through the thread pool, and
under load each round trip waits for the GIL behind the handlers that are computing. A read used
to make eight of them (settings, engine, ledger, token, org, scope, catch-up, handler) and spend
most of its time queueing. The dependencies are now `async def` and answer from memory; the one
thing they must learn from the database on every request — has anything been recorded, projected
or revoked since? — is this one query of three index lookups:

- SQLite: on a connection of its own, read in the event loop itself (a local WAL read of a few
  pages, never waiting for a writer; a busy store, rare, falls back to the thread pool);
- PostgreSQL: on a connection of its own too, in autocommit, awaited in the event loop (psycopg's
  async connection): a network round trip that holds up no thread. Through the engine it cost a
  thread-pool hop, a pooled connection's pre-ping and a transaction (BEGIN, ROLLBACK) per request:
  more than the read itself, for a memoized answer (docs/performance.md). A connection the server
  ended (a restart, `pg_terminate_backend`) is replaced once; if that fails too, the request
  answers 503 `store_busy` with Retry-After (api/errors.py), never a 500. One more connection
  per process (docs/architecture.md, "Connections").

`projected` is None until this process has brought the projections up to date once (its own
`ensure_schema`: a store written by another version of the code is rebuilt before it is trusted),
and whenever a projection's tracking row is missing: the caller then takes the slow path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from api.auth import tokens
from ledger.store import Ledger
from projections.db import database_url_of, projection_url
from projections.runner import PROJECTIONS
from projections.tables import tracking

PROBE_BUSY_TIMEOUT = 0.05  # seconds the in-loop SQLite read may wait for a lock before deferring to a thread
PG_CONNECT_TIMEOUT = 5  # seconds to (re)open the PostgreSQL probe's connection before answering 503


@dataclass(frozen=True, slots=True)
class Glance:
    head: int  # the last position of the log (0: empty)
    projected: int | None  # the position every projection has reached; None: unknown, take the slow path
    revoked: int  # how many tokens are revoked: a change drops every cached principal
    head_recorded_us: int | None  # knowledge time of the head entry (recorded_at rises with position)

    @property
    def settled(self) -> bool:
        """Every projection has reached the head: what is read now is the log at `head`, exactly."""
        return self.projected is not None and self.projected >= self.head


class StoreProbe:
    def __init__(self, ledger: Ledger, engine: Engine):
        names = [p.name for p in PROJECTIONS]
        if any("'" in name for name in names):
            raise ValueError("projection names must not contain quotes")
        listed = ", ".join(f"'{name}'" for name in names)
        self._expected = len(names)
        self._head_sql = f"SELECT position FROM {ledger.recorder.entries_table} ORDER BY position DESC LIMIT 1"
        self._revoked_sql = f"SELECT COUNT(*) FROM {tokens.name} WHERE revoked"
        self._sql = (
            f"SELECT ({self._head_sql}), "
            f"(SELECT recorded_at FROM {ledger.recorder.entries_table} ORDER BY position DESC LIMIT 1), "
            f"(SELECT COUNT(*) FROM {tracking.name} WHERE name IN ({listed})), "
            f"(SELECT MIN(position) FROM {tracking.name} WHERE name IN ({listed})), "
            f"({self._revoked_sql})"
        )
        self._engine = engine
        self._schema_checked = False
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._sqlite = sqlite3.connect(
                engine.url.database, timeout=PROBE_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        self._pg: PostgresProbe | None = None
        if engine.dialect.name == "postgresql":
            self._pg = PostgresProbe(database_url_of(engine) or engine.url.render_as_string(hide_password=False))

    def schema_checked(self) -> None:
        """This process has run the projections' `ensure_schema` on this store: tracking can be trusted."""
        self._schema_checked = True

    async def glance(self) -> Glance:
        if self._sqlite is not None:
            try:
                with self._lock:  # the event loop is its only user; the lock only guards close()
                    row = self._sqlite.execute(self._sql).fetchone()
                return self._glance(row)
            except sqlite3.OperationalError:
                pass  # busy (a checkpoint), or tables not made yet: ask through the engine, off the loop
        if self._pg is not None:
            try:
                return self._glance(await self._pg.fetch(self._sql))
            except psycopg.ProgrammingError:
                pass  # the projection tables do not exist yet: the engine's way answers without them
        return await run_in_threadpool(self._read_engine)

    def _read_engine(self) -> Glance:
        try:
            with self._engine.connect() as conn:
                row = conn.exec_driver_sql(self._sql).one()  # a SELECT of subqueries: one row
        except DBAPIError:  # the projection tables do not exist yet (the slow path makes them)
            with self._engine.connect() as conn:
                head = conn.exec_driver_sql(self._head_sql).scalar() or 0
                revoked = conn.exec_driver_sql(self._revoked_sql).scalar() or 0
            return Glance(head, None, revoked, None)
        return self._glance(row)

    def _glance(self, row: Sequence[Any]) -> Glance:
        head, head_recorded_us, present, projected, revoked = row
        known = self._schema_checked and present == self._expected and projected is not None
        return Glance(head or 0, projected if known else None, revoked or 0, head_recorded_us)

    async def aclose(self) -> None:
        self.close()
        if self._pg is not None:
            await self._pg.aclose()

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None


class PostgresProbe:
    """One autocommit connection of this process's event loop, opened at the first glance: each
    query one round trip (no BEGIN, no pre-ping), prepared by the server.

    One query at a time: the requests that arrive while one is in flight share the next (sent
    after each of them arrived, so it shows every write acknowledged before any of them), rather
    than queueing a query each behind it."""

    def __init__(self, database_url: str):
        url, schema = projection_url(database_url)
        # libpq's own parameters (e.g. `options=-c …`) as keywords: rendered back into the URL,
        # their blanks would come out as '+', which libpq does not read as blanks
        self._conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        given = {name: value if isinstance(value, str) else value[-1] for name, value in url.query.items()}
        self._parameters: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT, **given}
        self._search_path = None if schema is None else '"' + schema.replace('"', '""') + '"'
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._cursor: psycopg.AsyncCursor[Any] | None = None
        self._turn = asyncio.Lock()  # the connection's one query (or its opening) at a time
        self._next: asyncio.Future[Sequence[Any]] | None = None  # the query the waiting requests share

    async def fetch(self, sql: str) -> Sequence[Any]:
        """The one row `sql` answers, asked after this call began."""
        while True:
            shared = self._next
            if shared is None:
                return await self._ask_next(sql)
            try:
                return await asyncio.shield(shared)
            except asyncio.CancelledError:
                if not shared.cancelled():
                    raise  # this request itself was cancelled
                # the request that was to ask was cancelled before it could: ask again

    async def _ask_next(self, sql: str) -> Sequence[Any]:
        shared = self._next = asyncio.get_running_loop().create_future()
        try:
            async with self._turn:
                if self._next is shared:
                    self._next = None  # who arrives from now on is after this query was sent
                row = await self._ask(sql)
        except BaseException as error:
            if self._next is shared:
                self._next = None
            if isinstance(error, Exception):
                shared.set_exception(error)
                shared.exception()  # retrieved: this request raises it, whoever shared it too
            else:
                shared.cancel()
            raise
        shared.set_result(row)
        return row

    async def _ask(self, sql: str) -> Sequence[Any]:
        """A connection found dead (the server ended it) is replaced and the query asked once
        more; failing again: `StoreOperationalError` (a 503 with Retry-After)."""
        for attempt in (1, 2):
            try:
                cursor = await self._cursor_now()
                await cursor.execute(sql, prepare=True)
                row = await cursor.fetchone()
                assert row is not None  # a SELECT of subqueries: one row
                return row
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                await self._forget()
                if attempt == 2:
                    raise StoreOperationalError(str(error)) from error
        raise AssertionError("unreachable")

    async def _cursor_now(self) -> psycopg.AsyncCursor[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken or self._cursor is None:
            await self._forget()
            conn = self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, **self._parameters
            )
            if self._search_path is not None:
                await conn.execute(f"SET search_path TO {self._search_path}")
            self._cursor = conn.cursor()  # kept: one query at a time (`_turn`)
        return self._cursor

    async def _forget(self) -> None:
        conn, self._conn, self._cursor = self._conn, None, None
        if conn is not None:
            with suppress(psycopg.Error):  # already ended by the server
                await conn.close()

    async def aclose(self) -> None:
        await self._forget()
