"""The hash chain: an untouched log verifies; any rewrite is found at its first position."""

from __future__ import annotations

import pytest
from builders import onboard, open_deal, win

from ledger import verifying
from ledger.chain import GENESIS


@pytest.fixture(params=["one pass", pytest.param("split", marks=pytest.mark.processes)])
def passes(request, monkeypatch):
    """Every check in one pass, and with the later stretch checked by a worker process."""
    split_from = 0 if request.param == "split" else 10**12
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM", split_from)
    monkeypatch.setattr(verifying, "VERIFY_SPLIT_FROM_POSTGRES", split_from)


@pytest.fixture(params=["ids in order", "ids out of order"])
def log(ledger, passes, request):
    """A log of seven events. On PostgreSQL verify reads the entries and the events as two ranges
    while their notification ids line up; with position 2's event moved to an id before the
    first one (its entry with it: the chain does not hash the id) they do not, and the join
    checks the rest. (An id after the last would be taken by the recorder as its latest row.)"""
    ledger.record([onboard(f"R-{i}") for i in range(1, 6)], "seed")
    ledger.record([open_deal("D-1", "R-1"), win("D-1", "100.00")], "seed")
    if request.param == "ids out of order":
        move_event(ledger, 2, -2)
    return ledger


def move_event(ledger, position, notification_id):
    """The event at `position` and its entry given another notification id."""
    _, key = state_of(ledger, position)
    table, column = ledger.recorder.events_table, ledger.recorder.notification_key
    raw(ledger, f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (notification_id, key))
    raw(
        ledger,
        f"UPDATE {ledger.recorder.entries_table} SET notification_id = ? WHERE position = ?",
        (notification_id, position),
    )


def raw(ledger, sql, params=()):
    """Tamper behind the ledger's back, as an attacker with database access would."""
    mark = "%s" if ledger.is_postgres else "?"
    with ledger.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(sql.replace("?", mark), list(params))


def state_of(ledger, position):
    rec = ledger.recorder
    rows = ledger._query(
        f"SELECT e.state, e.{rec.notification_key} FROM {rec.events_table} e JOIN {rec.entries_table} l "
        f"ON l.notification_id = e.{rec.notification_key} WHERE l.position = {{p}}",
        None,
        (position,),
    )
    return bytes(rows[0][0]), rows[0][1]


def test_an_untouched_log_verifies(log):
    report = log.verify()
    assert report.ok and report.events_checked == 7 and report.first_bad_position is None
    assert report.head == log.head().link


def test_an_empty_log_verifies_to_the_genesis_link(ledger):
    report = ledger.verify()
    assert report.ok and report.events_checked == 0 and report.head == GENESIS


def test_one_changed_byte_is_found_at_its_position(log):
    state, key = state_of(log, 7)
    tampered = state.replace(b"100.00", b"900.00")
    assert tampered != state
    raw(
        log,
        f"UPDATE {log.recorder.events_table} SET state = ? WHERE {log.recorder.notification_key} = ?",
        (tampered, key),
    )
    report = log.verify()
    assert not report.ok and report.first_bad_position == 7


def test_a_deleted_event_is_found_at_its_position(log):
    _, key = state_of(log, 3)
    raw(log, f"DELETE FROM {log.recorder.events_table} WHERE {log.recorder.notification_key} = ?", (key,))
    assert log.verify().first_bad_position == 3


def test_a_deleted_entry_is_found_at_its_position(log):
    raw(log, f"DELETE FROM {log.recorder.entries_table} WHERE position = ?", (4,))
    assert log.verify().first_bad_position == 4


def test_two_swapped_rows_are_found_at_the_first_of_them(log):
    state2, key2 = state_of(log, 2)
    state5, key5 = state_of(log, 5)
    table, key = log.recorder.events_table, log.recorder.notification_key
    raw(log, f"UPDATE {table} SET state = ? WHERE {key} = ?", (state5, key2))
    raw(log, f"UPDATE {table} SET state = ? WHERE {key} = ?", (state2, key5))
    assert log.verify().first_bad_position == 2


def test_a_changed_knowledge_time_is_found(log):
    raw(log, f"UPDATE {log.recorder.entries_table} SET recorded_at = recorded_at - 1000000 WHERE position = ?", (6,))
    assert log.verify().first_bad_position == 6


def test_a_head_written_down_earlier_is_extended_by_later_appends(log):
    written_down = log.head().link
    log.record([onboard("R-9")], "t")
    report = log.verify(written_down)
    assert report.ok and report.extends_digest is True


def test_a_head_that_the_log_no_longer_passes_through_fails(log):
    written_down = log.head().link
    state, key = state_of(log, 1)
    raw(
        log,
        f"UPDATE {log.recorder.events_table} SET state = ? WHERE {log.recorder.notification_key} = ?",
        (state.replace(b"T-1", b"T-X"), key),  # the team (a name is sealed)
    )
    assert not log.verify(written_down).ok


def test_a_digest_from_elsewhere_does_not_verify(log):
    report = log.verify("ab" * 32)
    assert not report.ok and report.extends_digest is False


def test_an_event_stored_behind_the_ledgers_back_is_found(log):
    table = log.recorder.events_table
    raw(
        log,
        f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
        f"SELECT originator_id, originator_version + 1000, topic, state FROM {table} LIMIT 1",
    )
    report = log.verify()
    assert not report.ok and report.events_checked == 7
    assert "1 stored event(s) have no ledger entry" in report.message


def test_a_long_log_verifies_across_pages_and_a_gap_is_named_on_a_later_page(log):
    log.record([onboard(f"R-{i}") for i in range(10, 40)], "seed")  # positions 8 to 37
    assert log.verify(page=5).ok
    raw(log, f"DELETE FROM {log.recorder.entries_table} WHERE position = ?", (23,))
    report = log.verify(page=5)
    assert report.first_bad_position == 23 and report.events_checked == 22
