"""Plan evaluation: from KPI figures and a plan to payout lines, every figure worked by hand."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.plan_schema import (
    CONDITION_METRICS,
    KPI_METRICS,
    OPERATORS,
    TARGET_METRICS,
    Bonus,
    Cap,
    Commission,
    Condition,
    Multiplier,
    Rules,
    Tier,
    parse_rules,
)
from projections.payouts.evaluation import Award, Evaluation, evaluate

D = Decimal

DESIGN_TIERS = [
    {"from_attainment": "0", "rate": "0.03"},
    {"from_attainment": "1.0", "rate": "0.05"},
    {"from_attainment": "1.2", "rate": "0.08"},
]
COMMISSION = {"id": "commission", "kind": "commission", "base": "revenue", "mode": "marginal", "tiers": DESIGN_TIERS}
TARGET_BONUS = {
    "id": "target-bonus",
    "kind": "bonus",
    "when": {"metric": "revenue_attainment", "gte": "1.0"},
    "amount": "5000",
}
HUNTER = {"id": "hunter", "kind": "bonus", "when": {"metric": "new_customers", "gte": "10"}, "amount": "2000"}
UNDERPERFORMANCE = {
    "id": "underperformance",
    "kind": "multiplier",
    "applies_to": ["commission"],
    "when": {"metric": "revenue_attainment", "lt": "0.6"},
    "factor": "0.8",
}
CAP = {"id": "cap", "kind": "cap", "max": "60000"}
# The example plan of docs/design.md, "Incentive plans".
DESIGN_PLAN = [COMMISSION, TARGET_BONUS, HUNTER, UNDERPERFORMANCE, CAP]
TARGETS = {"revenue": D("100000")}


def rules(*components: dict) -> Rules:
    parsed, problems = parse_rules({"components": list(components)})
    assert problems == []
    return parsed


def commission(mode="marginal", tiers=DESIGN_TIERS, id="commission"):
    return dict(COMMISSION, mode=mode, tiers=tiers, id=id)


def run(plan: Rules, revenue, targets=TARGETS, evidence=None, awards=(), **other_figures):
    figures = {"revenue": None if revenue is None else D(revenue), **other_figures}
    return evaluate(plan, figures, targets, evidence or {}, awards)


def lines(evaluation: Evaluation) -> list[tuple[str, str]]:
    return [(line.component, str(line.amount)) for line in evaluation.lines]


# --- commission tiers ---------------------------------------------------------------------------

# Target 100000; tiers 3% from 0, 5% from attainment 1.0, 8% from 1.2.
TIER_CASES = [
    # attainment 0.5: all in the first tier. 50000 x 0.03 = 1500 either way.
    pytest.param("marginal", "50000", "1500.00", id="marginal-0.5"),
    pytest.param("flat", "50000", "1500.00", id="flat-0.5"),
    # attainment exactly 1.0: marginal, the 5% tier has an empty slice, 100000 x 0.03 = 3000;
    # flat, 1.0 reaches the tier starting at 1.0, 100000 x 0.05 = 5000.
    pytest.param("marginal", "100000", "3000.00", id="marginal-1.0"),
    pytest.param("flat", "100000", "5000.00", id="flat-1.0"),
    # attainment exactly 1.2: marginal 100000 x 0.03 + 20000 x 0.05 = 3000 + 1000 = 4000;
    # flat, 1.2 reaches the 8% tier, 120000 x 0.08 = 9600.
    pytest.param("marginal", "120000", "4000.00", id="marginal-1.2"),
    pytest.param("flat", "120000", "9600.00", id="flat-1.2"),
    # attainment 1.5: marginal 3000 + 1000 + 30000 x 0.08 = 3000 + 1000 + 2400 = 6400;
    # flat 150000 x 0.08 = 12000.
    pytest.param("marginal", "150000", "6400.00", id="marginal-1.5"),
    pytest.param("flat", "150000", "12000.00", id="flat-1.5"),
]


@pytest.mark.parametrize(("mode", "revenue", "expected"), TIER_CASES)
def test_commission_pays_the_design_tiers_against_a_target_of_100000(mode, revenue, expected):
    evaluation = run(rules(commission(mode)), revenue)

    assert lines(evaluation) == [("commission", expected)]
    assert evaluation.total == D(expected)
    assert evaluation.problems == ()


def test_marginal_commission_shows_each_slice_with_its_rate():
    # 150000 against 100000: 0-100000 at 3%, 100000-120000 at 5%, 120000-150000 at 8%.
    line = run(rules(commission("marginal")), "150000").lines[0]

    assert line.inputs == {
        "base": D("150000"),
        "target": D("100000"),
        "attainment": D("1.5"),
        "mode": "marginal",
        "slices": [
            {"from": D("0"), "to": D("100000"), "amount": D("100000"), "rate": D("0.03"), "commission": D("3000")},
            {"from": D("100000"), "to": D("120000"), "amount": D("20000"), "rate": D("0.05"), "commission": D("1000")},
            {"from": D("120000"), "to": D("150000"), "amount": D("30000"), "rate": D("0.08"), "commission": D("2400")},
        ],
    }


def test_flat_commission_shows_the_tier_it_reached():
    line = run(rules(commission("flat")), "120000").lines[0]

    assert line.inputs == {
        "base": D("120000"),
        "target": D("100000"),
        "attainment": D("1.2"),
        "mode": "flat",
        "tier_from": D("1.2"),
        "rate": D("0.08"),
    }


def test_one_cent_below_the_boundary_stays_in_the_lower_flat_tier():
    # 99999.99 is attainment 0.9999999: still 3%. 99999.99 x 0.03 = 2999.9997 -> 3000.00,
    # where one cent more (100000.00) would pay 5% = 5000.00.
    assert lines(run(rules(commission("flat")), "99999.99")) == [("commission", "3000.00")]


@pytest.mark.parametrize(
    ("mode", "before", "after"),
    [
        # Won 125000, then 10000 refunded in the same period: net revenue 115000, attainment 1.15.
        # flat: before 125000 x 0.08 = 10000; after, below 1.2, 115000 x 0.05 = 5750.
        pytest.param("flat", "10000.00", "5750.00", id="flat"),
        # marginal: before 3000 + 20000 x 0.05 + 5000 x 0.08 = 3000 + 1000 + 400 = 4400;
        # after 3000 + 15000 x 0.05 = 3000 + 750 = 3750: the 8% slice is gone.
        pytest.param("marginal", "4400.00", "3750.00", id="marginal"),
    ],
)
def test_refund_below_the_tier_boundary_drops_back_to_the_lower_rate(mode, before, after):
    plan = rules(commission(mode))

    assert lines(run(plan, "125000")) == [("commission", before)]
    assert lines(run(plan, D("125000") - D("10000"))) == [("commission", after)]


@pytest.mark.parametrize("mode", ["marginal", "flat"])
def test_refunds_above_the_wins_of_the_period_claw_back_at_the_first_tier_rate(mode):
    # Net revenue -2000 (a refund of an earlier period's deal): -2000 x 0.03 = -60.
    evaluation = run(rules(commission(mode)), "-2000")

    assert lines(evaluation) == [("commission", "-60.00")]
    assert evaluation.total == D("-60.00")


@pytest.mark.parametrize("targets", [{}, {"revenue": D("0")}], ids=["no-target", "zero-target"])
def test_without_a_target_the_first_tier_rate_applies_to_the_whole_base(targets):
    # 120000 x 0.03 = 3600: nothing to measure attainment against, so the base tier.
    evaluation = run(rules(commission("flat")), "120000", targets=targets)

    assert lines(evaluation) == [("commission", "3600.00")]
    assert evaluation.lines[0].inputs["attainment"] is None
    assert len(evaluation.problems) == 1
    assert "no revenue target was set" in evaluation.problems[0]
    assert "0.03" in evaluation.problems[0]


def test_without_a_revenue_figure_there_is_no_commission_line_and_a_problem_says_so():
    evaluation = run(rules(commission()), None)

    assert evaluation.lines == ()
    assert evaluation.total == D("0.00")
    assert "no revenue figure" in evaluation.problems[0]


# --- rounding -----------------------------------------------------------------------------------

ONE_RATE = [{"from_attainment": "0", "rate": "0.05"}]


def test_a_line_is_rounded_half_up_to_cents():
    # 1000.50 x 0.05 = 50.025 -> 50.03 (half-even would give 50.02).
    assert lines(run(rules(commission(tiers=ONE_RATE)), "1000.50")) == [("commission", "50.03")]


def test_the_total_is_the_sum_of_the_rounded_lines():
    # Two commissions of 50.025 each: 50.03 + 50.03 = 100.06, not round(100.05) = 100.05.
    plan = rules(commission(tiers=ONE_RATE), commission(tiers=ONE_RATE, id="second"))

    assert run(plan, "1000.50").total == D("100.06")


def test_slices_are_not_rounded_one_by_one():
    # Target 0.50, revenue 1.00: 0.50 x 0.03 = 0.015 and 0.50 x 0.05 = 0.025, together 0.04.
    # Rounding each slice first would give 0.02 + 0.03 = 0.05.
    plan = rules(commission(tiers=DESIGN_TIERS[:2]))

    assert lines(run(plan, "1.00", targets={"revenue": D("0.50")})) == [("commission", "0.04")]


def test_a_clawback_smaller_than_half_a_cent_is_zero_not_minus_zero():
    # -0.01 x 0.03 = -0.0003 -> 0.00, printed without a minus sign.
    line = run(rules(commission()), "-0.01").lines[0]

    assert str(line.amount) == "0.00"


# --- bonuses ------------------------------------------------------------------------------------


def test_bonus_on_new_customers_pays_when_the_threshold_is_reached():
    # new_customers 10 >= 10: the hunter bonus of 2000.
    evaluation = run(rules(HUNTER), "0", new_customers=10, evidence={"new_customers": [8, 4]})

    assert lines(evaluation) == [("hunter", "2000.00")]
    assert evaluation.lines[0].inputs == {
        "metric": "new_customers",
        "value": D("10"),
        "op": "gte",
        "threshold": D("10"),
        "amount": D("2000"),
    }
    assert evaluation.lines[0].events == (4, 8)


def test_bonus_below_its_threshold_emits_no_line_at_all():
    evaluation = run(rules(HUNTER), "0", new_customers=9)

    assert evaluation.lines == ()
    assert evaluation.problems == ()


def test_bonus_on_an_unknown_figure_does_not_hold_and_a_problem_says_which():
    evaluation = run(rules(HUNTER), "0", new_customers=None)

    assert evaluation.lines == ()
    assert "new_customers is unknown" in evaluation.problems[0]


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        ("100000", [("target-bonus", "5000.00")]),  # attainment exactly 1.0 >= 1.0
        ("99999.99", []),  # attainment 0.9999999 < 1.0
    ],
)
def test_target_bonus_is_decided_exactly_at_attainment_one(revenue, expected):
    assert lines(run(rules(TARGET_BONUS), revenue)) == expected


def test_attainment_bonus_without_a_target_does_not_hold():
    evaluation = run(rules(TARGET_BONUS), "500000", targets={})

    assert evaluation.lines == ()
    assert "revenue_attainment is unknown (no revenue target or figure)" in evaluation.problems[0]


# --- multipliers --------------------------------------------------------------------------------


def test_penalty_multiplier_below_0_6_attainment_shows_the_difference_as_its_own_line():
    # Revenue 50000, attainment 0.5 < 0.6: commission 50000 x 0.03 = 1500, and the multiplier
    # line is 1500 x 0.8 - 1500 = -300, so the total 1200 is 1500 x 0.8.
    evaluation = run(rules(commission(), UNDERPERFORMANCE), "50000")

    assert lines(evaluation) == [("commission", "1500.00"), ("underperformance", "-300.00")]
    assert evaluation.total == D("1200.00")
    assert evaluation.lines[1].kind == "multiplier"
    assert evaluation.lines[1].inputs == {
        "factor": D("0.8"),
        "applies_to": ["commission"],
        "base_amount": D("1500.00"),
        "metric": "revenue_attainment",
        "value": D("0.5"),
        "op": "lt",
        "threshold": D("0.6"),
    }


def test_penalty_multiplier_does_not_apply_at_exactly_0_6_attainment():
    # 60000 is attainment 0.6, not < 0.6: commission 60000 x 0.03 = 1800 and no penalty.
    assert lines(run(rules(commission(), UNDERPERFORMANCE), "60000")) == [("commission", "1800.00")]


def test_multipliers_on_the_same_line_compound_in_plan_order():
    # Commission 1500 (50000 x 0.03). Penalty x0.8: 1500 -> 1200, line -300. Then a x1.5 boost
    # for any new customer: 1200 -> 1800, line +600. 1500 x 0.8 x 1.5 = 1800.
    boost = {
        "id": "boost",
        "kind": "multiplier",
        "applies_to": ["commission"],
        "when": {"metric": "new_customers", "gte": "1"},
        "factor": "1.5",
    }
    evaluation = run(rules(commission(), UNDERPERFORMANCE, boost), "50000", new_customers=3)

    assert lines(evaluation) == [("commission", "1500.00"), ("underperformance", "-300.00"), ("boost", "600.00")]
    assert evaluation.lines[2].inputs["base_amount"] == D("1200.00")
    assert evaluation.total == D("1800.00")


def test_a_multiplier_counts_a_bonus_that_did_not_fire_as_zero():
    # At 50000 the target bonus does not fire; the penalty scales the commission alone:
    # 1500 x 0.8 - 1500 = -300.
    penalty = dict(UNDERPERFORMANCE, applies_to=["commission", "target-bonus"])
    evaluation = run(rules(commission(), TARGET_BONUS, penalty), "50000")

    assert lines(evaluation) == [("commission", "1500.00"), ("underperformance", "-300.00")]


def test_a_multiplier_scales_a_clawback_as_well():
    # Net revenue -2000: commission -2000 x 0.03 = -60; attainment -0.02 < 0.6, so the line is
    # multiplied too: -60 x 0.8 = -48, shown as +12. (The rule multiplies the line, whatever
    # its sign.)
    evaluation = run(rules(commission(), UNDERPERFORMANCE), "-2000")

    assert lines(evaluation) == [("commission", "-60.00"), ("underperformance", "12.00")]
    assert evaluation.total == D("-48.00")


# --- cap ----------------------------------------------------------------------------------------


def test_cap_that_binds_brings_the_plan_lines_down_to_max_but_not_the_awards():
    # Revenue 1,000,000 (attainment 10): commission 3000 + 1000 + 880000 x 0.08 = 74400,
    # target bonus 5000, hunter 2000 (12 new customers): plan lines 81400 > 60000, so the cap
    # line is 60000 - 81400 = -21400. The award of 1000 comes after and is not capped: 61000.
    award = Award(D("1000"), "Deal of the year", 77)
    evaluation = run(rules(*DESIGN_PLAN), "1000000", new_customers=12, awards=[award])

    assert lines(evaluation) == [
        ("commission", "74400.00"),
        ("target-bonus", "5000.00"),
        ("hunter", "2000.00"),
        ("cap", "-21400.00"),
        ("award", "1000.00"),
    ]
    assert evaluation.lines[3].inputs == {"max": D("60000"), "plan_sum": D("81400.00")}
    assert evaluation.total == D("61000.00")


def test_cap_that_does_not_bind_adds_no_line():
    # Revenue 150000: 6400 + 5000 + 2000 = 13400, well under 60000.
    evaluation = run(rules(*DESIGN_PLAN), "150000", new_customers=12)

    assert lines(evaluation) == [("commission", "6400.00"), ("target-bonus", "5000.00"), ("hunter", "2000.00")]
    assert evaluation.total == D("13400.00")


def test_cap_exactly_reached_adds_no_line():
    # Revenue 120000 flat: 9600 + 5000 = 14600 = max.
    plan = rules(commission("flat"), TARGET_BONUS, dict(CAP, max="14600"))

    assert run(plan, "120000").total == D("14600.00")
    assert [line.kind for line in run(plan, "120000").lines] == ["commission", "bonus"]


def test_cap_never_raises_a_clawback():
    # -2000 x 0.03 = -60 is below a cap of 0: the cap only ever lowers a payout.
    evaluation = run(rules(commission(), dict(CAP, max="0")), "-2000")

    assert lines(evaluation) == [("commission", "-60.00")]


# --- awards, order, evidence --------------------------------------------------------------------


def test_awards_are_lines_of_their_own_with_their_reason_and_position():
    awards = [Award(D("500"), "Top closer of March", 41), Award(D("250.005"), "Mentoring", 42)]
    evaluation = run(rules(commission()), "0", awards=awards)

    # Commission 0 x 0.03 = 0; awards 500 and 250.005 -> 250.01 (half-up); total 750.01.
    assert lines(evaluation) == [("commission", "0.00"), ("award", "500.00"), ("award", "250.01")]
    assert [(line.kind, line.inputs, line.events) for line in evaluation.lines[1:]] == [
        ("award", {"reason": "Top closer of March"}, (41,)),
        ("award", {"reason": "Mentoring"}, (42,)),
    ]
    assert evaluation.total == D("750.01")


def test_lines_come_in_plan_order_then_multipliers_then_cap_then_awards():
    # Declared: boost, cap, hunter, commission. Revenue 50000: hunter 2000, commission 1500,
    # boost 1500 x 1.1 - 1500 = 150, plan sum 3650 > 100 so the cap is 100 - 3650 = -3550,
    # then the award of 10. Total 100 + 10 = 110.
    boost = {
        "id": "boost",
        "kind": "multiplier",
        "applies_to": ["commission"],
        "when": {"metric": "revenue_attainment", "gte": "0"},
        "factor": "1.1",
    }
    plan = rules(boost, dict(CAP, max="100"), HUNTER, commission())
    evaluation = run(plan, "50000", new_customers=10, awards=[Award(D("10"), "Spot award", 9)])

    assert lines(evaluation) == [
        ("hunter", "2000.00"),
        ("commission", "1500.00"),
        ("boost", "150.00"),
        ("cap", "-3550.00"),
        ("award", "10.00"),
    ]
    assert evaluation.total == D("110.00")


def test_the_same_figures_under_two_plans():
    # Revenue 120000, 6 new customers.
    # Design plan: marginal 4000, target bonus 5000, hunter (needs 10) no: 9000.
    # Variant: flat 120000 x 0.08 = 9600, target bonus 5000, hunter from 5: 2000: 16600.
    variant = [
        commission("flat"),
        TARGET_BONUS,
        dict(HUNTER, when={"metric": "new_customers", "gte": "5"}),
        UNDERPERFORMANCE,
        CAP,
    ]
    design = run(rules(*DESIGN_PLAN), "120000", new_customers=6)
    changed = run(rules(*variant), "120000", new_customers=6)

    assert lines(design) == [("commission", "4000.00"), ("target-bonus", "5000.00")]
    assert design.total == D("9000.00")
    assert lines(changed) == [("commission", "9600.00"), ("target-bonus", "5000.00"), ("hunter", "2000.00")]
    assert changed.total == D("16600.00")


def test_each_line_names_the_events_behind_the_figures_it_used():
    # The commission and the attainment bonus read revenue and its target (listed under
    # revenue_attainment); the hunter bonus reads new_customers; the award is its own event.
    evidence = {"revenue": [9, 3, 3, 5], "revenue_attainment": [1], "new_customers": [4, 2], "orders": [100]}
    evaluation = run(
        rules(*DESIGN_PLAN), "120000", new_customers=10, evidence=evidence, awards=[Award(D("10"), "Spot award", 77)]
    )

    assert [(line.component, line.events) for line in evaluation.lines] == [
        ("commission", (1, 3, 5, 9)),
        ("target-bonus", (1, 3, 5, 9)),
        ("hunter", (2, 4)),
        ("award", (77,)),
    ]


def test_a_float_figure_is_refused():
    with pytest.raises(TypeError):
        evaluate(rules(commission()), {"revenue": 100.5}, TARGETS, {}, [])


# --- properties ---------------------------------------------------------------------------------

revenues = st.decimals(min_value=-100000, max_value=1000000, places=2)


def thresholds(metric: str):
    if metric.endswith("_attainment"):
        return st.decimals(min_value=0, max_value=3, places=2)
    if metric == "revenue":
        return revenues
    return st.decimals(min_value=0, max_value=40, places=2)


@st.composite
def conditions(draw, monotone: bool):
    metric = draw(st.sampled_from(CONDITION_METRICS))
    # With more revenue, "revenue <= x" can stop holding: a monotone plan only looks upwards.
    on_revenue = metric in ("revenue", "revenue_attainment")
    op = draw(st.sampled_from(("gte", "gt") if monotone and on_revenue else OPERATORS))
    return Condition(metric, op, draw(thresholds(metric)))


@st.composite
def tier_tuples(draw, rising_rates: bool):
    starts = draw(st.lists(st.decimals(min_value=D("0.05"), max_value=3, places=2), unique=True, max_size=4))
    rates = draw(
        st.lists(
            st.decimals(min_value=0, max_value=D("0.3"), places=4), min_size=len(starts) + 1, max_size=len(starts) + 1
        )
    )
    if rising_rates:
        rates.sort()  # flat with a falling rate would pay less for more revenue
    return tuple(Tier(s, r) for s, r in zip([D(0)] + sorted(starts), rates, strict=True))


@st.composite
def plans(draw, adjustments: bool = True, monotone: bool = False):
    components = []
    for n in range(draw(st.integers(1, 2))):
        mode = draw(st.sampled_from(["marginal", "flat"]))
        tiers = draw(tier_tuples(rising_rates=monotone and mode == "flat"))
        components.append(Commission(f"commission-{n}", "revenue", mode, tiers))
    for n in range(draw(st.integers(0, 3))):
        amount = draw(st.decimals(min_value=0, max_value=10000, places=2))
        components.append(Bonus(f"bonus-{n}", draw(conditions(monotone)), amount))
    if adjustments:
        scalable = [c.id for c in components]
        for n in range(draw(st.integers(0, 2))):
            applies_to = tuple(draw(st.lists(st.sampled_from(scalable), min_size=1, unique=True)))
            factor = draw(st.decimals(min_value=0, max_value=2, places=3))
            components.append(Multiplier(f"multiplier-{n}", applies_to, draw(conditions(monotone)), factor))
        if draw(st.booleans()):
            components.append(Cap("cap", draw(st.decimals(min_value=0, max_value=100000, places=2))))
    return Rules(tuple(draw(st.permutations(components))))


@st.composite
def other_figures(draw):
    values = st.none() | st.integers(0, 30) | st.decimals(min_value=0, max_value=40, places=4)
    return {metric: draw(values) for metric in KPI_METRICS if metric != "revenue"}


targets = st.dictionaries(st.sampled_from(TARGET_METRICS), st.decimals(min_value=0, max_value=300000, places=2))
evidences = st.dictionaries(st.sampled_from(CONDITION_METRICS), st.lists(st.integers(1, 500), max_size=4))
award_lists = st.lists(
    st.builds(
        Award,
        amount=st.decimals(min_value=0, max_value=5000, places=3),
        reason=st.text(max_size=8),
        position=st.integers(501, 900),
    ),
    max_size=3,
)


@given(plans(), revenues, other_figures(), targets, evidences, award_lists)
def test_the_total_is_always_the_sum_of_the_lines_in_cents(plan, revenue, others, target_values, evidence, awards):
    evaluation = evaluate(plan, {"revenue": revenue, **others}, target_values, evidence, awards)

    assert evaluation.total == sum(line.amount for line in evaluation.lines)
    assert evaluation.total.as_tuple().exponent == -2
    assert all(line.amount.as_tuple().exponent == -2 for line in evaluation.lines)
    assert not any(str(line.amount) == "-0.00" for line in evaluation.lines)


@given(plans(), revenues, other_figures(), targets, evidences, award_lists)
def test_every_line_names_only_events_it_was_given(plan, revenue, others, target_values, evidence, awards):
    given_positions = {p for positions in evidence.values() for p in positions}
    given_positions |= {award.position for award in awards}

    evaluation = evaluate(plan, {"revenue": revenue, **others}, target_values, evidence, awards)

    for line in evaluation.lines:
        assert set(line.events) <= given_positions
        assert list(line.events) == sorted(set(line.events))


@given(
    plans(adjustments=False, monotone=True),
    revenues,
    revenues,
    other_figures(),
    targets,
    st.decimals(min_value=1, max_value=300000, places=2),
)
def test_without_multipliers_or_caps_more_revenue_never_pays_less(
    plan, one, other, others, target_values, revenue_target
):
    lower, higher = sorted([one, other])
    # Always a revenue target, so the tiers (where a payout could fall) are in play.
    target_values = {**target_values, "revenue": revenue_target}

    def total(revenue):
        return evaluate(plan, {"revenue": revenue, **others}, target_values, {}, []).total

    assert total(lower) <= total(higher)
