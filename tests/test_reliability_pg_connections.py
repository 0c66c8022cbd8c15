"""The primary's connections killed mid-load: `perfledger serve --workers 2` on PostgreSQL (its
projection worker following the log), writers and readers running against it over HTTP, while
every server connection of its processes is terminated, three times
(`pg_terminate_backend`, as a crash of the server's backends or a failover does to them).

What must hold afterwards: every batch acknowledged (201) is in the log; no answer was a 5xx other
than 503 with Retry-After (a writer retries a 503 with the same event ids: the ledger answers a
repeat from the log); the log is gap-free; the projections equal a rebuild.

Only the connections of this test's server are terminated (their application_name, set through
PGAPPNAME), never the whole database's: the CI database is shared with other suites. A real
restart of the cluster (`pg_ctlcluster 15 main restart`) ends every connection the same way,
and is too disruptive to run on that shared database.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from typing import Any

import orjson
import psycopg
import pytest
from reliability.harness import (
    PERFLEDGER,
    Child,
    admin_token,
    assert_gap_free_and_ordered,
    assert_projections_equal_a_rebuild,
    child_env,
    children,
    free_port,
    seed_hot_deals,
    wait_until_healthy,
    whole_log,
)

from ledger.store import Ledger
from projections.db import engine_for

pytestmark = pytest.mark.processes

WRITERS, READERS, KILLS = 3, 2, 3


def call(url: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, str]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json", "Connection": "close", "Authorization": f"Bearer {token}"}
    try:
        conn.request(method, path, body=None if body is None else orjson.dumps(body), headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def batch(writer: int, n: int) -> dict[str, Any]:
    deal = f"D-{writer}-{n}"
    return {
        "events": [
            {
                "type": "DealOpened",
                "event_id": f"{deal}-open",
                "occurred_at": "2026-02-01T09:00:00+00:00",
                "data": {"deal_id": deal, "rep_id": "R-1", "customer_id": f"C-{writer}-{n}"},
            },
            {
                "type": "DealWon",
                "event_id": f"{deal}-won",
                "occurred_at": "2026-02-20T09:00:00+00:00",
                "data": {"deal_id": deal, "amount": "100.00"},
            },
        ]
    }


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_killing_every_server_connection_mid_load_loses_no_acknowledged_batch_and_answers_only_503s(settings, tmp_path):
    seed_hot_deals(settings, 0, "0")  # the department R-1 belongs to
    token = admin_token(settings)
    app_name = f"perfledger-kill-{uuid.uuid4().hex[:8]}"
    statuses: list[tuple[str, int, dict[str, str]]] = []
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def write(url: str, writer: int) -> None:
        n = 0
        while not stop.is_set():
            body = batch(writer, n)
            for _ in range(50):  # a 503 says retry: the same batch, the same event ids
                status, headers = call(url, "POST", "/events", token, body)
                with lock:
                    statuses.append(("POST", status, headers))
                if status != 503:
                    break
                time.sleep(float(headers.get("retry-after", "1")) / 10)
            if status == 201:
                with lock:
                    acknowledged.update(e["event_id"] for e in body["events"])
            n += 1

    def read(url: str) -> None:
        while not stop.is_set():
            status, headers = call(url, "GET", "/kpis?scope=company&period=2026-Q1", token)
            with lock:
                statuses.append(("GET", status, headers))

    def terminate_server_connections() -> int:
        admin = settings.database_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            return len(
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
                    (app_name,),
                ).fetchall()
            )

    with children() as started:
        port = free_port()
        args = [PERFLEDGER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        server = Child([*args, "--no-access-log"], {**child_env(settings), "PGAPPNAME": app_name}, tmp_path / "s.log")
        started.append(server)
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(server, url)
        threads = [threading.Thread(target=write, args=(url, w)) for w in range(WRITERS)]
        threads += [threading.Thread(target=read, args=(url,)) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        killed = []
        try:
            for _ in range(KILLS):
                time.sleep(2.0)
                killed.append(terminate_server_connections())
            time.sleep(2.0)  # and the load goes on after the last kill
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert all(k > 0 for k in killed), killed  # each time, the server had connections to end
        for _ in range(50):  # as every client: a 503 with Retry-After says retry the same batch
            after_kills = call(url, "POST", "/events", token, batch(99, 0))
            statuses.append(("POST", *after_kills))
            if after_kills[0] != 503:
                break
            time.sleep(float(after_kills[1].get("retry-after", "1")) / 10)
        assert after_kills[0] == 201, after_kills
        acknowledged.update(e["event_id"] for e in batch(99, 0)["events"])
        assert server.terminate() == 0, server.output()

    unexpected = [(m, s) for m, s, h in statuses if s >= 500 and not (s == 503 and "retry-after" in h)]
    assert unexpected == [], unexpected[:5]
    assert {s for _, s, _ in statuses} <= {200, 201, 503}
    assert sum(1 for m, s, _ in statuses if m == "POST" and s == 201) > KILLS  # writes went on between kills
    ledger = Ledger(settings)
    engine = engine_for(settings)
    try:
        log = whole_log(ledger)
        assert_gap_free_and_ordered(log)
        recorded = {r.event_id for r in log}
        assert acknowledged <= recorded, sorted(acknowledged - recorded)[:5]
        assert_projections_equal_a_rebuild(ledger, engine, tmp_path)
    finally:
        engine.dispose()
        ledger.close()
