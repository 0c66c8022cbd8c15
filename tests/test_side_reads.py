"""Reads beside a read (`accel.side_reads`): on PostgreSQL, a second connection in the very same
snapshot as the read's own, never waited for; everywhere else, and switched off, the read's own
connection, in order."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger.config import Settings
from projections.accel.registry import SWITCH
from projections.accel.side_reads import SIDE_CONNECTIONS, _side_of, alongside
from projections.db import engine_for, reading

COUNT = text("SELECT count(*) FROM side_probe")


@pytest.fixture
def engine(store_url) -> Iterator[Engine]:
    made = engine_for(Settings(database_url=store_url))
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE side_probe (n INTEGER)"))
        conn.execute(text("INSERT INTO side_probe VALUES (1)"))
    yield made
    made.dispose()


@pytest.fixture
def postgres(engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("reads beside a read are PostgreSQL's")
    return engine


@pytest.fixture
def sqlite(engine) -> Engine:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's case")
    return engine


def backend_pid(conn) -> int:
    return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def test_a_side_read_sees_the_snapshot_of_its_read_and_not_a_write_committed_after_it_began(postgres):
    with reading(postgres) as conn:
        assert conn.execute(COUNT).scalar() == 1  # the read's snapshot: one row
        with postgres.begin() as other:  # a write another connection commits meanwhile
            other.execute(text("INSERT INTO side_probe VALUES (2)"))
        with alongside(conn) as beside:
            counted = beside(lambda side: side.execute(COUNT).scalar())
            pid = beside(backend_pid)
            assert counted() == 1
            assert pid() != backend_pid(conn)  # on a connection of its own
    with reading(postgres) as conn:
        assert conn.execute(COUNT).scalar() == 2


def test_with_no_side_connection_free_the_read_runs_on_its_own_connection_at_once(postgres):
    with reading(postgres) as conn:
        side = _side_of(conn)
        assert side is not None
        held = [side.engine.connect() for _ in range(SIDE_CONNECTIONS)]  # every side connection taken
        try:
            started = time.perf_counter()
            with alongside(conn) as beside:
                assert beside(backend_pid)() == backend_pid(conn)
            assert time.perf_counter() - started < 1  # not waited for (a pool's timeout is 10 s)
        finally:
            for connection in held:
                connection.close()


def test_an_error_in_a_side_read_reaches_the_reader_and_leaves_its_read_whole(postgres):
    with reading(postgres) as conn:
        with alongside(conn) as beside:
            failing = beside(lambda side: side.execute(text("SELECT 1 / 0")).scalar())
            with pytest.raises(DBAPIError, match="division by zero"):
                failing()
        assert conn.execute(COUNT).scalar() == 1


def test_switched_off_a_side_read_is_the_reads_own_run_when_asked_for(postgres, monkeypatch):
    monkeypatch.setenv(SWITCH, "0")
    seen = []
    with reading(postgres) as conn, alongside(conn) as beside:
        later = beside(lambda side: seen.append(side) or backend_pid(side))
        assert seen == []  # not run yet: in order, when its result is asked for
        assert later() == backend_pid(conn) and seen == [conn]


def test_on_sqlite_a_side_read_is_the_reads_own(sqlite):
    with reading(sqlite) as conn, alongside(conn) as beside:
        seen = []
        later = beside(lambda side: seen.append(side) or side.execute(COUNT).scalar())
        assert later() == 1 and seen == [conn]


def test_disposing_the_engine_closes_its_side_connections(postgres):
    with reading(postgres) as conn, alongside(conn) as beside:
        beside(backend_pid)()
        side = _side_of(conn)
    assert side is not None and side.engine.pool.checkedin() == 1  # the one it used, kept for the next
    postgres.dispose()
    assert side.engine.pool.checkedin() == 0
