"""Helpers for the read-side tests: a real Ledger on a test store, projected with `catch_up`.

`projected_store` runs on SQLite and, when PERFLEDGER_TEST_POSTGRES_URL is set, on PostgreSQL
(through the `store_url` fixture of conftest.py: a fresh schema per test, dropped afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any
from unittest import mock

from sqlalchemy import Engine, select

from ledger.config import Settings
from ledger.store import Ledger
from projections.accel.registry import SWITCH
from projections.db import engine_for
from projections.queries.kpis import kpis
from projections.runner import catch_up, projected_tables


class Store:
    """A ledger, its projections' engine, and a log of which event_id landed at which position."""

    def __init__(self, ledger: Ledger, engine: Engine, settings: Settings):
        self.ledger = ledger
        self.engine = engine
        self.settings = settings
        self.positions: dict[str, int] = {}

    def record(self, *envelopes: dict[str, Any]) -> datetime:
        """Record one batch; return its knowledge time (recorded_at of its last event)."""
        recorded = self.ledger.record(list(envelopes), "tester")
        for envelope, position in zip(envelopes, recorded.positions, strict=True):
            if "event_id" in envelope:
                self.positions[envelope["event_id"]] = position
        return self.recorded_at(recorded.positions[-1])

    def recorded_at(self, position: int) -> datetime:
        (record,) = self.ledger.read_log(position - 1, 1)
        return record.recorded_at_time

    def project(self, **options: Any) -> int:
        return catch_up(self.ledger, self.engine, **options)

    def kpis(self, scope: str, period: str, **cutoffs: Any) -> dict[str, Any]:
        return kpis(self.engine, self.settings, scope, period, **cutoffs)

    def at(self, *event_ids: str) -> list[int]:
        return sorted(self.positions[e] for e in event_ids)


class FixedClock:
    """A clock that stands still until a test moves it: "now" for the ledger's recordings and
    every default cut-off (`Settings.clock`)."""

    def __init__(self, moment: str | datetime):
        self.moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: str) -> None:
        self.moment = datetime.fromisoformat(moment)


def open_store(url: str, tz_name: str = "Asia/Shanghai", clock: Callable[[], datetime] | None = None) -> Store:
    settings = Settings(database_url=url, tz_name=tz_name, currency="CNY")
    if clock is not None:
        settings = replace(settings, clock=clock)
    return Store(Ledger(settings), engine_for(settings), settings)


def store_with_edges(url: str, events: list[dict[str, Any]], edges: list[dict[str, Any]], at: int = 2000) -> Store:
    """A store holding generated `events`, with `edges` (what the generator never writes)
    recorded after the first `at` of them, in batches of 500."""
    opened = open_store(url)
    for start in range(0, at, 500):
        opened.record(*events[start : min(start + 500, at)])
    opened.record(*edges)
    opened.record(*events[at:])
    return opened


def close_store(store: Store) -> None:
    store.ledger.close()
    store.engine.dispose()


def projected_stores(store_url: str) -> Iterator[Callable[..., Store]]:
    """The body of a `projected_store` fixture: a factory, `projected_store(tz_name)`, opening
    stores on this test's database (conftest's `store_url`: SQLite, and PostgreSQL when set up).

        @pytest.fixture
        def projected_store(store_url):
            yield from projected_stores(store_url)
    """
    opened: list[Store] = []

    def make(tz_name: str = "Asia/Shanghai", clock: Callable[[], datetime] | None = None) -> Store:
        opened.append(open_store(store_url, tz_name, clock))
        return opened[-1]

    yield make
    for store in opened:
        close_store(store)


def table_contents(engine: Engine) -> dict[str, list[tuple]]:
    """Every projected table as a sorted list of rows, for comparing two projections."""
    contents = {}
    with engine.connect() as conn:
        for table in projected_tables():
            rows = conn.execute(select(table)).all()
            contents[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return contents


@contextmanager
def accelerators(on: bool) -> Iterator[None]:
    """The projections' accelerators on, or off (the plain path), for the block (PERFLEDGER_ACCEL)."""
    with mock.patch.dict(os.environ, {SWITCH: "1" if on else "0"}):
        yield
