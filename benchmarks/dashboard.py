"""The dashboard in the browser: bytes, time to the first chart, to the whole overview, and a
period switch, for a 20-rep team and a 500-rep company, measured in headless Chromium.

    .venv/bin/python -m benchmarks.dashboard build --workdir /tmp/dash-1m [--events 1000000]
    .venv/bin/python -m benchmarks.dashboard measure --workdir /tmp/dash-1m [--rounds 5]

`build` generates the demo department (1,000,000 events: ~505 reps in 5 regions; the generator
sizes the org from the count, ~2,000 events per rep a year), records it through `Ledger.record`
and projects it; then makes an admin token (written to WORKDIR/token). `measure` starts
`perfledger`'s app with uvicorn on the store, opens the page in Debian's Chromium (Playwright)
with a cold cache, signs in through the form, and reads the page's own marks:

  first chart  navigation start → the first sparkline's <svg> in the team table
  overview     navigation start → the overview's data-state="ready" (KPI cards, the team table
               with every sparkline, the region quadrants)
  switch       a period preset clicked → the overview ready again (warm cache, same tab)

for `team:<the largest team>` (about 20 reps) and `company` (every rep, the table's first 100
rows, the page's page size), plus the bytes the page downloaded (raw and as sent, gzip).
Figures in docs/performance.md ("The dashboard in the browser").
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GENERATED_UNTIL = datetime(2026, 11, 30, 12, tzinfo=UTC)  # as benchmarks/run.py
CHROMIUM = os.environ.get("PERFLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def build(workdir: Path, events: int) -> None:
    from api.auth import create_token, ensure_tables
    from demo.generator import generate
    from ledger.config import Settings
    from ledger.store import Ledger
    from projections.db import engine_for
    from projections.runner import catch_up

    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir}/store.db"
    settings = Settings(database_url=url, tz_name="Asia/Shanghai", currency="CNY")
    ledger = Ledger(settings)
    engine = engine_for(settings)
    started = time.perf_counter()
    stream = generate(events, now=GENERATED_UNTIL)
    done = 0
    while batch := list(itertools.islice(stream, 1000)):
        ledger.record(batch, "bench:dashboard")
        done += len(batch)
        if done % 100_000 == 0:
            print(f"recorded {done:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    catch_up(ledger, engine)
    print(f"projected in {time.perf_counter() - started:.0f} s", flush=True)
    ensure_tables(engine)
    token = create_token(engine, "admin", label="dashboard benchmark")[0]
    (workdir / "token").write_text(token)
    (workdir / "url").write_text(url)
    engine.dispose()
    ledger.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PERFLEDGER_DATABASE_URL": (workdir / "url").read_text(),
        "PERFLEDGER_TZ": "Asia/Shanghai",
        "PERFLEDGER_CURRENCY": "CNY",
    }
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import httpx

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not start: see server.log")


def largest_team(base: str, token: str) -> tuple[str, int]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    scopes = httpx.get(f"{base}/web/scopes", headers=headers, timeout=600).json()
    sizes: dict[str, int] = {}
    for rep in scopes["reps"]:
        if rep["team_id"] and not rep["offboarded"]:
            sizes[rep["team_id"]] = sizes.get(rep["team_id"], 0) + 1
    team = max(sizes, key=lambda t: sizes[t])
    return team, sizes[team]


WAIT_READY = """() => new Promise((resolve) => {
  const done = () => document.querySelector('#view-overview')?.dataset.state === 'ready';
  if (done()) return resolve(performance.now());
  const seen = new MutationObserver(() => { if (done()) { seen.disconnect(); resolve(performance.now()); } });
  seen.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
})"""


def measure_scope(browser: Any, base: str, token: str, scope: str) -> dict[str, Any]:
    """One cold load of the overview for `scope`, then a period switch (this quarter → last quarter)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", bypass_csp=True)
    page = context.new_page()
    sent = {"raw": 0, "wire": 0}

    def on_response(response: Any) -> None:
        try:
            sizes = response.request.sizes()
            body = len(response.body()) if response.status == 200 else 0
        except Exception:  # noqa: BLE001 - a response without a body (a redirect)
            return
        sent["raw"] += body
        sent["wire"] += sizes["responseBodySize"]

    page.on("response", on_response)
    page.goto(f"{base}/")
    page.fill("#token-input", token)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])", timeout=600_000)
    # signed in (the cookie): the cold measurement is a new document with an empty cache
    page.goto("about:blank")
    client = context.new_cdp_session(page)
    client.send("Network.clearBrowserCache")
    sent.update(raw=0, wire=0)
    page.goto(f"{base}/#/overview?scope={scope}")
    page.wait_for_function(
        "document.querySelector('#team-table .sparkline svg') !== null", timeout=600_000, polling="raf"
    )
    first_chart = page.evaluate("performance.now()")
    ready = page.evaluate(WAIT_READY)
    rows = page.locator("#team-table tbody tr[data-rep]").count()
    cold = dict(sent)
    started = page.evaluate("performance.now()")
    page.click("#preset-last_quarter")
    page.wait_for_function(
        "document.querySelector('#view-overview').dataset.key.includes('preset=last_quarter')"
        " && document.querySelector('#view-overview').dataset.state === 'ready'",
        timeout=600_000,
        polling="raf",
    )
    switched = page.evaluate("performance.now()") - started
    context.close()
    return {"first_chart_ms": first_chart, "overview_ms": ready, "switch_ms": switched, "rows": rows, **cold}


def measure(workdir: Path, rounds: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    token = (workdir / "token").read_text().strip()
    process, base = serve(workdir)
    try:
        team, size = largest_team(base, token)
        results: dict[str, Any] = {"team": team, "team_reps": size, "scopes": {}}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for scope in (f"team:{team}", "company"):
                # the first load also warms the server (its figures memo, the OS cache): kept apart
                first = measure_scope(browser, base, token, scope)
                runs = [measure_scope(browser, base, token, scope) for _ in range(rounds)]
                medians = {key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]}
                results["scopes"][scope] = medians | {"server_cold": first, "runs": runs}
                print(scope, json.dumps(medians | {"server_cold": first}), flush=True)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "measure"])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dashboard-1000000.json"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    if args.command == "build":
        build(workdir, args.events)
        return
    results = measure(workdir, args.rounds)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
