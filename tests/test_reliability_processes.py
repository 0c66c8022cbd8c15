"""The projection worker and the API as real processes: a KPI read through one API process sees
an event appended through another, once the read passes `after=<position>`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from reliability.harness import (
    admin_token,
    children,
    get_json,
    post_json,
    seed_hot_deals,
    start_projection_worker,
    start_server,
)

# Real processes (servers, workers, writers): left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.processes

ROUNDS = 6


def won_deal(n: int, amount: str) -> dict:
    return {
        "events": [
            {
                "type": "DealOpened",
                "event_id": f"deal-{n}-open",
                "occurred_at": "2026-02-01T09:00:00+00:00",
                "data": {"deal_id": f"D-{n}", "rep_id": "R-1", "customer_id": f"C-{n}"},
            },
            {
                "type": "DealWon",
                "event_id": f"deal-{n}-won",
                "occurred_at": "2026-02-20T09:00:00+00:00",
                "data": {"deal_id": f"D-{n}", "amount": amount},
            },
        ]
    }


def append(url: str, token: str, n: int, amount: str) -> int:
    status, body = post_json(url, "/events", won_deal(n, amount), token)
    assert status == 201, body
    return body["positions"][-1]


def revenue_after(url: str, token: str, position: int) -> tuple[int, Decimal | None]:
    status, body = get_json(url, f"/kpis?scope=rep:R-1&period=2026-Q1&after={position}", token)
    return status, Decimal(body["kpis"]["revenue"]) if status == 200 else None


def revenue_retrying(url: str, token: str, position: int, attempts: int = 12) -> tuple[int, Decimal | None]:
    """As a client does with a running worker: a 503 says retry (Retry-After), so retry a bounded
    number of times. Each read already waits up to 5 s: a worker still starting on a loaded machine
    is not a failure, a worker that never reaches the position is."""
    for _ in range(attempts):
        status, revenue = revenue_after(url, token, position)
        if status != 503:
            break
    return status, revenue


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_kpi_read_through_one_api_process_reflects_an_event_appended_through_another(settings, tmp_path):
    """Two `perfledger serve --projections external` processes and one `perfledger project
    --follow`, on PostgreSQL (LISTEN/NOTIFY). The API processes do not fold: with the projection
    worker stopped, a read after a new position times out with a 503, and once the worker is back
    the same read answers."""
    seed_hot_deals(settings, 0, "0")
    token = admin_token(settings)
    with children() as started:
        first, url_a = start_server(settings, tmp_path, projections="external", name="serve-a")
        second, url_b = start_server(settings, tmp_path, projections="external", name="serve-b")
        worker = start_projection_worker(settings, tmp_path)
        started += [first, second, worker]
        expected = Decimal(0)
        for n in range(ROUNDS):
            writer, reader = (url_a, url_b) if n % 2 == 0 else (url_b, url_a)
            position = append(writer, token, n, f"{n + 1}00.00")
            expected += (n + 1) * 100
            assert revenue_retrying(reader, token, position) == (200, expected)
        assert worker.terminate() == 0, worker.output()
        position = append(url_a, token, ROUNDS, "1.00")
        status, _ = revenue_after(url_b, token, position)
        assert status == 503  # nobody folds in-request: the read waited for the worker, in vain
        started.append(start_projection_worker(settings, tmp_path, name="project-again"))
        assert revenue_retrying(url_b, token, position) == (200, expected + 1)


def test_serve_with_two_workers_and_its_own_projection_worker_reads_its_writes_after_their_position(settings, tmp_path):
    """`perfledger serve --workers 2` (a projection worker in the serve process): every read
    after a write's position, on a new connection to whichever worker, sees that write."""
    seed_hot_deals(settings, 0, "0")
    token = admin_token(settings)
    with children() as started:
        server, url = start_server(settings, tmp_path, workers=2, projections=None)
        started.append(server)
        expected = Decimal(0)
        for n in range(ROUNDS):
            position = append(url, token, n, "10.00")
            expected += 10
            assert revenue_after(url, token, position) == (200, expected)
