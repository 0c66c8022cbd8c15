"""The follow-ups a rebuild replays in SQL, in the ledger's own SQLite file, are the rows the
handlers write: the same log projected both ways, row for row.

The SQL side runs with the accelerators on (it is one); the handlers' side runs both ways (the
`accel` fixture): on the plain path, and accelerated where the SQL cannot run (another file)."""

from __future__ import annotations

import pytest
from builders import GENERATED_UNTIL, ev
from projection_fixtures import accelerators, table_contents

from demo.generator import generate
from ledger.config import Settings
from projections.accel import followups_in_store
from projections.db import engine_for
from projections.runner import catch_up, rebuild

# What the generator never writes: times with microseconds and in other zones, an offset with
# seconds (SQLite's `unixepoch` cannot read it: the handler folds that one, scheduled or
# completed), and follow-ups completed in the very stretch they were scheduled in.
EDGES = [
    ev(
        "FollowUpScheduled",
        "2026-02-03T09:15:00.999999+05:30",
        followup_id="F-edge-1",
        rep_id="R-0001",
        due_at="2026-02-10T09:00:00.000001-08:00",
    ),
    ev(
        "FollowUpScheduled",
        "2026-02-03T09:16:00+05:30:15",
        followup_id="F-edge-2",
        rep_id="R-0001",
        due_at="2026-02-10T09:00:00Z",
        deal_id="D-x",
    ),
    ev(
        "FollowUpScheduled",
        "2026-02-03T09:17:00Z",
        followup_id="F-edge-3",
        rep_id="R-0002",
        due_at="2026-02-11T09:00:00+05:30:15",
        lead_id="L-x",
    ),
    ev("FollowUpCompleted", "2026-02-04T10:00:00.5+00:00", followup_id="F-edge-1"),
    ev("FollowUpCompleted", "2026-02-04T10:00:00+05:30:15", followup_id="F-edge-2"),
]


@pytest.fixture
def store(edged_store, store_url):  # the ledger's own SQLite file, or its own PostgreSQL database
    return edged_store(generate(3000, seed=7, tz="Asia/Shanghai", now=GENERATED_UNTIL), EDGES, store_url)


def followup_rows(engine) -> list:
    return table_contents(engine)["followups"]


@pytest.mark.parametrize("stretch", [250, 100_000])
def test_a_rebuild_replays_the_followups_into_the_rows_the_handlers_write(store, tmp_path, monkeypatch, stretch, accel):
    monkeypatch.setattr("projections.accel.in_store.STAGE_STRETCH", stretch)
    head = store.ledger.head().position
    with accelerators(True):
        assert rebuild(store.ledger, store.engine, split=False) == head
    scratch = engine_for(Settings(database_url=f"sqlite:///{tmp_path}/scratch.db"))
    try:
        assert catch_up(store.ledger, scratch, batch_size=300) == head  # the handlers, batch by batch
        in_sql, by_handlers = followup_rows(store.engine), followup_rows(scratch)
    finally:
        scratch.dispose()
    assert in_sql == by_handlers
    by_id = {row[0]: row for row in in_sql}
    completed = [row for row in in_sql if row[-1] is not None]
    assert len(by_id) == store.ledger.count_of_type("FollowUpScheduled", 0, head) > len(EDGES)
    assert len(completed) == store.ledger.count_of_type("FollowUpCompleted", 0, head) > 2
    # followup_id, rep_id, due_us, deal_id, lead_id, position, occurred_us, recorded_us, completed_us, ...
    assert by_id["F-edge-1"][2] == 1_770_742_800_000_001  # due 2026-02-10T17:00:00.000001Z
    assert by_id["F-edge-1"][6] == 1_770_090_300_999_999  # 2026-02-03T03:45:00.999999Z
    assert by_id["F-edge-1"][8] == 1_770_199_200_500_000  # completed 2026-02-04T10:00:00.5Z
    assert by_id["F-edge-2"][6] == 1_770_090_345_000_000  # 2026-02-03T03:45:45Z: by the handler
    assert by_id["F-edge-2"][8] == 1_770_179_385_000_000  # completed 2026-02-04T04:29:45Z: by the handler
    assert by_id["F-edge-3"][2] == 1_770_780_585_000_000  # due 2026-02-11T03:29:45Z: by the handler
    assert by_id["F-edge-3"][8] is None


def test_a_replay_the_sql_reads_none_of_is_folded_by_the_handlers(store, monkeypatch, accel):
    catch_up(store.ledger, store.engine, batch_size=500)
    by_handlers = followup_rows(store.engine)
    statements = followups_in_store._statements
    monkeypatch.setattr(
        followups_in_store,
        "_statements",
        lambda *args: tuple(
            s.replace("WHERE version IS NULL", "WHERE 1 = 0 AND version IS NULL") for s in statements(*args)
        ),
    )
    with accelerators(True):
        rebuild(store.ledger, store.engine, split=False)
    assert followup_rows(store.engine) == by_handlers
