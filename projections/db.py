"""The read side's database: the ledger's own database, reached through SQLAlchemy Core.

`engine_for(settings)` gives an engine on the same database as the ledger:
- SQLite: WAL journal, `synchronous=FULL` (a committed projection batch survives a power loss,
  like the ledger's own commits) and `busy_timeout=30000` on every connection. SQLAlchemy takes
  over BEGIN from the sqlite3 module (the dialect's documented recipe), so a read transaction
  is one consistent snapshot and a projection batch can start with `BEGIN IMMEDIATE`: it holds
  the write lock from its first read, so two workers never interleave a read-then-write.
- PostgreSQL: `postgresql://` becomes `postgresql+psycopg://`; a `?schema=NAME` query parameter
  (the ledger's convention) is removed from the URL and set as the `search_path` of every
  connection, so the projection tables live next to the ledger's tables in that schema.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from operator import itemgetter
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import CollationClause

from ledger.config import Settings

BYTES = "C"  # `column.collate(BYTES)`: text compared by its bytes, on PostgreSQL and SQLite alike


@compiles(CollationClause, "sqlite")
def _bytes_on_sqlite(element: CollationClause, compiler: Any, **kw: Any) -> str:
    """SQLite names the byte order BINARY (its default), PostgreSQL "C". A sort or a grouping
    whose order means nothing but equal ids side by side (`facts.apart`) is asked for in bytes:
    PostgreSQL's other collations compare text through the C library (`C.UTF-8` included),
    a quarter of the time of a read that sorts 20k ids (docs/performance.md, ninth run)."""
    return "BINARY" if element.collation == BYTES else compiler.visit_collation(element, **kw)


def engine_for(settings: Settings, reads_ledger: str | None = None) -> Engine:
    """A new engine on the ledger's database; keep it for the life of the process (it pools).

    `reads_ledger`: the database URL of a ledger in another SQLite file, which every connection
    of this (SQLite) engine attaches read-only as schema `ledger` (LEDGER_SCHEMA): a scratch
    store rebuilt from that ledger folds its activities and follow-ups in SQL (`in_store`), and
    its write transactions leave the ledger free to record (a read-only database takes no lock)."""
    url, schema = projection_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, _read_only_uri(reads_ledger) if reads_ledger else None)
    else:
        engine = _postgres_engine(url, schema, settings.pg_pool[0])
    _DATABASE_URLS[engine] = settings.database_url
    if reads_ledger:
        _READS_LEDGER[engine] = reads_ledger
    return engine


def read_engine_for(settings: Settings) -> Engine | None:
    """An engine on the database the read side reads from when it is not the ledger's
    (`Settings.read_database_url`: a streaming replica of the primary, whose projections the
    primary's worker writes and replication brings); None when reads go to the primary. Nothing
    is ever written through it."""
    if not settings.read_database_url:
        return None
    url, schema = projection_url(settings.read_database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("PERFLEDGER_READ_DATABASE_URL: a PostgreSQL replica (postgresql://…), or unset")
    engine = _postgres_engine(url, schema, settings.pg_pool[0])
    _DATABASE_URLS[engine] = settings.read_database_url
    return engine


_DATABASE_URLS: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()
_READS_LEDGER: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()
LEDGER_SCHEMA = "ledger"


def _read_only_uri(database_url: str) -> str:
    path = make_url(database_url).database
    if make_url(database_url).get_backend_name() != "sqlite" or not path or path == ":memory:":
        raise ValueError(f"only a ledger in a SQLite file can be attached, not {database_url!r}")
    return f"file:{quote(os.path.abspath(path))}?mode=ro"


def reads_ledger_of(engine: Engine) -> str | None:
    """The ledger database URL `engine` attaches (`engine_for(…, reads_ledger=…)`), if any."""
    return _READS_LEDGER.get(engine)


def ledger_schema(engine: Engine, database_url: str) -> str | None:
    """The schema through which `engine`'s statements read the tables of the ledger at
    `database_url`: "main" (the same SQLite file), LEDGER_SCHEMA (that file attached), or None
    (they cannot: PostgreSQL, or another file)."""
    if same_sqlite_file(engine, database_url):
        return "main"
    attached = _READS_LEDGER.get(engine)
    if attached is not None and _same_file(attached, database_url):
        return LEDGER_SCHEMA
    return None


def same_postgres_database(engine: Engine, database_url: str) -> bool:
    """Can `engine`'s statements read the tables of the PostgreSQL ledger at `database_url`: the
    same server and database, and the ledger's tables named by its schema (or neither names
    one: both in the default search path)? The recorder names its tables with their schema, so
    the projections may live in another schema of the same database."""
    if engine.dialect.name != "postgresql":
        return False
    mine = database_url_of(engine)
    if mine is None or make_url(database_url).get_backend_name() != "postgresql":
        return False
    (one, my_schema), (other, ledger_schema_name) = projection_url(mine), projection_url(database_url)

    def where(url: URL) -> tuple[str, int, str | None]:
        return (url.host or "localhost", url.port or 5432, url.database)

    return where(one) == where(other) and (ledger_schema_name is not None or my_schema is None)


def database_url_of(engine: Engine) -> str | None:
    """The database URL an engine was made from by `engine_for` (a PostgreSQL schema included,
    which the engine's own URL does not carry), for another process to open the same store."""
    return _DATABASE_URLS.get(engine)


def projection_url(database_url: str) -> tuple[URL, str | None]:
    """The SQLAlchemy URL for the read side, and the PostgreSQL schema named in it (if any)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url, None
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite:///FILE or postgresql://…")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = url.query.get("schema")
    if isinstance(schema, tuple):
        schema = schema[-1]
    return url.difference_update_query(["schema"]), (schema or None)


BUSY_TIMEOUT_MS = 30_000


def _sqlite_engine(url: URL, attach: str | None = None) -> Engine:
    # uri: the attached ledger is named by a URI (read-only); the store's own path is not one
    engine = create_engine(url, connect_args={"timeout": 30, **({"uri": True} if attach else {})})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _into_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        # Freed pages are left as they are, not overwritten with zeros (some builds, Debian's
        # among them, turn secure_delete on): the read side's rows are all derived from the log,
        # which keeps every event, so zeroing them guards nothing, and it held a rebuild's reset
        # under the write lock many times longer (docs/performance.md).
        cursor.execute("PRAGMA secure_delete=OFF")
        if attach:
            cursor.execute(f"ATTACH DATABASE ? AS {LEDGER_SCHEMA}", (attach,))
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not options.get("for_write"):
            conn.exec_driver_sql("BEGIN")
        elif options.get("no_wait"):  # `try_writing`: the write lock now, or "database is locked"
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _into_wal(cursor: Any) -> None:
    """WAL mode (kept by the file once set). Switching a fresh file's mode answers "database is
    locked" at once, without waiting, while another connection is switching it: processes or
    threads opening a new store together try again for a few seconds."""
    for attempt in range(WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


WAL_ATTEMPTS = 100


def side_engine_for(engine: Engine, connections: int) -> Engine | None:
    """A second engine on `engine`'s PostgreSQL database (its schema too) with a pool of its own,
    `connections` at most, a checkout waiting for none: the connections a read takes beside its
    own (`accel.side_reads`), never from the pool its own came from, so reads holding one and
    waiting for another cannot wait on each other. None on SQLite, or for an engine not made here."""
    database_url = database_url_of(engine)
    if database_url is None or is_sqlite(engine):
        return None
    url, schema = projection_url(database_url)
    return _postgres_engine(url, schema, connections, under_load=False, timeout=0.0)


def _postgres_engine(
    url: URL, schema: str | None, pool_size: int = 4, under_load: bool = True, timeout: float = 10
) -> Engine:
    # Positional parameters (%s), as SQLite's (?): a statement's values can then be given as
    # one tuple per row on both (see `compiled`), with no dict made per row. At most twice
    # `pool_size` connections (`Settings.pg_pool`: its size and as many again under load), each
    # kept once opened: an overflow connection (`max_overflow`) is closed as soon as it is handed
    # back, so a load just above the pool's size opened a server process for ~15% of its reads
    # (430 sessions in 2,908 KPI reads, docs/performance.md). A read beyond them waits for one
    # (up to `pool_timeout`, then 503 with Retry-After: api/errors.py). Each is checked before use
    # (pre-ping: a connection the server ended, a restart or pg_terminate_backend, is replaced
    # rather than handed to a read).
    engine = create_engine(
        url,
        pool_pre_ping=True,
        paramstyle="format",
        pool_size=2 * pool_size if under_load else pool_size,  # as many again under load, or `pool_size` alone
        max_overflow=0,
        pool_timeout=timeout,
    )
    if schema:

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            quoted = '"' + schema.replace('"', '""') + '"'
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET search_path TO {quoted}")
            dbapi_connection.commit()

    return engine


def same_sqlite_file(engine: Engine, database_url: str) -> bool:
    """Is `engine` a SQLite store in the very file `database_url` names (its statements can read
    that database's tables: the ledger's, when the read side shares the ledger's file)?"""
    return is_sqlite(engine) and _same_file(engine.url.render_as_string(hide_password=False), database_url)


def _same_file(one_url: str | URL, other_url: str) -> bool:
    """Do two SQLite database URLs name the same file?"""
    one, other = make_url(one_url), make_url(other_url)
    if one.get_backend_name() != "sqlite" or other.get_backend_name() != "sqlite":
        return False
    mine, theirs = one.database, other.database
    if not mine or not theirs or ":memory:" in (mine, theirs):
        return False
    return os.path.realpath(mine) == os.path.realpath(theirs)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction (SQLite: BEGIN IMMEDIATE); committed on success, rolled back on error.

    PostgreSQL plans its statements for their actual parameters (`force_custom_plan`, as the wide
    reads do): a fold repeats the same statements batch after batch while its tables grow from
    empty (a rebuild truncates them first), so a generic plan psycopg's prepared statement settled
    on early stays a sequential scan. At 10M events the sales fold's lookup of 62 customers by key
    took 15-20 s a batch that way (a rebuild that had not ended after 25 minutes); planned each
    time, it is the primary key's index scan, ~1 ms.

    PostgreSQL compiles none of them (`jit = off`): a fold in SQL over a stretch of the log
    (`accel.in_store`) is estimated costly enough to be compiled, and compiling it took 0.1-0.3 s
    of a statement of ~0.5 s; the others are short."""
    with engine.connect().execution_options(for_write=True) as conn, conn.begin():
        if not is_sqlite(engine):
            conn.exec_driver_sql(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)"
            )
        yield conn


@contextmanager
def try_writing(engine: Engine) -> Iterator[Connection | None]:
    """`writing`, or None at once (no transaction) where another connection holds SQLite's one
    write lock: for a writer with other work to do meanwhile. PostgreSQL: always `writing`."""
    if not is_sqlite(engine):
        with writing(engine) as conn:
            yield conn
        return
    with engine.connect().execution_options(for_write=True, no_wait=True) as conn:
        try:
            transaction = conn.begin()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            transaction = None
        if transaction is None:
            yield None
            return
        with transaction:
            yield conn


# The read transaction `held_reading` holds, by engine, for the `reading`s inside it.
_HELD: ContextVar[dict[Engine, Connection] | None] = ContextVar("held_reading", default=None)


class ReadInterrupted(Exception):
    """A long read held on one connection (`held_reading`) lost it mid-way: nothing was written,
    the whole read can be run again."""


@contextmanager
def held_reading(engine: Engine) -> Iterator[None]:
    """Within it, every `reading(engine)` of this thread is one read transaction, held to the end:
    a quarter's payouts or replay read thousands of times, each of which checked a connection out
    of the pool and began and ended a transaction (a third of a 5,000-rep quarter's payouts on
    PostgreSQL: docs/performance.md), and all of them now read one snapshot. What per-read
    checkouts gave up for it: a connection the server ends mid-way was replaced at the next read;
    now the whole read fails, as `ReadInterrupted` (the API answers 503, the CLI says to run it again)."""
    held = _HELD.get() or {}
    if engine in held:  # already held: the outer one reads
        yield
        return
    with reading(engine) as conn:
        token = _HELD.set({**held, engine: conn})
        try:
            yield
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            raise ReadInterrupted(
                "the connection to the database was lost in the middle of a long read (a restart, a "
                f"failover, a terminated backend); nothing was written: run it again ({error.orig})"
            ) from error
        finally:
            _HELD.reset(token)


@contextmanager
def reading(engine: Engine, custom_plans: bool = False) -> Iterator[Connection]:
    """One read transaction over a single snapshot (PostgreSQL: REPEATABLE READ); within
    `held_reading(engine)`, the transaction it holds (as it was begun: `custom_plans` is a
    transaction's setting).

    `custom_plans`: PostgreSQL plans this transaction's statements for their actual parameters
    every time. psycopg prepares a statement on its fifth execution, and from then on the server
    may reuse a generic plan, made without the parameters' values: for a team's or the company's
    reads (a list of reps, a wide time range) it estimated a handful of rows and chose nested
    loops over thousands (a team's KPIs 147 ms against 12.6 ms planned each time, at a million
    events). A rep's reads keep the cached plan, which suits their one-rep shape."""
    held = _HELD.get()
    if held is not None and engine in held:
        yield held[engine]
        return
    options: dict[str, Any] = {}
    if not is_sqlite(engine):
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn, conn.begin():
        if custom_plans and not is_sqlite(engine):
            conn.exec_driver_sql(WIDE_READ_SETTINGS)
        yield conn


# A wide read's planner settings (PostgreSQL), for this transaction alone: plans made for its
# values (see `reading`); an index page costed nearer the cached page it is (random_page_cost 2
# rather than 4, a disk's seek: at ten million events the planner scanned a quarter's 100k deal
# facts, 24–39 ms, rather than the 2.5k of them the `deal_facts_apart` partial index holds,
# 2 ms; at 1.1 it read the 37k open deals by index order rather than by bitmap, 29 ms against
# 17); no JIT (it compiled for 17 ms to run a 70 ms statement).
WIDE_READ_SETTINGS = (
    "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL random_page_cost = 2; SET LOCAL jit = off"
)


def one_schema_change_at_a_time(conn: Connection) -> None:
    """PostgreSQL: processes (or threads) creating tables together on a fresh database race on
    the catalogue (duplicate key in pg_type); this lock, held to the end of the transaction,
    makes them take turns. SQLite's BEGIN IMMEDIATE (`writing`) already does."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")


SCHEMA_LOCK = 727275  # the advisory lock of schema changes (PostgreSQL)


def one_build_of_this_index_at_a_time(conn: Connection, index_name: str) -> None:
    """PostgreSQL: `one_schema_change_at_a_time` for the build of one index: processes building
    the same index take turns (the second then finds it made), processes building different
    ones do not wait for each other (the schema lock shared), and a whole schema change
    (`ensure_schema`, which holds the lock alone) waits for both. A split rebuild's caller had
    waited ~3 s of a million-event rebuild for the worker's activity indexes before building
    its own (docs/performance.md)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT pg_advisory_xact_lock_shared({SCHEMA_LOCK}), pg_advisory_xact_lock({SCHEMA_LOCK}, hashtext(%s))",
            (index_name,),
        )


# ---------------------------------------------------------------- driver SQL of Core statements


_COMPILED: dict[tuple, tuple[str, Callable[[dict], tuple], tuple[str, ...]]] = {}


def compiled(
    conn: Connection, statement: Any, cache_key: tuple
) -> tuple[str, Callable[[dict], tuple], tuple[str, ...]]:
    """The driver SQL of a Core statement, compiled once per `cache_key` (dialect name first, the
    statement's column keys last); the function that turns a dict of parameters into the tuple
    the driver wants; and the parameters' names in that order. Both engines take positional
    parameters (SQLite's `?`, psycopg's `%s`: see `_postgres_engine`)."""
    if cache_key not in _COMPILED:
        done = statement.compile(dialect=conn.dialect, column_keys=list(cache_key[-1]))
        order = tuple(done.positiontup or ())
        _COMPILED[cache_key] = (str(done), _picker(order), order)
    return _COMPILED[cache_key]


def _picker(order: tuple[str, ...]) -> Callable[[dict], tuple]:
    if len(order) > 1:
        return itemgetter(*order)
    return lambda row: tuple(row[key] for key in order)  # itemgetter of one key gives a value, not a tuple


def prepared(conn: Connection, statement: Select, name: tuple[str, ...], params: dict[str, Any]) -> Any:
    """`conn.execute(statement, params)` for a statement built once and named by `name`, compiled
    once per dialect and run as driver SQL with positional parameters (`compiled`). A Core
    execution spends several times longer in SQLAlchemy (cache key, bind and result processing)
    than the indexed SQLite query behind a rep's figure takes; driver SQL skips most of it. So: no column of the
    statement may need a bind or result processor (the caller reads
    PostgreSQL's NUMERIC sums itself), every parameter must be named by the caller (constants
    are written into the SQL, as facts.ZERO and facts.ONE), and none may be expanding (an IN list)."""
    sql, pick, _ = compiled(conn, statement, (conn.dialect.name, "read", *name, ()))
    return conn.exec_driver_sql(sql, pick(params))
