"""Every role × every endpoint × whose data (the rep's own, a teammate's, another team's): the
status each cell must answer, and no cell that answers 2xx shows data beyond the token's reach.

Targets: `own` is R-ann (the rep token's rep, in the manager's team T-1, East), `team` is R-bob
(T-1, East), `other` is R-cat (T-2, West). The director directs East: T-1's reps are theirs,
West is answered as if it did not exist (404) and the company is not a director's (403).
401 without a token, 403 for a role that never does this, 404 for an object (a rep, a team)
out of the token's reach: docs/design.md ("Roles") and services/policy.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_client import FAR, FAR_AMOUNT, MATE, OTHER_TEAM, OWN, TEAM, Api, running
from builders import ev

from ledger.config import Settings

ROLES = ("admin", "finance", "auditor", "manager", "rep", "director")
TARGETS = {"own": (OWN, TEAM, "East"), "team": (MATE, TEAM, "East"), "other": (FAR, OTHER_TEAM, "West")}
# What a 2xx answer to each role must never contain: reps, teams and figures beyond its reach.
BEYOND_REACH = {
    "rep": (MATE, FAR, FAR_AMOUNT, "80000.00"),
    "manager": (FAR, OTHER_TEAM, FAR_AMOUNT),
    "director": (FAR, OTHER_TEAM, FAR_AMOUNT, "West"),
}
EAST = (200, 200, 404)  # a director of East: R-ann, R-bob (T-1, East); not R-cat (T-2, West)
# Periods written by the cells that write, one per role, so that every cell is independent.
APPROVE_MONTH = {"admin": "2026-01", "finance": "2026-02"}
CLOSE_MONTH = {"admin": "2025-11", "finance": "2025-12"}

ALL = (200, 200, 200)
EAST_TEAMS = {"admin": ALL, "finance": ALL, "auditor": ALL, "manager": (403,) * 3, "rep": (403,) * 3, "director": EAST}
REP_READS = {
    "admin": ALL,
    "finance": ALL,
    "auditor": ALL,
    "manager": (200, 200, 404),
    "rep": (200, 404, 404),
    "director": EAST,
}
TEAM_READS = {
    "admin": ALL,
    "finance": ALL,
    "auditor": ALL,
    "manager": (200, 200, 404),
    "rep": (404, 404, 404),
    "director": EAST,
}
BEYOND_TEAM = {
    "admin": ALL,
    "finance": ALL,
    "auditor": ALL,
    "manager": (403,) * 3,
    "rep": (403,) * 3,
    "director": EAST,  # region:East is theirs, region:West is 404
}
APPROVES = {
    "admin": (201,) * 3,
    "finance": (201,) * 3,
    "auditor": (403,) * 3,
    "manager": (403,) * 3,
    "rep": (403,) * 3,
    "director": (403,) * 3,
}
RECORDS_ACTIVITY = {
    "admin": (201,) * 3,
    "finance": (403,) * 3,
    "auditor": (403,) * 3,
    "manager": (201, 201, 403),
    "rep": (201, 403, 403),
    "director": (201, 201, 403),
}

# name: (method, path, query or body, {role: (own, team, other)})
PER_TARGET = {
    "kpis of a rep": ("GET", "/kpis", {"scope": "rep:{rep}", "period": "2026-Q1"}, REP_READS),
    "kpis of a team": ("GET", "/kpis", {"scope": "team:{team}", "period": "2026-Q1"}, TEAM_READS),
    "kpis of a region": ("GET", "/kpis", {"scope": "region:{region}", "period": "2026-Q1"}, BEYOND_TEAM),
    "targets of a rep": ("GET", "/targets", {"scope": "rep:{rep}", "period": "2026-Q1"}, REP_READS),
    "targets of a team": ("GET", "/targets", {"scope": "team:{team}", "period": "2026-Q1"}, TEAM_READS),
    "targets of a region": ("GET", "/targets", {"scope": "region:{region}", "period": "2026-Q1"}, BEYOND_TEAM),
    "quadrants of a region's teams": (
        "GET",
        "/kpis/quadrants",
        {"period": "2026-Q1", "region": "{region}"},
        EAST_TEAMS,
    ),
    "history": ("GET", "/reps/{rep}/history", {}, REP_READS),
    "explain": ("GET", "/payouts/{rep}/2026-Q1/explain", {}, REP_READS),
    "changes": ("GET", "/payouts/{rep}/2026-Q1/changes", {"from_known_at": "2026-01-01T00:00:00Z"}, REP_READS),
    "approve": ("POST", "/payouts/{rep}/{month}/approve", None, APPROVES),
    "read events": ("GET", "/events", {"rep": "{rep}"}, REP_READS),
    "record events": ("POST", "/events", "activity", RECORDS_ACTIVITY),
}
# name: (method, path, query or body, {role: status})
WHOLE_ORG = {
    "company kpis": (
        "GET",
        "/kpis",
        {"scope": "company", "period": "2026-Q1"},
        {"admin": 200, "finance": 200, "auditor": 200, "manager": 403, "rep": 403, "director": 403},
    ),
    "quadrants": (  # a director's: the teams of their region
        "GET",
        "/kpis/quadrants",
        {"period": "2026-Q1"},
        {"admin": 200, "finance": 200, "auditor": 200, "manager": 403, "rep": 403, "director": 200},
    ),
    "payouts": ("GET", "/payouts", {"period": "2026-Q1"}, dict.fromkeys(ROLES, 200)),
    "replay": (
        "POST",
        "/replays",
        {"period": "2026-Q1", "plan": {"plan_id": "std", "version": 2}},
        {"admin": 200, "finance": 200, "auditor": 200, "manager": 403, "rep": 403, "director": 403},
    ),
    "adjustments": (
        "POST",
        "/replays/adjustments",
        "adjustments",
        {"admin": 201, "finance": 201, "auditor": 403, "manager": 403, "rep": 403, "director": 403},
    ),
    "bulk approve": (
        "POST",
        "/payouts/approve",
        {"scope": "company", "period": "2026-03"},
        {"admin": 200, "finance": 200, "auditor": 403, "manager": 403, "rep": 403, "director": 403},
    ),
    "close": (
        "POST",
        "/periods/{close}/close",
        None,
        {"admin": 201, "finance": 201, "auditor": 403, "manager": 403, "rep": 403, "director": 403},
    ),
    "verify": (
        "GET",
        "/audit/verify",
        {},
        {"admin": 200, "finance": 200, "auditor": 200, "manager": 403, "rep": 403, "director": 403},
    ),
    "audit rebuild": (
        "GET",
        "/audit/rebuild",
        {},
        {"admin": 200, "finance": 403, "auditor": 200, "manager": 403, "rep": 403, "director": 403},
    ),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("roles")
    with running(Settings(database_url=f"sqlite:///{folder}/ledger.db")) as api:
        yield api


def fill(template, values: dict[str, str]):
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    return template


def body_for(kind, rep: str):
    if kind == "activity":
        return ev(
            "ActivityLogged",
            "2026-03-02T10:00:00+00:00",
            activity_id=f"A-{uuid.uuid4().hex[:12]}",
            rep_id=rep,
            kind="call",
        )
    if kind == "adjustments":
        return {
            "period": "2026-Q1",
            "plan": {"plan_id": "std", "version": 2},
            "known_at": datetime.now(UTC).isoformat(),
        }
    return kind


def call(api: Api, role: str | None, method: str, path: str, payload, values: dict[str, str]):
    path = fill(path, values)
    if method == "GET":
        return api.client.get(path, params=fill(payload, values), headers=api.headers(role))
    return api.client.post(
        path, json=body_for(fill(payload, values), values.get("rep", OWN)), headers=api.headers(role)
    )


def assert_nothing_beyond_reach(role: str, response) -> None:
    if response.status_code < 300:
        leaked = [text for text in BEYOND_REACH.get(role, ()) if text in response.text]
        assert leaked == [], f"a {role} token was shown {leaked}"
    else:
        assert set(response.json()) <= {"detail", "code", "problems"} and FAR_AMOUNT not in response.text


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(PER_TARGET))
def test_each_role_gets_its_status_for_each_reps_data_and_nothing_beyond_reach(api, endpoint, role, target):
    method, path, payload, expected = PER_TARGET[endpoint]
    rep, team, region = TARGETS[target]
    values = {"rep": rep, "team": team, "region": region, "month": APPROVE_MONTH.get(role, "2026-03")}
    response = call(api, role, method, path, payload, values)
    assert response.status_code == expected[role][list(TARGETS).index(target)], response.text
    assert_nothing_beyond_reach(role, response)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(WHOLE_ORG))
def test_each_role_gets_its_status_for_the_whole_org_and_sees_only_its_reps(api, endpoint, role):
    method, path, payload, expected = WHOLE_ORG[endpoint]
    response = call(api, role, method, path, payload, {"close": CLOSE_MONTH.get(role, "2025-10")})
    assert response.status_code == expected[role], response.text
    assert_nothing_beyond_reach(role, response)


def test_the_payouts_a_role_sees_are_exactly_the_reps_within_its_reach(api):
    seen = {
        role: {p["rep_id"] for p in api.get("/payouts", role=role, period="2026-Q1").json()["payouts"]}
        for role in ROLES
    }
    assert seen == {
        "admin": {OWN, MATE, FAR},
        "finance": {OWN, MATE, FAR},
        "auditor": {OWN, MATE, FAR},
        "manager": {OWN, MATE},
        "rep": {OWN},
        "director": {OWN, MATE},
    }


ENDPOINTS = [(method, path, payload) for method, path, payload, _ in [*PER_TARGET.values(), *WHOLE_ORG.values()]]


@pytest.mark.parametrize(("method", "path", "payload"), ENDPOINTS)
def test_every_endpoint_answers_401_without_a_token(api, method, path, payload):
    values = {"rep": OWN, "team": TEAM, "region": "East", "month": "2026-03", "close": "2025-10"}
    response = call(api, None, method, path, payload, values)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def dispute(dispute_id: str, rep: str) -> list[dict]:
    return [
        ev(
            "DisputeOpened",
            "2026-04-02T09:00:00+00:00",
            dispute_id=dispute_id,
            rep_id=rep,
            period="2026-Q1",
            component="commission",
            text="the March deal is missing",
        ),
        ev(
            "DisputeCommented",
            "2026-04-02T10:00:00+00:00",
            dispute_id=dispute_id,
            text="more detail",
        ),
    ]


@pytest.mark.parametrize(
    ("role", "target", "status"),
    [
        ("rep", "own", 201),
        ("rep", "team", 403),
        ("manager", "team", 201),
        ("manager", "other", 403),
        ("director", "team", 201),
        ("director", "other", 403),
        ("finance", "other", 403),
        ("auditor", "own", 403),
        ("admin", "other", 201),
    ],
)
def test_a_dispute_is_opened_and_commented_by_its_rep_or_their_manager(api, role, target, status):
    rep = TARGETS[target][0]
    response = api.post("/events", {"events": dispute(f"X-{uuid.uuid4().hex[:8]}", rep)}, role=role)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("role", "target", "status"),
    [
        ("finance", "other", 201),
        ("admin", "other", 201),
        ("rep", "own", 201),
        ("rep", "team", 403),
        ("manager", "team", 201),
        ("manager", "other", 403),
        ("director", "team", 201),
        ("director", "other", 403),
        ("auditor", "own", 403),
    ],
)
def test_a_comment_on_an_earlier_dispute_is_for_its_rep_their_manager_and_finance(api, role, target, status):
    dispute_id = f"X-{uuid.uuid4().hex[:8]}"
    api.record(dispute(dispute_id, TARGETS[target][0])[0])
    comment = ev("DisputeCommented", "2026-04-03T09:00:00+00:00", dispute_id=dispute_id, text="noted")
    assert api.post("/events", comment, role=role).status_code == status


@pytest.mark.parametrize(("role", "status"), [("rep", 201), ("manager", 403), ("director", 403), ("finance", 403)])
def test_a_plan_is_acknowledged_by_its_rep(api, role, status):
    acknowledged = ev("PlanAcknowledged", "2026-01-05T09:00:00+00:00", rep_id=OWN, plan_id="std", version=1)
    assert api.post("/events", acknowledged, role=role).status_code == status
