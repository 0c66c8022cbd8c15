"""Real processes for the reliability tests: `perfledger serve`, `perfledger project --follow`,
writer scripts; and the checks every test ends with (the log, the chain, the projections).

Every process listens on 127.0.0.1 only, writes its output to a file in the test's tmp_path
(shown when a test fails), and is stopped by its own pid.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
from projection_fixtures import accelerators
from sqlalchemy import Engine

from api.auth import create_token, ensure_tables
from ledger.config import Settings
from ledger.decoding import LogRecord
from ledger.store import Ledger
from projections.db import engine_for
from projections.queries.cutoffs import now_micros
from projections.runner import catch_up
from replay.audit import compare_rows, scratch_store

HERE = Path(__file__).resolve().parent
PERFLEDGER = str(Path(sys.executable).with_name("perfledger"))
PYTHON = sys.executable


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PERFLEDGER_DATABASE_URL": settings.database_url,
        "PERFLEDGER_TZ": settings.tz_name,
        "PERFLEDGER_CURRENCY": settings.currency,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PERFLEDGER_PROJECTIONS", None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Child:
    """A child process with its output in a file, in a process group of its own (a server's
    worker processes with it), stopped by its own pid and group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.args, self.log_path = args, log
        self.log = log.open("ab")
        self.popen = subprocess.Popen(
            args, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{' '.join(self.args[:4])} did not finish in {timeout} s; output:\n{self.output()}"
            ) from None

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL to the child and to whatever it started (its process group)."""
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        self.kill()
        self.log.close()


@contextmanager
def children() -> Iterator[list[Child]]:
    """Every child started into the list is killed on the way out, whatever happened."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in started:
            child.close()


# ---------------------------------------------------------------- the server and the worker


def start_server(
    settings: Settings, tmp_path: Path, *, workers: int = 1, projections: str | None = "in-request", name: str = "serve"
) -> tuple[Child, str]:
    """`perfledger serve` on a free loopback port (projections None: the command's default)."""
    port = free_port()
    args = [
        PERFLEDGER,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    if projections is not None:
        args += ["--projections", projections]
    server = Child(args, child_env(settings), tmp_path / f"{name}-{port}.log")
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(server, url)
    return server, url


def wait_until_healthy(server: Child, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise AssertionError(f"the server exited with {server.popen.returncode}:\n{server.output()}")
        try:
            if get_json(url, "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer /health in {timeout} s:\n{server.output()}")


def worker_pids(server: Child) -> list[int]:
    """The API worker processes of a `perfledger serve --workers N` (its multiprocessing children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server.pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def start_projection_worker(settings: Settings, tmp_path: Path, name: str = "project") -> Child:
    args = [PERFLEDGER, "project", "--follow", "--poll", "0.5"]
    return Child(args, child_env(settings), tmp_path / f"{name}.log")


def admin_token(settings: Settings) -> str:
    engine = engine_for(settings)
    try:
        ensure_tables(engine)
        return create_token(engine, "admin")[0]
    finally:
        engine.dispose()


def get_json(url: str, path: str, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    return request_json(url, "GET", path, None, token, timeout)


def post_json(url: str, path: str, body: Any, token: str, timeout: float = 30) -> tuple[int, Any]:
    return request_json(url, "POST", path, body, token, timeout)


def request_json(url: str, method: str, path: str, body: Any, token: str | None, timeout: float) -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Content-Type": "application/json", "Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else orjson.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, orjson.loads(response.read() or b"null")
    finally:
        conn.close()


# ---------------------------------------------------------------- writers


def run_writers(settings: Settings, tmp_path: Path, *, timeout: float = 150, **options: Any) -> list[dict[str, Any]]:
    """Writer processes at once (see `start_writers`); every attempt's outcome once all are done."""
    with children() as started:
        outs = start_writers(settings, tmp_path, started, **options)
        wait_for_writers(started, timeout)
    return read_results(outs)


def start_writers(
    settings: Settings,
    tmp_path: Path,
    started: list[Child],
    *,
    via: str,
    writers: int,
    count: int,
    deals: int = 1,
    url: str = "",
    token: str = "",
    repeat: int = 1,
    give_up: float = 0.0,
    seed: int = 1,
    kind: str = "refunds",
) -> list[Path]:
    """`writers` processes of tests/reliability/writer.py, appended to `started`; their result files."""
    outs = [tmp_path / f"writer-{via}-{kind}-{n}.jsonl" for n in range(writers)]
    for n, out in enumerate(outs):
        args = [
            PYTHON,
            str(HERE / "writer.py"),
            "--via",
            via,
            "--url",
            url,
            f"--token={token}",
            "--writer",
            str(n),
            "--count",
            str(count),
            "--deals",
            str(deals),
            "--seed",
            str(seed),
            "--repeat",
            str(repeat),
            "--give-up",
            str(give_up),
            "--kind",
            kind,
            "--out",
            str(out),
        ]  # --token=: a token may start with "-"
        started.append(Child(args, child_env(settings), tmp_path / f"writer-{via}-{kind}-{n}.log"))
    return outs


def wait_for_writers(writers: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for child in writers:
        code = child.wait(max(1.0, deadline - time.monotonic()))
        assert code == 0, f"writer exited with {code}:\n{child.output()}"


def read_results(outs: list[Path]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for out in outs for line in out.read_bytes().splitlines()]


def outcomes(results: Iterable[dict[str, Any]]) -> Counter[str]:
    return Counter(r["outcome"] for r in results)


# ---------------------------------------------------------------- seeding and checking


def seed_hot_deals(settings: Settings, deals: int, won: str) -> int:
    """R-1 wins `deals` deals D-0… at `won` each, in one batch; returns the head position."""
    ledger = Ledger(settings)
    try:
        events = [
            {
                "type": "RepOnboarded",
                "occurred_at": "2026-01-01T09:00:00+00:00",
                "data": {"rep_id": "R-1", "name": "Rep R-1", "team_id": "T-1", "region": "East"},
            }
        ]
        for n in range(deals):
            events.append(
                {
                    "type": "DealOpened",
                    "occurred_at": "2026-01-10T09:00:00+00:00",
                    "data": {"deal_id": f"D-{n}", "rep_id": "R-1", "customer_id": f"C-{n}"},
                }
            )
            events.append(
                {
                    "type": "DealWon",
                    "occurred_at": "2026-02-10T09:00:00+00:00",
                    "data": {"deal_id": f"D-{n}", "amount": won},
                }
            )
        return ledger.record(events, "seed").positions[-1]
    finally:
        ledger.close()


def whole_log(ledger: Ledger) -> list[LogRecord]:
    return list(ledger.iter_log())


def assert_gap_free_and_ordered(log: list[LogRecord]) -> None:
    assert [r.position for r in log] == list(range(1, len(log) + 1)), "positions have a gap or are out of order"
    times = [r.recorded_at for r in log]
    assert all(a < b for a, b in pairwise(times)), "recorded_at does not strictly increase with position"


def refunded_by_deal(log: list[LogRecord]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for r in log:
        if r.type == "DealRefunded":
            totals[r.data["deal_id"]] = totals.get(r.data["deal_id"], Decimal(0)) + Decimal(r.data["amount"])
    return totals


def assert_projections_equal_a_rebuild(ledger: Ledger, live: Engine, tmp_path: Path) -> int:
    """Catch the live projections up, rebuild the log from zero into the audit's scratch store (a
    SQLite file, or a schema of the live PostgreSQL database), and compare every projected table
    row by row; returns the position both reached."""
    reached = catch_up(ledger, live)
    assert reached == ledger.head().position
    # the scratch folded by the handlers (the plain path, the specification), whichever way the live store folds
    with scratch_store(ledger, live, ledger.settings) as scratch, accelerators(False):
        assert catch_up(ledger, scratch) == reached
        differences = compare_rows(live, scratch, now_micros(ledger.settings), True)
    assert differences == [], differences[:5]
    return reached
