"""The benchmark harness works end to end: a tiny run of every stage writes its JSON.

No timing is asserted — a figure only has to be there and be a positive number; the targets are
judged on the 1,000,000-event run (see benchmarks/README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

# A benchmark run: left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parent.parent

FIGURES = [
    "ingest",
    "rebuild",
    "rebuild_peak_rss",
    "catch_up",
    *[
        f"kpi_{kind}{known}_{p}"
        for kind in ("rep", "team", "company")
        for known in ("", "_known_at")
        for p in ("p50", "p99")
    ],
    "payouts",
    *[f"off_track_{kind}_{p}" for kind in ("company", "team", "company_whole") for p in ("p50", "p99")],
    "replay",
    "approve",
    "replay_approved",
    "audit",
    "verify",
    "http_kpi",
    "http_kpi_p99",
]
REFERENCES = [
    "raw_insert",
    "raw_scan_decode",
    "rebuild_peak_rss_prefix",
    "raw_sha256",
    "noop_http",
    "noop_http_p99",
    *[f"raw_query_{kind}_{p}" for kind in ("rep", "team", "company") for p in ("p50", "p99")],
]


def run_harness(tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "smoke.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--events",
        "3000",
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "store"),
        "--kpi-queries",
        "200",
        "--http-requests",
        "60",
        "--http-seconds",
        "5",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFLEDGER_")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return orjson.loads(out.read_bytes())


def check(report: dict, store: str) -> None:
    assert report["store"] == store and report["events"] == 3000
    machine = report["machine"]
    assert machine["nproc"] >= 1 and machine["python"] and machine["sqlite"] and "cpu_model" in machine
    for name in FIGURES:
        figure = report["figures"].get(name)
        assert figure is not None, f"figure {name} is missing"
        assert figure["value"] > 0, (name, figure)
        if figure["reference"] is not None:
            assert figure["ratio"] is not None and figure["ratio"] > 0, (name, figure)
    for name in REFERENCES:
        assert report["references"][name]["value"] > 0, name
    for name in (
        "ingest",
        "rebuild",
        "verify",
        "replay",
        "replay_approved",
        "kpi_rep_p99",
        "kpi_company_p99",
        "off_track_company_p99",
        "http_kpi",
    ):
        assert report["figures"][name]["target"], name  # each target is judged in the JSON
    assert report["figures"]["audit"]["extra"]["ok"] is True
    assert set(report["stage_seconds"]) == {
        "ingest",
        "rebuild",
        "catch_up",
        "kpi",
        "payouts",
        "off_track",
        "replay",
        "audit",
        "verify",
        "http",
    }


def test_the_quick_harness_measures_every_stage_on_sqlite(tmp_path):
    check(run_harness(tmp_path), "sqlite")


@pytest.mark.postgres
def test_the_harness_runs_against_postgresql(tmp_path):
    url = os.environ.get("PERFLEDGER_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL tests need PERFLEDGER_TEST_POSTGRES_URL")
    import uuid

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        report = run_harness(tmp_path, "--database-url", f"{url}?schema={schema}")
        check(report, "postgresql")
        assert report["references"]["raw_copy"]["value"] > 0
        assert report["machine"]["postgresql"]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_personal_data_benchmark_compares_sealed_and_clear_stores_of_the_same_events(tmp_path):
    from benchmarks.personal import compare

    run = compare(2000, 1, False, str(tmp_path))
    assert run["events"] == 2000 and run["personal_events"] > 0
    assert run["clear"]["personal"] == run["sealed"]["personal"]
    assert all(run[kind][figure] > 0 for kind in ("clear", "sealed") for figure in ("ingest_s", "rebuild_s"))
    worst = compare(300, 1, True, str(tmp_path))
    assert worst["personal_events"] == 300


def test_the_harness_refuses_a_store_it_did_not_make_even_with_reuse(tmp_path):
    from builders import GENERATED_UNTIL

    from benchmarks.run import main
    from demo.generator import generate
    from ledger.config import Settings
    from ledger.store import Ledger

    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/bench.db"))
    try:
        ledger.record(list(generate(300, now=GENERATED_UNTIL)), "someone")
    finally:
        ledger.close()
    args = ["--events", "300", "--workdir", str(tmp_path), "--stages", "payouts", "--out", str(tmp_path / "o.json")]
    with pytest.raises(SystemExit, match="did not make"):
        main([*args, "--reuse"])
    assert not (tmp_path / "o.json").exists()


def test_the_harness_carries_on_with_its_own_store_only_for_the_same_size(tmp_path):
    from benchmarks.run import main

    common = ["--workdir", str(tmp_path), "--keep", "--out", str(tmp_path / "o.json")]
    main(["--events", "300", "--stages", "ingest,rebuild", *common])
    with pytest.raises(SystemExit, match="made for --events 400"):
        main(["--events", "400", "--reuse", "--stages", "payouts", *common])
    report = main(["--events", "300", "--reuse", "--stages", "payouts", *common])
    assert report["figures"]["payouts"]["value"] > 0 and "ingest" not in report["stage_seconds"]


def _fill(path: Path, events: list[dict], actor: str = "bench") -> None:
    from ledger.config import Settings
    from ledger.store import Ledger

    ledger = Ledger(Settings(database_url=f"sqlite:///{path}/bench.db"))
    try:
        for start in range(0, len(events), 1000):
            ledger.record(events[start : start + 1000], actor)
    finally:
        ledger.close()


def test_a_stopped_ingest_resumes_at_its_head_and_times_only_what_it_adds(tmp_path):
    from benchmarks.run import GENERATED_UNTIL, made_for, main
    from demo.generator import generate
    from ledger.config import Settings
    from projections.db import engine_for

    total = 3000 + 30  # the harness generates 1% more, for its catch-up stage
    _fill(tmp_path, list(generate(total, now=GENERATED_UNTIL))[:2000])
    common = ["--workdir", str(tmp_path), "--keep", "--out", str(tmp_path / "o.json")]
    report = main(["--events", "3000", "--resume", "--stages", "ingest", *common])
    ingest = report["figures"]["ingest"]
    assert ingest["extra"]["resumed_from"] == 2000 and ingest["extra"]["events"] == 1000
    engine = engine_for(Settings(database_url=f"sqlite:///{tmp_path}/bench.db"))
    try:
        assert made_for(engine) == (3000, None)  # the harness's own now, of the default reps: --reuse takes it
    finally:
        engine.dispose()


def test_resume_refuses_a_store_filled_with_other_events(tmp_path):
    from benchmarks.run import GENERATED_UNTIL, main
    from demo.generator import generate

    _fill(tmp_path, list(generate(4040, now=GENERATED_UNTIL))[:2000])  # the events of another --events
    args = ["--events", "3000", "--resume", "--stages", "ingest", "--workdir", str(tmp_path), "--keep"]
    with pytest.raises(SystemExit, match="not the generator's"):
        main([*args, "--out", str(tmp_path / "o.json")])
    assert not (tmp_path / "o.json").exists()


def test_the_harness_generates_the_reps_asked_and_carries_on_only_with_as_many(tmp_path):
    from benchmarks.run import main
    from demo.generator import org_size

    common = ["--workdir", str(tmp_path), "--keep", "--out", str(tmp_path / "o.json")]
    made = main(["--events", "300", "--reps", "12", "--stages", "ingest,rebuild", *common])
    assert made["reps"] == 12
    with pytest.raises(SystemExit, match="made for --events 300 --reps 10"):
        main(["--events", "300", "--reps", "10", "--reuse", "--stages", "payouts", *common])
    with pytest.raises(SystemExit, match="store of 300 events by 12 reps"):
        main(["--events", "300", "--reuse", "--stages", "payouts", *common])  # the generator's default
    report = main(["--events", "300", "--reps", "12", "--reuse", "--stages", "payouts", *common])
    assert report["figures"]["payouts"]["extra"]["reps"] > org_size(300)  # 11 at the start of the year, a hire later
