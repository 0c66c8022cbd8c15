"""The Perfledger benchmark: one run, one store, every figure beside the machine's own reference.

    .venv/bin/python -m benchmarks.run [--events N] [--quick] [--database-url URL]
                                       [--out benchmarks/results/NAME.json]

Stages, in order (each prints `name  value unit  (ratio × reference)` and lands in the JSON):

  ingest       Ledger.record in batches of 1000 (events/s)   vs raw executemany of the same rows
  rebuild      projections.runner.rebuild, from scratch, in a child process (events/s, peak RSS)
                                                           vs raw scan of the events + orjson decode
  catch-up     projections.runner.catch_up after 1% new events (events/s) vs the same raw scan
  kpi          projections.queries.kpis.kpis for reps, teams, the company, with and without known_at
               (p50, p99 over >= 200 queries each)         vs one raw SQL revenue aggregate
  payouts      projections.payouts.assembly.period_payouts, every rep of a quarter
  off_track    projections.queries.forecast.off_track: the company's and a team's off-track list
               of the quarter in progress, pace and forecast of every rep (p50, p99)
  replay       replay.replays.replay of a quarter under a changed plan
  audit        replay.audit.audit: the log rebuilt into a scratch store and compared
  verify       Ledger.verify, the whole hash chain (events/s) vs raw sha256 over the same bytes
  http         GET of a KPI read under 16 concurrent clients (requests/s, p99)
                                                           vs a no-op FastAPI endpoint served alike

See benchmarks/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from benchmarks import references
from demo.generator import DEFAULT_PLAN_RULES, MIN_REPS, generate
from ledger.config import Settings
from ledger.decoding import micros_to_time
from ledger.errors import ConflictError
from ledger.store import Ledger

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
INGEST_BATCH = 1000
NEW_SHARE = 0.01  # catch-up: 1% new events after the rebuild
PERIOD = "2026-Q1"
# The generated department's year runs up to here (2026-Q4 in progress): fixed, so that every run
# measures the same log, and in the past, as every fact the ledger accepts.
GENERATED_UNTIL = datetime(2026, 11, 30, 12, tzinfo=UTC)
ACTOR = "bench"

TARGETS = {  # SQLite, 1M events (docs/performance.md, "Targets")
    "ingest": ("ratio", ">=", 0.10),
    "rebuild": ("ratio", ">=", 0.25),
    "verify": ("ratio", ">=", 0.5),
    "kpi_rep_p99": ("value", "<", 10.0),
    "kpi_rep_known_at_p99": ("value", "<", 10.0),
    "kpi_company_p99": ("value", "<", 100.0),
    "kpi_company_known_at_p99": ("value", "<", 100.0),
    "off_track_company_p99": ("value", "<", 200.0),
    "replay": ("value", "<", 2.0),
    "replay_approved": ("value", "<", 2.0),
    "http_kpi": ("ratio", ">=", 0.3),
    "http_kpi_uncached": ("ratio", ">=", 0.3),
    "audit_time": ("ratio", "<=", 1.5),
}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


# ---------------------------------------------------------------- figures


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: str | None = None  # the reference figure's name
    ratio: float | None = None
    note: str = ""
    target: str | None = None
    met: bool | None = None
    pending: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "name"}


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.references: dict[str, Figure] = {}

    def reference(self, name: str, value: float, unit: str, note: str = "", **extra: Any) -> Figure:
        figure = Figure(name, value, unit, note=note, extra=extra)
        self.references[name] = figure
        _print(figure, "ref")
        return figure

    def figure(
        self,
        name: str,
        value: float,
        unit: str,
        reference: str | None = None,
        *,
        note: str = "",
        pending: bool = False,
        **extra: Any,
    ) -> Figure:
        figure = Figure(name, value, unit, reference=reference, note=note, pending=pending, extra=extra)
        ref = (self.references.get(reference) or self.figures.get(reference)) if reference else None
        if ref is not None and ref.value:
            figure.ratio = value / ref.value
        target = TARGETS.get(name)
        if target is not None:
            kind, op, bound = target
            measured = figure.ratio if kind == "ratio" else value
            figure.target = (
                f"{'ratio' if kind == 'ratio' else ''} {op} {bound:g}{'' if kind == 'ratio' else ' ' + unit}".strip()
            )
            if measured is not None and not pending:
                figure.met = {">=": measured >= bound, "<": measured < bound, "<=": measured <= bound}[op]
        self.figures[name] = figure
        _print(figure, "fig", ref)
        return figure


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3g}" if value < 1 else f"{value:,.2f}"


def _print(figure: Figure, kind: str, ref: Figure | None = None) -> None:
    label = f"{figure.name:<28} {_fmt(figure.value):>12} {figure.unit:<6}"
    if kind == "ref":
        out.print(f"[dim]{label}  (reference{': ' + figure.note if figure.note else ''})[/]")
        return
    parts = [label]
    if ref is not None and figure.ratio is not None:
        parts.append(f" ({figure.ratio:.3g} × {ref.name} {_fmt(ref.value)} {ref.unit})")
    if figure.target:
        mark = "[green]met[/]" if figure.met else ("[yellow]pending[/]" if figure.pending else "[red]NOT met[/]")
        parts.append(f"  target {figure.target}: {mark}")
    if figure.pending:
        parts.append("  [yellow](pending)[/]")
    if figure.note:
        parts.append(f"  [dim]{figure.note}[/]")
    out.print("".join(parts))


# ---------------------------------------------------------------- progress


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A Rich bar on a terminal; a line every ~10% otherwise (a run in the background, CI)."""
    if err.is_terminal:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
        return
    state = {"done": 0, "next": 0.1, "started": time.perf_counter()}

    def advance(n: int) -> None:
        state["done"] += n
        if total and state["done"] >= state["next"] * total:
            elapsed = time.perf_counter() - state["started"]
            if elapsed >= 5:  # quiet for short stages
                err.print(f"  {description}: {state['done']:,}/{total:,} ({elapsed:.0f} s)")
            while state["next"] * total <= state["done"]:
                state["next"] += 0.1

    yield advance


# ---------------------------------------------------------------- the run


@dataclass
class Bench:
    args: argparse.Namespace
    settings: Settings
    ledger: Ledger
    engine: Any
    workdir: Path
    results: Results
    events: int
    new_events: list[dict] = field(default_factory=list)
    is_postgres: bool = False
    sqlite_path: str | None = None

    @property
    def events_table(self) -> str:
        return self.ledger.recorder.events_table_name


def stage_ingest(b: Bench) -> None:
    """Generate N (+1%) events; record the first N through Ledger.record in batches of 1000."""
    total = b.events + max(1, int(b.events * NEW_SHARE))
    stream = generate(total, now=GENERATED_UNTIL, reps=b.args.reps)
    seconds = generating = analyzing = 0.0
    recorded = resumed_from = resume_ingest(b, stream) if b.args.resume else 0
    analyze_at = _first_analyze_at(b, recorded)
    with progress_bar("ingest (Ledger.record)", b.events) as advance:
        advance(recorded)
        while recorded < b.events:
            started = time.perf_counter()
            batch = list(itertools.islice(stream, min(INGEST_BATCH, b.events - recorded)))
            generating += time.perf_counter() - started
            started = time.perf_counter()
            b.ledger.record(batch, ACTOR)
            seconds += time.perf_counter() - started
            recorded += len(batch)
            advance(len(batch))
            if analyze_at is not None and recorded >= analyze_at:
                analyzing += _analyze(b)
                analyze_at *= 2
    b.new_events = list(stream)
    mark_as_made(b)
    if b.is_postgres:
        raw = references.pg_raw_insert(b.args.database_url, b.events_table, INGEST_BATCH)
        b.results.reference(
            "raw_insert",
            raw["executemany"]["events_per_s"],
            "ev/s",
            "psycopg executemany of the same event + entry rows, one transaction per batch",
        )
        b.results.reference(
            "raw_copy",
            raw["copy"]["events_per_s"],
            "ev/s",
            "psycopg COPY of the same event + entry rows, one transaction per batch",
        )
    else:
        raw = references.sqlite_raw_insert(b.sqlite_path, str(b.workdir / "raw-insert.db"), INGEST_BATCH)
        b.results.reference(
            "raw_insert",
            raw["events_per_s"],
            "ev/s",
            "sqlite3 executemany of the same event + entry rows, one transaction per batch",
            events_table_only=raw["events_table_only_events_per_s"],
        )
    b.results.figure(
        "ingest",
        (recorded - resumed_from) / seconds,
        "ev/s",
        "raw_insert",
        seconds=seconds,
        events=recorded - resumed_from,
        resumed_from=resumed_from,
        batch=INGEST_BATCH,
        generator_seconds=generating,
        analyze_seconds=analyzing,
    )
    if b.is_postgres:
        b.results.figure("ingest_vs_copy", (recorded - resumed_from) / seconds, "ev/s", "raw_copy")


ANALYZE_FIRST_AT = 50_000  # events; then at each doubling, as autovacuum's analyze threshold would


def _first_analyze_at(b: Bench, recorded: int) -> int | None:
    """Where the ingest first analyzes the store's tables, when PostgreSQL's autovacuum (which
    would) is off: without statistics the planner takes the aggregates' preload for a scan of
    the whole log and the ingest stalls (at 10M: 16 minutes for 20,000 events). None: it is on,
    or the store is SQLite."""
    if not b.is_postgres:
        return None
    with b.engine.connect() as conn:
        if conn.exec_driver_sql("SHOW autovacuum").scalar() == "on":
            return None
    err.print("  PostgreSQL's autovacuum is off: the harness analyzes the store at 50k events and each doubling")
    at = ANALYZE_FIRST_AT
    while at <= recorded:
        at *= 2
    return at if recorded == 0 else recorded  # a resumed ingest analyzes first


def _analyze(b: Bench) -> float:
    """ANALYZE every table of the store's schema; the seconds it took (outside the ingest figure:
    autovacuum does it beside the writers)."""
    started = time.perf_counter()
    with b.engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"
        ).scalars()
        names = list(tables)
    with b.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names:
            conn.exec_driver_sql(f"ANALYZE {name}")
    return time.perf_counter() - started


def resume_ingest(b: Bench, stream: Iterator[dict[str, Any]]) -> int:
    """Where a stopped ingest carries on (`--resume`): the store's head, once the batch before it,
    generated again, comes back from `Ledger.record` as nothing but duplicates (the same
    event_ids with the same content: the generator is deterministic), which shows the store
    holds this harness's events and no other. The stream is left just past the head."""
    head = b.ledger.head().position
    if head == 0:
        return 0
    if head % INGEST_BATCH or head >= b.events:
        raise SystemExit(
            f"--resume: the store's head is at {head:,}, not a whole number of batches below --events "
            f"{b.events:,}: not an ingest of this harness to carry on"
        )
    for _ in itertools.islice(stream, head - INGEST_BATCH):
        pass
    last = list(itertools.islice(stream, INGEST_BATCH))
    try:
        again = b.ledger.record(last, ACTOR)
    except ConflictError:  # the same event_ids with other content: another generation's events
        again = None
    if again is None or len(again.duplicates) != len(last) or max(again.positions) != head:
        raise SystemExit(
            f"--resume: the batch before the head ({head:,}) is not the generator's: this store was "
            "not filled by this harness with these --events (start from an empty one)"
        )
    err.print(f"  resuming the ingest at {head:,} (the batch before it found recorded, unchanged)")
    return head


MARKER = "perfledger_bench"  # the table by which the harness knows a store it made (`--reuse`)


def mark_as_made(b: Bench) -> None:
    """Mark the store as the harness's own, ingested with `b.events` generated events by
    `--reps` reps (NULL: the generator's default for the size)."""
    reps = "NULL" if b.args.reps is None else int(b.args.reps)
    with b.engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {MARKER} (events BIGINT NOT NULL, made_at TEXT NOT NULL, reps BIGINT)"
        )
        conn.exec_driver_sql(f"DELETE FROM {MARKER}")
        conn.exec_driver_sql(
            f"INSERT INTO {MARKER} VALUES ({b.events}, '{datetime.now(UTC).isoformat(timespec='seconds')}', {reps})"
        )


def made_for(engine: Any) -> tuple[int, int | None] | None:
    """The events the harness ingested into this store and its `--reps` (None: the default), or
    None: a store it did not make."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table(MARKER):
            return None
        if "reps" not in {c["name"] for c in inspector.get_columns(MARKER)}:  # made before --reps
            return conn.exec_driver_sql(f"SELECT events FROM {MARKER}").scalar(), None
        events, reps = conn.exec_driver_sql(f"SELECT events, reps FROM {MARKER}").one()
        return events, reps


def reuse(b: Bench) -> None:
    """Carry on with a store the harness made for the same number of events (a long ingest done
    once: 10M events take hours here): the 1% of new events of the catch-up stage are generated
    again (the generator is deterministic) when the store does not hold them yet."""
    head = b.ledger.head().position
    if head == b.events and "catch_up" in b.args.stages:
        err.print(f"  generating the {b.events:,} events again to reach the new ones (not recorded) …")
        total = b.events + max(1, int(b.events * NEW_SHARE))
        b.new_events = list(itertools.islice(generate(total, now=GENERATED_UNTIL, reps=b.args.reps), b.events, None))
    elif "catch_up" in b.args.stages:
        b.args.stages.remove("catch_up")
        err.print("  the store already holds the catch-up's new events: stage catch_up left out")


def _child_rebuild(b: Bench, *extra: str, profile: str | None = None) -> dict[str, Any]:
    """The rebuild in a child process, started through `rss_probe` (see there why), which reads
    getrusage(RUSAGE_CHILDREN).ru_maxrss when the rebuild has ended."""
    command = [sys.executable, "-m", "benchmarks.rebuild_child", "--database-url", b.settings.database_url, *extra]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rss_probe", *command], cwd=ROOT, stdout=subprocess.PIPE, check=True
    )
    lines = done.stdout.decode().strip().splitlines()
    return {**orjson.loads(lines[-2]), **orjson.loads(lines[-1])}


REBUILD_ROUNDS = 3


def _fresh_scan(b: Bench) -> dict[str, Any]:
    """The raw scan in a fresh process, as the rebuild is (see `references.main`)."""
    where = ["postgresql", b.args.database_url, b.events_table] if b.is_postgres else ["sqlite", b.sqlite_path]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.references", "scan", *where], cwd=ROOT, stdout=subprocess.PIPE, check=True
    )
    return orjson.loads(done.stdout.decode().strip().splitlines()[-1])


def stage_rebuild(b: Bench) -> None:
    """The projections rebuilt from nothing, alone in a child process (its peak RSS: RUSAGE_CHILDREN),
    against the raw scan measured just before it, in --rebuild-rounds rounds (3): the round of the
    median ratio is the figure. On a shared machine the speed of both drifts from minute to
    minute (docs/performance.md), so each rebuild is set against a scan run beside it, and one
    slow minute does not decide. The first round rebuilds a store whose projections are empty; the others wipe those
    the round before made, as a rebuild of a live store does."""
    rounds = []
    for round_ in range(1, b.args.rebuild_rounds + 1):
        scan = _fresh_scan(b)
        err.print(f"  rebuild of {b.events:,} events in a child process (round {round_} of {b.args.rebuild_rounds}) …")
        profile = str(Path(b.args.profile_dir) / f"rebuild-{round_}.txt") if "rebuild" in b.args.profile else None
        child = _child_rebuild(b, profile=profile)
        rounds.append((child["events"] / child["seconds"] / scan["events_per_s"], scan, child))
        err.print(f"    scan {scan['seconds']:.2f} s, rebuild {child['seconds']:.2f} s: ratio {rounds[-1][0]:.3f}")
    _, scan, child = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
    every = [
        {"scan_s": round(s["seconds"], 3), "rebuild_s": round(c["seconds"], 3), "ratio": round(r, 4)}
        for r, s, c in rounds
    ]
    b.results.reference(
        "raw_scan_decode",
        scan["events_per_s"],
        "ev/s",
        "every stored event's bytes, orjson.loads, in a fresh process (the median round's)",
    )
    b.results.figure(
        "rebuild",
        child["events"] / child["seconds"],
        "ev/s",
        "raw_scan_decode",
        seconds=child["seconds"],
        events=child["events"],
        rounds=every,
    )
    child["children_maxrss_kb"] = max(c["children_maxrss_kb"] for _, _, c in rounds)  # the peak of every round
    # The same fold over the first tenth of the log, into a scratch SQLite store: the peak of
    # the rebuild at N/10 beside the peak at N, in one run.
    prefix = max(1, b.events // 10)
    small = _child_rebuild(b, "--upto", str(prefix), "--into", f"sqlite:///{b.workdir / 'prefix.db'}")
    b.results.reference(
        "rebuild_peak_rss_prefix",
        small["children_maxrss_kb"] / 1024,
        "MB",
        f"rebuild of the first {prefix:,} events into a scratch SQLite store",
        events=prefix,
        seconds=small["seconds"],
        hwm_mb=small["hwm_kb"] / 1024,
        before_rebuild_mb=small["hwm_before_kb"] / 1024,
    )
    b.results.figure(
        "rebuild_peak_rss",
        child["children_maxrss_kb"] / 1024,
        "MB",
        "rebuild_peak_rss_prefix",
        note="ratio: peak at N / peak at N/10",
        hwm_mb=child["hwm_kb"] / 1024,
        before_rebuild_mb=child["hwm_before_kb"] / 1024,
    )
    for suffix in ("", "-wal", "-shm"):
        (b.workdir / f"prefix.db{suffix}").unlink(missing_ok=True)


def stage_catch_up(b: Bench) -> None:
    from projections.runner import catch_up

    count = len(b.new_events)
    for start in range(0, count, INGEST_BATCH):
        b.ledger.record(b.new_events[start : start + INGEST_BATCH], ACTOR)
    started = time.perf_counter()
    catch_up(b.ledger, b.engine)
    seconds = time.perf_counter() - started
    b.results.figure(
        "catch_up",
        count / seconds,
        "ev/s",
        "raw_scan_decode",
        seconds=seconds,
        events=count,
        note=f"{count:,} new events ({NEW_SHARE:.0%})",
    )


def _scopes(b: Bench) -> tuple[list[str], list[str]]:
    from sqlalchemy import select

    from projections.db import reading
    from projections.tables import memberships, reps

    with reading(b.engine) as conn:
        rep_ids = sorted(conn.execute(select(reps.c.rep_id)).scalars())
        teams = sorted({t for t in conn.execute(select(memberships.c.team_id).distinct()).scalars() if t})
    return rep_ids, teams


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return statistics.median(ordered), p99


def stage_kpis(b: Bench) -> None:
    """p50/p99 of `kpis` for reps, teams and the company, with and without known_at."""
    from projections.db import reading
    from projections.queries.cutoffs import cutoffs
    from projections.queries.kpis import kpis
    from projections.queries.membership import ScopeFilter, parse_scope

    rep_ids, teams = _scopes(b)
    known_us = b.ledger.recorded_at_of(b.events // 2) or 0
    known_at = micros_to_time(known_us)
    periods = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2026-03", "2026-06"]
    count = b.args.kpi_queries
    raw = references.pg_raw_query(b.args.database_url) if b.is_postgres else references.sqlite_raw_query(b.sqlite_path)
    for kind, names in (
        ("rep", [f"rep:{r}" for r in rep_ids]),
        ("team", [f"team:{t}" for t in teams]),
        ("company", ["company"]),
    ):
        asks = [(names[i % len(names)], periods[(i // len(names)) % len(periods)]) for i in range(count)]
        # the reference: one hand-written revenue aggregate over the same rows and window
        raw_samples = []
        for scope, period in asks:
            cut = cutoffs(b.settings, period)
            parsed = parse_scope(scope)
            if parsed.kind == "team":
                with reading(b.engine) as conn:
                    members = ScopeFilter.load(conn, parsed, cut.known_us).reps(cut.start_us, cut.upto_us)
            else:
                members = None if parsed.kind == "company" else [parsed.value]
            members = members if members is None or members else [""]
            started = time.perf_counter()
            raw(members, cut.start_us, cut.upto_us, cut.known_us)
            raw_samples.append((time.perf_counter() - started) * 1000)
        p50, p99 = _percentiles(raw_samples)
        b.results.reference(
            f"raw_query_{kind}_p50", p50, "ms", "one SQL revenue sum over deal_facts, same scope and window"
        )
        b.results.reference(f"raw_query_{kind}_p99", p99, "ms")
        for suffix, cut_at in (("", None), ("_known_at", known_at)):
            for scope, period in asks[:10]:  # warm-up: compiled statements, page cache
                kpis(b.engine, b.settings, scope, period, known_at=cut_at)
            samples = []
            with progress_bar(f"kpi {kind}{suffix}", count) as advance:
                for scope, period in asks:
                    started = time.perf_counter()
                    kpis(b.engine, b.settings, scope, period, known_at=cut_at)
                    samples.append((time.perf_counter() - started) * 1000)
                    advance(1)
            p50, p99 = _percentiles(samples)
            b.results.figure(f"kpi_{kind}{suffix}_p50", p50, "ms", f"raw_query_{kind}_p50", queries=count)
            b.results.figure(
                f"kpi_{kind}{suffix}_p99", p99, "ms", f"raw_query_{kind}_p99", queries=count, scopes=len(names)
            )


def stage_payouts(b: Bench) -> None:
    from projections.payouts.assembly import period_payouts

    started = time.perf_counter()
    payouts = period_payouts(b.engine, b.settings, PERIOD)
    seconds = time.perf_counter() - started
    reference = None
    rep_kpi = b.results.figures.get("kpi_rep_p50")
    if rep_kpi is not None:  # a payout reads a rep's figures: as many rep KPI reads is its floor
        reference = "rep_kpi_reads"
        b.results.reference(reference, len(payouts) * rep_kpi.value / 1000, "s", f"{len(payouts)} × the rep KPI p50")
    b.results.figure(
        "payouts",
        seconds,
        "s",
        reference,
        note=f"{len(payouts)} reps of {PERIOD}, {len(payouts) / seconds:,.0f} reps/s",
        reps=len(payouts),
    )


def stage_off_track(b: Bench) -> None:
    """p50/p99 of the off-track list of the quarter in progress (2026-Q4, read as of the moment the
    generated year ends), for the company and for its teams, each list a whole read: every rep's
    figures, targets, pace, win rate, sales cycle and open deals, every rep ranked. The figure is
    the list as GET /kpis/off-track answers it, the worst `FIRST_PAGE` reps' rows and the count
    of all; the company's whole list, every off-track rep's row made (what the CLI prints), is
    measured beside it."""
    from projections.queries.forecast import FIRST_PAGE, off_track

    _, teams = _scopes(b)
    period, as_of = "2026-Q4", GENERATED_UNTIL
    count = max(20, b.args.kpi_queries // 4)
    runs = (("company", ["company"], FIRST_PAGE), ("team", [f"team:{t}" for t in teams], FIRST_PAGE))
    for kind, scopes, limit in (*runs, ("company_whole", ["company"], None)):
        for scope in scopes[:3]:  # warm-up: compiled statements, page cache
            off_track(b.engine, b.settings, scope, period, as_of, limit=limit)
        samples, largest, listed = [], 0, 0
        with progress_bar(f"off-track {kind}", count) as advance:
            for i in range(count):
                started = time.perf_counter()
                answer = off_track(b.engine, b.settings, scopes[i % len(scopes)], period, as_of, limit=limit)
                samples.append((time.perf_counter() - started) * 1000)
                largest, listed = max(largest, answer["reps_in_scope"]), max(listed, answer["off_track"])
                advance(1)
        p50, p99 = _percentiles(samples)
        page = "every off-track rep's row" if limit is None else f"the first {limit} rows"
        b.results.figure(f"off_track_{kind}_p50", p50, "ms", queries=count)
        b.results.figure(
            f"off_track_{kind}_p99",
            p99,
            "ms",
            note=f"{largest} reps in the largest scope, {listed} off track, {page}; {period} as of {as_of:%Y-%m-%d}",
            queries=count,
            reps=largest,
        )


def changed_plan() -> dict[str, Any]:
    """The default plan with richer commission tiers (what finance would try)."""
    rules = orjson.loads(orjson.dumps(DEFAULT_PLAN_RULES))
    for tier, rate in zip(rules["components"][0]["tiers"], ("0.03", "0.055", "0.085"), strict=True):
        tier["rate"] = rate
    return rules


def stage_replay(b: Bench) -> None:
    """The replay of a quarter nobody approved yet (each baseline is today's payout), then every
    rep approved a team at a time, as finance does, then the replay of the approved quarter: each
    baseline reproduced at its own approval's knowledge time, the usual case of a closed period."""
    from replay.replays import PlanRequest, replay

    def replayed(name: str, note: str) -> list[dict[str, Any]]:
        started = time.perf_counter()
        result = replay(b.ledger, b.engine, b.settings, PERIOD, PlanRequest(rules=changed_plan()))
        seconds = time.perf_counter() - started
        if name == "replay" and result["diff"] and all(row["basis"] == "approved" for row in result["diff"]):
            name, note = "replay_approved", "every rep approved, each at its own knowledge time (a --reuse'd store)"
        b.results.figure(
            name,
            seconds,
            "s",
            "payouts",
            note=f"{len(result['payouts'])} reps of {PERIOD}, {note}",
            reps=len(result["payouts"]),
        )
        return result["diff"]

    first = replayed("replay", "none approved")
    if "replay_approved" in b.results.figures:  # --reuse of a store whose quarter is approved already
        return
    reps = [row["rep_id"] for row in first]
    started = time.perf_counter()
    approved_now = _approve_by_team(b, reps)
    seconds = time.perf_counter() - started
    b.results.figure(
        "approve",
        seconds / len(reps) * 1000,
        "ms",
        note=f"per rep, {len(reps)} approved a team at a time as finance does (POST /approvals/bulk), "
        f"the rest one by one",
        reps=len(reps),
        one_by_one=len(reps) - approved_now,
    )
    approved = replayed("replay_approved", "every rep approved, each at its own knowledge time")
    if any(row["basis"] != "approved" for row in approved):
        raise SystemExit("replay_approved: a rep's baseline is not its approval; the approvals did not land")


def _approve_by_team(b: Bench, reps: list[str]) -> int:
    """Approve the quarter's payouts of `reps` team by team (one bulk approval each, as finance
    closes a quarter), then any rep no team's approval took one by one; how many bulk took."""
    from services.approvals import approve, approve_scope

    waiting = set(reps)
    _, teams = _scopes(b)
    with progress_bar("approving (a team at a time)", len(reps)) as advance:
        for team in teams:
            result = approve_scope(b.ledger, b.engine, b.settings, f"team:{team}", PERIOD, ACTOR)
            done = waiting & {row["rep_id"] for row in result.approved}
            waiting -= done
            advance(len(done))
        by_bulk = len(reps) - len(waiting)
        for rep_id in sorted(waiting):
            approve(b.ledger, b.engine, b.settings, rep_id, PERIOD, ACTOR)
            advance(1)
    return by_bulk


def stage_audit(b: Bench) -> None:
    from replay.audit import audit

    started = time.perf_counter()
    report = audit(b.ledger, b.engine, b.settings)
    seconds = time.perf_counter() - started
    b.results.figure(
        "audit",
        report["events_replayed"] / seconds,
        "ev/s",
        "raw_scan_decode",
        seconds=seconds,
        ok=report["ok"],
        differences=report["difference_count"],
        note=f"{seconds:.1f} s, " + ("no differences" if report["ok"] else f"{report['difference_count']} differences"),
    )
    rebuilt = b.results.figures.get("rebuild")
    if rebuilt is not None:  # the audit rebuild no slower than 1.5 × the projection rebuild
        b.results.reference("rebuild_time", rebuilt.extra["seconds"], "s", "the projection rebuild stage")
        b.results.figure("audit_time", seconds, "s", "rebuild_time", note="the audit rebuild, then every row compared")


def stage_verify(b: Bench) -> None:
    raw = (
        references.pg_raw_sha256(b.args.database_url, b.events_table)
        if b.is_postgres
        else references.sqlite_raw_sha256(b.sqlite_path)
    )
    b.results.reference(
        "raw_sha256", raw["events_per_s"], "ev/s", "the stored bytes, sha256 chained row by row", bytes=raw["bytes"]
    )
    started = time.perf_counter()
    report = b.ledger.verify()
    seconds = time.perf_counter() - started
    assert report.ok, report.message
    b.results.figure(
        "verify", report.events_checked / seconds, "ev/s", "raw_sha256", seconds=seconds, events=report.events_checked
    )


# ---------------------------------------------------------------- HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(b: Bench, app: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PERFLEDGER_DATABASE_URL": b.settings.database_url}
    workers = str(b.args.http_workers)
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve", app, str(port), workers], cwd=ROOT, env=env, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + ("/health" if app == "perfledger" else "/noop"), timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {app} server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and any worker processes
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load(
    base: str, paths: list[str], headers: dict[str, str], clients: int, requests: int, seconds: float, warmup: int
) -> dict[str, Any]:
    """`clients` threads, each with its own keep-alive connection, until `requests` are done or
    `seconds` have passed; latencies of every request after the warm-up.

    The warm-up runs on every client's own connection, all clients at once, before the clock
    starts (`warmup` requests in all): with several server processes, each one's first requests
    (its connection pools filled, its statements prepared, its caches made) land on whichever
    process the connection reached, so one connection's warm-up left the others' first-request
    costs in the measured figure — of the Perfledger app only, the no-op having none."""
    import httpx

    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    deadline = [0.0]  # set as the gate opens, once every client is warm

    def open_gate() -> None:
        deadline[0] = time.perf_counter() + seconds

    start_gate = threading.Barrier(clients + 1, action=open_gate)

    def worker(slot: int) -> None:
        mine = latencies[slot]
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for i in range(slot, max(warmup, clients), clients):
                response = client.get(paths[i % len(paths)])
                if response.status_code != 200:  # reported below (raising here would leave the gate waiting)
                    failures.append(f"warm-up: {response.status_code} {response.text[:200]}")
            start_gate.wait()
            while True:
                i = next(counter)
                if i >= requests or time.perf_counter() > deadline[0]:
                    return
                started = time.perf_counter()
                response = client.get(paths[i % len(paths)])
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    samples = [s * 1000 for mine in latencies for s in mine]
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    p50, p99 = _percentiles(samples)
    return {
        "requests": len(samples),
        "seconds": elapsed,
        "requests_per_s": len(samples) / elapsed,
        "p50_ms": p50,
        "p99_ms": p99,
    }


def _token(b: Bench) -> str:
    env = {**os.environ, "PERFLEDGER_DATABASE_URL": b.settings.database_url}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "perfledger"), "token", "create", "--role", "admin", "--label", "benchmark"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return done.stdout.decode().strip().splitlines()[-1]


def stage_http(b: Bench) -> None:
    import httpx

    from projections.runner import catch_up

    catch_up(b.ledger, b.engine)  # untimed: the servers' projection worker then starts at the head
    clients, requests, seconds = b.args.http_clients, b.args.http_requests, b.args.http_seconds
    warmup = max(20, requests // 20)
    with serving(b, "noop") as base:
        noop = load(base, ["/noop"], {}, clients, requests, seconds, warmup)
    b.results.reference(
        "noop_http",
        noop["requests_per_s"],
        "req/s",
        f"a no-op FastAPI endpoint, {clients} clients, {b.args.http_workers} server process(es)",
        **noop,
    )
    b.results.reference("noop_http_p99", noop["p99_ms"], "ms")
    token = _token(b)
    headers = {"Authorization": f"Bearer {token}"}
    rep_ids, _ = _scopes(b)
    with serving(b, "perfledger") as base:
        probe = httpx.get(
            f"{base}/kpis", params={"scope": f"rep:{rep_ids[0]}", "period": PERIOD}, headers=headers, timeout=60
        )
        pending = probe.status_code == 404
        if pending:
            paths, what = ["/events?limit=1"], "GET /events?limit=1 (GET /kpis is not served yet: KPI figure pending)"
        else:
            probe.raise_for_status()
            paths = [f"/kpis?scope=rep:{r}&period={PERIOD}" for r in rep_ids]
            what = f"GET /kpis?scope=rep:…&period={PERIOD}"
        measured = load(base, paths, headers, clients, requests, seconds, warmup)
        if not pending:
            # The same reads with known_at given (the head's own knowledge time: the same figures):
            # the server's memo of figures at the head serves only reads at the default known_at,
            # so each of these is computed in full. This is the figure the target is judged on.
            known = micros_to_time(b.ledger.recorded_at_of(b.ledger.head().position) or 0).isoformat()
            known = known.replace("+00:00", "Z")
            uncached = load(
                base, [f"{path}&known_at={known}" for path in paths], headers, clients, requests, seconds, warmup
            )
    b.results.figure(
        "http_kpi",
        measured["requests_per_s"],
        "req/s",
        "noop_http",
        pending=pending,
        note=what + " (repeated reads at one head: served from the server's memo of figures)",
        **measured,
    )
    b.results.figure("http_kpi_p99", measured["p99_ms"], "ms", "noop_http_p99", pending=pending)
    if not pending:
        b.results.figure(
            "http_kpi_uncached",
            uncached["requests_per_s"],
            "req/s",
            "noop_http",
            note=what + "&known_at=…: every read computed",
            **uncached,
        )
        b.results.figure("http_kpi_uncached_p99", uncached["p99_ms"], "ms", "noop_http_p99")


STAGES: dict[str, Callable[[Bench], None]] = {
    "ingest": stage_ingest,
    "rebuild": stage_rebuild,
    "catch_up": stage_catch_up,
    "kpi": stage_kpis,
    "payouts": stage_payouts,
    "off_track": stage_off_track,
    "replay": stage_replay,
    "audit": stage_audit,
    "verify": stage_verify,
    "http": stage_http,
}


# ---------------------------------------------------------------- machine, main


def machine(b: Bench | None = None, database_url: str | None = None) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory = None
    with suppress(ValueError, OSError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_mb": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    for package in ("eventsourcing", "sqlalchemy", "orjson", "fastapi", "uvicorn", "pydantic"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            info[package] = version(package)
        except PackageNotFoundError:  # informative only
            info[package] = None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], check=False, cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        )
        info["git"] = head + ("+dirty" if dirty else "")
    except OSError:
        pass
    if b is not None and b.is_postgres:
        conn = references.pg_connect(b.args.database_url)
        info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        conn.close()
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, help=f"events to generate (default {DEFAULT_EVENTS:,}; --quick: {QUICK_EVENTS:,})"
    )
    parser.add_argument("--quick", action="store_true", help=f"the CI smoke size: {QUICK_EVENTS:,} events")
    parser.add_argument(
        "--reps",
        type=int,
        help="reps of the generated company, mid-year hires included "
        "(default: the generator's for the size, one per ~2,000 events)",
    )
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL store (an empty schema: ?schema=NAME); "
        "default: a fresh SQLite file in a temporary folder",
    )
    parser.add_argument("--out", help="write the figures as JSON here (default benchmarks/results/<store>-<N>.json)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of: " + ", ".join(STAGES))
    parser.add_argument("--kpi-queries", type=int, default=200, help="queries per KPI figure (default 200)")
    parser.add_argument(
        "--rebuild-rounds",
        type=int,
        default=REBUILD_ROUNDS,
        help=f"rebuild rounds, each beside its own raw scan; the median's is the figure (default {REBUILD_ROUNDS}; "
        "at 10M one round takes minutes)",
    )
    parser.add_argument("--http-clients", type=int, default=16)
    parser.add_argument(
        "--http-workers", type=int, default=1, help="server processes for both HTTP apps (perfledger serve --workers N)"
    )
    parser.add_argument("--http-requests", type=int, default=5000, help="requests per HTTP figure (at most)")
    parser.add_argument("--http-seconds", type=float, default=20.0, help="seconds per HTTP figure (at most)")
    parser.add_argument("--workdir", help="where the SQLite store lives (default: a temporary folder, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite store after the run")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="carry on with a store this harness made for the same --events (its ingest skipped); "
        "a store it did not make is refused",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="carry on an ingest that was stopped, in a store this harness was filling for the same --events "
        "(the batch before its head must come back as duplicates); the ingest figure is of the events it adds",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated stages to profile with pyinstrument "
        "(ingest, rebuild, kpi, payouts, replay, audit, verify); text reports in --profile-dir",
    )
    parser.add_argument("--profile-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    if args.events < 100:
        parser.error("--events: at least 100")
    if args.reps is not None and args.reps < MIN_REPS:
        parser.error(f"--reps: at least {MIN_REPS}")
    if args.rebuild_rounds < 1:
        parser.error("--rebuild-rounds: at least 1")
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in args.stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(unknown)}")
    args.profile = [s.strip() for s in args.profile.split(",") if s.strip()]
    return args


@contextmanager
def profiled(args: argparse.Namespace, stage: str) -> Iterator[None]:
    if stage not in args.profile or stage == "rebuild":  # the rebuild profiles itself, in its child
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
        Path(args.profile_dir, f"{stage}.txt").write_text(profiler.output_text(unicode=True, color=False))
        err.print(f"  profile of {stage}: {Path(args.profile_dir, stage + '.txt')}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    is_postgres = bool(args.database_url) and args.database_url.startswith("postgresql")
    made_workdir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="perfledger-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sqlite_path = None
    if args.database_url:
        database_url = args.database_url
    else:
        sqlite_path = str(workdir / "bench.db")
        # --reuse, --resume: the store of --workdir --keep
        for suffix in ("", "-wal", "-shm") if not (args.reuse or args.resume) else ():
            Path(sqlite_path + suffix).unlink(missing_ok=True)
        database_url = f"sqlite:///{sqlite_path}"
    settings = Settings(database_url=database_url, tz_name="UTC", currency="CNY")
    ledger = Ledger(settings)
    from projections.db import engine_for

    engine = engine_for(settings)
    reusing = False
    if ledger.head().position and not (args.resume and made_for(engine) is None):
        made = made_for(engine)
        if not args.reuse or made != (args.events, args.reps):
            engine.dispose()
            ledger.close()
            why = (
                "a store the benchmark did not make"
                if made is None
                else f"the benchmark's store of {made[0]:,} events"
                + ("" if made[1] is None else f" by {made[1]:,} reps")
                + ("" if args.reuse else " (--reuse carries on with it, its ingest done)")
            )
            raise SystemExit(
                f"{database_url} already holds events, {why}: the benchmark needs an empty store, or with "
                f"--reuse one it made for --events {args.events:,}"
                + ("" if args.reps is None else f" --reps {args.reps:,}")
                + " (PostgreSQL: DROP SCHEMA … CASCADE; CREATE SCHEMA …)"
            )
        reusing = True
        args.stages = [s for s in args.stages if s != "ingest"]
    results = Results()
    bench = Bench(
        args, settings, ledger, engine, workdir, results, args.events, is_postgres=is_postgres, sqlite_path=sqlite_path
    )
    if reusing:
        reuse(bench)
    info = machine(bench)
    store = "postgresql" if is_postgres else "sqlite"
    out.print(
        f"[bold]Perfledger benchmark[/]: {args.events:,} events"
        + ("" if args.reps is None else f" by {args.reps:,} reps")
        + f" on {store}; {info['nproc']} × {info['cpu_model']}, "
        f"Python {info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if is_postgres else "")
    )
    started = datetime.now(UTC)
    timings: dict[str, float] = {}
    try:
        for name in args.stages:
            err.print(f"[bold]== {name}[/]")
            begun = time.perf_counter()
            with profiled(args, name):
                STAGES[name](bench)
            timings[name] = time.perf_counter() - begun
    finally:
        engine.dispose()
        ledger.close()
        if sqlite_path and made_workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "benchmark": "perfledger",
        "events": args.events,
        "reps": args.reps,
        "store": store,
        "started_at": started.isoformat(),
        "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": info,
        "targets": {k: {"on": v[0], "op": v[1], "bound": v[2]} for k, v in TARGETS.items()},
        "stage_seconds": timings,
        "figures": {name: f.as_json() for name, f in results.figures.items()},
        "references": {name: f.as_json() for name, f in results.references.items()},
    }
    target_path = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"{store}-{args.events}.json"
    target_path.parent.mkdir(parents=True, exist_ok=True)
    target_path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    met = [f for f in results.figures.values() if f.met is not None]
    out.print(f"targets met: {sum(f.met for f in met)}/{len(met)}; JSON: {target_path}")
    return report


if __name__ == "__main__":
    main()
