"""Idempotent retries: every command sent three times with the same event_id is recorded once.

Four writer processes send refunds on hot deals to a real `perfledger serve --workers 2`; each
command goes three times with one event_id. For every other command the client gives up on the
first attempt after a millisecond (a simulated time-out: the request is on its way and may be
recorded without the client hearing of it), then retries. Every retry that comes after the
command was recorded is answered 201 with the original position and `duplicates: [0]`, racing
the original or not; the log holds each accepted command exactly once.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from reliability.harness import (
    admin_token,
    assert_gap_free_and_ordered,
    children,
    outcomes,
    run_writers,
    seed_hot_deals,
    start_server,
    whole_log,
)

from ledger.store import Ledger

# Real processes (servers, workers, writers): left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.processes

WRITERS, COMMANDS, ATTEMPTS, DEALS, WON = 4, 100, 3, 10, "300.00"
GIVE_UP = 0.001  # seconds: the impatient client's time-out on a first attempt


def attempts_by_command(results: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        grouped[result["event_id"]].append(result)
    return {event_id: sorted(tries, key=lambda r: r["attempt"]) for event_id, tries in grouped.items()}


def assert_once_accepted_always_the_same_answer(tries: list[dict], position: int) -> None:
    """From the first 201 on, every attempt is a 201 naming the one position; the later ones are
    answered as duplicates."""
    first = next(i for i, t in enumerate(tries) if t["outcome"] == "accepted")
    for t in tries[first:]:
        assert t["outcome"] == "accepted" and t["positions"] == [position], tries
    for t in tries[first + 1 :]:
        assert t["duplicates"] == [0], tries


def test_each_command_sent_three_times_with_one_event_id_some_after_a_time_out_is_recorded_once(settings, tmp_path):
    seeded = seed_hot_deals(settings, DEALS, WON)
    token = admin_token(settings)
    with children() as started:
        server, url = start_server(settings, tmp_path, workers=2, projections="external")
        started.append(server)
        results = run_writers(
            settings,
            tmp_path,
            via="http",
            writers=WRITERS,
            count=COMMANDS,
            deals=DEALS,
            url=url,
            token=token,
            repeat=ATTEMPTS,
            give_up=GIVE_UP,
        )
    assert set(outcomes(results)) <= {"accepted", "conflict", "rule", "timeout"}, outcomes(results)
    assert all(r["attempt"] == 0 for r in results if r["outcome"] == "timeout")
    ledger = Ledger(settings)
    log = whole_log(ledger)
    assert_gap_free_and_ordered(log)
    position_of = {r.event_id: r.position for r in log if r.position > seeded}
    assert len(position_of) == len(log) - seeded  # no event_id twice
    tries = attempts_by_command(results)
    assert len(tries) == WRITERS * COMMANDS
    accepted = {event_id for event_id, t in tries.items() if any(r["outcome"] == "accepted" for r in t)}
    assert set(position_of) == accepted  # recorded ⇔ some attempt was told 201
    for event_id in accepted:
        assert_once_accepted_always_the_same_answer(tries[event_id], position_of[event_id])
    recorded_unheard = [e for e, t in tries.items() if t[0]["outcome"] == "timeout" and t[1].get("duplicates") == [0]]
    assert recorded_unheard, "no timed-out first attempt was recorded: the time-out was not simulated"
    assert ledger.verify().ok
    ledger.close()
