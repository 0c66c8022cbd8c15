"""The figures memo (api/figures_memo.py): figures remembered at one head of the log, computed
once when two requests ask for them at the same time, and never for a key that names no
repeatable read."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from api.figures_memo import FiguresMemo
from api.probe import Glance

HEAD_RECORDED = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # after the head entry was recorded: all of it is known


def glance(head: int) -> Glance:
    return Glance(head=head, projected=head, revoked=0, head_recorded_us=int(HEAD_RECORDED.timestamp()) * 1_000_000)


def test_two_requests_asking_the_same_figures_at_once_compute_them_once():
    memo = FiguresMemo()
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append("computed")
        started.set()
        release.wait(5)
        return {"revenue": "100.00"}

    answers = []
    first = threading.Thread(target=lambda: answers.append(memo.figures(glance(7), "k", NOW, False, slow)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: answers.append(memo.figures(glance(7), "k", NOW, False, slow)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert calls == ["computed"]  # the second waited for the first's figures
    assert answers == [{"revenue": "100.00"}, {"revenue": "100.00"}]


def test_a_failed_computation_lets_the_next_request_compute_again():
    memo = FiguresMemo()

    def broken():
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        memo.figures(glance(7), "k", NOW, False, broken)
    assert memo.figures(glance(7), "k", NOW, False, lambda: 3) == 3


def test_a_key_none_a_new_head_or_a_past_known_at_always_compute():
    memo = FiguresMemo()
    assert memo.figures(glance(7), None, NOW, False, lambda: 1) == 1
    assert memo.figures(glance(7), None, NOW, False, lambda: 2) == 2  # None names no repeatable read
    assert memo.figures(glance(7), "k", NOW, False, lambda: 1) == 1
    assert memo.figures(glance(7), "k", NOW, False, lambda: 2) == 1  # remembered at head 7
    assert memo.figures(glance(8), "k", NOW, False, lambda: 3) == 3  # something was recorded: afresh
    assert memo.figures(glance(8), "k", NOW, True, lambda: 4) == 4  # an explicit known_at
    before_head = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    assert memo.figures(glance(8), "k", before_head, False, lambda: 5) == 5  # not all of the head known


def test_the_inputs_of_the_queries_keep_only_the_latest_few_at_a_head():
    memo = FiguresMemo(inputs_capacity=2)
    for n in range(3):  # three windows of "now" moving on: the first is let go
        assert memo.at_head(glance(7), ("tracks", n), lambda n=n: n, inputs=True) == n
    assert memo.at_head(glance(7), ("tracks", 0), lambda: "again", inputs=True) == "again"
    assert memo.at_head(glance(7), ("tracks", 2), lambda: "again", inputs=True) == 2
    assert memo.figures(glance(7), ("tracks", 2), NOW, False, lambda: "figures") == "figures"  # apart from figures
