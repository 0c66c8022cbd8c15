"""Running the projections: exactly once through crashes, redeliveries, restarts and races.

Each property of the runner holds on both paths (the `accel` fixture runs such a test with the
accelerators on, then off); a test of one accelerator runs with them on (`accelerated`)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import pytest
from builders import GENERATED_UNTIL, ev
from hypothesis import given
from hypothesis import strategies as st
from projection_fixtures import accelerators, close_store, open_store, table_contents
from sqlalchemy import select

from demo.generator import generate
from ledger.reading import BoundedLog
from ledger.schemas import DATA_MODELS
from projections import runner
from projections.accel import bulk, remembered
from projections.accel import rebuild as accel_rebuild
from projections.accel.base import HOLD_AT_MOST, EventsAlone
from projections.accel.registry import ACCELERATORS
from projections.db import engine_for
from projections.runner import catch_up, fold_batch, rebuild, tracked_positions, wait_for
from projections.tables import deal_facts
from projections.units import PPB, allocate, shares_in_ppb
from projections.view import BatchView, TrackingConflict, execute_many


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path}/l.db")
    events = list(generate(3000, seed=11, tz="Asia/Shanghai", now=GENERATED_UNTIL))
    for start in range(0, len(events), 700):
        opened.record(*events[start : start + 700])
    yield opened
    close_store(opened)


def rebuilt_contents(store):
    rebuild(store.ledger, store.engine)
    return table_contents(store.engine)


class Crash(RuntimeError):
    pass


def test_a_batch_whose_write_fails_midway_is_redone_whole_on_restart(store, monkeypatch, accel):
    # Fail the 2nd batch of the sales projection after it has written its first table's rows.
    write_rows, calls = BatchView.write_rows, []

    def failing(view, conn):
        if view.name == "sales":
            calls.append(view)
            if len(calls) == 2:
                table, rows = next((t, r) for t, r in view.inserts.items() if r)
                execute_many(conn, table.insert(), ("insert", table.name), rows)
                raise Crash("disk on fire")
        write_rows(view, conn)

    monkeypatch.setattr(BatchView, "write_rows", failing)
    with pytest.raises(Crash):
        catch_up(store.ledger, store.engine, batch_size=500)
    # The whole batch was rolled back with its tracking: every projection stands where the failed
    # batch began, after batch 1 (where the activities fold in SQL, a batch spans more positions
    # than events).
    after_one = calls[1].expected
    assert calls[0].expected < after_one < 3000
    assert set(tracked_positions(store.engine).values()) == {after_one}
    monkeypatch.setattr(BatchView, "write_rows", write_rows)
    assert catch_up(store.ledger, store.engine, batch_size=500) == 3000
    assert table_contents(store.engine) == rebuilt_contents(store)


def test_a_redelivered_batch_is_refused_and_writes_nothing(store, accel):
    records = store.ledger.read_stored(0, 400)
    positions = tracked_positions(store.engine)
    runner.write_batches(store.engine, [fold_batch(store.engine, store.ledger, records, positions)])
    before = table_contents(store.engine)
    with pytest.raises(TrackingConflict):  # the same batch again, from the stale positions
        runner.write_batches(store.engine, [fold_batch(store.engine, store.ledger, records, positions)])
    assert table_contents(store.engine) == before


def test_catch_up_resumes_where_it_stopped_while_the_log_grows(tmp_path, accel):
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    try:
        events = list(generate(2000, seed=5, tz="Asia/Shanghai", now=GENERATED_UNTIL))
        for start in range(0, 2000, 400):
            store.record(*events[start : start + 400])
            assert catch_up(store.ledger, store.engine, batch_size=300) == start + 400
        assert catch_up(store.ledger, store.engine) == 2000  # nothing new: nothing done
        assert table_contents(store.engine) == rebuilt_contents(store)
    finally:
        close_store(store)


def test_two_workers_catching_up_at_once_apply_every_batch_once(store, accel):
    second_engine = engine_for(store.settings)
    with ThreadPoolExecutor(max_workers=2) as workers:
        runs = [workers.submit(catch_up, store.ledger, engine, 250) for engine in (store.engine, second_engine)]
        reached = [run.result() for run in runs]  # re-raises a worker's error here
    second_engine.dispose()
    assert reached == [3000, 3000]
    assert set(tracked_positions(store.engine).values()) == {3000}
    assert table_contents(store.engine) == rebuilt_contents(store)


def test_rebuild_drops_everything_and_replays_from_zero(store, accel):
    catch_up(store.ledger, store.engine)
    with store.engine.connect() as conn:
        rows = conn.execute(select(deal_facts)).all()
    assert rebuild(store.ledger, store.engine) == 3000
    with store.engine.connect() as conn:
        assert sorted(conn.execute(select(deal_facts)).all()) == sorted(rows)


@pytest.mark.processes
def test_a_rebuild_split_across_two_processes_holds_exactly_the_rows_of_one_in_process(store_url, accelerated):
    split_store = open_store(store_url)
    try:
        events = list(generate(3000, seed=12, tz="Asia/Shanghai", now=GENERATED_UNTIL))
        for start in range(0, len(events), 1000):
            split_store.record(*events[start : start + 1000])
        assert rebuild(split_store.ledger, split_store.engine, batch_size=400, split=False) == 3000
        in_one = table_contents(split_store.engine)
        assert rebuild(split_store.ledger, split_store.engine, batch_size=400, split=True) == 3000
        assert set(tracked_positions(split_store.engine).values()) == {3000}
        assert table_contents(split_store.engine) == in_one
    finally:
        close_store(split_store)


@pytest.mark.processes
def test_a_split_rebuild_whose_worker_fails_folds_its_part_itself_and_says_so(
    store, monkeypatch, tmp_path, caplog, accelerated
):
    whole = rebuilt_contents(store)
    _, upto, projections_url, reads_ledger = accel_rebuild._worker_target(store.ledger, store.engine)
    missing = f"sqlite:///{tmp_path}/no/such/folder/l.db"  # the worker cannot open its ledger
    monkeypatch.setattr(
        accel_rebuild, "_worker_target", lambda ledger, engine: (missing, upto, projections_url, reads_ledger)
    )
    assert rebuild(store.ledger, store.engine, split=True) == 3000
    part = accel_rebuild.split_off(store.ledger, store.engine)
    assert "sales" not in part and f"worker process for the {', '.join(part)} projection(s) failed" in caplog.text
    assert set(tracked_positions(store.engine).values()) == {3000}
    assert table_contents(store.engine) == whole
    with store.engine.connect() as conn:
        indexes = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {i.name for t in runner.projected_tables() for i in t.indexes} <= indexes


def test_the_read_side_frees_sqlite_pages_without_zeroing_them(store_url, tmp_path):
    # Some SQLite builds (Debian's) zero every freed page; the read side's rows all come from the
    # log, so a rebuild's reset need not pay for it under the write lock.
    if not store_url.startswith("sqlite"):
        pytest.skip("a SQLite setting")
    store = open_store(store_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 0
    finally:
        close_store(store)


def test_wait_for_returns_when_the_projections_reach_a_position(store, accel):
    assert wait_for(store.engine, 3000, timeout=0.05) is False
    catch_up(store.ledger, store.engine)
    assert wait_for(store.engine, 3000, timeout=0.05) is True


def test_every_projection_declares_its_tables_and_event_types():
    names = [p.name for p in runner.PROJECTIONS]
    assert len(names) == len(set(names))
    tables = [t.name for p in runner.PROJECTIONS for t in p.tables]
    assert len(tables) == len(set(tables))
    consumed = {t for p in runner.PROJECTIONS for t in p.event_types}
    assert {
        "DealWon",
        "RepTransferred",
        "TargetSet",
        "ActivityLogged",
        "EvaluationRecorded",
        "PayoutApproved",
    } <= consumed
    # the knowledge blocks span every position: their projection handles every type the ledger records
    (blocks,) = (p for p in runner.PROJECTIONS if p.name == "log")
    assert blocks.event_types == set(DATA_MODELS)
    # an accelerator is declared for a projection by its name
    assert set(ACCELERATORS) <= set(names)


# --- the arithmetic of credit ---------------------------------------------------------------


@given(total=st.integers(0, 10**14), weights=st.lists(st.integers(1, 1000), min_size=1, max_size=6))
def test_a_split_amount_always_adds_up_to_the_whole(total, weights):
    from decimal import Decimal

    shares = [Decimal(w) / sum(weights) for w in weights]
    shares[-1] = 1 - sum(shares[:-1])  # shares that sum to exactly 1, as the write side demands
    credit = shares_in_ppb([{"rep_id": f"R-{i}", "share": s} for i, s in enumerate(shares)])
    assert sum(ppb for _, ppb in credit) == PPB
    parts = allocate(total, credit)
    assert sum(parts.values()) == total
    assert all(abs(parts[rep] - total * ppb / PPB) < 1 for rep, ppb in credit)


def test_equal_shares_give_the_odd_cent_to_the_first_rep():
    credit = shares_in_ppb(
        [{"rep_id": r, "share": Decimal(s)} for r, s in (("A", "0.333"), ("B", "0.333"), ("C", "0.334"))]
    )
    assert allocate(100, credit) == {"A": 33, "B": 33, "C": 34}
    assert allocate(1, [("A", PPB // 2), ("B", PPB // 2)]) == {"A": 1, "B": 0}


def test_fold_state_rows_load_positionally_into_their_state_classes():
    # Deal/Customer/Lead.from_row build from a row by position: the columns must be the fields.
    from projections.folds.sales import Customer, Deal, Lead
    from projections.tables import customers, deals, leads

    for table, state in ((deals, Deal), (customers, Customer), (leads, Lead)):
        assert [c.name for c in table.columns] == list(state.__slots__)
        assert next(iter(table.primary_key.columns)) is next(iter(table.columns))


def test_company_figures_do_not_depend_on_the_rollups_being_complete(store, accel):
    # The company reads hourly rollups where the `log` projection says a block is wholly known;
    # with no knowledge of blocks at all (a projection added later, still catching up) it falls
    # back to the fact rows, and the figures are the same.
    from projections.queries.kpis import kpis
    from projections.tables import knowledge_blocks

    catch_up(store.ledger, store.engine)
    with_rollups = [kpis(store.engine, store.settings, "company", p) for p in ("2026-Q1", "2026-03", "2026")]
    with store.engine.begin() as conn:
        conn.execute(knowledge_blocks.delete())
    assert [kpis(store.engine, store.settings, "company", p) for p in ("2026-Q1", "2026-03", "2026")] == with_rollups


def busy_lock(monkeypatch, busy_tries: int | None) -> list[int]:
    """SQLite's write lock taken by another writer at the first `busy_tries` tries that do not
    wait (None: at every one); returns the number of batches each write wrote, in order."""
    real_try, real_write, tries, written = runner.try_writing, runner.write_batches, [], []

    @contextmanager
    def busy(engine):
        tries.append(engine)
        if busy_tries is None or len(tries) <= busy_tries:
            yield None
        else:
            with real_try(engine) as conn:
                yield conn

    def counted(engine, batches, wait=True):
        done = real_write(engine, batches, wait)
        if done:
            written.append(len(batches))
        return done

    monkeypatch.setattr(runner, "try_writing", busy)
    monkeypatch.setattr(runner, "write_batches", counted)
    return written


def tables_of(contents: dict[str, list], projections) -> dict[str, list]:
    names = {table.name for p in projections for table in p.tables}
    return {name: rows for name, rows in contents.items() if name in names}


def test_batches_folded_while_another_writer_holds_the_lock_are_written_later_in_order_and_once(
    store, monkeypatch, accelerated
):
    # Folds that never read their tables fold on while another process holds SQLite's write
    # lock: here the lock is busy for the first three tries, so batches 1-4 are held and
    # written together in one transaction; the rest go one by one.
    light = tuple(p for p in runner.PROJECTIONS if isinstance(ACCELERATORS[p.name], EventsAlone))
    assert {p.name for p in light} >= {"activity", "followups", "log"}
    written = busy_lock(monkeypatch, 3)
    assert catch_up(store.ledger, store.engine, batch_size=100, projections=light) == 3000
    assert written[0] == 4 and set(written[1:]) == {1}
    assert tables_of(table_contents(store.engine), light) == tables_of(rebuilt_contents(store), light)


def test_a_fold_that_reads_its_tables_writes_each_batch_before_folding_the_next(store, monkeypatch, accel):
    # A sales catch-up that begins after the start of the log reads the state the previous batch
    # wrote: with the lock always busy at the first try, each batch waits for it (the next page
    # is read meanwhile) and is written alone.
    sales = tuple(p for p in runner.PROJECTIONS if p.name == "sales")
    assert catch_up(BoundedLog(store.ledger, 1200), store.engine, batch_size=60, projections=sales) == 1200
    written = busy_lock(monkeypatch, None)
    assert catch_up(store.ledger, store.engine, batch_size=60, projections=sales) == 3000
    assert len(written) > 3 and set(written) == {1}
    assert tables_of(table_contents(store.engine), sales) == tables_of(rebuilt_contents(store), sales)


def test_a_sales_rebuild_holds_its_batches_and_never_forgets_a_state_they_changed(store, monkeypatch, accelerated):
    # From the start of the log the sales fold has seen every deal, lead and customer: it reads
    # back only what it forgot, and it forgets nothing the last HOLD_AT_MOST batches changed, so
    # its batches may be held. Remembering 5 states of each kind forgets nearly all of them
    # between batches: a state read back before its batch was written would be stale.
    monkeypatch.setattr(remembered, "REMEMBERED", 5)
    written = busy_lock(monkeypatch, None)
    sales = tuple(p for p in runner.PROJECTIONS if p.name == "sales")
    assert catch_up(store.ledger, store.engine, batch_size=30, projections=sales) == 3000
    assert written[:3] == [HOLD_AT_MOST] * 3
    monkeypatch.undo()
    assert tables_of(table_contents(store.engine), sales) == tables_of(rebuilt_contents(store), sales)


@pytest.mark.processes
def test_a_rebuild_whose_reset_fails_stops_its_worker_before_it_folds_anything(store, monkeypatch, caplog, accel):
    # The worker starts first and opens the store while the caller resets it; it folds only once
    # told the reset is done. A reset that fails leaves the tables as they were, and no worker.
    catch_up(store.ledger, store.engine)
    before = table_contents(store.engine)

    def failing(engine):
        raise RuntimeError("the reset failed")

    monkeypatch.setattr(runner, "reset", failing)
    with pytest.raises(RuntimeError, match="the reset failed"):
        rebuild(store.ledger, store.engine, split=True)
    assert multiprocessing.active_children() == []
    assert table_contents(store.engine) == before
    assert "worker process" not in caplog.text


# --- the plain path and the accelerated one ---------------------------------------------------

# What the generator never writes, recorded between its events: a time SQLite's `unixepoch`
# cannot read (the SQL twins leave it to the handlers), a follow-up scheduled and completed in
# different batches, and a dispute opened, commented on and resolved across three batches (the
# trust fold's memory of disputes).
EDGES = [
    [
        ev("ActivityLogged", "2026-02-03T10:00:00+05:30:15", activity_id="A-seconds", rep_id="R-0002", kind="email"),
        ev(
            "FollowUpScheduled",
            "2026-02-03T09:16:00.5+05:30",
            followup_id="F-edge",
            rep_id="R-0001",
            due_at="2026-02-10T09:00:00+05:30:15",
        ),
        ev(
            "DisputeOpened", "2026-02-04T09:00:00+08:00", dispute_id="DS-1", rep_id="R-0003", period="2026-Q1", text="x"
        ),
    ],
    [
        ev("FollowUpCompleted", "2026-02-04T10:00:00+05:30:15", followup_id="F-edge"),
        ev("DisputeCommented", "2026-02-05T09:00:00+08:00", dispute_id="DS-1", author_id="M-T-East-1", text="seen"),
    ],
    [
        ev(
            "DisputeResolved",
            "2026-02-06T09:00:00+08:00",
            dispute_id="DS-1",
            resolver_id="M-T-East-1",
            outcome="rejected",
            reason="the figures hold",
        )
    ],
]


@pytest.fixture
def mixed_store(store_url):
    opened = open_store(store_url)
    events = list(generate(3000, seed=12, tz="Asia/Shanghai", now=GENERATED_UNTIL))
    for i, start in enumerate(range(0, len(events), 1000)):
        opened.record(*events[start : start + 1000])
        opened.record(*EDGES[i])
    yield opened
    close_store(opened)


@pytest.mark.processes
def test_a_store_rebuilt_on_the_plain_path_holds_exactly_the_rows_of_one_rebuilt_accelerated(mixed_store):
    # SQLite: the activities and follow-ups replayed in SQL, in the store; both engines: the
    # knowledge blocks read from the ledger's entries, the sales and trust folds' memory, batches
    # held, and a part of the projections folded by a worker process (`split`).
    store, head = mixed_store, mixed_store.ledger.head().position
    with accelerators(False):
        assert rebuild(store.ledger, store.engine, batch_size=700) == head
    plain = table_contents(store.engine)
    for split in (False, True):
        with accelerators(True):
            assert rebuild(store.ledger, store.engine, batch_size=700, split=split) == head
        assert table_contents(store.engine) == plain, f"split={split}"
    filled = {name for name, rows in plain.items() if rows}
    assert {"deal_facts", "activities", "followups", "dispute_events", "knowledge_blocks"} <= filled


def test_rows_written_in_bulk_are_the_rows_executemany_writes(mixed_store, monkeypatch):
    # PostgreSQL: every table's rows of a batch by COPY, or one INSERT … SELECT FROM unnest …
    # ON CONFLICT (upserts, increments, dict rows with a kept column), from one row up; SQLite
    # has no bulk writer, and writes the same rows.
    store, head = mixed_store, mixed_store.ledger.head().position
    with accelerators(False):
        assert catch_up(store.ledger, store.engine, batch_size=300) == head
    plain = table_contents(store.engine)
    monkeypatch.setattr(bulk, "BULK_FROM", 1)
    written = []
    for method in ("insert", "upsert"):
        original = getattr(bulk.PostgresBulk, method)

        def counting(self, conn, table, rows, *args, _original=original, _method=method):
            done = _original(self, conn, table, rows, *args)
            written.append((_method, table.name, args[-1] if args else False, done))
            return done

        monkeypatch.setattr(bulk.PostgresBulk, method, counting)
    with accelerators(True):
        assert rebuild(store.ledger, store.engine, batch_size=300, split=False) == head
    assert table_contents(store.engine) == plain
    if store.ledger.is_postgres:
        assert all(done for *_, done in written)
        assert {("insert", "deal_facts", False), ("upsert", "deals", False), ("upsert", "sales_hours", True)} <= {
            w[:3] for w in written
        }
        assert ("upsert", "knowledge_blocks", False) in {w[:3] for w in written}
    else:
        assert written == []


def test_the_plain_and_the_accelerated_path_agree_on_every_block_of_knowledge(mixed_store, monkeypatch):
    # Blocks of 32 positions: the plain path folds each block's knowledge times from its events,
    # the accelerated one from two ledger entries a block, across batches that split blocks.
    from projections.folds import rollups

    monkeypatch.setattr(rollups, "BLOCK_BITS", 5)
    store, head = mixed_store, mixed_store.ledger.head().position
    with accelerators(False):
        assert catch_up(store.ledger, store.engine, batch_size=77) == head
    plain = table_contents(store.engine)
    assert len(plain["knowledge_blocks"]) == head // 32 + 1
    with accelerators(True):
        assert rebuild(store.ledger, store.engine, split=False) == head
    assert table_contents(store.engine) == plain


def test_the_plain_path_reads_only_events_and_writes_each_batch_before_the_next(store, monkeypatch):
    # PERFLEDGER_ACCEL=0: no stretch of the log read but as events (no SQL twin, no ledger
    # entries), no write that does not wait for the lock (no batch held), no worker process.
    with accelerators(True):
        accelerated = rebuilt_contents(store)

    def refused(*args, **kwargs):
        raise AssertionError("an accelerator ran on the plain path")

    for name in ("knowledge_spans", "count_of_type", "stored_events_sql"):
        monkeypatch.setattr(store.ledger, name, refused)
    for name in ("try_writing", "HeldBatches", "accelerated_rebuild"):
        monkeypatch.setattr(runner, name, refused)
    with accelerators(False):
        assert rebuild(store.ledger, store.engine, batch_size=400, split=True) == 3000
    assert table_contents(store.engine) == accelerated


def test_a_page_read_ahead_is_handed_over_only_for_the_position_it_was_read_after():
    # PostgreSQL's catch-up reads the next page in a thread while it folds this one
    # (`holding.ReadAhead`): a catch-up that moved elsewhere (a conflict) reads its own page.
    from projections.accel.holding import ReadAhead

    def page_after(after):
        return [], after + 5

    def failing(after):
        raise RuntimeError("the read failed")

    with ReadAhead() as ahead:
        ahead.start(10, page_after)
        assert ahead.take(11) is None
        assert ahead.take(10) is None  # taken (dropped) once
        ahead.start(10, page_after)
        assert ahead.take(10) == ([], 15)
        ahead.start(20, failing)
        with pytest.raises(RuntimeError, match="the read failed"):
            ahead.take(20)
