"""Eight processes of conflicting commands on twenty hot deals: nothing lost, nothing doubled.

Every command refunds 1.00–3.00 of a deal won at 300.00, so writers keep colliding on the same
deal versions (409) and the later refunds of a deal exceed what is left of it (422). Over HTTP,
against a real `perfledger serve --workers 2` with a separate `perfledger project --follow`
folding while the writes happen; and through `Ledger.record` directly. Afterwards: every
accepted command is in the log exactly once, no refused one is, positions are gap-free and in
order, no deal is refunded beyond its amount, the chain verifies, and the projections equal a
rebuild.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from builders import onboard, open_deal, refund, win
from fastapi.testclient import TestClient
from reliability.harness import (
    admin_token,
    assert_gap_free_and_ordered,
    assert_projections_equal_a_rebuild,
    children,
    get_json,
    outcomes,
    refunded_by_deal,
    run_writers,
    seed_hot_deals,
    start_projection_worker,
    start_server,
    whole_log,
)

from api.app import create_app
from api.auth import create_token
from ledger.store import Ledger
from projections.db import engine_for

# Real processes (servers, workers, writers): left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.processes

WRITERS, COMMANDS, DEALS, WON = 8, 500, 20, "300.00"
DIRECT_COMMANDS, DIRECT_WON = 100, "60.00"  # per process through Ledger.record; deals small enough to run out


def assert_exactly_the_accepted_commands_are_in_the_log(
    ledger: Ledger, results: list[dict], seeded: int, won: str
) -> None:
    by_outcome = outcomes(results)
    assert set(by_outcome) <= {"accepted", "conflict", "rule"}, [
        r for r in results if r["outcome"] not in ("accepted", "conflict", "rule")
    ][:5]
    assert by_outcome["conflict"] > 0 and by_outcome["rule"] > 0, by_outcome  # the test did collide
    log = whole_log(ledger)
    assert_gap_free_and_ordered(log)
    commands = [r for r in log if r.position > seeded]
    in_log = Counter(r.event_id for r in commands)
    accepted = {r["event_id"]: r for r in results if r["outcome"] == "accepted"}
    assert set(in_log) == set(accepted) and set(in_log.values()) == {1}
    for record in commands:
        assert accepted[record.event_id]["positions"] == [record.position]
        assert Decimal(accepted[record.event_id]["amount"]) == record.data["amount"]
    assert all(total <= Decimal(won) for total in refunded_by_deal(log).values())
    assert ledger.verify().ok


def company_revenue(ledger: Ledger) -> Decimal:
    return DEALS * Decimal(WON) - sum(refunded_by_deal(whole_log(ledger)).values(), Decimal(0))


def test_eight_processes_of_conflicting_commands_over_http_are_each_recorded_once_or_refused_with_409_or_422(
    settings, tmp_path
):
    seeded = seed_hot_deals(settings, DEALS, WON)
    token = admin_token(settings)
    with children() as started:
        server, url = start_server(settings, tmp_path, workers=2, projections="external")
        started += [server, start_projection_worker(settings, tmp_path)]
        results = run_writers(
            settings, tmp_path, via="http", writers=WRITERS, count=COMMANDS, deals=DEALS, url=url, token=token
        )
        ledger = Ledger(settings)
        head = ledger.head().position
        status, body = get_json(url, f"/kpis?scope=company&period=2026-Q1&after={head}", token)
        assert status == 200, body
        assert Decimal(body["kpis"]["revenue"]) == company_revenue(ledger)
        assert started[1].terminate() == 0, started[1].output()  # SIGTERM: the worker stops cleanly
    assert len(results) == WRITERS * COMMANDS
    assert_exactly_the_accepted_commands_are_in_the_log(ledger, results, seeded, WON)
    engine = engine_for(settings)
    assert_projections_equal_a_rebuild(ledger, engine, tmp_path)
    engine.dispose()
    ledger.close()


def test_eight_processes_of_conflicting_commands_through_ledger_record_are_each_recorded_once_or_refused(
    settings, tmp_path
):
    seeded = seed_hot_deals(settings, DEALS, DIRECT_WON)
    results = run_writers(settings, tmp_path, via="ledger", writers=WRITERS, count=DIRECT_COMMANDS, deals=DEALS)
    assert len(results) == WRITERS * DIRECT_COMMANDS
    ledger, engine = Ledger(settings), engine_for(settings)
    assert_exactly_the_accepted_commands_are_in_the_log(ledger, results, seeded, DIRECT_WON)
    assert_projections_equal_a_rebuild(ledger, engine, tmp_path)
    engine.dispose()
    ledger.close()


@pytest.mark.parametrize("error", ["eventsourcing", "sqlalchemy", "pool"])
def test_a_busy_or_unreachable_store_is_a_503_with_retry_after_never_a_500(settings, error):
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from sqlalchemy.exc import OperationalError as SqlOperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    failure = {
        "eventsourcing": StoreOperationalError("database is locked"),
        "sqlalchemy": SqlOperationalError("SELECT 1", {}, Exception("lock timeout")),
        # every connection of the read pool busy for its whole pool_timeout
        "pool": PoolTimeout("QueuePool limit of size 8 overflow 0 reached, connection timed out"),
    }[error]
    with TestClient(create_app(settings)) as client:
        token = create_token(client.app.state.engine, "admin")[0]
        ledger = client.app.state.ledger
        ledger.record([onboard("R-1"), open_deal("D-1", "R-1"), win("D-1", "10.00")], "seed")

        def busy(*_args, **_kwargs):
            raise failure

        ledger.app.events.put = busy
        response = client.post("/events", json=refund("D-1", "1.00"), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "retry" in response.json()["detail"]
