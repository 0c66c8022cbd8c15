"""Draws and guarantees: advances up to a floor, recovered (a draw) or not (a guarantee)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from ledger.plan_schema import parse_rules
from projections.payouts.evaluation import evaluate


def rules(floor_component):
    parsed, problems = parse_rules(
        {
            "components": [
                {
                    "id": "commission",
                    "kind": "commission",
                    "base": "revenue",
                    "mode": "flat",
                    "tiers": [{"from_attainment": "0", "rate": "0.10"}],
                },
                floor_component,
            ]
        }
    )
    assert not problems, problems
    return parsed


DRAW = rules({"id": "draw", "kind": "draw", "floor": "3000", "recovery_limit": "0.5"})
GUARANTEE = rules({"id": "guarantee", "kind": "guarantee", "floor": "3000"})


def quarter(plan, revenue, balance):
    """A quarter in which the rep's commission is 10% of revenue."""
    return evaluate(plan, {"revenue": D(revenue)}, {}, {"revenue": [1]}, [], D(balance))


def by_kind(evaluation):
    return {line.kind: line.amount for line in evaluation.lines}


def test_a_draw_advances_then_is_recovered_partly_then_fully_over_three_quarters():
    # Q1: earnings 1000 < floor 3000 → advance 2000; owed 2000; paid 3000
    q1 = quarter(DRAW, "10000", "0")
    assert by_kind(q1) == {"commission": D("1000.00"), "draw": D("2000.00")}
    assert q1.total == D("3000.00") and q1.draw_balance == D("2000.00")
    # Q2: earnings 4000: recover min(2000 owed, 4000 − 3000 above the floor, 4000 × 0.5) = 1000
    q2 = quarter(DRAW, "40000", q1.draw_balance)
    assert by_kind(q2) == {"commission": D("4000.00"), "draw_recovery": D("-1000.00")}
    assert q2.total == D("3000.00") and q2.draw_balance == D("1000.00")
    # Q3: earnings 8000: recover min(1000, 5000, 4000) = 1000; nothing owed after
    q3 = quarter(DRAW, "80000", q2.draw_balance)
    assert by_kind(q3) == {"commission": D("8000.00"), "draw_recovery": D("-1000.00")}
    assert q3.total == D("7000.00") and q3.draw_balance == D("0.00")


def test_the_recovery_limit_binds_when_earnings_are_far_above_the_floor():
    # earnings 7000, owed 5000: min(5000, 4000 above the floor, 3500 half of earnings) = 3500
    q = quarter(DRAW, "70000", "5000")
    assert by_kind(q)["draw_recovery"] == D("-3500.00") and q.draw_balance == D("1500.00")


def test_a_guarantee_tops_up_to_the_floor_and_is_never_recovered():
    q1 = quarter(GUARANTEE, "10000", "0")
    assert by_kind(q1) == {"commission": D("1000.00"), "guarantee": D("2000.00")}
    assert q1.draw_balance == D("0.00")
    q2 = quarter(GUARANTEE, "80000", q1.draw_balance)
    assert by_kind(q2) == {"commission": D("8000.00")} and q2.total == D("8000.00")


def test_a_balance_carried_into_a_guarantee_plan_is_left_alone():
    assert quarter(GUARANTEE, "80000", "1500").draw_balance == D("1500.00")


@pytest.mark.parametrize(
    "component, field, fragment",
    [
        ({"id": "d", "kind": "draw", "floor": "-1", "recovery_limit": "0.5"}, "components[1].floor", "negative"),
        (
            {"id": "d", "kind": "draw", "floor": "100", "recovery_limit": "1.5"},
            "components[1].recovery_limit",
            "at most 1",
        ),
        ({"id": "d", "kind": "draw", "floor": "100"}, "components[1].recovery_limit", "required"),
        (
            {"id": "d", "kind": "guarantee", "floor": "100", "recovery_limit": "0.5"},
            "components[1].recovery_limit",
            "unknown key",
        ),
    ],
)
def test_bad_draws_are_refused_with_their_field(component, field, fragment):
    _, problems = parse_rules(
        {
            "components": [
                {
                    "id": "c",
                    "kind": "commission",
                    "base": "revenue",
                    "mode": "flat",
                    "tiers": [{"from_attainment": "0", "rate": "0.1"}],
                },
                component,
            ]
        }
    )
    assert any(p.field == field and fragment in p.message for p in problems), problems


def test_a_plan_has_at_most_one_floor():
    _, problems = parse_rules(
        {
            "components": [
                {"id": "a", "kind": "guarantee", "floor": "1"},
                {"id": "b", "kind": "draw", "floor": "1", "recovery_limit": "1"},
            ]
        }
    )
    assert any("at most one draw or guarantee" in p.message for p in problems)
