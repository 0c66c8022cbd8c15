"""End-to-end fixtures for the dashboard: a demo store, a real server, headless Chromium.

- `demo`: a SQLite ledger filled by the data generator (20,000 events, seed 7), projected, then a
  noted `known_at`, then one correction of a known deal recorded after it (so the known_at view
  must show the figure before the correction), and one token per role.
- `server`: `uvicorn api.app:create_app --factory` on 127.0.0.1 and a free port, in a subprocess.
- `browser`: Debian's Chromium (/usr/bin/chromium) driven by Playwright, no internet: every
  request that does not go to the test server is refused and recorded (the page must need none).

Skipped, with the reason, when Chromium or Playwright is missing; .ci/run installs both.
Every wait is bounded: the server must answer within SERVER_START seconds, each browser action
within ACTION_TIMEOUT, and the whole run ends the server and the browser on the way out.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import GENERATED_UNTIL

from api.auth import create_token, ensure_tables
from demo.generator import generate
from ledger.config import Settings
from ledger.store import Ledger
from projections.db import engine_for
from projections.runner import catch_up

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("PERFLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
N_EVENTS = 20_000
SEED = 7
PERIOD = "2026-Q2"
SERVER_START = 60.0  # seconds
ACTION_TIMEOUT = 20_000  # milliseconds, for each Playwright action and expectation
VIEWPORT = {"width": 1280, "height": 800}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the dashboard in headless Chromium (needs /usr/bin/chromium)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -c requirements.lock -e '.[test]'"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which("chromium"):
        return f"Chromium is not installed ({CHROMIUM}): apt-get install -y chromium (.ci/run does)"
    return None


# ---------------------------------------------------------------- the demo store


@dataclass
class Demo:
    url: str
    rep: str  # a rep who stayed in their team all year: the one the tests follow
    team: str
    other_rep: str  # a rep of another team
    deal: str  # the rep's deal, won in PERIOD, corrected after `known_at`
    won: Decimal
    corrected: Decimal
    known_at: datetime  # whole seconds, UTC: after every generated event, before the correction
    tokens: dict[str, str] = field(default_factory=dict)
    period: str = PERIOD


def _quiet_reps(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(rep, team) of the reps never transferred or offboarded, in onboarding order."""
    moved = {e["data"]["rep_id"] for e in events if e["type"] in ("RepTransferred", "RepOffboarded")}
    return [
        (e["data"]["rep_id"], e["data"]["team_id"])
        for e in events
        if e["type"] == "RepOnboarded" and e["data"]["rep_id"] not in moved
    ]


def _plain_deal(events: list[dict[str, Any]], rep: str) -> tuple[str, Decimal]:
    """A deal of `rep` won in PERIOD, never split, refunded or corrected: (deal_id, amount)."""
    owner = {e["data"]["deal_id"]: e["data"]["rep_id"] for e in events if e["type"] == "DealOpened"}
    touched = {
        e["data"]["deal_id"] for e in events if e["type"] in ("DealCreditSplit", "DealRefunded", "DealAmountCorrected")
    }
    wins = [
        e
        for e in events
        if e["type"] == "DealWon"
        and owner.get(e["data"]["deal_id"]) == rep
        and e["data"]["deal_id"] not in touched
        and e["occurred_at"][:7] in ("2026-04", "2026-05", "2026-06")
    ]
    assert wins, f"the generated log has no plain deal of {rep} won in {PERIOD}"
    return wins[-1]["data"]["deal_id"], Decimal(wins[-1]["data"]["amount"])


def build_demo(folder: Path) -> Demo:
    url = f"sqlite:///{folder}/demo.db"
    settings = Settings(database_url=url, tz_name="UTC", currency="CNY")
    ledger = Ledger(settings)
    engine = engine_for(settings)
    try:
        events: list[dict[str, Any]] = []
        stream = generate(N_EVENTS, seed=SEED, now=GENERATED_UNTIL)
        while batch := list(itertools.islice(stream, 2000)):
            ledger.record(batch, actor="admin:e2e-demo")
            events.extend(
                e
                for e in batch
                if e["type"]
                in (
                    "RepOnboarded",
                    "RepTransferred",
                    "RepOffboarded",
                    "DealOpened",
                    "DealWon",
                    "DealCreditSplit",
                    "DealRefunded",
                    "DealAmountCorrected",
                )
            )
        catch_up(ledger, engine)
        quiet = _quiet_reps(events)
        rep, team = quiet[0]
        other_rep = next(r for r, t in quiet if t != team)
        deal, won = _plain_deal(events, rep)
        # known_at: a whole second after every recorded event (the page's time fields take seconds)
        time.sleep(1.05 - (time.time() % 1))
        known_at = datetime.now(UTC).replace(microsecond=0)
        time.sleep(1.2)
        corrected = won + Decimal("25000.00")
        ledger.record(
            [
                {
                    "type": "DealAmountCorrected",
                    "event_id": "e2e-correction",
                    "occurred_at": "2026-07-03T10:00:00+00:00",
                    "data": {"deal_id": deal, "amount": str(corrected), "reason": "e2e: the CRM had a typo"},
                }
            ],
            actor="admin:e2e-demo",
        )
        catch_up(ledger, engine)
        ensure_tables(engine)
        tokens = {
            "admin": create_token(engine, "admin", label="e2e")[0],
            "finance": create_token(engine, "finance", label="e2e")[0],
            "auditor": create_token(engine, "auditor", label="e2e")[0],
            "manager": create_token(engine, "manager", team_id=team, label="e2e")[0],
            "rep": create_token(engine, "rep", rep_id=rep, label="e2e")[0],
        }
    finally:
        engine.dispose()
        ledger.close()
    return Demo(url, rep, team, other_rep, deal, won, corrected, known_at, tokens)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    return build_demo(tmp_path_factory.mktemp("e2e"))


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    demo: Demo
    log: Path  # uvicorn's output, its access log included (what a server keeps of each request)

    def api(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.demo.tokens[role]}"}, timeout=30.0
        )


@pytest.fixture(scope="session")
def server(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "uvicorn.log"
    log = log_path.open("w+")
    env = {**os.environ, "PERFLEDGER_DATABASE_URL": demo.url, "PERFLEDGER_TZ": "UTC", "PERFLEDGER_CURRENCY": "CNY"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",  # with the access log: tests check what the server writes of a request
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the server exited with {process.returncode}:\n{log.read()[-4000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health within {SERVER_START:.0f} s")
            time.sleep(0.2)
        yield Server(base, demo, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ACTION_TIMEOUT)
    executable = CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Session:
    """One browser tab on the dashboard, with what it tried to reach and what it complained about."""

    page: Any
    base: str
    outside: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def sign_in(self, token: str) -> None:
        self.page.goto(f"{self.base}/")
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#app").wait_for(state="visible")


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Session]:
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-GB", service_workers="block")
    context.set_default_timeout(ACTION_TIMEOUT)
    session = Session(context.new_page(), server.base)

    def route(request_route: Any) -> None:
        if request_route.request.url.startswith(server.base):
            request_route.continue_()
        else:
            session.outside.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    session.page.on("console", lambda message: message.type == "error" and session.problems.append(message.text))
    session.page.on("pageerror", lambda error: session.problems.append(str(error)))
    try:
        yield session
    finally:
        context.close()
