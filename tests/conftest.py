"""Shared fixtures: every store-backed test runs on SQLite, and on PostgreSQL when its URL is set.

PERFLEDGER_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) turns the
PostgreSQL half on; each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
