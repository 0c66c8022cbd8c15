"""event_id: the same key with the same content is accepted once and answered with its position."""

from __future__ import annotations

from builders import ev, onboard


def training(event_id, name="SPIN"):
    return ev("TrainingCompleted", "2026-02-01T00:00:00+00:00", event_id, rep_id="R-1", training=name)


def test_the_same_event_sent_twice_is_recorded_once_and_answered_with_its_first_position(ledger):
    ledger.record([onboard("R-1")], "seed")
    first = ledger.record([training("crm-1")], "t")
    again = ledger.record([training("crm-1")], "t")
    assert again.positions == first.positions == [2]
    assert again.duplicates == [0]
    assert ledger.head().position == 2


def test_a_retried_batch_records_only_its_new_events(ledger):
    ledger.record([onboard("R-1"), training("crm-1")], "seed")
    retried = ledger.record([training("crm-1"), training("crm-2", "MEDDIC")], "t")
    assert retried.positions == [2, 3]
    assert retried.duplicates == [0]


def test_the_same_event_twice_in_one_batch_is_recorded_once(ledger):
    ledger.record([onboard("R-1")], "seed")
    recorded = ledger.record([training("crm-1"), training("crm-1")], "t")
    assert ledger.head().position == 2
    assert recorded.positions[0] == 2


def test_equal_content_is_judged_after_normalisation(ledger):
    """'18000' and '18000.00' are the same amount of money: the retry is the same event."""
    ledger.record(
        [onboard("R-1"), ev("DealOpened", "2026-01-01T00:00:00Z", "o-1", deal_id="D-1", rep_id="R-1", customer_id="C")],
        "t",
    )
    won = ev("DealWon", "2026-02-01T08:00:00+08:00", "w-1", deal_id="D-1", amount="18000")
    again = ev("DealWon", "2026-02-01T08:00:00+08:00", "w-1", deal_id="D-1", amount="18000.00")
    assert ledger.record([won], "t").positions == ledger.record([again], "t").positions


def test_a_retry_that_loses_the_race_to_its_own_first_attempt_is_answered_as_the_duplicate_it_is(ledger, monkeypatch):
    """A client's request is cut off, its first attempt still in flight; the retry looks its
    event_ids up before the first attempt commits, then finds the deal open already — by its own
    twin. The retry is answered with the twin's positions, not refused as a rule violation."""
    ledger.record([onboard("R-1")], "seed")
    batch = [
        ev("DealOpened", "2026-02-01T09:00:00Z", "c1-open", deal_id="D-1", rep_id="R-1", customer_id="C-1"),
        ev("DealWon", "2026-02-10T09:00:00Z", "c1-won", deal_id="D-1", amount="100.00"),
    ]
    first = ledger.record(batch, "t")  # the first attempt, committed while the retry was between steps
    looked_up = ledger._split_known
    lookups = []

    def before_the_twin_committed(commands, hashes, scope):
        lookups.append(scope)
        if len(lookups) == 1:
            return {}, list(commands), {}  # what the retry saw: none of its event_ids yet
        return looked_up(commands, hashes, scope)

    monkeypatch.setattr(ledger, "_split_known", before_the_twin_committed)
    retried = ledger.record(batch, "t")
    assert retried.positions == first.positions == [2, 3]
    assert retried.duplicates == [0, 1]
    assert ledger.head().position == 3
    assert len(lookups) == 2
