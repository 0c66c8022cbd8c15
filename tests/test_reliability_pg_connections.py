"""The primary's connections killed mid-load: `perfledger serve --workers 2` on PostgreSQL (its
projection worker following the log), writers and readers running against it over HTTP, while
every server connection of its processes is terminated, three times
(`pg_terminate_backend`, as a crash of the server's backends or a failover does to them).

What must hold afterwards: every batch acknowledged (201) is in the log; no answer was a 5xx other
than 503 with Retry-After (a writer retries a 503 with the same event ids: the ledger answers a
repeat from the log); the log is gap-free; the projections equal a rebuild.

Two ways to lose them:
- only the connections of this test's server are terminated (their application_name, set through
  PGAPPNAME), never the whole database's: the CI database is shared with other suites;
- PostgreSQL itself restarted, twice (`pg_ctl restart -m immediate`, a crash and its recovery,
  then `-m fast`): on a cluster of the test's own (initdb into a temporary folder, on a free port),
  so that the restart stops nothing but this test's server.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
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

from ledger.config import Settings
from ledger.store import Ledger
from projections.db import engine_for

pytestmark = pytest.mark.processes

WRITERS, READERS, KILLS = 3, 2, 3
API_WORKERS = 2
# At most per process: the read pool 2 × 4, the ledger's 2 × 2, the key store's 3, the side reads' 2;
# and each API worker's store probe (docs/architecture.md, "Connections"): 18 × N + 15 with the
# projection worker (which opens no side read).
CONNECTIONS_AT_MOST = 18 * API_WORKERS + 15
PROBE_SQL = "SELECT (SELECT position FROM %"  # how the store probe's query begins (api/probe.py)


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


def run_load_through(settings: Settings, tmp_path: Path, app_name: str, disrupt: Callable[[], int]) -> None:
    """Serve the store with `serve --workers 2`, writers and readers running, `disrupt` it KILLS
    times (each must end some connection of the server), then check what must hold."""
    seed_hot_deals(settings, 0, "0")  # the department R-1 belongs to
    token = admin_token(settings)
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

    with children() as started:
        port = free_port()
        args = [PERFLEDGER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(API_WORKERS)]
        server = Child([*args, "--no-access-log"], {**child_env(settings), "PGAPPNAME": app_name}, tmp_path / "s.log")
        started.append(server)
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(server, url)
        threads = [threading.Thread(target=write, args=(url, w)) for w in range(WRITERS)]
        threads += [threading.Thread(target=read, args=(url,)) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        killed, counted = [], []
        try:
            for _ in range(KILLS):
                time.sleep(2.0)
                counted.append(connections_by_kind(settings.database_url, app_name))
                killed.append(disrupt())
            time.sleep(2.0)  # and the load goes on after the last disruption
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert all(k > 0 for k in killed), killed  # each time, the server had connections to end
        assert all(total <= CONNECTIONS_AT_MOST for total, _ in counted), counted
        # a store probe's connection per API process, not per request (and none while the
        # process has had no request since its connection was ended)
        assert all(probes <= API_WORKERS for _, probes in counted) and any(p for _, p in counted), counted
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
    assert sum(1 for m, s, _ in statuses if m == "POST" and s == 201) > KILLS  # writes went on between them
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


def connections_by_kind(database_url: str, app_name: str) -> tuple[int, int]:
    """How many connections the server under test holds, and how many of them are store probes'."""
    admin = database_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE query LIKE %s) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            (PROBE_SQL, app_name),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def server_connections(url: str, app_name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            (app_name,),
        ).fetchall()
    return [pid for (pid,) in rows]


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_killing_every_server_connection_mid_load_loses_no_acknowledged_batch_and_answers_only_503s(settings, tmp_path):
    app_name = f"perfledger-kill-{uuid.uuid4().hex[:8]}"
    admin = settings.database_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")

    def terminate_server_connections() -> int:
        with psycopg.connect(admin, autocommit=True) as conn:
            return len(
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
                    (app_name,),
                ).fetchall()
            )

    run_load_through(settings, tmp_path, app_name, terminate_server_connections)


# ---------------------------------------------------------------- a cluster of the test's own


def _postgres_bin() -> Path | None:
    """The server's programs (initdb, pg_ctl): Debian keeps them off PATH, in /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@pytest.fixture
def own_cluster() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL cluster initialised for this test on a free port: its URL, and a way to restart it
    (`pg_ctl restart -m MODE`). PostgreSQL refuses to run as root: as root, it runs as `postgres`."""
    if not os.environ.get("PERFLEDGER_TEST_POSTGRES_URL"):
        pytest.skip("PostgreSQL tests need PERFLEDGER_TEST_POSTGRES_URL")
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl) on this machine")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="perfledger-own-pg-", dir="/tmp"))
    if as_user:
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"

    def pg_ctl(*args: str) -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(home / "server.log"), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pg_ctl("-o", options, "-w", "start")
    try:
        yield (
            f"postgresql://postgres@127.0.0.1:{port}/postgres",
            lambda mode: pg_ctl("-o", options, "-m", mode, "-w", "restart"),
        )
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(home, ignore_errors=True)


def test_restarting_postgresql_mid_load_loses_no_acknowledged_batch_and_answers_only_503s(own_cluster, tmp_path):
    url, restart = own_cluster
    settings = Settings(database_url=url, tz_name="UTC", currency="CNY")
    app_name = f"perfledger-restart-{uuid.uuid4().hex[:8]}"
    modes = iter(["immediate", "fast", "immediate"])  # a crash and its recovery, a clean restart, a crash

    def started_at() -> Any:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()

    def restart_postgresql() -> int:
        connected, before = len(server_connections(url, app_name)), started_at()
        restart(next(modes))
        assert started_at() != before  # the server really went down and came back
        return connected

    run_load_through(settings, tmp_path, app_name, restart_postgresql)
