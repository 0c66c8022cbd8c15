"""Every typed command × every role: the status each must answer for R-ann (in T-1, East), and
nothing written when refused. The same authority as `POST /events` (services/policy.py):
org changes are the admin's; a region's teams and reps' levels also its director's; plans and
awards finance's too; targets finance's, the team manager's and the region director's; the
pipeline and the people process the team manager's and the region director's; a rep logs their
own calls and follow-ups, signs off their plan and opens and comments their disputes; an auditor
records nothing (403). Another team's manager, another region's director and another rep are
refused as out of reach (403).

Each cell records on an object of its own (made by the admin through `POST /events` first), so the
cells do not depend on each other. One app on SQLite for the module: the store-specific paths are
tests/test_commands_api.py's, on both stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_client import MATE, OTHER_TEAM, OWN, TEAM, Api, running
from builders import ev

from api.auth import create_token
from ledger.config import Settings

ROLES = ("admin", "finance", "auditor", "manager", "other_manager", "rep", "other_rep", "director", "other_director")
WHEN = "2026-04-10T10:00:00+00:00"
RULES = {
    "components": [
        {
            "id": "c",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.01"}],
        }
    ]
}


def allowed(*roles: str) -> dict[str, int]:
    return {role: 201 if role in roles else 403 for role in ROLES}


ADMIN = allowed("admin")
FINANCE = allowed("admin", "finance")
# A director of East writes what R-ann's manager writes (R-ann is in T-1, East); West's is refused.
TARGETS = allowed("admin", "finance", "manager", "director")
MANAGER = allowed("admin", "manager", "director")
REP_TOO = allowed("admin", "manager", "rep", "director")
SIGN_OFF = allowed("admin", "rep")
COMMENT = allowed("admin", "finance", "manager", "rep", "director")
DIRECTOR = allowed("admin", "director")  # a team of East, a level of an East rep


def opened(u: str) -> list[dict[str, Any]]:
    return [ev("DealOpened", WHEN, deal_id=f"D-{u}", rep_id=OWN, customer_id=f"C-{u}")]


def won(u: str) -> list[dict[str, Any]]:
    return [*opened(u), ev("DealWon", WHEN, deal_id=f"D-{u}", amount="100.00")]


def nothing(u: str) -> list[dict[str, Any]]:
    return []


Setup = Callable[[str], list[dict[str, Any]]]
# command: (what the admin records first, path, body, {role: status}); `{u}` is the cell's own suffix
CELLS: dict[str, tuple[Setup, str, dict[str, Any], dict[str, int]]] = {
    "rep.onboard": (nothing, "/reps", {"rep_id": "R-{u}", "name": "N", "team_id": TEAM, "region": "East"}, ADMIN),
    "rep.transfer": (
        lambda u: [ev("RepOnboarded", WHEN, rep_id=f"R-{u}", name="N", team_id=TEAM, region="East")],
        "/reps/R-{u}/transfer",
        {"region": "North"},
        ADMIN,
    ),
    "rep.offboard": (
        lambda u: [ev("RepOnboarded", WHEN, rep_id=f"R-{u}", name="N", team_id=TEAM, region="East")],
        "/reps/R-{u}/offboard",
        {},
        ADMIN,
    ),
    "region.create": (nothing, "/regions", {"region": "Region-{u}", "name": "N"}, ADMIN),
    "team.create": (nothing, "/teams", {"team_id": "T-{u}", "name": "N", "region": "East"}, DIRECTOR),
    "rep.level": (nothing, f"/reps/{OWN}/level", {"level": "senior"}, DIRECTOR),
    "target.set": (
        nothing,
        "/targets",
        {"scope": {"rep": OWN}, "metric": "orders", "period": "2026-05", "value": "4"},
        TARGETS,
    ),
    "target.revise": (
        lambda u: [ev("TargetSet", WHEN, scope={"rep": OWN}, metric="orders", period="2026-05", value="4")],
        "/targets/revisions",
        {"scope": {"rep": OWN}, "metric": "orders", "period": "2026-05", "value": "5", "reason": "r"},
        TARGETS,
    ),
    "activity.log": (nothing, "/activities", {"rep_id": OWN, "kind": "call"}, REP_TOO),
    "followup.schedule": (nothing, "/followups", {"rep_id": OWN, "due_at": "2026-05-01T10:00:00Z"}, REP_TOO),
    "followup.complete": (
        lambda u: [ev("FollowUpScheduled", WHEN, followup_id=f"FU-{u}", rep_id=OWN, due_at="2026-05-01T10:00:00Z")],
        "/followups/FU-{u}/complete",
        {},
        REP_TOO,
    ),
    "lead.record": (nothing, "/leads", {"rep_id": OWN, "source": "web"}, MANAGER),
    "deal.open": (nothing, "/deals", {"deal_id": "D-{u}", "rep_id": OWN, "customer_id": "C-{u}"}, MANAGER),
    "deal.won": (opened, "/deals/D-{u}/won", {"amount": "100.00"}, MANAGER),
    "deal.lost": (opened, "/deals/D-{u}/lost", {"reason": "price"}, MANAGER),
    "deal.correct": (won, "/deals/D-{u}/correction", {"amount": "90.00", "reason": "typo"}, MANAGER),
    "deal.refund": (won, "/deals/D-{u}/refund", {"amount": "10.00"}, MANAGER),
    "deal.split": (
        won,
        "/deals/D-{u}/split",
        {"splits": [{"rep_id": OWN, "share": "0.5"}, {"rep_id": MATE, "share": "0.5"}]},
        MANAGER,
    ),
    "evaluation.record": (
        nothing,
        "/evaluations",
        {"rep_id": OWN, "period": "2026-Q2", "result_score": 70, "process_scores": {"calls": 60}},
        MANAGER,
    ),
    "feedback.give": (nothing, "/feedback", {"rep_id": OWN, "kind": "recognition", "text": "good"}, MANAGER),
    "improvement.set": (
        nothing,
        "/improvement-plans",
        {"rep_id": OWN, "goals": ["g"], "trainings": [], "review_by": "2026-06-30T10:00:00Z", "occurred_at": WHEN},
        MANAGER,
    ),
    "improvement.review": (
        lambda u: [
            ev(
                "ImprovementPlanSet",
                WHEN,
                improvement_plan_id=f"IP-{u}",
                rep_id=OWN,
                goals=["g"],
                trainings=[],
                review_by="2026-06-30T10:00:00Z",
            )
        ],
        "/improvement-plans/IP-{u}/reviews",
        {"rep_id": OWN, "outcome": "met", "occurred_at": WHEN},
        MANAGER,
    ),
    "training.assign": (
        nothing,
        "/trainings/assignments",
        {
            "rep_id": OWN,
            "training": "negotiation",
            "gap": "closing",
            "due_by": "2026-06-30T10:00:00Z",
            "occurred_at": WHEN,
        },
        MANAGER,
    ),
    "training.complete": (nothing, "/trainings", {"rep_id": OWN, "training": "negotiation"}, MANAGER),
    "plan.publish": (
        nothing,
        "/plans",
        {"plan_id": "P-{u}", "version": 1, "effective_from": "2026-05", "rules": RULES},
        FINANCE,
    ),
    "plan.assign": (
        lambda u: [
            ev("IncentivePlanPublished", WHEN, plan_id=f"P-{u}", version=1, effective_from="2026-05", rules=RULES)
        ],
        "/plans/P-{u}/assign",
        {"scope": {"rep": OWN}, "from_period": "2026-05"},
        FINANCE,
    ),
    "plan.acknowledge": (nothing, "/plans/std/acknowledge", {"rep_id": OWN, "version": 1}, SIGN_OFF),
    "award.grant": (
        nothing,
        "/awards",
        {"rep_id": OWN, "period": "2026-05", "amount": "50.00", "reason": "r"},
        FINANCE,
    ),
    "recognition.grant": (nothing, "/recognitions", {"rep_id": OWN, "period": "2026-05", "title": "优秀销售"}, TARGETS),
    "dispute.open": (
        nothing,
        "/disputes",
        {"rep_id": OWN, "period": "2026-Q1", "component": "commission", "text": "a line is missing"},
        REP_TOO,
    ),
    "dispute.comment": (
        lambda u: [
            ev(
                "DisputeOpened",
                WHEN,
                dispute_id=f"DS-{u}",
                rep_id=OWN,
                period="2026-Q1",
                component="commission",
                text="t",
            )
        ],
        "/disputes/DS-{u}/comments",
        {"text": "noted"},
        COMMENT,
    ),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("command-roles")
    with running(Settings(database_url=f"sqlite:///{folder}/ledger.db")) as api:
        engine = api.client.app.state.engine
        api.tokens["other_manager"] = create_token(engine, "manager", team_id=OTHER_TEAM)[0]
        api.tokens["other_rep"] = create_token(engine, "rep", rep_id=MATE)[0]
        api.tokens["other_director"] = create_token(engine, "director", region="West")[0]
        api.record(ev("RegionCreated", WHEN, region="East", name="East China"))  # teams are formed in it
        yield api


def fill(value: Any, u: str) -> Any:
    if isinstance(value, str):
        return value.replace("{u}", u)
    if isinstance(value, dict):
        return {key: fill(item, u) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, u) for item in value]
    return value


def test_every_registered_command_is_in_the_matrix():
    from services.commands import REGISTRY

    assert sorted(CELLS) == sorted(REGISTRY)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(CELLS))
def test_each_role_gets_its_status_for_each_command_and_a_refusal_writes_nothing(api, name, role):
    setup, path, body, statuses = CELLS[name]
    u = uuid.uuid4().hex[:10]
    if setup(u):
        api.record(*setup(u))
    before = api.client.app.state.ledger.head()
    response = api.post(fill(path, u), fill(body, u), role=role)
    assert response.status_code == statuses[role], response.text
    after = api.client.app.state.ledger.head()
    if response.status_code == 201:
        assert response.json()["command"] == name
        assert after.position == before.position + 1
    else:
        assert after == before
