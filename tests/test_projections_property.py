"""Properties of the projections over random valid stories (hypothesis, SQLite).

1. The projected KPIs of every scope and period equal a naive reference computed straight from
   the definitions over the events (tests/projection_oracle.py), at any known_at and as_of.
2. However the log is cut into projection batches, with stops and restarts in between, the
   projected tables end up exactly as one rebuild from position 0 makes them.
3. A KPI read at known_at = T (T the knowledge time of some batch) equals the same KPI read
   on a fresh store that holds only the events recorded up to T: knowledge time is a prefix.
4. A payout's rep figures read for many reps together equal each rep's read alone and the
   rep's KPI figures, with one event of evidence behind each activity.

Each runs with the projections' accelerators on, then off (the plain path: `PATHS`). The
second runs on PostgreSQL too (PERFLEDGER_TEST_POSTGRES_URL), where the activities and follow-ups
fold in SQL in the ledger's own database, with fewer examples (each a schema of its own).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projection_fixtures import accelerators, close_store, open_store, table_contents
from projection_oracle import comparable, figures
from projection_story import batches_of, batchings, envelopes_of, stories

from projections.folds import rollups
from projections.queries.kpis import kpis
from projections.runner import catch_up, rebuild

SCOPES = ("rep:R-1", "rep:R-2", "rep:R-3", "team:T-A", "team:T-B", "region:East", "region:West", "company")
PERIODS = ("2026-02", "2026-03", "2026-Q1", "2026-Q2")
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATHS = pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "plain"])


def small_blocks():
    """Blocks of 4 positions, so a small story spans many blocks and the company reads mix
    rollup rows, edge rows and a block known only in part (rollups.py)."""
    return mock.patch.object(rollups, "BLOCK_BITS", 2)


class StopHere(Exception):
    pass


def stop_after(batches: int):
    """A progress callback that interrupts catch_up after `batches` committed batches."""
    seen = []

    def progress(position: int, head: int) -> None:
        seen.append(position)
        if len(seen) >= batches:
            raise StopHere

    return progress


@PATHS
@SETTINGS
@given(
    story=stories,
    sizes=batchings,
    projection_batches=st.lists(st.integers(1, 7), min_size=1, max_size=6),
    stops=st.lists(st.integers(1, 3), min_size=1, max_size=6),
    parts=st.integers(1, 4),
)
def test_batches_stops_and_restarts_give_the_tables_of_one_rebuild(
    accelerated, story, sizes, projection_batches, stops, parts
):
    """`parts`: the catch-ups decode and fold each batch that many events at a time (the rebuild
    folds each of its batches whole), so a fold's state must carry from part to part."""
    with tempfile.TemporaryDirectory() as folder:
        _stops_and_restarts(
            f"sqlite:///{Path(folder) / 'l.db'}", accelerated, story, sizes, projection_batches, stops, parts
        )


POSTGRES_URL = os.environ.get("PERFLEDGER_TEST_POSTGRES_URL")


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL tests need PERFLEDGER_TEST_POSTGRES_URL")
@PATHS
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    story=stories,
    sizes=batchings,
    projection_batches=st.lists(st.integers(1, 7), min_size=1, max_size=6),
    stops=st.lists(st.integers(1, 3), min_size=1, max_size=6),
    parts=st.integers(1, 4),
)
def test_on_postgresql_batches_stops_and_restarts_give_the_tables_of_one_rebuild(
    accelerated, story, sizes, projection_batches, stops, parts
):
    import psycopg

    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        _stops_and_restarts(
            f"{POSTGRES_URL}?schema={schema}", accelerated, story, sizes, projection_batches, stops, parts
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _stops_and_restarts(url, accelerated, story, sizes, projection_batches, stops, parts) -> None:
    with small_blocks(), accelerators(accelerated):
        store = open_store(url)
        try:
            for i, batch in enumerate(batches_of(envelopes_of(story), sizes)):
                store.record(*batch)
                if i % 2:  # catch up now and then while the log grows, stopping part-way
                    _interrupted_catch_up(
                        store, projection_batches[i % len(projection_batches)], stops[i % len(stops)], parts
                    )
            for i, size in enumerate(projection_batches):
                _interrupted_catch_up(store, size, stops[i % len(stops)], parts)
            catch_up(store.ledger, store.engine, batch_size=projection_batches[0], part_size=parts)
            incremental = table_contents(store.engine)
            rebuild(store.ledger, store.engine)
            assert table_contents(store.engine) == incremental
        finally:
            close_store(store)


def _interrupted_catch_up(store, batch_size: int, stop: int, parts: int) -> None:
    with contextlib.suppress(StopHere):
        catch_up(store.ledger, store.engine, batch_size=batch_size, progress=stop_after(stop), part_size=parts)


@PATHS
@SETTINGS
@given(story=stories, sizes=batchings, cut=st.integers(0, 1000), as_of_day=st.sampled_from((None, "2026-03-10")))
def test_a_kpi_known_at_t_equals_a_fresh_store_of_what_was_recorded_by_t_and_the_definitions(
    accelerated, story, sizes, cut, as_of_day
):
    from datetime import datetime

    batches = batches_of(envelopes_of(story), sizes)
    kept = batches[: cut % len(batches) + 1]
    as_of = None if as_of_day is None else datetime.fromisoformat(f"{as_of_day}T12:00:00+08:00")
    with tempfile.TemporaryDirectory() as folder, small_blocks(), accelerators(accelerated):
        full = open_store(f"sqlite:///{Path(folder) / 'full.db'}")
        prefix = open_store(f"sqlite:///{Path(folder) / 'prefix.db'}")
        try:
            moments = [full.record(*batch) for batch in batches]
            for batch in kept:
                prefix.record(*batch)
            catch_up(full.ledger, full.engine, batch_size=7)
            catch_up(prefix.ledger, prefix.engine)
            known_at = moments[len(kept) - 1]
            for scope in SCOPES:
                for period in PERIODS:
                    then = kpis(full.engine, full.settings, scope, period, as_of=as_of, known_at=known_at)
                    fresh = kpis(prefix.engine, prefix.settings, scope, period, as_of=as_of)
                    assert then == fresh, (scope, period)
                    expected = figures([e for batch in kept for e in batch], "Asia/Shanghai", scope, period, as_of)
                    assert comparable(then) == expected, (scope, period)
        finally:
            close_store(full)
            close_store(prefix)


@PATHS
@SETTINGS
@given(story=stories, sizes=batchings, cut=st.integers(0, 1000), as_of_day=st.sampled_from((None, "2026-03-10")))
def test_a_payouts_rep_figures_read_together_equal_each_read_alone_and_the_kpis(
    accelerated, story, sizes, cut, as_of_day
):
    from datetime import datetime

    from projections.db import reading
    from projections.payouts.rep_figures import figures_by_rep
    from projections.queries.cutoffs import cutoffs
    from projections.queries.kpis import FIGURE_METRICS, scope_figures
    from projections.queries.membership import Scope

    reps = ["R-1", "R-2", "R-3"]
    batches = batches_of(envelopes_of(story), sizes)
    as_of = None if as_of_day is None else datetime.fromisoformat(f"{as_of_day}T12:00:00+08:00")
    with tempfile.TemporaryDirectory() as folder, accelerators(accelerated):
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        try:
            moments = [store.record(*batch) for batch in batches]
            catch_up(store.ledger, store.engine)
            for period in PERIODS:
                cut_offs = cutoffs(store.settings, period, as_of, moments[cut % len(moments)])
                with reading(store.engine) as conn:
                    together = figures_by_rep(conn, store.settings, dict.fromkeys(reps, cut_offs))
                    for rep in reps:
                        figures, evidence = together[rep]
                        assert (figures, evidence) == figures_by_rep(conn, store.settings, {rep: cut_offs})[rep]
                        kpi = scope_figures(conn, store.settings, Scope("rep", rep), cut_offs)
                        assert figures == {m: kpi[m] for m in FIGURE_METRICS}, (rep, period)
                        # one event behind each activity, and each email
                        assert len(evidence["activities"]) == kpi["activities"], (rep, period)
                        assert len(evidence["email_reply_rate"]) == kpi["activity_kinds"]["email"], (rep, period)
        finally:
            close_store(store)


@SETTINGS
@given(story=stories, sizes=batchings, cut=st.integers(0, 1000), as_of_day=st.sampled_from((None, "2026-03-10")))
def test_every_reps_deal_sums_read_at_once_equal_each_reps_own_read(story, sizes, cut, as_of_day):
    """The off-track list's and the roll-up's read of every rep's deal sums (a deal counted by its
    one win or loss, or by its shares summed where a split or an unfirst nets them) gives each
    rep what the rep's own KPI read gives, at any cut-offs."""
    from datetime import datetime

    from projections.db import reading
    from projections.queries.cutoffs import cutoffs
    from projections.queries.facts import DealSums, deal_sums
    from projections.queries.forecast import rep_deal_sums
    from projections.queries.membership import Scope, ScopeFilter

    batches = batches_of(envelopes_of(story), sizes)
    as_of = None if as_of_day is None else datetime.fromisoformat(f"{as_of_day}T12:00:00+08:00")
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        try:
            moments = [store.record(*batch) for batch in batches]
            catch_up(store.ledger, store.engine)
            for period in PERIODS:
                cut_offs = cutoffs(store.settings, period, as_of, moments[cut % len(moments)])
                with reading(store.engine) as conn:
                    at_once = rep_deal_sums(conn, cut_offs)
                    for rep in ("R-1", "R-2", "R-3"):
                        own = ScopeFilter.load(conn, Scope("rep", rep), cut_offs.known_us)
                        alone = deal_sums(conn, own, cut_offs.start_us, cut_offs.upto_us, cut_offs.known_us)
                        assert at_once.get(rep, DealSums()) == alone, (rep, period)
        finally:
            close_store(store)
