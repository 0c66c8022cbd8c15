"""Bearer tokens over HTTP: 401 without a valid one, 403 for the wrong role, 404 for others' reps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from builders import ev, onboard, open_deal, win
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import create_token, hash_token, list_tokens, revoke_token, tokens
from ledger.config import Settings


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path}/l.db"))) as client:
        admin = token(client, "admin")
        seed = [
            onboard("R-1"),
            onboard("R-2"),
            onboard("R-3", team_id="T-2"),
            open_deal("D-1", "R-1"),
            win("D-1", "100.00"),
            open_deal("D-3", "R-3", when="2026-01-11T09:00:00Z"),
        ]
        assert client.post("/events", json={"events": seed}, headers=bearer(admin)).status_code == 201
        yield client


def token(client: TestClient, role: str, **binding: str) -> str:
    return create_token(client.app.state.engine, role, **binding)[0]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def activity(activity_id: str, rep_id: str) -> dict:
    return ev("ActivityLogged", "2026-03-01T10:00:00Z", activity_id=activity_id, rep_id=rep_id, kind="call")


def head(client: TestClient) -> int:
    return client.app.state.ledger.head().position


def test_a_request_without_a_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/events")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000])
def test_an_unknown_or_malformed_token_is_401(client, header):
    response = client.get("/events", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401(client):
    secret, info = create_token(client.app.state.engine, "auditor")
    assert client.get("/events", headers=bearer(secret)).status_code == 200
    assert revoke_token(client.app.state.engine, info.token_id)
    assert client.get("/events", headers=bearer(secret)).status_code == 401


def test_a_token_is_stored_only_as_its_hash(client):
    secret, info = create_token(client.app.state.engine, "finance")
    with client.app.state.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(tokens.select())]
    assert not any(secret in map(str, row) for row in rows)
    assert any(hash_token(secret) in row for row in rows)
    assert info.token_id in {t.token_id for t in list_tokens(client.app.state.engine)}


def test_an_auditor_may_not_record_events(client):
    response = client.post("/events", json=activity("A-1", "R-1"), headers=bearer(token(client, "auditor")))
    assert response.status_code == 403
    assert head(client) == 6


def test_a_rep_may_not_verify_the_chain_but_an_auditor_may(client):
    assert client.get("/audit/verify", headers=bearer(token(client, "rep", rep_id="R-1"))).status_code == 403
    report = client.get("/audit/verify", headers=bearer(token(client, "auditor"))).json()
    assert (report["ok"], report["events_checked"], report["first_bad_position"]) == (True, 6, None)
    assert len(report["head"]) == 64


def test_a_rep_cannot_read_another_reps_events(client):
    rep = bearer(token(client, "rep", rep_id="R-1"))
    response = client.get("/events", params={"rep": "R-2"}, headers=rep)
    assert response.status_code == 404
    assert "R-2" in response.json()["detail"] and "events" not in response.json()
    assert {e["rep_id"] for e in client.get("/events", headers=rep).json()["events"]} == {"R-1"}


def test_a_manager_cannot_read_the_events_of_a_rep_of_another_team(client):
    manager = bearer(token(client, "manager", team_id="T-1"))
    assert client.get("/events", params={"rep": "R-3"}, headers=manager).status_code == 404
    assert client.get("/events", params={"rep": "R-2"}, headers=manager).status_code == 200


def test_a_rep_logs_their_own_activities_and_nobody_elses(client):
    rep = bearer(token(client, "rep", rep_id="R-1"))
    assert client.post("/events", json=activity("A-1", "R-1"), headers=rep).status_code == 201
    refused = client.post("/events", json={"events": [activity("A-2", "R-1"), activity("A-3", "R-2")]}, headers=rep)
    assert refused.status_code == 403
    assert [(p["index"], p["field"]) for p in refused.json()["problems"]] == [(1, "data")]
    assert head(client) == 7  # the batch is refused whole


def test_a_manager_records_for_their_team_and_is_refused_for_another_teams_deal(client):
    manager = bearer(token(client, "manager", team_id="T-1"))
    assert (
        client.post(
            "/events", json={"events": [open_deal("D-2", "R-2"), win("D-2", "50.00")]}, headers=manager
        ).status_code
        == 201
    )
    refused = client.post("/events", json=win("D-3", "70.00"), headers=manager)
    assert refused.status_code == 403
    assert refused.json()["problems"][0]["message"] == "deal D-3 is not known within this token's reach"
    assert head(client) == 8


def test_an_event_for_no_rep_is_for_admin_or_finance_only(client):
    target = ev(
        "TargetSet", "2026-01-01T00:00:00Z", scope={"company": True}, metric="revenue", period="2026-Q1", value="100000"
    )
    assert (
        client.post("/events", json=target, headers=bearer(token(client, "manager", team_id="T-1"))).status_code == 403
    )
    assert client.post("/events", json=target, headers=bearer(token(client, "finance"))).status_code == 201


def test_the_system_event_types_are_refused_even_for_an_admin(client):
    approved = ev("PeriodClosed", "2026-04-01T00:00:00Z", period="2026-Q1")
    response = client.post("/events", json=approved, headers=bearer(token(client, "admin")))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "type"


def test_servers_starting_together_on_a_fresh_store_make_the_token_table_once(store_url):
    from concurrent.futures import ThreadPoolExecutor

    from api.auth import ensure_tables
    from projections.db import engine_for

    engines = [engine_for(Settings(database_url=store_url)) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(ensure_tables, engines))  # raises if two of them raced on the catalogue
        _, info = create_token(engines[0], "admin")
        assert [t.token_id for t in list_tokens(engines[1])] == [info.token_id]
    finally:
        for engine in engines:
            engine.dispose()
