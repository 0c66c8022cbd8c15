"""Shared fixtures: every store-backed test runs on SQLite, and on PostgreSQL when its URL is set.

PERFLEDGER_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) turns the
PostgreSQL half on; each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from ledger.config import Settings
from ledger.store import Ledger
from projections.accel.registry import SWITCH

POSTGRES_URL = os.environ.get("PERFLEDGER_TEST_POSTGRES_URL")
# The suite's assertions on texts are written in English; the tests of zh-CN ask for it (an
# Accept-Language header, --locale, Settings(locale="zh-CN")). Child processes inherit it.
os.environ.setdefault("PERFLEDGER_LOCALE", "en")
# The suite's stories are dated 2026 and told by rep and manager tokens long after: no backdating
# window, except where a test sets one (tests/test_write_authority.py). Child processes inherit it.
os.environ.setdefault("PERFLEDGER_BACKDATING", "off")
BACKENDS = ["sqlite", "postgres"]


def _admin_execute(sql: str) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(sql)


def make_store_url(backend: str, tmp_path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need PERFLEDGER_TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        _admin_execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> Iterator[str]:
    yield from make_store_url(request.param, tmp_path)


@pytest.fixture
def settings(store_url) -> Settings:
    return Settings(database_url=store_url, tz_name="UTC", currency="CNY")


@pytest.fixture
def ledger(settings) -> Iterator[Ledger]:
    store = Ledger(settings)
    yield store
    store.close()


@pytest.fixture
def api(settings) -> Iterator[Any]:
    """The app in a test client, with the small department of api_client recorded and a token per role."""
    from api_client import running

    with running(settings) as api:
        yield api


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    """A SQLite store of the test's own with the default settings, as a command-line user has."""
    return Settings(database_url=f"sqlite:///{tmp_path}/l.db")


@pytest.fixture
def sqlite_ledger(sqlite_settings) -> Iterator[Ledger]:
    store = Ledger(sqlite_settings)
    yield store
    store.close()


@pytest.fixture
def cli(sqlite_settings) -> Callable[..., Any]:
    """`perfledger …` in-process on sqlite_settings' store: cli("kpi", "--scope", …) -> the runner's
    result; `answer` is what the user types at a prompt."""
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    env = {"PERFLEDGER_DATABASE_URL": sqlite_settings.database_url, "COLUMNS": "200"}

    def invoke(*args: str, answer: str | None = None) -> Any:
        return runner.invoke(app, list(args), env=env, input=answer)

    return invoke


@pytest.fixture
def edged_store(tmp_path) -> Iterator[Callable[..., Any]]:
    """make(events, edges, url=None) -> a store of the generated `events` with `edges` (what the
    generator never writes) recorded among them (projection_fixtures.store_with_edges): a SQLite
    file of the test's own, or `url` (a `store_url`); closed after the test."""
    from projection_fixtures import close_store, store_with_edges

    opened = []

    def make(events: Iterable[dict[str, Any]], edges: list[dict[str, Any]], url: str | None = None) -> Any:
        opened.append(store_with_edges(url or f"sqlite:///{tmp_path}/l.db", list(events), edges))
        return opened[-1]

    yield make
    for store in opened:
        close_store(store)


@pytest.fixture(params=["accelerated", "plain"])
def accel(request, monkeypatch) -> bool:
    """The test runs twice: with the projections' accelerators on, then off (PERFLEDGER_ACCEL=0,
    the plain path: handlers only, each batch written before the next, a rebuild in one process)."""
    on = request.param == "accelerated"
    monkeypatch.setenv(SWITCH, "1" if on else "0")
    return on


@pytest.fixture
def accelerated(monkeypatch) -> None:
    """The projections' accelerators on, whatever the environment says: a test of an accelerator."""
    monkeypatch.setenv(SWITCH, "1")
