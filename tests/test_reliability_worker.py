"""The projection worker in-process: it follows the log (LISTEN/NOTIFY on PostgreSQL, polling with
back-off on SQLite), stops when asked, and two of them at once still apply each batch once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from builders import GENERATED_UNTIL, onboard, open_deal, win
from reliability.harness import assert_projections_equal_a_rebuild

from demo.generator import generate
from ledger.store import Ledger
from projections.db import engine_for
from projections.runner import projected_position
from projections.worker import Backoff, HeadPolling, follow, stop_on_signals


@contextmanager
def following(ledger: Ledger, engine, poll: float = 0.5) -> Iterator[threading.Thread]:
    stop_event = threading.Event()
    thread = threading.Thread(target=follow, args=(ledger, engine, stop_event), kwargs={"poll": poll})
    thread.start()
    try:
        yield thread
    finally:
        stop_event.set()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the worker did not stop within 5 s of being asked"


def wait_until_projected(engine, position: int, timeout: float = 30) -> None:
    """Wait for the worker; the timeout only stops a hung test."""
    deadline = time.monotonic() + timeout
    while projected_position(engine) < position:
        assert time.monotonic() < deadline, f"position {position} was not projected in {timeout} s"
        time.sleep(0.005)


def test_the_worker_projects_each_new_event_by_itself_and_stops_when_asked(settings):
    ledger, writer, engine = Ledger(settings), Ledger(settings), engine_for(settings)
    with following(ledger, engine, poll=0.5):
        position = writer.record([onboard("R-1"), open_deal("D-1", "R-1")], "test").positions[-1]
        wait_until_projected(engine, position)
        time.sleep(1.0)  # idle: SQLite's back-off reaches its ceiling; PostgreSQL waits on LISTEN
        position = writer.record([win("D-1", "10.00")], "test").positions[-1]
        wait_until_projected(engine, position)
    engine.dispose()
    writer.close()
    ledger.close()


def test_polling_wakes_as_soon_as_the_head_passes_what_was_applied_and_never_sleeps_past_its_poll(settings):
    ledger = Ledger(settings)
    polling = HeadPolling(ledger, threading.Event(), poll=0.5)
    assert polling.wait(0) is False  # an empty log: nothing to apply
    position = ledger.record([onboard("R-1")], "test").positions[-1]
    assert polling.wait(0) is True
    polling.seen(position)
    assert polling.wait(0) is False
    assert [polling.backoff.idle() for _ in range(8)][-1] == 0.5  # idle, it looks again at least every poll
    ledger.close()


def test_two_workers_following_the_same_log_apply_every_batch_once(settings, tmp_path):
    ledger, other, writer = Ledger(settings), Ledger(settings), Ledger(settings)
    engines = [engine_for(settings), engine_for(settings)]
    envelopes = list(generate(600, seed=11, now=GENERATED_UNTIL))
    with following(ledger, engines[0], poll=0.1), following(other, engines[1], poll=0.1):
        for start in range(0, len(envelopes), 20):
            writer.record(envelopes[start : start + 20], "test")
        wait_until_projected(engines[0], writer.head().position, timeout=60)
    assert_projections_equal_a_rebuild(ledger, engines[0], tmp_path)
    for engine in engines:
        engine.dispose()
    for store in (ledger, other, writer):
        store.close()


def test_sigterm_asks_the_worker_to_stop_and_the_old_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(threading.Event()) as stop_event:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop_event.wait(2)
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_back_off_doubles_to_its_ceiling_and_starts_over_when_events_arrive():
    backoff = Backoff(first=0.01, most=0.05)
    assert [backoff.idle() for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    backoff.reset()
    assert backoff.idle() == 0.01
