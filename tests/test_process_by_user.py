"""Issue 21, process by user: each user doing their role's work over HTTP with their own token,
on SQLite and PostgreSQL: the director, the auditor, the team manager, finance and the rep.

The department of api_client: R-ann and R-bob in T-1 (East), R-cat in T-2 (West). East and
West are created here, and T-3 is formed in East with nobody in it yet.
"""

from __future__ import annotations

from builders import correct, ev
from payout_fixtures import JAN

APRIL = "2026-04-01T00:00:00+00:00"


def test_the_director_of_east_splits_east_by_weights_reads_east_and_cannot_touch_west(api):
    api.record(
        ev("RegionCreated", JAN, region="East", name="East China", director_id="D-east"),
        ev("RegionCreated", JAN, region="West", name="West China"),
        ev("TeamCreated", JAN, team_id="T-3", name="Hangzhou", region="East", manager_id="M-3"),
    )
    # East's Q2 revenue target 500,000.00 by weights T-1 : T-3 = 2 : 1. 50,000,000 cents × 2/3 =
    # 33,333,333.33… and × 1/3 = 16,666,666.66…: 49,999,999 rounded down, the cent left goes to
    # the larger remainder (.66 of T-3): T-1 333,333.33 and T-3 166,666.67, summing to 500,000.00.
    body = {
        "metric": "revenue",
        "period": "2026-Q2",
        "occurred_at": APRIL,
        "scope": "region:East",
        "value": "500000.00",
        "method": "weights",
        "weights": {"T-1": "2", "T-3": "1"},
    }
    response = api.post("/targets/allocations", body, role="director")
    assert response.status_code == 201, response.text
    shares = {c["scope"]: c["value"] for c in response.json()["children"]}
    assert shares == {"team:T-1": "333333.33", "team:T-3": "166666.67"}
    # East's KPIs and its teams are the director's; West's team T-2 answers as if absent.
    assert api.get("/kpis", role="director", scope="region:East", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-3", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-2", period="2026-Q1").status_code == 404


def test_the_auditor_verifies_the_chain_replays_without_writing_and_cannot_write(api):
    report = api.get("/audit/verify", role="auditor").json()
    assert report["ok"] is True and report["events_checked"] == api.head()
    before = (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link)
    # A draft plan of a flat 5% commission on revenue: R-ann won 130,000.00 in Q1, × 0.05 = 6,500.00.
    rules = {
        "components": [
            {
                "id": "commission",
                "kind": "commission",
                "base": "revenue",
                "mode": "flat",
                "tiers": [{"from_attainment": "0", "rate": "0.05"}],
            }
        ]
    }
    response = api.post("/replays", {"period": "2026-Q1", "plan": {"rules": rules}}, role="auditor")
    assert response.status_code == 200, response.text
    assert response.json()["plan"]["draft"] is True
    after = {row["rep_id"]: row["after"] for row in response.json()["diff"]}
    assert after["R-ann"] == "6500.00"
    # The replay wrote nothing: the log's count and head digest are as they were.
    assert (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link) == before
    assert api.post("/periods/2026-Q1/close", role="auditor").status_code == 403
    assert (api.client.app.state.ledger.head().position, api.client.app.state.ledger.head().link) == before


def command(api, path: str, body: dict, role: str) -> dict:
    response = api.post(path, body, role=role)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_manager_of_t1_runs_a_reps_pipeline_and_coaching_and_the_coaching_read_follows(api):
    rep = "R-bob"  # in the manager token's team T-1; Q1: 80,000.00 won, evaluation E-2 (result 72, discovery 62)
    q2 = "2026-04-15T10:00:00+00:00"
    command(api, "/activities", {"rep_id": rep, "kind": "call", "occurred_at": q2}, role="manager")
    command(api, "/followups", {"rep_id": rep, "due_at": "2026-04-20T18:00:00Z", "occurred_at": q2}, role="manager")
    command(api, "/deals", {"deal_id": "D-m", "rep_id": rep, "customer_id": "C-m", "occurred_at": q2}, role="manager")
    command(api, "/deals/D-m/won", {"amount": "25000.00", "occurred_at": q2}, role="manager")
    figures = api.get("/kpis", role="manager", scope=f"rep:{rep}", period="2026-Q2").json()["kpis"]
    # Q2 starts empty: one call, one follow-up due 04-20 and never done (overdue), D-m's 25,000.00
    assert figures["revenue"] == "25000.00"
    assert figures["activities"]["call"] == 1
    assert figures["followups"] == {"due": 1, "done": 0, "overdue": 1}
    evaluation = command(
        api,
        "/evaluations",
        {
            "rep_id": rep,
            "period": "2026-Q2",
            "result_score": 80,
            "process_scores": {"discovery": 70},
            "occurred_at": "2026-04-30T10:00:00Z",
        },
        role="manager",
    )
    plan = command(
        api,
        "/improvement-plans",
        {
            "rep_id": rep,
            "goals": ["3 demos a week"],
            "trainings": ["demo skills"],
            "gaps": ["demo"],
            "review_by": "2026-05-31T18:00:00Z",
            "occurred_at": "2026-05-01T09:00:00Z",
        },
        role="manager",
    )
    training = command(
        api,
        "/trainings/assignments",
        {
            "rep_id": rep,
            "training": "demo skills",
            "gap": "demo",
            "due_by": "2026-06-30T18:00:00Z",
            "occurred_at": "2026-05-02T09:00:00Z",
        },
        role="manager",
    )
    # As of 06-10: the plan's review date 05-31 is past (overdue); the training is due 06-30 (pending, not overdue).
    read = api.get(f"/reps/{rep}/coaching", role="manager", as_of="2026-06-10T12:00:00Z")
    assert read.status_code == 200, read.text
    coaching = read.json()
    assert [p["improvement_plan_id"] for p in coaching["open_plans"]] == [plan["id"]]
    assert [p["improvement_plan_id"] for p in coaching["overdue_reviews"]] == [plan["id"]]
    assert [t["training_id"] for t in coaching["trainings_pending"]] == [training["id"]]
    assert coaching["trainings_overdue"] == []
    # progress since E-2: result 72 → 80 (+8), discovery 62 → 70 (+8)
    assert coaching["progress"]["latest"]["evaluation_id"] == evaluation["id"]
    deltas = {s["score"]: (s["previous"], s["latest"], s["delta"]) for s in coaching["progress"]["scores"]}
    assert deltas == {"result": (72, 80, 8), "discovery": (62, 70, 8)}
    command(
        api,
        f"/improvement-plans/{plan['id']}/reviews",
        {"rep_id": rep, "outcome": "met", "note": "demos up", "occurred_at": "2026-06-12T09:00:00Z"},
        role="manager",
    )
    coaching = api.get(f"/reps/{rep}/coaching", role="manager", as_of="2026-06-15T12:00:00Z").json()
    assert coaching["open_plans"] == [] and coaching["overdue_reviews"] == []
    (closed,) = coaching["closed_plans"]
    assert (closed["improvement_plan_id"], closed["status"], closed["overdue"]) == (plan["id"], "met", False)
    assert closed["reviews"][0]["reviewer_id"] == "manager:T-1"  # from the token


SIMPLE_RULES = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.02"}],
        }
    ]
}


def test_finance_publishes_and_assigns_a_plan_then_approves_t1_for_q2_in_one_batch(api):
    published = command(
        api,
        "/plans",
        {"plan_id": "simple", "version": 1, "effective_from": "2026-04", "rules": SIMPLE_RULES, "occurred_at": JAN},
        role="finance",
    )
    assert published["id"] == "simple"
    command(
        api,
        "/plans/simple/assign",
        {"scope": {"team": "T-1"}, "from_period": "2026-04", "occurred_at": JAN},
        role="finance",
    )
    q2 = "2026-04-15T10:00:00+00:00"
    for rep, amount in (("R-ann", "40000.00"), ("R-bob", "12345.67")):
        command(
            api,
            "/targets",
            {"scope": {"rep": rep}, "metric": "revenue", "period": "2026-Q2", "value": "100000", "occurred_at": APRIL},
            role="finance",
        )
        command(
            api,
            "/deals",
            {"deal_id": f"D-{rep}", "rep_id": rep, "customer_id": "C-q2", "occurred_at": q2},
            role="admin",
        )
        command(api, f"/deals/D-{rep}/won", {"amount": amount, "occurred_at": q2}, role="admin")
    head = api.head()
    response = api.post("/payouts/approve", {"scope": "team:T-1", "period": "2026-Q2"}, role="finance")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["counts"] == {"approved": 2, "unchanged": 0, "adjusted": 0, "refused": 0}
    # T-1's plan `simple` (2% flat) over the team's std: R-ann 40,000.00 × 0.02 = 800.00;
    # R-bob 12,345.67 × 0.02 = 246.9134, to the cent 246.91
    assert [(a["rep_id"], a["amount"], a["position"]) for a in answer["approved"]] == [
        ("R-ann", "800.00", head + 1),
        ("R-bob", "246.91", head + 2),
    ]
    explained = api.get("/payouts/R-ann/2026-Q2/explain", role="finance").json()
    assert explained["approved"]["amount"] == "800.00" and explained["reproduced"] is True
    listed = api.get("/payouts", role="finance", period="2026-Q2").json()["payouts"]
    ann = next(p for p in listed if p["rep_id"] == "R-ann")
    # the team's assignment outranks the company's std v2 (in force from April too)
    assert (ann["plan"]["plan_id"], ann["plan"]["assigned_by"]["scope"]) == ("simple", "team:T-1")


def test_the_rep_logs_a_call_signs_the_plan_reads_own_kpis_and_a_dispute_resolved_corrects_the_payout(api):
    logged = command(
        api, "/activities", {"rep_id": "R-ann", "kind": "call", "occurred_at": "2026-03-20T10:00:00Z"}, role="rep"
    )
    assert logged["id"].startswith("A-")
    signed = command(
        api,
        "/plans/std/acknowledge",
        {"rep_id": "R-ann", "version": 1, "occurred_at": "2026-03-21T10:00:00Z"},
        role="rep",
    )
    assert [e["type"] for e in signed["events"]] == ["PlanAcknowledged"]
    # R-ann's Q1: D-1 won for 130,000.00, the call just logged
    figures = api.get("/kpis", role="rep", scope="rep:R-ann", period="2026-Q1").json()["kpis"]
    assert (figures["revenue"], figures["activities"]["call"]) == ("130000.00", 1)
    assert api.get("/kpis", role="rep", scope="rep:R-bob", period="2026-Q1").status_code == 404
    # Her Q1 payout on std v1 (target 100,000.00): commission 100,000 × 3% + 20,000 × 5% + 10,000 × 8%
    # = 3,000 + 1,000 + 800 = 4,800.00, target bonus 5,000.00: 9,800.00.
    opened = command(
        api,
        "/disputes",
        {
            "rep_id": "R-ann",
            "period": "2026-Q1",
            "component": "commission",
            "deal_id": "D-1",
            "text": "D-1 was signed at 140,000.00",
            "occurred_at": "2026-04-03T09:00:00Z",
        },
        role="rep",
    )
    dispute_id = opened["id"]
    assert dispute_id.startswith("DS-")
    head = api.head()
    fix = correct("D-1", "140000.00", when="2026-04-04T09:00:00+00:00")
    response = api.post(
        f"/disputes/{dispute_id}/resolve",
        {"outcome": "accepted", "reason": "the signed order says 140,000.00", "corrections": [fix]},
        role="manager",
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert api.head() == head + 2  # the correction and the resolution, one batch
    # With 140,000.00 (140%): 3,000 + 1,000 + 20,000 × 8% = 5,600.00 commission, + 5,000.00 bonus = 10,600.00
    assert (answer["effect"]["before"], answer["effect"]["after"], answer["effect"]["delta"]) == (
        "9800.00",
        "10600.00",
        "800.00",
    )
    payout = api.get("/payouts/R-ann/2026-Q1/explain", role="rep").json()
    assert payout["total"] == "10600.00"
    assert {line["component"]: line["amount"] for line in payout["lines"]}["commission"] == "5600.00"
    assert api.get(f"/disputes/{dispute_id}", role="rep").json()["status"] == "resolved"


def test_finance_reads_which_assignment_put_an_approved_payout_on_its_plan(api):
    # R-ann's Q1 payout on std v1, by the company's assignment, approved at 9,800.00 by finance
    approved = api.post("/payouts/R-ann/2026-Q1/approve", role="finance")
    assert approved.status_code == 201, approved.text
    explained = api.get("/payouts/R-ann/2026-Q1/explain", role="finance").json()
    assert explained["approved"]["amount"] == "9800.00"
    assert explained["plan"]["assigned_by"]["scope"] == "company"
