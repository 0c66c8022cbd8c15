"""Processes that kill themselves (SIGKILL, no clean-up of any kind) at a chosen point.

Each runs in a child process forked from the test (cheap: everything is imported already), opens
its own ledger and engine, and does real work through the project's own code:
- `import_file`: services/importing.py's read/check/record_lines, as `perfledger import` does, acking
  each committed batch on a line of its own in an ack file (written before the next batch starts);
- `project`: projections.runner.catch_up, as `perfledger project` does.

A `KillPoint` says where to die:
- `after-ack` k: right after acknowledging the k-th batch this run newly recorded (between two
  transactions);
- `mid-batch` k: inside the k-th transaction, after every row of it is written, before COMMIT
  (the ledger: after its events and entries are inserted; the projections: after the k-th view
  has written its rows and moved its tracking position);
- `after-commit` k (projections): right after the k-th batch is committed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ledger.config import Settings

FORK = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class KillPoint:
    kind: str  # after-ack | mid-batch | after-commit
    k: int  # 1-based: the k-th batch (or view write) of this run

    def __str__(self) -> str:
        return f"{self.kind} {self.k}"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def nth_call_kills(k: int, then: Callable[..., Any]) -> Callable[..., Any]:
    """`then`, except that the k-th call dies right after it returns."""
    calls = 0

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = then(*args, **kwargs)
        calls += 1
        if calls == k:
            die()
        return result

    return wrapped


# ---------------------------------------------------------------- the importer


def import_file(settings: Settings, file: Path, batch: int, acks: Path, kill: KillPoint | None) -> None:
    from ledger.store import Ledger
    from services import importing

    if kill is not None and kill.kind == "mid-batch":
        _die_inside_the_kth_append(kill.k)
    ledger = Ledger(settings)
    lines = importing.read_source(file)
    importing.check_schemas(lines, settings.currency)
    importing.check_rules(ledger, lines, until_clean=False)
    assert not importing.invalid(lines), importing.invalid(lines)[:3]
    acked, new, head = 0, 0, ledger.head().position
    with acks.open("ab", buffering=0) as out:

        def ack(count: int) -> None:
            nonlocal acked, new, head
            acked += 1
            before, head = head, ledger.head().position
            new += head > before
            out.write(orjson.dumps({"pid": os.getpid(), "batch_of_run": acked, "lines": count, "head": head}) + b"\n")
            if kill is not None and kill.kind == "after-ack" and new == kill.k and head > before:
                die()  # after the k-th batch this run newly recorded (earlier ones are duplicates)

        importing.record_lines(
            ledger, importing.valid(lines), batch=batch, actor="import:crash-test", skip_invalid=False, on_batch=ack
        )
    ledger.close()


def _die_inside_the_kth_append(k: int) -> None:
    """Patch (in this child only) the recorder step that writes the ledger entries inside the
    append transaction: after the k-th, die before the transaction commits."""
    from ledger import recorder

    sqlite_step = recorder.ChainedSQLiteRecorder._insert_events
    postgres_step = recorder.ChainedPostgresRecorder._fetch_ids_after_insert_events

    def postgres_step_sent(self: Any, curs: Any, *args: Any, **kwargs: Any) -> Any:
        ids = postgres_step(self, curs, *args, **kwargs)
        curs.execute(f"SELECT COUNT(*) FROM {self.entries_table}")  # pipeline mode: make the server run
        curs.fetchone()  # the queued INSERTs now, so the kill lands after they are written
        return ids

    recorder.ChainedSQLiteRecorder._insert_events = nth_call_kills(k, sqlite_step)
    recorder.ChainedPostgresRecorder._fetch_ids_after_insert_events = nth_call_kills(k, postgres_step_sent)


# ---------------------------------------------------------------- the projection worker


def project(settings: Settings, batch: int, kill: KillPoint | None) -> None:
    from ledger.store import Ledger
    from projections import runner, view
    from projections.db import engine_for

    if kill is not None and kill.kind == "mid-batch":
        view.BatchView.write = nth_call_kills(kill.k, view.BatchView.write)
    if kill is not None and kill.kind == "after-commit":
        runner.write_batches = nth_call_kills(kill.k, runner.write_batches)
    ledger, engine = Ledger(settings), engine_for(settings)
    runner.catch_up(ledger, engine, batch_size=batch)
    engine.dispose()
    ledger.close()


# ---------------------------------------------------------------- running one


def run_forked(target: Callable[..., None], *args: Any, timeout: float = 60) -> int:
    """Run `target(*args)` in a forked child; its exit code (-9 when it killed itself)."""
    child = FORK.Process(target=target, args=args)
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join(10)
        raise AssertionError(f"{target.__name__}{args[1:]} did not finish in {timeout} s")
    return child.exitcode
