"""A replay of many reps computed in slices by worker processes equals the plain replay.

The plain path (one process, every rep) is the specification (replay/slices.py); here the slices
are asked for from two reps on (`MIN_REPS`), on the approved quarter of test_replay.py: one rep
approved and since corrected, one approved with a deal backdated into the quarter since, both
replayed under plan version 2, so every cause (the rule's, the facts', both) is in the answer.
"""

from __future__ import annotations

import os
import signal
from decimal import Decimal

import pytest
from test_replay import approved_q1  # noqa: F401 - the fixture

import replay.slices as slices
from projections.accel.registry import SWITCH
from projections.db import ReadInterrupted
from replay.replays import PlanRequest, replay


def test_split_gives_consecutive_slices_whose_sizes_differ_by_at_most_one():
    assert slices.split(["R-1", "R-2", "R-3", "R-4", "R-5"], 2) == [["R-1", "R-2", "R-3"], ["R-4", "R-5"]]
    assert slices.split(["R-1", "R-2"], 2) == [["R-1"], ["R-2"]]
    assert [len(part) for part in slices.split([f"R-{i}" for i in range(5_050)], 3)] == [1684, 1683, 1683]


@pytest.fixture
def sliced_from_two_reps(monkeypatch):
    """Slices from two reps on, on a machine of two cores; which reps each slice took."""
    monkeypatch.setattr(slices, "MIN_REPS", 2)
    monkeypatch.setattr(slices.os, "cpu_count", lambda: 2)
    monkeypatch.setenv(SWITCH, "1")
    taken: list[list[list[str]]] = []
    split = slices.split

    def spied(reps, parts):
        taken.append(split(reps, parts))
        return taken[-1]

    monkeypatch.setattr(slices, "split", spied)
    return taken


def test_a_replay_in_slices_answers_exactly_as_the_plain_replay(approved_q1, sliced_from_two_reps, monkeypatch):  # noqa: F811
    ledger, engine, settings, _ = approved_q1
    sliced = replay(ledger, engine, settings, "2026-Q1", PlanRequest("std", 2))
    assert sliced_from_two_reps == [[["R-1"], ["R-2"]]]  # R-2's payouts were computed by a worker process
    monkeypatch.setenv(SWITCH, "0")  # the accelerators off: the plain path
    plain = replay(ledger, engine, settings, "2026-Q1", PlanRequest("std", 2))
    assert sliced_from_two_reps == [[["R-1"], ["R-2"]]]  # not sliced again
    assert sliced == plain
    by_rep = {row["rep_id"]: row for row in sliced["diff"]}
    assert [row["basis"] for row in by_rep.values()] == ["approved", "approved"]
    # what was learned since each approval (R-1's correction, R-2's backdated deal) moved both
    assert all(row["causes"]["facts"]["delta"] != Decimal("0.00") for row in by_rep.values())


def test_a_period_in_progress_is_replayed_as_of_one_moment_in_every_slice(approved_q1, sliced_from_two_reps):  # noqa: F811
    ledger, engine, settings, _ = approved_q1
    in_progress = str(settings.now().year) + "-Q" + str((settings.now().month - 1) // 3 + 1)
    answer = replay(ledger, engine, settings, in_progress, PlanRequest("std", 2))
    assert sliced_from_two_reps == [[["R-1"], ["R-2"]]]
    assert [p["period_status"] for p in answer["payouts"]] == ["in_progress", "in_progress"]
    # the worker's rep read as of the very moment this process's rep was: the replay's one "now"
    assert answer["payouts"][0]["as_of"] == answer["payouts"][1]["as_of"]


@pytest.mark.parametrize(
    ("mishap", "raised", "message"),
    [
        ("raises", RuntimeError, "a worker's slice failed"),  # the worker's own error, as it was raised
        ("is killed", ReadInterrupted, "run it again"),  # as by the out-of-memory killer: nothing was written
    ],
)
def test_what_goes_wrong_in_a_worker_is_raised_by_the_replay(
    approved_q1,  # noqa: F811 - the fixture
    sliced_from_two_reps,
    mishap,
    raised,
    message,
):
    ledger, engine, settings, _ = approved_q1
    with pytest.raises(raised, match=message):
        slices.in_slices(_goes_wrong_in_a_worker, ledger, engine, settings, (os.getpid(), mishap), ["R-1", "R-2"])


def _goes_wrong_in_a_worker(ledger, engine, settings, asked, reps):
    parent_pid, mishap = asked
    if os.getpid() != parent_pid:
        if mishap == "raises":
            raise RuntimeError("a worker's slice failed")
        os.kill(os.getpid(), signal.SIGKILL)
    return (list(reps),)
