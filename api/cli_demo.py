"""`perfledger demo`: a realistic sales department and its last year of events in a fresh store
(anchored to the clock: four quarters, the last one in progress, nothing after now), the
projections built, the quarter just ended approved, and the headline figures printed.

What it prints (every figure exactly as GET /kpis and GET /payouts/…/explain write it, as of now,
so tests/test_demo.py can check the terminal against the API on the same store):
1. KPIs of the company and of each region, for the quarter just ended and the one in progress;
2. the region quadrants of the quarter in progress;
3. the five reps with the highest revenue of the quarter just ended, with their target
   attainment and pace;
4. the payout explanation of the best of them: total → lines → inputs → events, reproduced
   from the approval recorded a moment before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from api import cli_render
from api.cli_common import (
    EXIT_CONFIG,
    bar,
    catch_up_with_progress,
    err,
    fail,
    load_settings,
    open_store,
    out,
    parse_time,
)
from ledger.config import Settings
from ledger.periods import QUARTER, period_of
from ledger.store import Ledger

DEFAULT_EVENTS = 40_000  # about 20 reps: big enough to show every figure, quick enough to wait for
BATCH = 2000
ACTOR = "demo:generator"
CHINA_TZ = "Asia/Shanghai"


def demo(
    events: Annotated[
        int,
        typer.Option(
            "--events", min=100, max=2_000_000, help="How many events to generate (about 2,000 per rep a year)."
        ),
    ] = DEFAULT_EVENTS,
    seed: Annotated[int, typer.Option(help="The generator's seed: the same seed gives the same department.")] = 7,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Where to put the demo (default: PERFLEDGER_DATABASE_URL, else sqlite:///perfledger.db).",
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the SQLite file first if it already holds a ledger.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The moment the department's year runs up to, e.g. 2026-12-03T15:00:00+08:00 (default: now; "
            "never later).",
        ),
    ] = None,
) -> None:
    """Generate a sales department and its last year of events (four quarters, the last in progress)
    into a fresh store, build the projections, approve the quarter just ended, and print KPIs,
    quadrants, the top reps and one payout explanation."""
    settings = load_settings(database_url)
    anchor = parse_time(now, "--now") or settings.now()
    if anchor > settings.now():
        fail("--now must not be in the future", "leave --now out (now), or give a moment that has passed", EXIT_CONFIG)
    prepare_store(settings, fresh)
    started = datetime.now(UTC)
    current = period_of(anchor, settings.tz, QUARTER)
    with open_store(settings) as (ledger, engine):
        refuse_non_empty(ledger, settings)
        record_generated(ledger, events, seed, settings.tz_name, anchor)
        catch_up_with_progress(ledger, engine, "building the projections")
        approve_quarter(ledger, engine, settings, str(current.previous()))
        show(ledger, engine, settings, Reading(str(current.previous()), str(current), anchor, settings.now()))
    seconds = (datetime.now(UTC) - started).total_seconds()
    err.print(
        f"Done in {seconds:.1f} s. The store is {settings.database_url}. Next: `perfledger serve` (API docs at "
        f"/docs) with a token from `perfledger token create --role admin`, or `perfledger kpi --period {current}`."
        + (
            ""
            if settings.tz_name == CHINA_TZ
            else f" For a Chinese department, run it as PERFLEDGER_TZ={CHINA_TZ} PERFLEDGER_LOCALE=zh-CN "
            "perfledger demo --fresh: periods read in Beijing time, the faces in Chinese."
        ),
        highlight=False,
    )


# ---------------------------------------------------------------- the store


def prepare_store(settings: Settings, fresh: bool) -> None:
    """With --fresh, delete the SQLite file (and its journal files); PostgreSQL is never dropped here."""
    if not fresh:
        return
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        fail(
            "--fresh only deletes SQLite files",
            "drop and recreate the PostgreSQL schema yourself, then run `perfledger demo` without --fresh",
            EXIT_CONFIG,
        )
    if not url.database or url.database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(url.database + suffix).unlink(missing_ok=True)


def refuse_non_empty(ledger: Ledger, settings: Settings) -> None:
    held = ledger.head().position
    if held:
        fail(
            f"{settings.database_url} already holds a ledger of {held} events; the demo needs an empty store",
            "run `perfledger demo --fresh` to delete that SQLite file and start over, or choose another store with "
            "--database-url sqlite:///demo.db",
        )


def record_generated(ledger: Ledger, events: int, seed: int, tz_name: str, now: datetime) -> None:
    """The generated log, then the reviews of its improvement plans due by now (after it, from a
    random stream of their own: the log and its figures are the same with or without them)."""
    from demo.generator import PlanReviews, generate, org_size
    from services.recording import record_batch

    err.print(
        f"Generating a department of about {org_size(events)} reps and {events} events of the year up to "
        f"{now.astimezone(ledger.settings.tz):%Y-%m-%d} (seed {seed}).",
        highlight=False,
    )
    with bar() as progress:
        task = progress.add_task("recording events", total=events)
        reviews = PlanReviews(seed, now)
        for batch in batches(generate(events, seed=seed, tz=tz_name, now=now), BATCH):
            record_batch(ledger, batch, ACTOR)
            for envelope in batch:
                reviews.observe(envelope)
            progress.advance(task, len(batch))
        for batch in batches(iter(reviews.envelopes()), BATCH):
            record_batch(ledger, batch, ACTOR)


def batches(items: Iterator[dict], size: int) -> Iterator[list[dict]]:
    while batch := list(islice(items, size)):
        yield batch


def approve_quarter(ledger: Ledger, engine: Engine, settings: Settings, period: str) -> None:
    """Approve every active rep's payout (so that explanations have an approval to reproduce)."""
    from services.approvals import ApprovalRefused, approve

    reps = active_reps(engine, settings, period)
    refused = []
    with bar() as progress:
        task = progress.add_task(f"approving {period} payouts", total=len(reps))
        for rep_id in reps:
            try:
                approve(ledger, engine, settings, rep_id, period, ACTOR)
            except ApprovalRefused as error:
                refused.append(f"{rep_id}: {error}")
            progress.advance(task)
    if refused:
        err.print(f"{len(refused)} payout(s) not approved: " + "; ".join(refused[:3]), highlight=False)


def active_reps(engine: Engine, settings: Settings, period: str) -> list[str]:
    from projections.db import reading
    from projections.payouts.assembly import active_reps as of_period
    from projections.queries.cutoffs import cutoffs

    with reading(engine) as conn:
        return of_period(conn, cutoffs(settings, period))


# ---------------------------------------------------------------- what it prints


@dataclass(frozen=True)
class Reading:
    """What the demo reads: the quarter just ended and the one in progress, as of the anchor."""

    ended: str
    current: str
    as_of: datetime
    known_at: datetime


def show(ledger: Ledger, engine: Engine, settings: Settings, read: Reading) -> None:
    from projections.queries.kpis import kpis, quadrants
    from replay.explain import explain

    at = (read.as_of, read.known_at)
    regions = [row["region"] for row in quadrants(engine, settings, read.current, *at)["regions"]]
    scopes = ["company", *(f"region:{name}" for name in regions)]
    rows = [
        (scope, period, kpis(engine, settings, scope, period, *at))
        for scope in scopes
        for period in (read.ended, read.current)
    ]
    out.print(cli_render.kpi_summary(f"KPIs, {read.ended} and {read.current} (in progress)", rows))
    out.print(cli_render.quadrant_table(quadrants(engine, settings, read.current, *at)))
    top = top_reps(engine, settings, read)
    out.print(cli_render.top_reps_table(f"Top {len(top)} reps by {read.ended} revenue", top))
    if top:
        best = top[0][0]
        out.print(f"\nWhy {best} is paid what they are paid for {read.ended}:", highlight=False)
        out.print(cli_render.payout_tree(explain(ledger, engine, settings, best, read.ended)))


def top_reps(engine: Engine, settings: Settings, read: Reading, count: int = 5) -> list[tuple[str, dict[str, Any]]]:
    from projections.queries.kpis import kpis

    figures = [
        (rep_id, kpis(engine, settings, f"rep:{rep_id}", read.ended, read.as_of, read.known_at))
        for rep_id in active_reps(engine, settings, read.ended)
    ]
    return sorted(figures, key=lambda item: (-item[1]["revenue"], item[0]))[:count]
