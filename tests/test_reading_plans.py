"""A team's, a region's or the company's KPIs are planned for their own parameters on PostgreSQL.

psycopg prepares a statement once it has run five times; PostgreSQL may then reuse a generic
plan for it, made without knowing how many reps or how wide a range the parameters name. For
the wide scopes that plan was the slow one (docs/performance.md), so their read transaction asks
for custom plans; a rep's keeps the cache. These tests check that the wide scopes' figures are
read under `force_custom_plan`, that a rep's are not, and that the setting ends with its
transaction (it must not leak into the next read of a pooled connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from builders import onboard, open_deal, win
from projection_fixtures import Store, projected_stores

import projections.queries.kpis as kpi_queries
from projections.db import is_sqlite, reading, writing


@pytest.fixture
def projected_store(store_url) -> Iterator[Any]:
    yield from projected_stores(store_url)


def plan_cache_mode(conn: Any) -> str:
    return conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one()


def postgres_store(projected_store: Any) -> Store:
    store = projected_store()
    if is_sqlite(store.engine):
        pytest.skip("plan caching is PostgreSQL's")
    return store


def test_custom_plans_hold_for_their_transaction_only(projected_store):
    store = postgres_store(projected_store)
    with reading(store.engine, custom_plans=True) as conn:
        assert plan_cache_mode(conn) == "force_custom_plan"
    with reading(store.engine) as conn:
        assert plan_cache_mode(conn) == "auto"


@pytest.mark.parametrize(
    ("scope", "mode"),
    [
        ("company", "force_custom_plan"),
        ("team:T-1", "force_custom_plan"),
        ("region:East", "force_custom_plan"),
        ("rep:R-1", "auto"),
    ],
)
def test_wide_scopes_read_their_figures_under_custom_plans(projected_store, monkeypatch, scope, mode):
    store = postgres_store(projected_store)
    store.record(onboard("R-1", "T-1", "East"))
    store.project()
    seen: list[str] = []
    read_figures = kpi_queries.scope_figures

    def spying(conn: Any, *args: Any) -> Any:
        seen.append(plan_cache_mode(conn))
        return read_figures(conn, *args)

    monkeypatch.setattr(kpi_queries, "scope_figures", spying)
    store.kpis(scope, "2026-Q1")
    assert seen == [mode]


def test_projection_writes_are_planned_for_their_own_parameters(projected_store):
    # a fold's tables grow from empty during a rebuild: a generic plan made early would stay a seq scan
    store = postgres_store(projected_store)
    with writing(store.engine) as conn:
        assert plan_cache_mode(conn) == "force_custom_plan"
    with reading(store.engine) as conn:
        assert plan_cache_mode(conn) == "auto"


def test_the_logs_reads_are_planned_for_their_values_never_prepared(store_url):
    # A generic plan for a walk of one type through a range of positions filtered 10M entries by
    # the primary key (3.3 s) where the (type, position) index answers in 0.3 ms: never prepared.
    from dataclasses import replace

    from builders import onboard

    from ledger.config import Settings
    from ledger.store import Ledger

    if not store_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    settings = replace(Settings(database_url=store_url, tz_name="UTC"), pg_pool=(1, 1))
    ledger = Ledger(settings)
    try:
        ledger.record([onboard("R-1")], "tester")
        for _ in range(8):  # psycopg prepares a statement on its fifth run
            ledger.read_log(0, 10, types=["RepOnboarded"])
            ledger.head()
        with ledger.recorder.datastore.get_connection() as conn:
            prepared = conn.execute(
                "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%ledger_entries%'"
            ).fetchall()
        assert prepared == []
    finally:
        ledger.close()


def test_the_folds_read_their_state_planned_for_their_own_parameters(projected_store, monkeypatch):
    # the sales fold looks its customers, deals and leads up by key while a rebuild refills those
    # tables from empty: a generic plan made early stays a sequential scan
    from projections.folds.sales import SalesFold

    store = postgres_store(projected_store)
    seen: list[str] = []
    prefetch = SalesFold.prefetch

    def spying(fold: Any, records: Any) -> Any:
        seen.append(plan_cache_mode(fold.conn))
        return prefetch(fold, records)

    monkeypatch.setattr(SalesFold, "prefetch", spying)
    store.record(onboard("R-1", "T-1", "East"), open_deal("D-1", "R-1"), win("D-1", "1000.00"))
    store.project()
    assert seen and set(seen) == {"force_custom_plan"}


def test_a_rebuild_leaves_its_tables_vacuumed_and_analyzed(projected_store):
    # freshly filled tables: statistics for the planner, a visibility map for index-only reads
    from projections.runner import rebuild

    store = postgres_store(projected_store)
    store.record(onboard("R-1", "T-1", "East"), open_deal("D-1", "R-1"), win("D-1", "1000.00"))
    rebuild(store.ledger, store.engine)
    with store.engine.connect() as conn:
        done = dict(
            conn.exec_driver_sql(
                "SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN ('deal_facts', 'followups', 'activities')"
            ).all()
        )
    assert done == {"deal_facts": True, "followups": True, "activities": True}
