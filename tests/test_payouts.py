"""Payouts: the plan in force applied to the rep's figures as known, approved with a digest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from builders import ev, refund, split
from payout_fixtures import FLAT_RULES, assign, department, publish, won_deal

from ledger.store import Ledger
from projections.db import engine_for
from projections.payouts.assembly import payout, period_payouts
from projections.runner import catch_up
from services.approvals import ApprovalRefused, approve


@pytest.fixture
def books(ledger: Ledger, settings):
    engine = engine_for(settings)
    ledger.record(department(), "seed")

    def record(*events):
        ledger.record([e for group in events for e in (group if isinstance(group, list) else [group])], "t")
        catch_up(ledger, engine)

    yield ledger, engine, settings, record
    engine.dispose()


def amounts(computed):
    return {line.component: line.amount for line in computed.evaluation.lines}


def test_a_rep_at_130_percent_earns_each_tier_on_its_own_slice_and_the_target_bonus(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"))
    computed = payout(engine, settings, "R-1", "2026-Q1")
    # 100000 × 3% = 3000; 100000→120000 × 5% = 1000; 120000→130000 × 8% = 800; bonus 5000
    assert amounts(computed) == {"commission": Decimal("4800.00"), "target-bonus": Decimal("5000.00")}
    assert computed.total == Decimal("9800.00")
    assert computed.plan.label() == {"plan_id": "std", "version": 1}


def test_a_refund_in_the_period_crosses_a_tier_back_down(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"), refund("D-1", "40000.00"))
    computed = payout(engine, settings, "R-1", "2026-Q1")
    # revenue 90000: 90% attainment, all at 3% = 2700, no bonus, no penalty (≥ 60%)
    assert amounts(computed) == {"commission": Decimal("2700.00")}


def test_a_rep_below_sixty_percent_gets_the_penalty_multiplier(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "50000.00"))
    computed = payout(engine, settings, "R-1", "2026-Q1")
    # 50000 × 3% = 1500; × 0.8 = 1200, shown as a -300 line
    assert amounts(computed) == {"commission": Decimal("1500.00"), "underperformance": Decimal("-300.00")}
    assert computed.total == Decimal("1200.00")


def test_a_split_deal_pays_each_rep_on_their_share(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "100000.00"), split("D-1", {"R-1": "0.6", "R-2": "0.4"}))
    # 60000 (60%) × 3% = 1800; R-2: 40000 (40%, below 60%) × 3% = 1200 × 0.8 → -240
    assert payout(engine, settings, "R-1", "2026-Q1").total == Decimal("1800.00")
    assert amounts(payout(engine, settings, "R-2", "2026-Q1")) == {
        "commission": Decimal("1200.00"),
        "underperformance": Decimal("-240.00"),
    }


def test_the_most_specific_assignment_wins_and_the_version_follows_effective_from(books):
    ledger, engine, settings, record = books
    record(
        won_deal("D-1", "R-1", "100000.00"),
        won_deal("D-2", "R-2", "100000.00"),
        publish(1, FLAT_RULES, plan_id="flat"),
        assign({"rep": "R-2"}, plan_id="flat"),
    )
    assert payout(engine, settings, "R-1", "2026-Q1").plan.plan_id == "std"
    flat = payout(engine, settings, "R-2", "2026-Q1")
    # flat 4% of 100000 = 4000, bonus 5000 at exactly 100%
    assert flat.plan.plan_id == "flat" and flat.total == Decimal("9000.00")
    record(publish(2, FLAT_RULES, effective_from="2026-04"))
    assert payout(engine, settings, "R-1", "2026-Q1").plan.version == 1  # v2 starts in April
    assert payout(engine, settings, "R-1", "2026-Q2").plan.version == 2


def test_awards_add_their_own_lines_outside_the_plan(books):
    ledger, engine, settings, record = books
    record(
        won_deal("D-1", "R-1", "100000.00"),
        ev(
            "AwardGranted",
            "2026-03-31T00:00:00Z",
            rep_id="R-1",
            period="2026-Q1",
            amount="800.00",
            reason="deal of the quarter",
        ),
    )
    computed = payout(engine, settings, "R-1", "2026-Q1")
    assert amounts(computed)["award"] == Decimal("800.00")
    assert computed.total == Decimal("3000.00") + Decimal("5000.00") + Decimal("800.00")


def test_a_payout_is_the_sum_of_its_lines_and_every_line_names_its_events(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "70000.00"), won_deal("D-2", "R-1", "45000.00"))
    computed = payout(engine, settings, "R-1", "2026-Q1")
    assert computed.total == sum(line.amount for line in computed.evaluation.lines)
    commission = computed.evaluation.lines[0]
    events = {r.position: r for r in ledger.events_at(commission.events)}
    assert {r.type for r in events.values()} >= {"DealWon", "TargetSet"}
    assert all(r.rep_id == "R-1" for r in events.values())


def test_approval_records_the_amount_and_digest_and_a_second_one_is_refused(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"))
    result = approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")
    assert result.kind == "approved" and result.amount == Decimal("9800.00")
    approval = ledger.read_log()[-1]
    assert approval.type == "PayoutApproved" and approval.data["digest"] == result.digest
    with pytest.raises(ApprovalRefused, match="already approved at 9800.00"):
        approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")


def test_re_approving_a_changed_figure_records_an_adjustment_for_the_difference(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"))
    approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")
    record(refund("D-1", "10000.00"))
    # revenue 120000: 3000 + 1000 + 0 + 5000 = 9000, so -800
    result = approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")
    assert result.kind == "adjusted" and result.amount == Decimal("-800.00") and result.total == Decimal("9000.00")


def test_a_closed_period_needs_an_adjustment_instead_of_an_approval(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"))
    ledger.record([ev("PeriodClosed", "2026-04-02T00:00:00Z", period="2026-Q1")], "finance", system=True)
    with pytest.raises(ApprovalRefused, match="PayoutAdjusted"):
        approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")


def test_a_rep_without_a_plan_gets_no_lines_and_a_problem(ledger, settings):
    engine = engine_for(settings)
    ledger.record(department()[:2], "seed")
    catch_up(ledger, engine)
    computed = payout(engine, settings, "R-1", "2026-Q1")
    assert computed.total == Decimal("0.00") and "no incentive plan" in computed.to_json()["problems"][0]
    with pytest.raises(ApprovalRefused, match="publish and assign"):
        approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")


def test_payouts_of_a_period_cover_every_active_rep(books):
    ledger, engine, settings, record = books
    record(won_deal("D-1", "R-1", "130000.00"), ev("RepOffboarded", "2026-03-15T00:00:00Z", rep_id="R-2"))
    assert [p.rep_id for p in period_payouts(engine, settings, "2026-Q1")] == ["R-1", "R-2"]
    assert [p.rep_id for p in period_payouts(engine, settings, "2026-Q2")] == ["R-1"]  # R-2 left in March


DRAW_RULES = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.10"}],
        },
        {"id": "draw", "kind": "draw", "floor": "3000", "recovery_limit": "0.5"},
    ]
}


def test_a_draw_balance_is_carried_from_quarter_to_quarter(ledger, settings):
    engine = engine_for(settings)
    ledger.record(
        [
            *department()[:2],
            publish(1, DRAW_RULES, plan_id="drawn"),
            assign({"rep": "R-1"}, plan_id="drawn"),
            *won_deal("D-1", "R-1", "10000.00", won_at="2026-02-01T00:00:00Z"),
            *won_deal("D-2", "R-1", "40000.00", won_at="2026-05-01T00:00:00Z"),
            *won_deal("D-3", "R-1", "80000.00", won_at="2026-08-01T00:00:00Z"),
        ],
        "seed",
    )
    catch_up(ledger, engine)
    q1, q2, q3 = (payout(engine, settings, "R-1", q) for q in ("2026-Q1", "2026-Q2", "2026-Q3"))
    # Q1 earns 1000 → advance 2000; Q2 earns 4000 → recovers 1000 of 2000; Q3 earns 8000 → recovers the last 1000
    assert (q1.total, q1.draw_before, q1.evaluation.draw_balance) == (
        Decimal("3000.00"),
        Decimal("0.00"),
        Decimal("2000.00"),
    )
    assert (q2.total, q2.draw_before, q2.evaluation.draw_balance) == (
        Decimal("3000.00"),
        Decimal("2000.00"),
        Decimal("1000.00"),
    )
    assert (q3.total, q3.draw_before, q3.evaluation.draw_balance) == (
        Decimal("7000.00"),
        Decimal("1000.00"),
        Decimal("0.00"),
    )
    assert q3.to_json()["draw_balance"] == {"before": Decimal("1000.00"), "after": Decimal("0.00")}
