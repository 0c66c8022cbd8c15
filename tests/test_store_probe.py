"""The per-request look at the store (api/probe.py `StoreProbe`): it answers where the log ends and
where the projections are; on PostgreSQL its connection of its own, ended by the server, is
replaced, and when the server cannot be reached a read answers 503 with Retry-After, never a 500."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from api_client import Api, department, running
from builders import correct

from api.probe import PostgresProbe
from ledger.config import Settings
from projections.runner import catch_up

PROBE_SQL = "SELECT (SELECT position FROM %"  # how the probe's query begins (pg_stat_activity.query)


def company_q1(api: Api):
    return api.get("/kpis", scope="company", period="2026-Q1")


def run_alone(coroutine: Any) -> Any:
    """`asyncio.run` in a thread of its own: an earlier test of the suite may leave an event loop
    running in this one (asyncio.run then refuses: "cannot be called from a running event loop")."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_the_probe_answers_the_head_of_the_log_and_the_position_of_the_projections(api):
    state = api.client.app.state
    assert company_q1(api).status_code == 200  # the read folded: the projections are at the head
    seen = api.client.portal.call(state.probe.glance)
    assert seen.head == api.head() and seen.projected == api.head() and seen.settled
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    seen = api.client.portal.call(state.probe.glance)
    assert seen.head == position and seen.projected == position - 1 and not seen.settled


@pytest.fixture
def named_api(store_url) -> Iterator[tuple[Api, str]]:
    """The app on PostgreSQL, its read side's connections named (application_name)."""
    if not store_url.startswith("postgresql"):
        pytest.skip("the probe's own connection is PostgreSQL's")
    name = f"probe-{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=f"{store_url}&application_name={name}", tz_name="UTC", currency="CNY")
    with running(settings, seed=False) as api:
        api.record(*department())
        yield api, store_url.split("?")[0]


def end_the_probes_connection(server_url: str, name: str) -> int:
    with psycopg.connect(server_url, autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid() AND query LIKE %s",
                (name, PROBE_SQL),
            ).fetchall()
        )


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_read_after_the_server_ended_the_probes_connection_reconnects_and_answers(named_api):
    api, server_url = named_api
    first = company_q1(api)
    assert first.status_code == 200
    name = api.client.app.state.engine.url.query["application_name"]
    assert end_the_probes_connection(server_url, name) == 1
    again = company_q1(api)
    assert again.status_code == 200 and again.json()["kpis"] == first.json()["kpis"]


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_read_while_the_server_cannot_be_reached_is_a_503_with_retry_after_never_a_500(named_api, monkeypatch):
    api, server_url = named_api
    assert company_q1(api).status_code == 200
    name = api.client.app.state.engine.url.query["application_name"]
    assert end_the_probes_connection(server_url, name) == 1

    async def unreachable(*args, **kwargs):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", unreachable)
    refused = company_q1(api)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json()["code"] == "store_busy"
    monkeypatch.undo()  # the server is back: the next read opens a connection again
    assert company_q1(api).status_code == 200


def test_a_read_sees_a_write_folded_by_another_process_only_once_the_probe_says_so(api):
    """The probe, not a cache, says whether the projections moved: a fold by another process
    (here: `catch_up` on the app's engine, as `perfledger project --follow` would) is seen."""
    state = api.client.app.state
    assert company_q1(api).status_code == 200  # this process has checked the projections' schema
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    assert api.client.portal.call(state.probe.glance).projected == position - 1
    catch_up(state.ledger, state.engine)
    seen = api.client.portal.call(state.probe.glance)
    assert seen.projected == position and seen.settled


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_requests_arriving_while_a_query_is_in_flight_share_the_next_one_never_an_earlier(store_url):
    """Each query draws a number: the first request's query is in flight when the nine others
    arrive, so they share the next query (one more number), and none is given the first's answer."""
    with psycopg.connect(store_url.replace("postgresql+psycopg", "postgresql").split("?")[0], autocommit=True) as conn:
        schema = store_url.split("schema=")[1]
        conn.execute(f"CREATE SEQUENCE {schema}.drawn")
    probe = PostgresProbe(store_url)

    async def ten_at_once() -> list[int]:
        try:
            rows = await asyncio.gather(*(probe.fetch("SELECT nextval('drawn'), pg_sleep(0.05)") for _ in range(10)))
            return [row[0] for row in rows]
        finally:
            await probe.aclose()

    assert run_alone(ten_at_once()) == [1] + [2] * 9
