"""Rep-facing trust: statements, plan sign-off, and disputes settled with the events themselves."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from builders import ev, split
from payout_fixtures import department, won_deal

from projections.db import engine_for
from projections.runner import catch_up
from replay.statements import DisputeNotFound, dispute, statement, unacknowledged

T = "2026-04-03T09:00:00+00:00"


@pytest.fixture
def books(ledger, settings):
    """R-1 won D-1 (100000) alone in Q1, though R-2 worked half of it."""
    engine = engine_for(settings)
    ledger.record([*department(), *won_deal("D-1", "R-1", "100000.00"), *won_deal("D-2", "R-2", "80000.00")], "seed")
    catch_up(ledger, engine)

    def record(*events, actor="t"):
        recorded = ledger.record(list(events), actor)
        catch_up(ledger, engine)
        return recorded

    yield ledger, engine, settings, record
    engine.dispose()


def opened(dispute_id="DS-1"):
    return ev(
        "DisputeOpened",
        T,
        dispute_id=dispute_id,
        rep_id="R-2",
        period="2026-Q1",
        component="commission",
        text="I ran half of D-1: the split is missing",  # D-1 was never R-2's: R-2 names its line
    )


def test_a_disputed_missing_split_accepted_by_the_manager_moves_the_payout_by_hand_computed_amounts(books):
    ledger, engine, settings, record = books
    # before: R-2 has 80000 (80% of target) → 80000 × 3% = 2400
    assert statement(ledger, engine, settings, "R-2", "2026-Q1")["total"] == D("2400.00")
    record(opened(), actor="rep:R-2")
    record(ev("DisputeCommented", T, dispute_id="DS-1", author_id="M-1", text="checking the CRM"), actor="manager:T-1")
    fix = {**split("D-1", {"R-1": "0.5", "R-2": "0.5"}, when="2026-02-11T09:00:00+00:00"), "event_id": "DS-1-fix-1"}
    resolution = ev(
        "DisputeResolved",
        T,
        dispute_id="DS-1",
        resolver_id="M-1",
        outcome="accepted",
        reason="confirmed in the CRM",
        corrections=["DS-1-fix-1"],
    )
    record(fix, resolution, actor="manager:T-1")
    # after: R-2 has 80000 + 50000 = 130000 (130%): 3000 + 1000 + 800 = 4800 commission + 5000 bonus = 9800
    answer = dispute(ledger, engine, settings, "DS-1")
    assert [step["kind"] for step in answer["timeline"]] == ["opened", "commented", "resolved"]
    assert answer["status"] == "resolved" and answer["outcome"] == "accepted"
    assert [c["type"] for c in answer["corrections"]] == ["DealCreditSplit"]
    assert answer["effect"]["before"] == D("2400.00") and answer["effect"]["after"] == D("9800.00")
    assert answer["effect"]["delta"] == D("7400.00")
    # and R-1 loses half: 50000 (50%) → 1500 × 0.8 penalty = 1200
    assert statement(ledger, engine, settings, "R-1", "2026-Q1")["total"] == D("1200.00")


def test_a_rejected_dispute_changes_nothing(books):
    ledger, engine, settings, record = books
    record(opened())
    record(
        ev("DisputeResolved", T, dispute_id="DS-1", resolver_id="M-1", outcome="rejected", reason="D-1 was R-1's alone")
    )
    answer = dispute(ledger, engine, settings, "DS-1")
    assert answer["outcome"] == "rejected" and answer["corrections"] == []
    assert answer["effect"]["delta"] == D("0.00") and answer["effect"]["after"] == D("2400.00")


def test_a_statement_shows_the_deals_behind_its_lines_and_whether_the_plan_was_signed(books):
    ledger, engine, settings, record = books
    first = statement(ledger, engine, settings, "R-1", "2026-Q1")
    assert first["plan_acknowledged"] is None
    assert [d["deal_id"] for d in first["deals"]] == ["D-1"]
    assert "commission" in first["deals"][0]["lines"]
    assert {row["rep_id"] for row in unacknowledged(engine, settings, "2026-Q1")} == {"R-1", "R-2"}
    record(ev("PlanAcknowledged", T, rep_id="R-1", plan_id="std", version=1), actor="rep:R-1")
    assert statement(ledger, engine, settings, "R-1", "2026-Q1")["plan_acknowledged"]["position"] > 0
    assert [row["rep_id"] for row in unacknowledged(engine, settings, "2026-Q1")] == ["R-2"]


def test_a_statement_lists_the_disputes_opened_on_its_period(books):
    ledger, engine, settings, record = books
    record(opened())
    assert statement(ledger, engine, settings, "R-2", "2026-Q1")["disputes"][0]["status"] == "open"


def test_an_unknown_dispute_is_not_found(books):
    ledger, engine, settings, _ = books
    with pytest.raises(DisputeNotFound):
        dispute(ledger, engine, settings, "DS-404")
