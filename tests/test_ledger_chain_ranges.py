"""Verify's two reads on PostgreSQL (the entries and the events, each one range, zipped by
notification id), the join it falls back to, and when it splits the log with a worker."""

from __future__ import annotations

import pytest
from builders import onboard
from test_ledger_chain import move_event, raw, state_of

from ledger import verifying


@pytest.fixture
def joins(monkeypatch):
    """The positions from which verify checked through the join."""
    seen: list[int] = []
    checked_joined = verifying.Verifying._check_joined

    def spy(self, previous, after, *args, **kwargs):
        seen.append(after)
        return checked_joined(self, previous, after, *args, **kwargs)

    monkeypatch.setattr(verifying.Verifying, "_check_joined", spy)
    return seen


@pytest.fixture
def log(ledger, monkeypatch):
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM", 10**12)
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM_POSTGRES", 10**12)
    ledger.record([onboard(f"R-{i}") for i in range(1, 31)], "seed")
    return ledger


def test_on_postgresql_an_untouched_log_is_checked_by_the_two_reads_alone(log, joins):
    report = log.verify(page=4)  # chunks of four rows: the reads line up across chunks
    assert report.ok and report.events_checked == 30
    assert joins == ([] if log.is_postgres else [0])


def test_a_changed_byte_is_found_by_the_two_reads(log, joins):
    state, key = state_of(log, 17)
    tampered = state.replace(b"R-17", b"R-71")
    assert tampered != state
    table, column = log.recorder.events_table, log.recorder.notification_key
    raw(log, f"UPDATE {table} SET state = ? WHERE {column} = ?", (tampered, key))
    report = log.verify(page=4)
    assert not report.ok and report.first_bad_position == 17 and report.events_checked == 16
    assert joins == ([] if log.is_postgres else [0])


def test_an_event_stored_behind_the_ledgers_back_among_the_others_is_skipped_then_counted(log, joins):
    move_event(log, 30, 1000)  # a gap of ids before the last event, where a stray one goes
    table = log.recorder.events_table
    raw(
        log,
        f"INSERT INTO {table} ({log.recorder.notification_key}, originator_id, originator_version, topic, state) "
        f"SELECT 500, originator_id, originator_version + 1000, topic, state FROM {table} LIMIT 1",
    )
    report = log.verify(page=4)
    assert not report.ok and report.events_checked == 30
    assert "1 stored event(s) have no ledger entry" in report.message
    assert joins == ([] if log.is_postgres else [0])


def test_ids_out_of_order_hand_the_rest_to_the_join_which_still_finds_a_change(log, joins):
    move_event(log, 10, 1000)  # the chain still holds: the id is not hashed
    assert log.verify(page=4).ok
    assert joins == ([10] if log.is_postgres else [0])  # position 10 matched; 11's event was passed
    joins.clear()
    state, key = state_of(log, 20)
    table, column = log.recorder.events_table, log.recorder.notification_key
    raw(log, f"UPDATE {table} SET state = ? WHERE {column} = ?", (state.replace(b"R-20", b"R-02"), key))
    report = log.verify(page=4)
    assert not report.ok and report.first_bad_position == 20
    assert joins == ([10] if log.is_postgres else [0])


def test_a_missing_event_is_named_by_the_join_where_the_reads_stop_lining_up(log, joins):
    _, key = state_of(log, 12)
    raw(log, f"DELETE FROM {log.recorder.events_table} WHERE {log.recorder.notification_key} = ?", (key,))
    report = log.verify(page=4)
    assert report.first_bad_position == 12 and report.events_checked == 11
    assert "missing" in report.message
    assert joins == ([11] if log.is_postgres else [0])


def test_a_missing_last_event_is_named_too(log, joins):
    _, key = state_of(log, 30)
    raw(log, f"DELETE FROM {log.recorder.events_table} WHERE {log.recorder.notification_key} = ?", (key,))
    report = log.verify(page=4)
    assert report.first_bad_position == 30 and report.events_checked == 29


def test_a_missing_entry_is_named_by_the_join(log, joins):
    raw(log, f"DELETE FROM {log.recorder.entries_table} WHERE position = ?", (8,))
    report = log.verify(page=4)
    assert report.first_bad_position == 8 and report.events_checked == 7
    assert joins == ([7] if log.is_postgres else [0])


def test_a_digest_is_seen_by_the_two_reads(log):
    written_down = log.head().link
    log.record([onboard("R-99")], "t")
    report = log.verify(written_down, page=4)
    assert report.ok and report.extends_digest is True


class _NoWorker:
    def __init__(self, *args, **kwargs):
        raise AssertionError("no worker process should start")


def test_on_postgresql_the_worker_starts_only_from_its_own_threshold(ledger, monkeypatch):
    ledger.record([onboard(f"R-{i}") for i in range(1, 6)], "seed")
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM", 0)
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM_POSTGRES", 10**12)
    monkeypatch.setattr(verifying, "ProcessPoolExecutor", _NoWorker)
    if ledger.is_postgres:
        assert ledger.verify().ok
    else:
        with pytest.raises(AssertionError, match="no worker"):
            ledger.verify()


def test_events_stored_behind_the_ledgers_back_between_every_entry_are_each_skipped(log, joins):
    events, entries = log.recorder.events_table, log.recorder.entries_table
    column = log.recorder.notification_key
    for position in range(30, 0, -1):  # each event and its entry to id position × 10, leaving gaps
        move_event(log, position, position * 10)
    raw(
        log,
        f"INSERT INTO {events} ({column}, originator_id, originator_version, topic, state) "
        f"SELECT e.{column} + 5, e.originator_id, e.originator_version + 1000, e.topic, e.state "
        f"FROM {events} e JOIN {entries} l ON l.notification_id = e.{column}",
    )
    report = log.verify(page=4)
    assert report.events_checked == 30 and "30 stored event(s) have no ledger entry" in report.message
    assert joins == ([] if log.is_postgres else [0])
