"""An app under test with one token per role, and a small department to ask it about.

The department: R-ann and R-bob in team T-1 (East), R-cat in team T-2 (West), all on plan `std`
v1 (the example plan of docs/design.md) with Q1 revenue targets of 100000, and plan v2 (a flat 4%) published
for replays (in force from April). In Q1 R-ann wins 130000, R-bob 80000 and R-cat 77777.77 — an amount that appears
nowhere else, so a response that leaks R-cat's figures to T-1 is easy to spot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from builders import ev, onboard
from fastapi.testclient import TestClient
from payout_fixtures import FLAT_RULES, JAN, STANDARD_RULES, assign, publish, target, won_deal

from api.app import create_app
from api.auth import create_token
from ledger.config import Settings

OWN, MATE, FAR = "R-ann", "R-bob", "R-cat"  # the rep token's own rep, a teammate, a rep of another team
TEAM, OTHER_TEAM = "T-1", "T-2"
FAR_AMOUNT = "77777.77"


def department() -> list[dict[str, Any]]:
    events = [
        onboard(OWN, TEAM, "East", JAN),
        onboard(MATE, TEAM, "East", JAN),
        onboard(FAR, OTHER_TEAM, "West", JAN),
        publish(1, STANDARD_RULES),
        assign({"company": True}),
        publish(2, FLAT_RULES, effective_from="2026-04", when="2026-01-01T00:00:01+00:00"),
        target(OWN, "100000"),
        target(MATE, "100000"),
        target(FAR, "100000"),
        ev("TargetSet", JAN, scope={"team": TEAM}, metric="revenue", period="2026-Q1", value="200000"),
    ]
    for n, (rep, amount) in enumerate(((OWN, "130000.00"), (MATE, "80000.00"), (FAR, FAR_AMOUNT)), start=1):
        events += won_deal(f"D-{n}", rep, amount)
        events += [
            ev(
                "EvaluationRecorded",
                "2026-03-30T10:00:00+00:00",
                evaluation_id=f"E-{n}",
                rep_id=rep,
                period="2026-Q1",
                evaluator_id="M-1",
                result_score=70 + n,
                process_scores={"discovery": 60 + n},
            ),
            ev(
                "FeedbackGiven",
                "2026-03-31T10:00:00+00:00",
                feedback_id=f"F-{n}",
                rep_id=rep,
                author_id="M-1",
                kind="coaching",
                text=f"Keep going, {rep}",
            ),
        ]
    return events


def role_tokens(engine: Any, rep_id: str, team_id: str) -> dict[str, str]:
    """One bearer token per role: the rep token for `rep_id`, the manager token for `team_id`,
    the director token for East."""
    return {
        "admin": create_token(engine, "admin")[0],
        "finance": create_token(engine, "finance")[0],
        "auditor": create_token(engine, "auditor")[0],
        "manager": create_token(engine, "manager", team_id=team_id)[0],
        "rep": create_token(engine, "rep", rep_id=rep_id)[0],
        "director": create_token(engine, "director", region="East")[0],
    }


class Api:
    """A running app with one token per role: a rep token for R-ann, a manager token for T-1."""

    def __init__(self, client: TestClient):
        self.client = client
        engine = client.app.state.engine
        self.tokens = role_tokens(engine, rep_id=OWN, team_id=TEAM)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str | None = "admin", **params: Any):
        return self.client.get(path, params=params, headers=self.headers(role))

    def post(self, path: str, body: Any = None, role: str | None = "admin"):
        return self.client.post(path, json=body, headers=self.headers(role))

    def record(self, *events: dict[str, Any]) -> list[int]:
        response = self.post("/events", {"events": list(events)})
        assert response.status_code == 201, response.text
        return response.json()["positions"]

    def head(self) -> int:
        return self.client.app.state.ledger.head().position

    def recorded_at(self, position: int) -> str:
        """The knowledge time of a position, as GET /events writes it: a `known_at` to ask with."""
        page = self.get("/events", after=position - 1, limit=1).json()
        return page["events"][0]["recorded_at"]


@contextmanager
def running(settings: Settings, seed: bool = True) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        if seed:
            api.record(*department())
        yield api
