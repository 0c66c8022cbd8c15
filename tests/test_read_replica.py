"""Reads from a replica (PERFLEDGER_READ_DATABASE_URL): GET requests read the projections on the
second URL and never fold there; `after=` waits for the replica's position (503 with Retry-After
when it does not get there in time); writes, and the worker that folds, use the primary.

In CI the second URL names the same PostgreSQL database (a physical replica needs a second
cluster: the recipe is in docs/architecture.md, tried by hand on this machine), through read-only
connections (`default_transaction_read_only`), so the replica "lags" exactly as long as no worker
has folded on the primary, and refuses any write a read would attempt there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from api_client import Api, department, running
from builders import correct

from api.cli_worker import ProjectionsMode, projections_mode
from ledger.config import Settings, settings_from_env
from projections.runner import catch_up, projected_position


@pytest.fixture
def replica_api(store_url) -> Iterator[Api]:
    if not store_url.startswith("postgresql"):
        pytest.skip("a replica is a PostgreSQL store")
    # the same database, through read-only connections, as a hot standby's are: a read that
    # tried to write there (a table made, a catch-up) would fail as it does on a real replica
    read_only = f"{store_url}&options=-c%20default_transaction_read_only%3Don"
    settings = Settings(database_url=store_url, tz_name="UTC", currency="CNY", read_database_url=read_only)
    with running(settings, seed=False) as api:
        api.client.app.state.after_timeout = 0.05
        yield api


def company_q1(api: Api, **params):
    return api.get("/kpis", scope="company", period="2026-Q1", **params)


def fold_on_the_primary(api: Api) -> int:
    """What `perfledger project --follow` does on the primary (replication then brings the rows)."""
    state = api.client.app.state
    return catch_up(state.ledger, state.engine)


def test_a_read_from_the_replica_waits_for_after_and_sees_the_write_once_the_worker_folded_it(replica_api):
    api = replica_api
    state = api.client.app.state
    assert state.read_engine is not state.engine
    with pytest.raises(Exception, match="read-only transaction"), state.read_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM tokens")
    positions = api.record(*department())
    # No worker has folded yet: the replica's projections are at 0 and a read does not fold there.
    assert company_q1(api).status_code == 200 and projected_position(state.read_engine) == 0
    waited = company_q1(api, after=positions[-1])
    assert waited.status_code == 503 and waited.headers["Retry-After"] == "1"
    assert "replica" in waited.json()["detail"]
    assert fold_on_the_primary(api) == positions[-1]
    answered = company_q1(api, after=positions[-1])
    assert answered.status_code == 200, answered.text
    # the department of api_client: Q1 company revenue (the same figure test_api_kpis reads)
    assert answered.json()["kpis"]["revenue"] == "287777.77"


def test_a_correction_is_read_from_the_replica_only_at_or_after_its_position(replica_api):
    api = replica_api
    api.record(*department())
    fold_on_the_primary(api)
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    stale = company_q1(api)  # without after=: the replica as it is, the correction not folded yet
    assert stale.status_code == 200 and stale.json()["kpis"]["revenue"] == "287777.77"
    assert company_q1(api, after=position).status_code == 503
    fold_on_the_primary(api)
    # D-1 won at 130,000.00, corrected to 110,000.00: the company's Q1 loses 20,000.00
    assert company_q1(api, after=position).json()["kpis"]["revenue"] == "267777.77"


def test_after_a_position_beyond_the_log_is_a_422_on_the_replica_too(replica_api):
    api = replica_api
    positions = api.record(*department())
    response = company_q1(api, after=positions[-1] + 1)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "query.after"


def test_the_read_url_comes_from_the_environment_and_needs_a_worker_on_the_primary(monkeypatch):
    env = {"PERFLEDGER_READ_DATABASE_URL": "postgresql://postgres@127.0.0.1:5433/test"}
    assert settings_from_env(env).read_database_url == env["PERFLEDGER_READ_DATABASE_URL"]
    assert settings_from_env({}).read_database_url is None
    monkeypatch.delenv("PERFLEDGER_PROJECTIONS", raising=False)
    assert projections_mode(None, 1, replica=True) is ProjectionsMode.follow
    assert projections_mode(None, 1) is ProjectionsMode.in_request
    with pytest.raises(Exception) as refused:
        projections_mode(ProjectionsMode.in_request, 1, replica=True)
    assert getattr(refused.value, "exit_code", None) not in (None, 0)


def test_a_sqlite_read_url_is_refused():
    from projections.db import read_engine_for

    with pytest.raises(ValueError, match="PERFLEDGER_READ_DATABASE_URL"):
        read_engine_for(replace(Settings(), read_database_url="sqlite:///x.db"))
