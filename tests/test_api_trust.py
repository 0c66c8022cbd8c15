"""Rep-facing trust over HTTP: disputes tied to events, statements, sign-off, and who may do what."""

from __future__ import annotations

from decimal import Decimal as D

from api_client import FAR, MATE, OWN
from builders import ev, split

T = "2026-04-03T09:00:00+00:00"


def opened(rep=OWN, dispute_id="DS-1"):
    return ev(
        "DisputeOpened",
        T,
        dispute_id=dispute_id,
        rep_id=rep,
        period="2026-Q1",
        component="commission",
        text="I co-ran D-2 with R-bob: half should be mine",  # D-2 is not hers: she names her line
    )


def test_a_rep_disputes_a_missing_split_and_the_manager_accepts_it_with_the_split(api):
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    fix = {**split("D-2", {MATE: "0.5", OWN: "0.5"}), "event_id": "DS-1-fix"}
    resolution = ev(
        "DisputeResolved",
        T,
        dispute_id="DS-1",
        outcome="accepted",
        reason="confirmed",
        corrections=["DS-1-fix"],
    )
    assert api.post("/events", {"events": [fix, resolution]}, role="manager").status_code == 201
    answer = api.get("/disputes/DS-1", role="rep").json()
    assert [step["kind"] for step in answer["timeline"]] == ["opened", "resolved"]
    # R-ann had 130000 (9800); with half of D-2's 80000 she has 170000 (170%):
    # 3000 + 1000 + 50000 × 8% = 4000 → 8000 commission, + 5000 bonus = 13000
    assert (D(answer["effect"]["before"]), D(answer["effect"]["after"])) == (D("9800.00"), D("13000.00"))


def test_a_rep_cannot_open_a_dispute_on_another_reps_line_or_resolve_any(api):
    assert api.post("/events", {"events": [opened(rep=FAR)]}, role="rep").status_code == 403
    assert api.post("/events", {"events": [opened()]}, role="rep").status_code == 201
    resolution = ev("DisputeResolved", T, dispute_id="DS-1", outcome="rejected", reason="mine")
    assert api.post("/events", {"events": [resolution]}, role="rep").status_code == 403


def test_a_manager_cannot_resolve_another_teams_dispute(api):
    assert api.post("/events", {"events": [opened(rep=FAR, dispute_id="DS-9")]}, role="admin").status_code == 201
    resolution = ev("DisputeResolved", T, dispute_id="DS-9", outcome="rejected", reason="no")
    assert api.post("/events", {"events": [resolution]}, role="manager").status_code == 403
    assert api.get("/disputes/DS-9", role="manager").status_code == 404
    assert api.get("/disputes/DS-9", role="finance").status_code == 200


def test_a_statement_shows_sign_off_and_prints_as_a_page(api):
    page = api.get(f"/statements/{OWN}/2026-Q1", role="rep")
    assert page.status_code == 200 and page.json()["plan_acknowledged"] is None
    assert D(page.json()["total"]) == D("9800.00")
    unsigned = api.get("/plans/unacknowledged", role="finance", period="2026-Q1").json()
    assert OWN in {row["rep_id"] for row in unsigned["reps"]}
    sign = ev("PlanAcknowledged", T, rep_id=OWN, plan_id="std", version=1)
    assert api.post("/events", {"events": [sign]}, role="rep").status_code == 201
    assert api.get(f"/statements/{OWN}/2026-Q1", role="rep").json()["plan_acknowledged"] is not None
    printable = api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="html")
    assert printable.headers["content-type"].startswith("text/html") and "9,800.00" in printable.text
    assert api.get(f"/statements/{FAR}/2026-Q1", role="rep").status_code == 404
    assert api.get("/plans/unacknowledged", role="rep", period="2026-Q1").status_code == 403
