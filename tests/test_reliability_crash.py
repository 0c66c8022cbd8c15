"""kill -9 at 20 seeded points: 10 during an import, 10 during a projection catch-up; and of
API workers while clients write through them.

Each point is drawn from SEED: where to die (inside a transaction, right after a commit or an
acknowledgement, or an outside SIGKILL a random few milliseconds into the real `perfledger
import` / `perfledger project`) and when (the k-th batch of the run, or the delay). After every
kill: each acknowledged batch is in the log, no batch is there in part, the chain verifies, and
the projections hold exactly what a rebuild up to their position gives; after the restart, the
log holds the file once and the projections equal a rebuild of the whole log.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from builders import GENERATED_UNTIL
from projection_fixtures import accelerators
from reliability.crash_points import KillPoint, import_file, project, run_forked
from reliability.harness import (
    PERFLEDGER,
    Child,
    admin_token,
    assert_gap_free_and_ordered,
    assert_projections_equal_a_rebuild,
    child_env,
    children,
    outcomes,
    read_results,
    seed_hot_deals,
    start_server,
    start_writers,
    wait_for_writers,
    whole_log,
    worker_pids,
)

from demo.generator import generate
from ledger.config import Settings
from ledger.reading import BoundedLog
from ledger.store import Ledger
from projections.db import engine_for
from projections.queries.cutoffs import now_micros
from projections.runner import catch_up, tracked_positions, wait_for
from replay.audit import compare_rows, scratch_store

# Real processes (servers, workers, writers): left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.processes

SEED = 20261127
IMPORT_EVENTS, IMPORT_BATCH = 2000, 25
PROJECTED_EVENTS, FIRST_SLICE, SLICE, PROJECTION_BATCH = 2000, 500, 150, 20
REAL_PROJECTION_BATCH = 5  # small transactions: the outside kill lands in the middle of the run
KILLED = -9


def kill_plan(seed: int, forked_kinds: list[str]) -> list[KillPoint | float]:
    """Ten points: four inside a transaction, three just after a commit (or its acknowledgement),
    three outside SIGKILLs of the real command after a delay (seconds); order, batch and delay
    drawn from `seed`."""
    rng = random.Random(seed)
    inside, after = forked_kinds
    plan: list[KillPoint | float] = [KillPoint(inside, rng.randint(1, 4)) for _ in range(4)]
    plan += [KillPoint(after, rng.randint(1, 3)) for _ in range(3)]
    plan += [round(rng.uniform(0.0, 0.1), 3) for _ in range(3)]
    rng.shuffle(plan)
    return plan


@pytest.fixture
def store(settings) -> Iterator[tuple[Ledger, object]]:
    ledger, engine = Ledger(settings), engine_for(settings)
    yield ledger, engine
    engine.dispose()
    ledger.close()


def kill_when_it_moves(command: Child, moved, delay: float, timeout: float = 60) -> None:
    """SIGKILL `delay` seconds after `moved()` first holds (the command has started writing)."""
    deadline = time.monotonic() + timeout
    while not moved() and command.popen.poll() is None:
        assert time.monotonic() < deadline, f"nothing happened in {timeout} s:\n{command.output()}"
        time.sleep(0.005)
    time.sleep(delay)
    command.kill()


# ---------------------------------------------------------------- the import


def write_import_file(path: Path) -> list[list[str]]:
    """The file, and its event_ids in the batches an import of it records atomically."""
    envelopes = list(generate(IMPORT_EVENTS, seed=SEED % 1000, now=GENERATED_UNTIL))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in envelopes))
    ids = [e["event_id"] for e in envelopes]
    return [ids[start : start + IMPORT_BATCH] for start in range(0, len(ids), IMPORT_BATCH)]


def acknowledged_ids(acks: Path, batches: list[list[str]]) -> set[str]:
    """The event_ids of every batch an importer acknowledged (each run starts at batch 1)."""
    acked: set[str] = set()
    for line in acks.read_bytes().splitlines():
        acked.update(batches[orjson.loads(line)["batch_of_run"] - 1])
    return acked


def assert_whole_batches_only(ledger: Ledger, batches: list[list[str]]) -> int:
    """The log is a prefix of the file's batches, each whole and in file order; returns how many."""
    log = whole_log(ledger)
    assert_gap_free_and_ordered(log)
    recorded = [r.event_id for r in log]
    assert len(recorded) % IMPORT_BATCH == 0, (
        f"{len(recorded) % IMPORT_BATCH} events of a batch are visible without the rest"
    )
    whole = len(recorded) // IMPORT_BATCH
    assert recorded == [event_id for batch in batches[:whole] for event_id in batch], (
        "the log is not the file's first batches, whole and in order"
    )
    assert ledger.verify().ok
    return whole


def test_an_import_killed_at_ten_seeded_points_keeps_every_acknowledged_batch_and_no_partial_one(
    settings, store, tmp_path
):
    ledger, engine = store
    file, acks = tmp_path / "import.jsonl", tmp_path / "acks.jsonl"
    batches = write_import_file(file)
    acks.touch()
    for point in kill_plan(SEED, ["mid-batch", "after-ack"]):
        if isinstance(point, KillPoint):
            # A real import killed earlier may have got further than planned on a loaded machine:
            # with fewer than k batches left to record, this run finishes before its k-th.
            left = len(batches) - assert_whole_batches_only(ledger, batches)
            expected = KILLED if left >= point.k else 0
            assert run_forked(import_file, settings, file, IMPORT_BATCH, acks, point) == expected, (point, left)
        else:
            real_import_killed_after(settings, tmp_path, file, ledger, point)
        present = {r.event_id for r in whole_log(ledger)}
        assert acknowledged_ids(acks, batches) <= present, f"an acknowledged batch is missing after {point}"
        assert_whole_batches_only(ledger, batches)
    assert run_forked(import_file, settings, file, IMPORT_BATCH, acks, None) == 0  # the restart, to the end
    assert [r.event_id for r in whole_log(ledger)] == [i for batch in batches for i in batch]
    assert ledger.verify().ok
    assert_projections_equal_a_rebuild(ledger, engine, tmp_path)


def real_import_killed_after(settings: Settings, tmp_path: Path, file: Path, ledger: Ledger, delay: float) -> None:
    before = ledger.head().position
    args = [PERFLEDGER, "import", str(file), "--batch", str(IMPORT_BATCH)]
    command = Child(args, child_env(settings), tmp_path / "perfledger-import.log")
    try:
        kill_when_it_moves(command, lambda: ledger.head().position > before, delay)
    finally:
        command.close()


# ---------------------------------------------------------------- the projections


def test_a_projection_catch_up_killed_at_ten_seeded_points_resumes_to_exactly_the_rebuild(settings, store, tmp_path):
    ledger, engine = store
    envelopes = list(generate(PROJECTED_EVENTS, seed=SEED % 1000 + 1, now=GENERATED_UNTIL))
    append(ledger, envelopes[:FIRST_SLICE])
    appended = FIRST_SLICE
    for point in kill_plan(SEED + 1, ["mid-batch", "after-commit"]):
        before = min(tracked_positions(engine).values())
        if isinstance(point, KillPoint):
            assert run_forked(project, settings, PROJECTION_BATCH, point) == KILLED, point
        else:
            real_catch_up_killed_after(settings, tmp_path, engine, before, point)
        assert_projections_hold_exactly_a_rebuild_to_their_position(ledger, engine, tmp_path)
        append(ledger, envelopes[appended : appended + SLICE])  # the log grows while the worker is down
        appended += SLICE
    assert run_forked(project, settings, PROJECTION_BATCH, None) == 0  # the restart
    assert assert_projections_equal_a_rebuild(ledger, engine, tmp_path) == appended


def append(ledger: Ledger, envelopes: list[dict]) -> None:
    for start in range(0, len(envelopes), 100):
        ledger.record(envelopes[start : start + 100], "seed")


def real_catch_up_killed_after(settings: Settings, tmp_path: Path, engine, before: int, delay: float) -> None:
    args = [PERFLEDGER, "project", "--batch", str(REAL_PROJECTION_BATCH)]
    command = Child(args, child_env(settings), tmp_path / "perfledger-project.log")
    try:
        kill_when_it_moves(command, lambda: min(tracked_positions(engine).values()) > before, delay)
    finally:
        command.close()


def assert_projections_hold_exactly_a_rebuild_to_their_position(ledger: Ledger, engine, tmp_path: Path) -> None:
    """Every projection at the same committed position, with exactly the rows a rebuild of the
    log up to that position gives: no part of a batch, no batch applied twice."""
    positions = set(tracked_positions(engine).values())
    assert len(positions) == 1, f"projections at different positions after a kill: {positions}"
    position = positions.pop()
    # the audit's scratch store (a file, or a schema of its own), folded by the handlers (the plain path)
    with scratch_store(ledger, engine, ledger.settings) as scratch, accelerators(False):
        catch_up(BoundedLog(ledger, position), scratch)
        differences = compare_rows(engine, scratch, now_micros(ledger.settings), True)
    assert differences == [], differences[:5]


# ---------------------------------------------------------------- the API workers

API_WRITERS, DEAL_BATCHES, WORKER_KILLS = 4, 60, 3


def test_api_workers_killed_mid_request_leave_whole_batches_and_the_client_retries_complete_them(
    settings, store, tmp_path
):
    """`serve --workers 2` (its projection worker folding in the serve process); four clients
    each record 60 three-event batches, retrying a lost request with the same event_ids; three
    times, when the log reaches a seeded length, one API worker is SIGKILLed (uvicorn starts
    another). Every batch ends up in the log exactly once and whole; the chain verifies; the
    projections reach the head and equal a rebuild."""
    ledger, engine = store
    seeded = seed_hot_deals(settings, 0, "0")
    rng = random.Random(SEED + 2)
    lengths = sorted(rng.sample(range(seeded + 60, seeded + 3 * API_WRITERS * DEAL_BATCHES - 60), WORKER_KILLS))
    token = admin_token(settings)
    with children() as started:
        server, url = start_server(settings, tmp_path, workers=2, projections="follow")
        started.append(server)
        outs = start_writers(
            settings,
            tmp_path,
            started,
            via="http",
            writers=API_WRITERS,
            count=DEAL_BATCHES,
            url=url,
            token=token,
            kind="deals",
        )
        killed = [kill_a_worker_at(server, ledger, length, rng) for length in lengths]
        wait_for_writers(started[1:], timeout=150)
        assert_replaced(server, killed)
        head = ledger.head().position
        assert wait_for(engine, head, timeout=30), "the serve process's projection worker did not reach the head"
    results = read_results(outs)
    assert outcomes(results)["error"] >= 1, "no request was cut off by a kill"
    assert set(outcomes(results)) <= {"accepted", "conflict", "busy", "error", "timeout"}, outcomes(results)
    assert_every_batch_whole_once(ledger, seeded)
    assert ledger.verify().ok
    assert_projections_equal_a_rebuild(ledger, engine, tmp_path)


def kill_a_worker_at(server: Child, ledger: Ledger, length: int, rng: random.Random, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while ledger.head().position < length:
        assert time.monotonic() < deadline, f"the log did not reach {length} events:\n{server.output()}"
        time.sleep(0.01)
    victim = rng.choice(worker_pids(server))
    os.kill(victim, signal.SIGKILL)
    return victim


def assert_replaced(server: Child, killed: list[int], timeout: float = 30) -> None:
    """uvicorn's supervisor starts a new worker for each one killed."""
    deadline = time.monotonic() + timeout
    while len(set(worker_pids(server)) - set(killed)) < 2:
        assert time.monotonic() < deadline, f"the killed workers were not replaced:\n{server.output()}"
        time.sleep(0.1)


def assert_every_batch_whole_once(ledger: Ledger, seeded: int) -> None:
    log = whole_log(ledger)
    assert_gap_free_and_ordered(log)
    written = [r.event_id for r in log if r.position > seeded]
    expected_batches = {f"w{w}-c{k}" for w in range(API_WRITERS) for k in range(DEAL_BATCHES)}
    assert len(written) == 3 * len(expected_batches) == len(set(written))
    for start in range(0, len(written), 3):  # each batch: its three events, together, in order
        key = written[start].removesuffix("-open")
        assert written[start : start + 3] == [f"{key}-open", f"{key}-won", f"{key}-refund"], written[start : start + 3]
        expected_batches.discard(key)
    assert not expected_batches
