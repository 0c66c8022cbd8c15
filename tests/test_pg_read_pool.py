"""The read side's PostgreSQL pool keeps every connection it opens.

With `max_overflow`, SQLAlchemy closes an overflow connection as soon as it is handed back to a
pool whose kept connections are all idle: a server under a load that rises above the pool's size
and falls back opened a new server process (a fork, authentication, cold caches) for ~15% of
its reads (docs/performance.md). The pool now keeps its whole ceiling (`read` × 2,
`Settings.pg_pool`) once opened; a read beyond it waits for one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from projection_fixtures import projected_stores
from sqlalchemy import event, text

from projections.db import is_sqlite, reading

BURSTS = 10


@pytest.fixture
def projected_store(store_url) -> Iterator[Any]:
    yield from projected_stores(store_url)


def test_bursts_of_reads_up_to_the_pools_ceiling_open_each_connection_once(projected_store):
    store = projected_store()
    if is_sqlite(store.engine):
        pytest.skip("the connection pool in question is PostgreSQL's")
    engine = store.engine
    ceiling = engine.pool.size() + max(engine.pool._max_overflow, 0)
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    everyone_holds_one = threading.Barrier(ceiling)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(BURSTS):  # a burst: every reader holds a connection at once, then all hand it back
                with reading(engine) as conn:
                    conn.execute(text("SELECT 1"))
                    everyone_holds_one.wait(timeout=30)
                everyone_holds_one.wait(timeout=30)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    readers = [threading.Thread(target=read) for _ in range(ceiling)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert not failures
    assert ceiling >= 2
    assert len(opened) == ceiling  # not `ceiling` plus the overflow's again at every burst
