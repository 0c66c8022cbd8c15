"""The lookup of a batch's event_ids (one array parameter on PostgreSQL, an IN list on SQLite):
which of them this writer already recorded, among a batch of many."""

from __future__ import annotations

import pytest
from builders import ev, onboard

from ledger.errors import ConflictError
from ledger.idempotency import client_event_id


def training(event_id, name="SPIN", rep="R-1"):
    return ev("TrainingCompleted", "2026-02-01T00:00:00+00:00", event_id, rep_id=rep, training=name)


def test_a_large_batch_with_every_other_id_recorded_records_only_the_others(ledger):
    ledger.record([onboard("R-1")], "seed")
    earlier = ledger.record([training(f"crm-{i}") for i in range(0, 1200, 2)], "cli:op")
    batch = [training(f"crm-{i}") for i in range(1200)]
    recorded = ledger.record(batch, "cli:op")
    assert recorded.duplicates == list(range(0, 1200, 2))
    assert recorded.positions[0:1200:2] == earlier.positions
    assert recorded.positions[1:1200:2] == list(range(602, 1202))
    assert ledger.head().position == 1201


def test_the_lookup_answers_each_recorded_id_with_its_position_and_leaves_the_rest_out(ledger):
    ledger.record([onboard("R-1")], "seed")
    ledger.record([training("a"), training("b", "MEDDIC")], "cli:op")
    found = ledger.entries_by_event_id("operator", ["b", "never", "a"])
    assert {event_id: position for event_id, (position, _, _) in found.items()} == {"a": 2, "b": 3}


def test_another_writers_same_ids_are_not_found_in_the_lookup(ledger):
    ledger.record([onboard("R-1")], "seed")
    ledger.record([training(f"crm-{i}") for i in range(50)], "finance:tok_f1")
    assert ledger.entries_by_event_id("operator", [f"crm-{i}" for i in range(50)]) == {}
    again = ledger.record([training(f"crm-{i}") for i in range(50)], "cli:op")  # new keys: new events
    assert again.duplicates == [] and ledger.head().position == 101


def test_a_bare_key_from_before_scoping_is_found_for_the_writer_that_recorded_it(ledger):
    ledger.record([onboard("R-1"), training("legacy-1")], "cli:op")
    table = ledger.recorder.entries_table
    mark = "%s" if ledger.is_postgres else "?"
    with ledger.recorder.datastore.transaction(commit=True) as cursor:  # the key as stored before scoping
        cursor.execute(f"UPDATE {table} SET event_id = {mark} WHERE position = 2", ["legacy-1"])
    assert client_event_id("legacy-1") == "legacy-1"
    assert ledger.record([training("legacy-1"), training("new-1", "MEDDIC")], "cli:op").positions == [2, 3]
    assert ledger.entries_by_event_id("finance:tok_f1", ["legacy-1"]) == {}


def test_a_recorded_id_resent_with_other_content_among_many_refuses_the_batch(ledger):
    ledger.record([onboard("R-1")], "seed")
    ledger.record([training(f"crm-{i}") for i in range(300)], "cli:op")
    batch = [training(f"crm-{i}") for i in range(300, 600)] + [training("crm-150", "MEDDIC")]
    with pytest.raises(ConflictError):
        ledger.record(batch, "cli:op")
    assert ledger.head().position == 301
