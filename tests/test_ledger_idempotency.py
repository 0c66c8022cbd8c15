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
