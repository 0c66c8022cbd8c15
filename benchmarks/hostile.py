"""The API under honest and hostile load at once: `python -m benchmarks.hostile`.

One `perfledger serve`-like process (benchmarks/serve.py: one uvicorn worker, projections caught
up in-request) on a fresh store with a small department. For `--seconds`:

- 8 writers record batches of 20 activities each (a manager token per team, dated an hour ago);
- 8 readers ask for KPIs, the log, payouts and histories (a finance token);
- 4 hostile clients send what the limits allow at the most: a 5 MiB-ish body of 420,000
  unknown keys; batches of 150 evaluations at the 32 KiB data limit (≈4.8 MiB each) on one rep,
  whose history and log pages they read back at once; audit rebuilds back to back;
- one prober asks `/health` every 50 ms and keeps its latencies.

Measured: `/health` p50/p99/max, the server's resident memory (sampled every 100 ms: its peak and
its last), the answers by status (any 5xx is a failure), and afterwards `GET /audit/verify` (the
chain) and `GET /audit/rebuild` (the projections equal a rebuild). Written as JSON to `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEAMS = 4
REPS_PER_TEAM = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", default=None, help="a fresh store (default: a temporary SQLite file)")
    parser.add_argument("--memory-bound-mb", type=float, default=1024.0, help="the stated bound on server RSS")
    parser.add_argument("--out", default=None)
    parser.add_argument("--malloc-arena-max", default=None, help="MALLOC_ARENA_MAX for the server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/hostile.db"
        tokens = seed(url)
        server_env = {"MALLOC_ARENA_MAX": args.malloc_arena_max} if args.malloc_arena_max else {}
        result = run(url, tokens, args.seconds, server_env)
    result["server_env"] = server_env
    result["memory_bound_mb"] = args.memory_bound_mb
    result["ok"] = (
        result["server_5xx"] == 0
        and result["verify_ok"]
        and result["rebuild_ok"]
        and result["server_rss_peak_mb"] <= args.memory_bound_mb
    )
    result["health_p99_under_200ms"] = result["health_ms"]["p99"] < 200
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


# ---------------------------------------------------------------- the store


def seed(url: str) -> dict[str, Any]:
    """A department of TEAMS × REPS_PER_TEAM reps on a plan, and the tokens the clients use."""
    from api.auth import create_token, ensure_tables
    from ledger.config import Settings
    from ledger.store import Ledger
    from projections.db import engine_for

    settings = Settings(database_url=url)
    ledger = Ledger(settings)
    start = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0).isoformat()
    reps = [(f"R-{t}-{r}", f"T-{t}") for t in range(TEAMS) for r in range(REPS_PER_TEAM)]
    events: list[dict[str, Any]] = [
        {
            "type": "RepOnboarded",
            "occurred_at": start,
            "data": {"rep_id": rep, "name": f"Rep {rep}", "team_id": team, "region": "East"},
        }
        for rep, team in reps
    ]
    ledger.record(events, "cli:bench")
    ledger.close()
    engine = engine_for(settings)
    ensure_tables(engine)
    tokens = {
        "finance": create_token(engine, "finance")[0],
        "admin": create_token(engine, "admin")[0],
        "auditor": create_token(engine, "auditor")[0],
        "managers": {f"T-{t}": create_token(engine, "manager", team_id=f"T-{t}")[0] for t in range(TEAMS)},
        "reps": [rep for rep, _ in reps],
    }
    engine.dispose()
    return tokens


# ---------------------------------------------------------------- the run


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: Counter[str] = Counter()
        self.server_5xx = 0

    def count(self, who: str, status: int) -> None:
        with self.lock:
            self.by_status[f"{who} {status}"] += 1
            if status >= 500:
                self.server_5xx += 1


def run(url: str, tokens: dict[str, Any], seconds: float, server_env: dict[str, str]) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "PERFLEDGER_DATABASE_URL": url, **server_env}
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.serve", "perfledger", str(port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, server)
        tally, stop = Tally(), threading.Event()
        memory: list[float] = []
        health: list[float] = []
        threads = [threading.Thread(target=_sample_rss, args=(server.pid, memory, stop), daemon=True)]
        threads.append(threading.Thread(target=_probe_health, args=(base, health, tally, stop), daemon=True))
        for n in range(8):
            threads.append(threading.Thread(target=_writer, args=(base, tokens, n, tally, stop), daemon=True))
            threads.append(threading.Thread(target=_reader, args=(base, tokens, n, tally, stop), daemon=True))
        for hostile in (_unknown_keys, _big_evaluations, _big_reads, _audits):
            threads.append(threading.Thread(target=hostile, args=(base, tokens, tally, stop), daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(120)
        elapsed = time.monotonic() - started
        after = _afterwards(base, tokens)
        rss_last = _rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    ordered = sorted(health)
    return {
        "seconds": round(elapsed, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "health_ms": {
            "count": len(ordered),
            "p50": round(statistics.median(ordered), 1) if ordered else None,
            "p99": round(ordered[int(len(ordered) * 0.99) - 1], 1) if ordered else None,
            "max": round(ordered[-1], 1) if ordered else None,
        },
        "server_rss_peak_mb": round(max(memory, default=0.0), 1),
        "server_rss_last_mb": rss_last,
        "server_5xx": tally.server_5xx,
        "answers": dict(sorted(tally.by_status.items())),
        **after,
    }


def _afterwards(base: str, tokens: dict[str, Any]) -> dict[str, Any]:
    """The chain verifies, and the projections equal a rebuild from the log."""
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    with httpx.Client(base_url=base, headers=auditor, timeout=600) as client:
        verify = client.get("/audit/verify").json()
        for _ in range(60):  # the hostile audits may still hold the slots for a moment
            rebuild = client.get("/audit/rebuild")
            if rebuild.status_code != 429:
                break
            time.sleep(2)
        answer = rebuild.json()
        head = client.get("/audit/verify").json()["events_checked"]
    return {
        "verify_ok": bool(verify.get("ok")),
        "events_in_log": head,
        "rebuild_ok": bool(answer.get("ok")),
        "rebuild_differences": answer.get("difference_count"),
    }


# ---------------------------------------------------------------- the clients


def _client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def _writer(base: str, tokens: dict[str, Any], n: int, tally: Tally, stop: threading.Event) -> None:
    team = f"T-{n % TEAMS}"
    reps = [rep for rep in tokens["reps"] if rep.startswith(f"R-{n % TEAMS}-")]
    with _client(base, tokens["managers"][team]) as client:
        batch_no = 0
        while not stop.is_set():
            when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            events = [
                {
                    "type": "ActivityLogged",
                    "occurred_at": when,
                    "data": {
                        "activity_id": f"W{n}-{batch_no}-{i}",
                        "rep_id": reps[i % len(reps)],
                        "kind": "email",
                        "replied": i % 3 == 0,
                    },
                }
                for i in range(20)
            ]
            tally.count("write", _status(client.post, "/events", json={"events": events}))
            batch_no += 1


def _reader(base: str, tokens: dict[str, Any], n: int, tally: Tally, stop: threading.Event) -> None:
    quarter = _quarter()
    rep = tokens["reps"][n % len(tokens["reps"])]
    paths = [
        f"/kpis?scope=team:T-{n % TEAMS}&period={quarter}",
        f"/kpis?scope=rep:{rep}&period={quarter}",
        "/events?limit=100",
        f"/payouts?period={quarter}&limit=50",
        f"/reps/{rep}/history",
    ]
    with _client(base, tokens["finance"]) as client:
        i = 0
        while not stop.is_set():
            tally.count("read", _status(client.get, paths[i % len(paths)]))
            i += 1


def _unknown_keys(base: str, tokens: dict[str, Any], tally: Tally, stop: threading.Event) -> None:
    """The largest body the limit lets in: one event of ~420,000 unknown keys."""
    data = {f"k{i}": 1 for i in range(420_000)}
    envelope = {"type": "ActivityLogged", "occurred_at": datetime.now(UTC).isoformat(), "data": data}
    body = json.dumps(envelope, separators=(",", ":")).encode()  # ≈4.9 MB: under the 5 MiB limit
    with _client(base, tokens["admin"]) as client:
        while not stop.is_set():
            status = _status(client.post, "/events", content=body, headers={"Content-Type": "application/json"})
            tally.count("hostile-keys", status)


def _big_evaluations(base: str, tokens: dict[str, Any], tally: Tally, stop: threading.Event) -> None:
    """Batches of 150 evaluations at the data limit (≈4.8 MiB a request) on one rep: the largest
    histories the limits allow."""
    rep = tokens["reps"][0]
    swot = {"strengths": ["s" * 3900] * 4, "weaknesses": ["w" * 3900] * 4}  # ≈31.5 KiB of data
    with _client(base, tokens["managers"]["T-0"]) as client:
        batch_no = 0
        while not stop.is_set():
            when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
            events = [
                {
                    "type": "EvaluationRecorded",
                    "occurred_at": when,
                    "data": {
                        "evaluation_id": f"E-{batch_no}-{i}",
                        "rep_id": rep,
                        "period": _quarter(),
                        "result_score": 50,
                        "process_scores": {"discovery": 50},
                        "swot": swot,
                    },
                }
                for i in range(150)
            ]
            tally.count("hostile-evaluations", _status(client.post, "/events", json={"events": events}))
            batch_no += 1


def _big_reads(base: str, tokens: dict[str, Any], tally: Tally, stop: threading.Event) -> None:
    rep = tokens["reps"][0]
    with _client(base, tokens["finance"]) as client:
        i = 0
        while not stop.is_set():
            path = f"/reps/{rep}/history" if i % 2 else "/events?limit=1000&type=EvaluationRecorded"
            tally.count("hostile-reads", _status(client.get, path))
            i += 1


def _audits(base: str, tokens: dict[str, Any], tally: Tally, stop: threading.Event) -> None:
    """Audit rebuilds back to back (each a scratch rebuild of the whole log, compared)."""
    with _client(base, tokens["auditor"]) as client:
        while not stop.is_set():
            status = _status(client.get, "/audit/rebuild")
            tally.count("hostile-audits", status)
            if status == 429:
                time.sleep(0.2)


def _probe_health(base: str, latencies: list[float], tally: Tally, stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            status = _status(client.get, "/health")
            latencies.append((time.perf_counter() - started) * 1000)
            tally.count("health", status)
            time.sleep(0.05)


# ---------------------------------------------------------------- helpers


def _status(call: Any, path: str, **kwargs: Any) -> int:
    try:
        return call(path, **kwargs).status_code
    except httpx.TimeoutException:
        return 599  # counted as a failure: the server did not answer in time
    except httpx.TransportError:
        return 598


def _quarter() -> str:
    now = datetime.now(UTC)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _sample_rss(pid: int, samples: list[float], stop: threading.Event) -> None:
    while not stop.is_set():
        samples.append(_rss_mb(pid))
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/health", timeout=2)
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


if __name__ == "__main__":
    main()
