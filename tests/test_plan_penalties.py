"""The penalty component: a fixed deduction (扣除奖金) when a condition holds, never taking the
plan's earnings below its floor. Pure: rules and figures in, lines out, no database.

The plan: marginal commission 3% to 100% of a 100000 revenue target, 5% to 120%, 8% above, and
a penalty of 1000 when revenue attainment is below 0.5, with a floor of 500.
"""

from decimal import Decimal as D

from ledger.plan_schema import Penalty, parse_rules
from projections.payouts.evaluation import Award, evaluate

COMMISSION = {
    "id": "commission",
    "kind": "commission",
    "base": "revenue",
    "mode": "marginal",
    "tiers": [
        {"from_attainment": "0", "rate": "0.03"},
        {"from_attainment": "1.0", "rate": "0.05"},
        {"from_attainment": "1.2", "rate": "0.08"},
    ],
}
SLOW_START = {
    "id": "slow-start",
    "kind": "penalty",
    "when": {"metric": "revenue_attainment", "lt": "0.5"},
    "amount": "1000",
    "floor": "500",
}
TARGETS = {"revenue": D("100000")}


def plan(*components):
    parsed, problems = parse_rules({"components": list(components)})
    assert problems == [], problems
    return parsed


def lines_of(evaluation):
    return [(line.component, line.kind, line.amount) for line in evaluation.lines]


def test_a_penalty_deducts_its_fixed_amount_when_attainment_is_below_the_threshold():
    # 40000 of 100000 (0.4 < 0.5): commission 3% = 1200; the penalty takes 1000 (1200 − 1000 = 200
    # would be below the 500 floor, so it takes only 1200 − 500 = 700).
    found = evaluate(plan(COMMISSION, SLOW_START), {"revenue": D("40000")}, TARGETS, {"revenue": [7]}, [])
    assert lines_of(found) == [("commission", "commission", D("1200.00")), ("slow-start", "penalty", D("-700.00"))]
    assert found.total == D("500.00")
    penalty = found.lines[1]
    assert penalty.inputs["limited_by_floor"] is True and penalty.inputs["earnings_before"] == D("1200.00")
    assert penalty.events == (7,)


def test_a_penalty_takes_its_whole_amount_when_the_earnings_stay_above_the_floor():
    # 45000: commission 1350; 1350 − 1000 = 350 is below 500: takes 850. 49000: 1470 − 1000 = 470,
    # still below: 970. With a floor of 0: 1470 − 1000 = 470, the whole 1000.
    assert evaluate(plan(COMMISSION, SLOW_START), {"revenue": D("45000")}, TARGETS, {}, []).total == D("500.00")
    no_floor = dict(SLOW_START)
    del no_floor["floor"]
    found = evaluate(plan(COMMISSION, no_floor), {"revenue": D("49000")}, TARGETS, {}, [])
    assert lines_of(found)[1] == ("slow-start", "penalty", D("-1000.00")) and found.total == D("470.00")


def test_no_penalty_line_when_the_condition_does_not_hold_and_a_zero_line_at_the_floor():
    # 50000 is exactly 0.5: "lt 0.5" does not hold, no line: 1500.
    assert lines_of(evaluate(plan(COMMISSION, SLOW_START), {"revenue": D("50000")}, TARGETS, {}, [])) == [
        ("commission", "commission", D("1500.00"))
    ]
    # 10000: commission 300, already below the 500 floor: the penalty shows 0.00, held by its floor.
    found = evaluate(plan(COMMISSION, SLOW_START), {"revenue": D("10000")}, TARGETS, {}, [])
    assert lines_of(found)[1] == ("slow-start", "penalty", D("0.00")) and found.total == D("300.00")


def test_awards_come_after_the_penalty_and_are_not_deducted():
    # 40000: 1200 − 700 (floor 500) + an award of 300 = 800
    found = evaluate(plan(COMMISSION, SLOW_START), {"revenue": D("40000")}, TARGETS, {}, [Award(D("300"), "r", 9)])
    assert [line.kind for line in found.lines] == ["commission", "penalty", "award"] and found.total == D("800.00")


def test_a_penalty_on_a_metric_condition_and_two_penalties_in_plan_order():
    # fewer than 3 activities: 200 off; win rate below 0.3: 500 off; floor 0.
    few_calls = {"id": "few-calls", "kind": "penalty", "when": {"metric": "activities", "lt": "3"}, "amount": "200"}
    losing = {"id": "losing", "kind": "penalty", "when": {"metric": "win_rate", "lt": "0.3"}, "amount": "500"}
    figures = {"revenue": D("20000"), "activities": 2, "win_rate": D("0.25")}
    found = evaluate(plan(COMMISSION, few_calls, losing), figures, TARGETS, {}, [])
    # 600 commission − 200 = 400, then − min(500, 400) = − 400: total 0 (the default floor).
    assert lines_of(found)[1:] == [("few-calls", "penalty", D("-200.00")), ("losing", "penalty", D("-400.00"))]
    assert found.total == D("0.00")


def test_the_plan_schema_reads_a_penalty_and_names_each_bad_field():
    parsed = plan(SLOW_START)
    assert parsed.components == (Penalty("slow-start", parsed.components[0].when, D("1000"), D("500")),)
    _, problems = parse_rules(
        {
            "components": [
                {**SLOW_START, "amount": "-5", "floor": "1.234", "factor": "2"},
                {"id": "p", "kind": "penalty"},
            ]
        }
    )
    fields = {p.field for p in problems}
    assert {"components[0].amount", "components[0].floor", "components[0].factor"} <= fields
    assert {"components[1].when", "components[1].amount"} <= fields
