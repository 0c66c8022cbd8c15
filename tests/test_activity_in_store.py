"""The activities folded in SQL, in the ledger's own SQLite file, write exactly the rows the
Python handler writes: the same log projected both ways, table for table.

The SQL side runs with the accelerators on (it is one); the handler's side runs both ways (the
`accel` fixture): on the plain path, and accelerated where the SQL cannot run (another file)."""

from __future__ import annotations

import pytest
from builders import GENERATED_UNTIL, ev
from projection_fixtures import accelerators, table_contents
from sqlalchemy.exc import OperationalError

from demo.generator import generate
from ledger.config import Settings
from ledger.reading import BoundedLog
from projections.accel import activity_in_store
from projections.accel.activity_in_store import IN_STORE_VERSIONS, InStoreActivities
from projections.accel.in_store import in_store
from projections.accel.rebuild import split_off
from projections.db import engine_for, try_writing, writing
from projections.runner import catch_up, rebuild
from projections.view import TrackingConflict
from replay.audit import scratch_store

# What the generator never writes: every form of `replied`, business times in other zones,
# with microseconds, and an offset with seconds, which SQLite's `unixepoch` cannot read (that
# one is folded by the handler, inside the SQL fold's batch).
EDGES = [
    ev(
        "ActivityLogged",
        "2026-02-03T09:15:00+00:00",
        activity_id="E-replied",
        rep_id="R-0001",
        kind="email",
        replied=True,
    ),
    ev(
        "ActivityLogged",
        "2026-02-03T09:16:00+00:00",
        activity_id="E-unreplied",
        rep_id="R-0001",
        kind="email",
        replied=False,
    ),
    ev("ActivityLogged", "2026-02-03T09:17:00+00:00", activity_id="E-unsaid", rep_id="R-0001", kind="email"),
    ev(
        "ActivityLogged",
        "2026-02-03T09:18:00+00:00",
        activity_id="C-replied",
        rep_id="R-0001",
        kind="call",
        replied=True,
    ),
    ev("ActivityLogged", "2026-02-03T23:59:59.999999+05:30", activity_id="Z-kolkata", rep_id="R-0002", kind="visit"),
    ev("ActivityLogged", "2026-02-03T00:00:00.000001-08:00", activity_id="Z-pacific", rep_id="R-0002", kind="demo"),
    ev("ActivityLogged", "2026-02-03T10:00:00Z", activity_id="Z-zulu", rep_id="R-0002", kind="meeting"),
    ev("ActivityLogged", "2026-02-03T10:00:00+05:30:15", activity_id="Z-seconds", rep_id="R-0002", kind="other"),
]
ACTIVITY_TABLES = ("activities", "activity_hours", "rep_activity_spans")


@pytest.fixture
def store(edged_store, store_url):  # the ledger's own SQLite file, or its own PostgreSQL database
    return edged_store(generate(2500, seed=5, tz="Asia/Shanghai", now=GENERATED_UNTIL), EDGES, store_url)


def activity_tables(engine) -> dict[str, list]:
    return {name: rows for name, rows in table_contents(engine).items() if name in ACTIVITY_TABLES}


@pytest.mark.parametrize("batch_size", [97, 5000])
def test_the_activities_folded_in_sql_are_the_rows_the_handler_writes(store, tmp_path, batch_size, accel):
    scratch = engine_for(Settings(database_url=f"sqlite:///{tmp_path}/scratch.db"))
    try:
        assert in_store(store.ledger, store.engine, IN_STORE_VERSIONS) and not in_store(
            store.ledger, scratch, IN_STORE_VERSIONS
        )
        # a split rebuild's worker: every projection but the sales where the activities fold in
        # SQL; the activities alone where they fold in Python (the caller folds the rest)
        assert split_off(store.ledger, scratch) == ("activity",)
        assert "activity" in split_off(store.ledger, store.engine) and "sales" not in split_off(
            store.ledger, store.engine
        )
        head = store.ledger.head().position
        with accelerators(True):
            assert catch_up(store.ledger, store.engine, batch_size=batch_size) == head
        assert catch_up(store.ledger, scratch, batch_size=batch_size) == head
        in_sql, in_python = activity_tables(store.engine), activity_tables(scratch)
    finally:
        scratch.dispose()
    assert in_sql == in_python
    by_id = {row[1]: row for row in in_sql["activities"]}
    assert len(by_id) == store.ledger.count_of_type("ActivityLogged", 0, head) > len(EDGES)
    # position, activity_id, rep_id, kind, replied, occurred_us, recorded_us
    assert [by_id[a][4] for a in ("E-replied", "E-unreplied", "E-unsaid", "C-replied")] == [1, 0, 0, None]
    assert by_id["Z-kolkata"][5] == 1_770_143_399_999_999  # 2026-02-03T18:29:59.999999Z
    assert by_id["Z-pacific"][5] == 1_770_105_600_000_001  # 2026-02-03T08:00:00.000001Z
    assert by_id["Z-seconds"][5] == 1_770_092_985_000_000  # 2026-02-03T04:29:45Z: folded by the handler


def test_a_stretch_the_sql_cannot_read_whole_is_completed_by_the_handler(store, monkeypatch, accel):
    # Were every event of another class version, the SQL would read none of them: the count
    # tells, and the handler folds them all, rollup included.
    statements = activity_in_store._statements
    with monkeypatch.context() as patched, accelerators(True):
        patched.setattr(activity_in_store, "_statements", lambda *args: _reading_nothing(statements(*args)))
        catch_up(store.ledger, store.engine, batch_size=500)
    folded_by_handler = activity_tables(store.engine)
    rebuild(store.ledger, store.engine)
    assert activity_tables(store.engine) == folded_by_handler


def _reading_nothing(statements: tuple[str, str, str]) -> tuple[str, str, str]:
    insert, *rollups = statements
    return insert.replace("WHERE version IS NULL", "WHERE 1 = 0 AND version IS NULL"), *rollups


def test_a_rebuild_replays_the_activities_whole_into_the_rows_the_handler_writes(store, tmp_path, monkeypatch, accel):
    # SQLite: the replay stages the activities in temporary tables, in read transactions:
    # another connection can take SQLite's write lock meanwhile, and each stage leaves nothing
    # in the store's own tables. PostgreSQL: each stretch is written into the tables with its
    # tracked position (no one write lock to spare).
    staged = activity_in_store.stage
    lock_was_free = []
    sqlite = not store.ledger.is_postgres

    def staging(conn, *args):
        staged(conn, *args)
        with try_writing(store.engine) as other:
            lock_was_free.append(other is not None)
        if sqlite:
            assert conn.exec_driver_sql("SELECT count(*) FROM activities").scalar() == 0

    head = store.ledger.head().position
    with monkeypatch.context() as patched, accelerators(True):
        patched.setattr(activity_in_store, "stage", staging)
        assert rebuild(store.ledger, store.engine, split=False) == head
    assert lock_was_free and all(lock_was_free)
    scratch = engine_for(Settings(database_url=f"sqlite:///{tmp_path}/scratch.db"))
    try:
        assert rebuild(store.ledger, scratch, split=False) == head  # not in store: the handler's batches
        assert activity_tables(store.engine) == activity_tables(scratch)
    finally:
        scratch.dispose()


def test_a_replay_reads_what_the_sql_cannot_with_the_handler(store, monkeypatch, accel):
    catch_up(store.ledger, store.engine, batch_size=500)
    folded_in_batches = activity_tables(store.engine)
    statements = activity_in_store._statements
    monkeypatch.setattr(activity_in_store, "_statements", lambda *args: _reading_nothing(statements(*args)))
    with accelerators(True):
        rebuild(store.ledger, store.engine, split=False)
    assert activity_tables(store.engine) == folded_in_batches


def test_a_replay_into_tables_another_worker_has_moved_writes_nothing(store, accel):
    catch_up(store.ledger, store.engine, batch_size=500)
    before = activity_tables(store.engine)
    with pytest.raises(TrackingConflict):  # the activities are tracked at the head, not at 0
        InStoreActivities().replay(store.ledger, store.engine, store.ledger.head().position)
    assert activity_tables(store.engine) == before


def test_a_scratch_store_attaching_the_ledger_read_only_replays_in_sql_and_leaves_the_ledger_free(
    store, tmp_path, accel
):
    # The audit's scratch store: another file, which attaches the ledger's read-only.
    if store.ledger.is_postgres:
        pytest.skip("a SQLite ledger only: a PostgreSQL store's audit rebuilds in a schema of its database")
    attached = engine_for(
        Settings(database_url=f"sqlite:///{tmp_path}/attached.db"), reads_ledger=store.ledger.settings.database_url
    )
    alone = engine_for(Settings(database_url=f"sqlite:///{tmp_path}/alone.db"))
    try:
        assert in_store(store.ledger, attached, IN_STORE_VERSIONS) and not in_store(
            store.ledger, alone, IN_STORE_VERSIONS
        )
        with writing(attached) as conn:  # the scratch store's write lock held: the ledger still records
            store.record(
                ev(
                    "ActivityLogged",
                    "2026-02-04T09:00:00+00:00",
                    activity_id="while-writing",
                    rep_id="R-0001",
                    kind="call",
                )
            )
            with pytest.raises(OperationalError, match="readonly"):
                conn.exec_driver_sql("DELETE FROM ledger.ledger_entries")
        head = store.ledger.head().position
        with accelerators(True):
            assert rebuild(store.ledger, attached, split=False) == head  # replayed in SQL
        assert rebuild(store.ledger, alone, split=False) == head  # folded by the handler
        assert activity_tables(attached) == activity_tables(alone)
        assert table_contents(attached)["followups"] == table_contents(alone)["followups"]
    finally:
        attached.dispose()
        alone.dispose()


@pytest.mark.parametrize("split", [False, True])
def test_the_audits_scratch_store_rebuilt_to_an_earlier_position_holds_what_the_plain_path_folds_to_it(store, split):
    # An audit at an earlier knowledge time rebuilds a bounded log: the accelerated rebuild
    # (activities and follow-ups in SQL where the scratch store reads the ledger, a worker
    # process when split) must stop at the bound as the plain path does.
    settings = store.ledger.settings
    earlier = BoundedLog(store.ledger, store.ledger.head().position * 2 // 3)
    with scratch_store(store.ledger, store.engine, settings) as fast, accelerators(True):
        assert in_store(earlier, fast, IN_STORE_VERSIONS)
        assert rebuild(earlier, fast, split=split) == earlier.upto
        accelerated = table_contents(fast)
    with scratch_store(store.ledger, store.engine, settings) as slow, accelerators(False):
        assert rebuild(earlier, slow) == earlier.upto
        plain = table_contents(slow)
    assert accelerated == plain
    assert 0 < len(plain["activities"]) < store.ledger.count_of_type("ActivityLogged", 0, store.ledger.head().position)
