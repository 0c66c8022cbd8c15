"""Thousands of reps' payouts computed in slices, several processes at once (speed machinery).

A replay computes each rep's payout under the replayed plan and its baseline (the approved plan,
at the approval's knowledge time and now): once the figures are read, pure Python, one core's
worth per rep. Each rep's is independent of the others', and every read is pinned by the
cut-offs (the period's window and `known_at`: rows recorded later are never seen), so a slice of
reps computed by another process, on connections of its own, is what this process would have
computed. The plain path (this process, every rep) is the specification;
`tests/test_replay_slices.py` holds both to the same answer.

Slices are used from `MIN_REPS` reps on a machine of several cores, while the accelerators are
on (PERFLEDGER_ACCEL, `projections.accel.registry.enabled`): this process computes the first
slice while the others compute the rest. The workers come from a fork server (multiprocessing's
"forkserver": one clean process, started on the first replay with the replay's modules imported,
forking one worker per slice), never from a fork of this process, whose threads (a web server's)
and open connections the child would share.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.store import Ledger
from projections.accel.registry import enabled
from projections.db import ReadInterrupted, engine_for

MIN_REPS = 1_000  # below this, one process: a worker's start costs more than its share saves
MAX_PROCESSES = 4  # this one and up to three workers (each with its own connections)

A = TypeVar("A")
Lists = tuple[list[Any], ...]
Compute = Callable[[Ledger, Engine, Settings, A, list[str]], Lists]


def in_slices(
    compute: Compute[A], ledger: Ledger, engine: Engine, settings: Settings, asked: A, reps: list[str]
) -> Lists:
    """`compute(ledger, engine, settings, asked, reps)`: lists, one item per rep of `reps` in its
    order; in slices of `reps` at once where that pays (see the module docstring), the lists of
    the slices joined in the same order. `compute` is a module's function (a worker imports it)."""
    processes = min(MAX_PROCESSES, os.cpu_count() or 1, len(reps) // (MIN_REPS // 2))
    if not enabled() or len(reps) < MIN_REPS or processes < 2:
        return compute(ledger, engine, settings, asked, reps)
    first, *rest = split(reps, processes)
    try:
        with ProcessPoolExecutor(max_workers=len(rest), mp_context=_fork_server()) as workers:
            theirs = [workers.submit(_in_worker, compute, settings, asked, part) for part in rest]
            parts = [compute(ledger, engine, settings, asked, first), *(done.result() for done in theirs)]
    except BrokenProcessPool as error:  # a worker killed (out of memory, a signal): nothing was written
        raise ReadInterrupted(
            f"a worker process ended before its slice of {len(reps)} reps was computed; nothing was written: "
            "run it again"
        ) from error
    return tuple([item for part in parts for item in part[i]] for i in range(len(parts[0])))


def split(reps: Sequence[str], parts: int) -> list[list[str]]:
    """`reps` in `parts` consecutive slices of sizes differing by at most one."""
    size, extra = divmod(len(reps), parts)
    slices, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        slices.append(list(reps[start:end]))
        start = end
    return slices


def _fork_server() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["replay.replays"])  # once started, a worker forks with these imported
    return context


def _in_worker(compute: Compute[A], settings: Settings, asked: A, reps: list[str]) -> Lists:
    """A worker's slice, on a ledger and an engine of its own."""
    ledger, engine = Ledger(settings), engine_for(settings)
    try:
        return compute(ledger, engine, settings, asked, reps)
    finally:
        engine.dispose()
        ledger.close()
