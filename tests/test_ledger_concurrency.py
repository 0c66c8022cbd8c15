"""Writers racing on the same deal: one wins, the other is told, nothing is lost or doubled."""

from __future__ import annotations

import random
import threading

from builders import ev, onboard, open_deal, refund, win

from ledger.errors import ConflictError, InvalidBatch
from ledger.store import Ledger


def pause_before_saving(ledger: Ledger, barrier: threading.Barrier) -> None:
    """Both writers load the deal at the same version before either saves."""
    handle = ledger._handle

    def handle_then_wait(commands):
        uow = handle(commands)
        barrier.wait(timeout=10)
        return uow

    ledger._handle = handle_then_wait


def test_two_writers_racing_on_one_deal_one_succeeds_the_other_gets_a_conflict(settings):
    seed = Ledger(settings)
    seed.record([onboard("R-1"), open_deal("D-1", "R-1")], "seed")
    writers = [Ledger(settings), Ledger(settings)]
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def attempt(i: int) -> None:
        pause_before_saving(writers[i], barrier)
        try:
            outcomes[i] = writers[i].record(
                [ev("DealWon", "2026-02-01T00:00:00Z", f"win-{i}", deal_id="D-1", amount=f"{i + 1}00.00")], f"w{i}"
            )
        except ConflictError as conflict:
            outcomes[i] = conflict

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [o for o in outcomes.values() if isinstance(o, ConflictError)]
    assert len(conflicts) == 1, outcomes
    log = seed.read_log()
    wins = [r for r in log if r.type == "DealWon"]
    assert len(wins) == 1
    assert [r.position for r in log] == [1, 2, 3]  # gap-free, even on PostgreSQL's sequence
    assert seed.verify().ok
    for store in (seed, *writers):
        store.close()


def test_many_writers_on_hot_deals_keep_the_log_gap_free_and_exact(settings):
    deals = [f"D-{i}" for i in range(5)]
    seed = Ledger(settings)
    seed.record([onboard("R-1"), *[open_deal(d, "R-1") for d in deals], *[win(d, "1000.00") for d in deals]], "seed")
    accepted: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        store = Ledger(settings)
        rng = random.Random(n)
        for k in range(25):
            event_id = f"w{n}-{k}"
            envelope = {**refund(rng.choice(deals), "30.00"), "event_id": event_id}
            try:
                store.record([envelope], f"writer-{n}")
            except (ConflictError, InvalidBatch):
                continue
            with lock:
                accepted.append(event_id)
        store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = seed.read_log(limit=10_000)
    assert [r.position for r in log] == list(range(1, len(log) + 1))
    recorded_ids = [r.event_id for r in log if r.event_id]
    assert sorted(recorded_ids) == sorted(accepted)  # every accepted command once, nothing else
    refunded = {}
    for r in log:
        if r.type == "DealRefunded":
            refunded[r.data["deal_id"]] = refunded.get(r.data["deal_id"], 0) + r.data["amount"]
    assert all(total <= 1000 for total in refunded.values())
    assert seed.verify().ok
    seed.close()
