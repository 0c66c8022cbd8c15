"""Replays that separate causes: each difference split into the rule's effect (the facts as known
at approval, under the new plan) and the facts' effect (what was learned since, under the
approved plan), each with its events; `changes` says which event moved which line; `explain`
of an adjusted payout shows the approved figure, every adjustment and the figure now.

The story (tests/api_client.py's department, 2026-Q1, target 100000):
  1. R-ann's payout is approved under std v1 at 9800: commission 3000 (3% of 100000) + 1000 (5%
     of the next 20000) + 800 (8% of the last 10000) = 4800, target bonus 5000.
  2. R-ann disputes it; her manager resolves it with a correction: D-1 was 110000, not 130000.
     Under v1: 3000 + 500 = 3500 commission + 5000 = 8500 (the facts' effect: −1300).
  3. Q1 is replayed under std v2 (a flat 4%, the same bonus):
     the rule's effect, on the facts as approved (130000): 5200 + 5000 = 10200, +400;
     now (110000): 4400 + 5000 = 9400, −400 against the 9800 approved;
     both together beyond their sum: −400 − 400 − (−1300) = +500 (the flat rate on the 20000 lost).
"""

from __future__ import annotations

from api_client import MATE, OWN, Api
from builders import ev

T = "2026-04-03T09:00:00+00:00"
V2 = {"plan_id": "std", "version": 2}


def story(api: Api) -> dict:
    assert api.post(f"/payouts/{OWN}/2026-Q1/approve", role="finance").status_code == 201
    opened = ev("DisputeOpened", T, dispute_id="DS-1", rep_id=OWN, period="2026-Q1", component="commission", text="D-1")
    assert api.post("/events", {"events": [opened]}, role="rep").status_code == 201
    before_fix = api.recorded_at(api.head())
    fix = ev("DealAmountCorrected", T, deal_id="D-1", amount="110000.00", reason="the order was 110000")
    resolved = api.post("/disputes/DS-1/resolve", {"outcome": "accepted", "reason": "CRM", "corrections": [fix]})
    assert resolved.status_code == 201, resolved.text
    return {"before_fix": before_fix, "fix_position": resolved.json()["positions"][0]}


def test_a_replay_splits_the_difference_into_the_rules_effect_and_the_facts_effect(api):
    told = story(api)
    answer = api.post("/replays", {"period": "2026-Q1", "plan": V2}).json()
    row = next(r for r in answer["diff"] if r["rep_id"] == OWN)
    assert (row["before"], row["after"], row["delta"], row["basis"]) == ("9800.00", "9400.00", "-400.00", "approved")
    causes = row["causes"]
    assert causes["rule"]["delta"] == "400.00"
    assert [(line["component"], line["delta"]) for line in causes["rule"]["lines"]] == [("commission", "400.00")]
    assert {e["type"] for e in causes["rule"]["events"]} == {"IncentivePlanPublished"}
    assert causes["facts"]["delta"] == "-1300.00"
    assert [(e["position"], e["type"], e["lines"]) for e in causes["facts"]["events"]] == [
        (told["fix_position"], "DealAmountCorrected", ["commission"])
    ]
    assert causes["facts"]["disputes"] == ["DS-1"] and causes["facts"]["events"][0]["dispute_id"] == "DS-1"
    assert causes["both"] == "500.00"
    # a rep never approved: the whole difference is the rule's. R-bob, 80000 (80%): v1 3% = 2400;
    # v2 4% = 3200.
    bob = next(r for r in answer["diff"] if r["rep_id"] == MATE)
    assert (bob["basis"], bob["delta"], bob["causes"]["rule"]["delta"], bob["causes"]["facts"]["delta"]) == (
        "computed",
        "800.00",
        "800.00",
        "0.00",
    )


def test_the_adjustment_reason_keeps_the_rule_apart_from_the_dispute_corrections(api):
    story(api)
    known_at = api.post("/replays", {"period": "2026-Q1", "plan": V2}).json()["known_at"]
    recorded = api.post("/replays/adjustments", {"period": "2026-Q1", "plan": V2, "known_at": known_at})
    assert recorded.status_code == 201, recorded.text
    explained = api.get(f"/payouts/{OWN}/2026-Q1/explain").json()
    (adjustment,) = explained["approved"]["adjustments"]
    assert adjustment["amount"] == "-400.00"
    assert "rule +400.00, facts -1300.00 (dispute corrections: DS-1), both +500.00" in adjustment["reason"]
    # the trail: approved 9800 → adjusted −400 (owed 9400) → now 8500 under the plan in force (v1):
    # 900 less than owed
    assert [(s["kind"], s["amount"], s["owed"]) for s in explained["trail"]] == [
        ("approved", "9800.00", "9800.00"),
        ("adjusted", "-400.00", "9400.00"),
        ("now", "8500.00", "9400.00"),
    ]
    assert explained["trail"][-1]["difference"] == "-900.00"


def test_changes_say_which_event_moved_which_line(api):
    told = story(api)
    answer = api.get(f"/payouts/{OWN}/2026-Q1/changes", from_known_at=told["before_fix"]).json()
    assert (answer["before"], answer["after"]) == ("9800.00", "8500.00")
    assert [(e["position"], e["type"], e["lines"], e.get("dispute_id")) for e in answer["events"]] == [
        (told["fix_position"], "DealAmountCorrected", ["commission"], "DS-1")
    ]
