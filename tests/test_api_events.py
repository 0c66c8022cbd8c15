"""POST /events and GET /events: recording batches, every problem at once, paging and filters."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from api_client import role_tokens
from builders import ev, onboard, open_deal, win
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app


class Api:
    """A running app with one token per role (rep R-1, manager of T-1)."""

    def __init__(self, client: TestClient):
        self.client = client
        engine = client.app.state.engine
        self.tokens = role_tokens(engine, rep_id="R-1", team_id="T-1")

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, body, role: str = "admin", **kwargs):
        return self.client.post("/events", json=body, headers=self.headers(role), **kwargs)

    def get(self, path: str, role: str = "admin", **params):
        return self.client.get(path, params=params, headers=self.headers(role))

    def head(self) -> int:
        return self.client.app.state.ledger.head().position


@pytest.fixture
def log_api(settings) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def seed(log_api: Api) -> None:
    """R-1 and R-2 in team T-1, R-3 in T-2; each opens and wins a deal."""
    events = [onboard("R-1"), onboard("R-2"), onboard("R-3", team_id="T-2")]
    for n, rep in enumerate(("R-1", "R-2", "R-3"), start=1):
        events += [open_deal(f"D-{n}", rep), win(f"D-{n}", f"{n}000.50")]
    assert log_api.post({"events": events}).status_code == 201


# ---------------------------------------------------------------- recording


def test_one_envelope_is_recorded_and_answered_with_its_position(log_api):
    response = log_api.post(onboard("R-1"))
    assert response.status_code == 201
    assert response.json() == {"positions": [1], "duplicates": []}


def test_a_batch_is_recorded_in_order_with_one_position_per_event(log_api):
    response = log_api.post({"events": [onboard("R-1"), open_deal("D-1", "R-1"), win("D-1", "18000.00")]})
    assert response.status_code == 201
    assert response.json()["positions"] == [1, 2, 3]


def test_a_bad_batch_is_refused_with_every_problem_and_its_index_and_nothing_is_recorded(log_api):
    log_api.post(onboard("R-1"))
    batch = [
        open_deal("D-1", "R-1"),
        ev("DealWon", "2026-02-10T09:00:00", deal_id="D-1", amount=100.5),  # naive time, float money
        ev("Nonsense", "2026-02-10T09:00:00+00:00"),
    ]
    response = log_api.post({"events": batch})
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert {(p["index"], p["field"]) for p in problems} == {(1, "occurred_at"), (1, "data.amount"), (2, "type")}
    assert all(p["message"] for p in problems)
    assert log_api.head() == 1


def test_a_rule_broken_in_a_batch_is_named_by_the_index_of_its_event(log_api):
    log_api.post(onboard("R-1"))
    response = log_api.post({"events": [open_deal("D-1", "R-1"), win("D-404", "1.00")]})
    assert response.status_code == 422
    assert [(p["index"], p["field"]) for p in response.json()["detail"]] == [(1, "data.deal_id")]
    assert log_api.head() == 1


def test_an_event_id_reused_with_other_content_is_a_conflict_naming_the_event(log_api):
    log_api.post({"events": [onboard("R-1"), open_deal("D-1", "R-1")]})
    won = ev("DealWon", "2026-02-10T09:00:00+00:00", "crm-1", deal_id="D-1", amount="10.00")
    assert log_api.post(won).status_code == 201
    response = log_api.post(
        {"events": [onboard("R-2"), ev("DealWon", "2026-02-10T09:00:00+00:00", "crm-1", deal_id="D-1", amount="99.00")]}
    )
    assert response.status_code == 409
    body = response.json()
    assert "event_id" in body["detail"]
    assert [(p["index"], p["field"]) for p in body["problems"]] == [(1, "event_id")]
    assert log_api.head() == 3


def test_repeating_a_batch_answers_its_original_positions_and_records_nothing_new(log_api):
    batch = {
        "events": [
            ev("RepOnboarded", "2026-01-01T00:00:00Z", "hr-1", rep_id="R-1", name="Ann", team_id="T-1", region="East"),
            ev("TrainingCompleted", "2026-01-02T00:00:00Z", "lms-1", rep_id="R-1", training="SPIN"),
        ]
    }
    first = log_api.post(batch).json()
    again = log_api.post(batch)
    assert again.status_code == 201
    assert again.json() == {"positions": first["positions"], "duplicates": [0, 1]}
    assert log_api.head() == 2


def test_more_than_1000_events_in_one_request_is_refused_before_anything_is_checked(log_api):
    response = log_api.post({"events": [onboard(f"R-{n}") for n in range(1001)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "events"
    assert "1000" in response.json()["detail"][0]["message"]


FIVE_MIB = 5 * 1024 * 1024


def test_a_body_with_a_declared_size_over_5_mib_is_refused_with_413(log_api):
    body = b'{"events": [' + b" " * FIVE_MIB + b"]}"
    response = log_api.client.post(
        "/events", content=body, headers={**log_api.headers("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_a_streamed_body_is_refused_with_413_as_soon_as_it_passes_the_limit(log_api):
    def chunks():  # no Content-Length: sent chunked
        for _ in range(FIVE_MIB // 65536 + 1):
            yield b" " * 65536

    response = log_api.client.post("/events", content=chunks(), headers=log_api.headers("admin"))
    assert response.status_code == 413
    assert log_api.head() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"",
        b"[" * 5000,
        b'{"events": "many"}',
        b'{"events": [], "extra": 1}',
        b'{"type": "DealWon"}',
    ],
)
def test_malformed_input_is_a_clear_4xx_and_never_a_500(log_api, body):
    response = log_api.client.post(
        "/events", content=body, headers={**log_api.headers("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["message"]


def test_money_is_a_decimal_string_and_times_are_iso_8601(log_api):
    log_api.post(
        {"events": [onboard("R-1"), open_deal("D-1", "R-1"), win("D-1", "18000.50", when="2026-02-10T09:00:00+08:00")]}
    )
    item = log_api.get("/events", type="DealWon").json()["events"][0]
    assert item["data"]["amount"] == "18000.50"
    assert item["occurred_at"] == "2026-02-10T09:00:00+08:00"
    assert item["recorded_at"].endswith("Z") and "T" in item["recorded_at"]


def test_every_event_is_listed_with_its_entry_fields(log_api):
    log_api.post(
        ev("RepOnboarded", "2026-01-01T00:00:00Z", "hr-1", rep_id="R-1", name="Ann", team_id="T-1", region="East")
    )
    item = log_api.get("/events").json()["events"][0]
    assert set(item) == {"position", "type", "event_id", "occurred_at", "recorded_at", "actor", "rep_id", "data"}
    assert (item["position"], item["type"], item["event_id"], item["rep_id"]) == (1, "RepOnboarded", "hr-1", "R-1")
    assert item["actor"].startswith("admin:tok_")


def test_the_actor_recorded_names_the_role_what_its_token_is_bound_to_and_the_token(log_api):
    seed(log_api)
    assert (
        log_api.post(
            ev("ActivityLogged", "2026-03-01T10:00:00Z", activity_id="A-1", rep_id="R-1", kind="call"), "rep"
        ).status_code
        == 201
    )
    assert (
        log_api.post(
            ev("ActivityLogged", "2026-03-01T11:00:00Z", activity_id="A-2", rep_id="R-2", kind="visit"), "manager"
        ).status_code
        == 201
    )
    actors = [item["actor"] for item in log_api.get("/events", type="ActivityLogged").json()["events"]]
    assert [actor.rpartition(":tok_")[0] for actor in actors] == ["rep:R-1", "manager:T-1"]  # and which token


# ---------------------------------------------------------------- reading


def test_the_log_is_paged_by_position_and_next_after_leads_to_the_next_page(log_api):
    seed(log_api)  # 9 events
    first = log_api.get("/events", limit=4).json()
    assert [e["position"] for e in first["events"]] == [1, 2, 3, 4]
    assert first["next_after"] == 4
    second = log_api.get("/events", after=4, limit=4).json()
    assert [e["position"] for e in second["events"]] == [5, 6, 7, 8]
    last = log_api.get("/events", after=8, limit=4).json()
    assert [e["position"] for e in last["events"]] == [9]
    assert last["next_after"] is None


def test_the_log_is_filtered_by_type_and_by_rep(log_api):
    seed(log_api)
    won = log_api.get("/events", type="DealWon").json()["events"]
    assert [(e["type"], e["data"]["deal_id"]) for e in won] == [
        ("DealWon", "D-1"),
        ("DealWon", "D-2"),
        ("DealWon", "D-3"),
    ]
    of_r2 = log_api.get("/events", rep="R-2").json()["events"]
    assert {e["rep_id"] for e in of_r2} == {"R-2"} and len(of_r2) == 3
    asked = "/events?type=DealOpened&type=DealWon&rep=R-3"
    both = log_api.client.get(asked, headers=log_api.headers("admin")).json()["events"]
    assert [e["type"] for e in both] == ["DealOpened", "DealWon"]


def test_a_filtered_page_continues_after_its_last_match(log_api):
    seed(log_api)
    first = log_api.get("/events", type="DealWon", limit=2).json()
    rest = log_api.get("/events", type="DealWon", after=first["next_after"], limit=2).json()
    assert [e["data"]["deal_id"] for e in first["events"] + rest["events"]] == ["D-1", "D-2", "D-3"]


def test_a_bad_query_parameter_is_a_422_naming_it(log_api):
    response = log_api.get("/events", limit=1001)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "index": None,
            "field": "query.limit",
            "code": "pydantic.less_than_equal",
            "message": response.json()["detail"][0]["message"],
        }
    ]
    unknown = log_api.get("/events", type="DealWonn").json()["detail"][0]
    assert unknown["field"].startswith("query.type")


def test_a_rep_sees_only_their_own_events(log_api):
    seed(log_api)
    events = log_api.get("/events", role="rep").json()["events"]
    assert events and {e["rep_id"] for e in events} == {"R-1"}


def test_a_manager_sees_the_events_of_the_reps_now_in_their_team(log_api):
    seed(log_api)
    assert {e["rep_id"] for e in log_api.get("/events", role="manager").json()["events"]} == {"R-1", "R-2"}
    log_api.post(ev("RepTransferred", "2026-01-05T00:00:00Z", rep_id="R-2", team_id="T-2"))
    assert {e["rep_id"] for e in log_api.get("/events", role="manager").json()["events"]} == {"R-1"}


def test_finance_and_auditors_read_the_whole_log(log_api):
    seed(log_api)
    for role in ("finance", "auditor"):
        assert len(log_api.get("/events", role=role).json()["events"]) == 9


# ---------------------------------------------------------------- the app itself


def test_health_answers_without_a_token(log_api):
    response = log_api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_openapi_document_shows_bearer_auth_and_the_events_routes(log_api):
    document = log_api.client.get("/openapi.json").json()
    assert {"/events", "/audit/verify", "/health"} <= set(document["paths"])
    assert any(s.get("scheme") == "bearer" for s in document["components"]["securitySchemes"].values())
    assert log_api.client.get("/docs").status_code == 200


def test_every_route_declares_its_response_model_so_money_never_becomes_a_float(log_api):
    """Without one, FastAPI's jsonable_encoder turns Decimal("0.10") into 0.1 (see api/responses.py)."""
    bare = [
        route.path
        for route in log_api.client.app.routes
        if isinstance(route, APIRoute) and route.response_model is None
    ]
    assert bare == []


def test_an_orjson_response_writes_a_decimal_as_a_string():
    from api.responses import dumps

    assert dumps({"amount": Decimal("0.10"), "tags": {"b", "a"}}) == b'{"amount":"0.10","tags":["a","b"]}'
