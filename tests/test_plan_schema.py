"""Plan rules documents: what parse_rules accepts, what it refuses and how it says so."""

import copy
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.plan_schema import (
    CONDITION_METRICS,
    MAX_COMPONENTS,
    MAX_TIERS,
    OPERATORS,
    Bonus,
    Cap,
    Commission,
    Condition,
    Multiplier,
    PlanProblem,
    Rules,
    Tier,
    parse_rules,
    rules_to_json,
)

# The example plan of docs/design.md, "Incentive plans", as the decoded JSON it arrives as.
DESIGN_RULES = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "marginal",
            "tiers": [
                {"from_attainment": "0", "rate": "0.03"},
                {"from_attainment": "1.0", "rate": "0.05"},
                {"from_attainment": "1.2", "rate": "0.08"},
            ],
        },
        {
            "id": "target-bonus",
            "kind": "bonus",
            "when": {"metric": "revenue_attainment", "gte": "1.0"},
            "amount": "5000",
        },
        {"id": "hunter", "kind": "bonus", "when": {"metric": "new_customers", "gte": "10"}, "amount": "2000"},
        {
            "id": "underperformance",
            "kind": "multiplier",
            "applies_to": ["commission"],
            "when": {"metric": "revenue_attainment", "lt": "0.6"},
            "factor": "0.8",
        },
        {"id": "cap", "kind": "cap", "max": "60000"},
    ]
}

DROP = object()  # a change that removes the key


def _changed(original: dict, changes: dict) -> dict:
    document = copy.deepcopy(original)
    for key, value in changes.items():
        if value is DROP:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def commission(**changes):
    return _changed(DESIGN_RULES["components"][0], changes)


def bonus(**changes):
    return _changed(DESIGN_RULES["components"][1], changes)


def multiplier(**changes):
    return _changed(DESIGN_RULES["components"][3], changes)


def cap(**changes):
    return _changed(DESIGN_RULES["components"][4], changes)


def plan(*components):
    return {"components": list(components)}


def tiers(*pairs):
    return [{"from_attainment": start, "rate": rate} for start, rate in pairs]


def problems_of(document) -> list[PlanProblem]:
    rules, problems = parse_rules(document)
    assert (rules is None) == bool(problems)
    return problems


# --- the good document ------------------------------------------------------------------------


def test_the_design_example_parses_into_decimal_components():
    rules, problems = parse_rules(DESIGN_RULES)

    assert problems == []
    assert rules == Rules(
        (
            Commission(
                "commission",
                "revenue",
                "marginal",
                (
                    Tier(Decimal("0"), Decimal("0.03")),
                    Tier(Decimal("1.0"), Decimal("0.05")),
                    Tier(Decimal("1.2"), Decimal("0.08")),
                ),
            ),
            Bonus("target-bonus", Condition("revenue_attainment", "gte", Decimal("1.0")), Decimal("5000")),
            Bonus("hunter", Condition("new_customers", "gte", Decimal("10")), Decimal("2000")),
            Multiplier(
                "underperformance",
                ("commission",),
                Condition("revenue_attainment", "lt", Decimal("0.6")),
                Decimal("0.8"),
            ),
            Cap("cap", Decimal("60000")),
        )
    )


def test_the_canonical_json_of_the_design_example_is_the_document_itself():
    # Decimal strings keep the digits their author wrote: "1.0" stays "1.0", "5000" stays "5000".
    rules, _ = parse_rules(DESIGN_RULES)

    assert rules_to_json(rules) == DESIGN_RULES


@pytest.mark.parametrize("zero", ["0", "0.0", "0.00", "00"])
def test_any_spelling_of_zero_starts_the_first_tier(zero):
    assert problems_of(plan(commission(tiers=tiers((zero, "0.03"), ("1", "0.05"))))) == []


def test_a_multiplier_may_name_a_component_declared_after_it():
    document = plan(multiplier(applies_to=["late"]), commission(id="late"))

    assert problems_of(document) == []


def test_thresholds_may_be_negative_because_growth_can_be():
    document = plan(bonus(when={"metric": "growth_rate", "lt": "-0.1"}))

    assert problems_of(document) == []


def test_money_written_with_trailing_zeros_is_still_cents():
    # "5000.500" is 5000.50: more digits, but no fraction of a cent.
    assert problems_of(plan(bonus(amount="5000.500"))) == []


def test_fifty_components_and_twenty_tiers_are_the_largest_plan_accepted():
    twenty_tiers = tiers(*[(str(step), "0.01") for step in range(MAX_TIERS)])
    components = [commission(id=f"c{n}", tiers=twenty_tiers) for n in range(MAX_COMPONENTS)]

    assert problems_of(plan(*components)) == []


# --- bad documents ------------------------------------------------------------------------------

# Each: the document, the field the problem is reported at, a fragment of its message.
BAD_DOCUMENTS = [
    pytest.param([], "", "must be an object", id="rules-a-list"),
    pytest.param(None, "", "not null", id="rules-null"),
    pytest.param({}, "components", "is required", id="components-missing"),
    pytest.param(plan(), "components", "must not be empty", id="components-empty"),
    pytest.param({"components": {}}, "components", "must be a list", id="components-an-object"),
    pytest.param(dict(plan(cap()), version=1), "version", "unknown key 'version'", id="unknown-top-level-key"),
    pytest.param(
        plan(*[cap(id=f"c{n}") for n in range(MAX_COMPONENTS + 1)]),
        "components",
        "at most 50",
        id="too-many-components",
    ),
    pytest.param(plan("commission"), "components[0]", "must be an object", id="component-a-string"),
    pytest.param(
        plan(commission(kind="comission")),
        "components[0].kind",
        "unknown kind 'comission' (did you mean 'commission'?)",
        id="unknown-kind",
    ),
    pytest.param(plan(commission(kind=DROP)), "components[0].kind", "is required", id="kind-missing"),
    pytest.param(plan(commission(id=DROP)), "components[0].id", "is required", id="id-missing"),
    pytest.param(plan(commission(id="")), "components[0].id", "must not be empty", id="id-empty"),
    pytest.param(plan(commission(id="x" * 65)), "components[0].id", "at most 64", id="id-too-long"),
    pytest.param(plan(commission(id=7)), "components[0].id", "must be a string", id="id-a-number"),
    pytest.param(
        plan(commission(), bonus(id="commission")), "components[1].id", "duplicate id 'commission'", id="id-duplicate"
    ),
    pytest.param(
        plan(commission(description="std")),
        "components[0].description",
        "unknown key 'description'",
        id="unknown-component-key",
    ),
    pytest.param(
        plan(commission(base="orders")), "components[0].base", "unknown base 'orders'", id="commission-base-not-revenue"
    ),
    pytest.param(plan(commission(mode="tiered")), "components[0].mode", "unknown mode 'tiered'", id="unknown-mode"),
    pytest.param(plan(commission(tiers=DROP)), "components[0].tiers", "is required", id="tiers-missing"),
    pytest.param(plan(commission(tiers=[])), "components[0].tiers", "must not be empty", id="tiers-empty"),
    pytest.param(
        plan(commission(tiers=tiers(*[(str(n), "0.01") for n in range(MAX_TIERS + 1)]))),
        "components[0].tiers",
        "at most 20",
        id="too-many-tiers",
    ),
    pytest.param(plan(commission(tiers=["0.03"])), "components[0].tiers[0]", "must be an object", id="tier-a-string"),
    pytest.param(
        plan(commission(tiers=tiers(("0.5", "0.03"), ("1.0", "0.05")))),
        "components[0].tiers[0].from_attainment",
        'must start at "0"',
        id="first-tier-not-from-zero",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "0.03"), ("1.2", "0.05"), ("1.0", "0.08")))),
        "components[0].tiers[2].from_attainment",
        "must be greater",
        id="tiers-going-down",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "0.03"), ("1.0", "0.05"), ("1.0", "0.08")))),
        "components[0].tiers[2].from_attainment",
        "must be greater",
        id="tiers-repeating-a-start",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "0.03"), ("-1", "0.05")))),
        "components[0].tiers[1].from_attainment",
        "must not be negative",
        id="negative-from-attainment",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "0.03"), ("1.0", "-0.05")))),
        "components[0].tiers[1].rate",
        "must not be negative",
        id="negative-rate",
    ),
    pytest.param(
        plan(commission(tiers=[{"from_attainment": "0", "rat": "0.03"}])),
        "components[0].tiers[0].rat",
        "unknown key 'rat' (did you mean 'rate'?)",
        id="rate-misspelt",
    ),
    pytest.param(
        plan(commission(tiers=[{"from_attainment": "0", "rat": "0.03"}])),
        "components[0].tiers[0].rate",
        "is required",
        id="rate-missing",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", 0.03)))),
        "components[0].tiers[0].rate",
        'must be a decimal string such as "0.03", not a JSON number',
        id="rate-a-float",
    ),
    pytest.param(
        plan(commission(tiers=tiers((0, "0.03")))),
        "components[0].tiers[0].from_attainment",
        "not a JSON number",
        id="from-attainment-an-int",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", True)))), "components[0].tiers[0].rate", "not a boolean", id="rate-a-boolean"
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "three percent")))),
        "components[0].tiers[0].rate",
        "is not a decimal number",
        id="rate-words",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "3e-2")))),
        "components[0].tiers[0].rate",
        "is not a decimal number",
        id="rate-exponent",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", " 0.03")))),
        "components[0].tiers[0].rate",
        "is not a decimal number",
        id="rate-with-space",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "NaN")))),
        "components[0].tiers[0].rate",
        "is not a decimal number",
        id="rate-nan",
    ),
    pytest.param(
        plan(commission(tiers=tiers(("0", "0.00000000001")))),
        "components[0].tiers[0].rate",
        "too many digits",
        id="rate-too-precise",
    ),
    pytest.param(plan(bonus(amount="-100")), "components[0].amount", "must not be negative", id="negative-bonus"),
    pytest.param(plan(bonus(amount=5000)), "components[0].amount", "not a JSON number", id="bonus-an-int"),
    pytest.param(plan(bonus(amount="10.005")), "components[0].amount", "two decimal places", id="bonus-below-a-cent"),
    pytest.param(plan(bonus(when=DROP)), "components[0].when", "is required", id="when-missing"),
    pytest.param(plan(bonus(when="revenue >= 1")), "components[0].when", "must be an object", id="when-a-string"),
    pytest.param(
        plan(bonus(when={"gte": "1.0"})), "components[0].when.metric", "is required", id="when-without-metric"
    ),
    pytest.param(
        plan(bonus(when={"metric": "revnue", "gte": "1"})),
        "components[0].when.metric",
        "unknown metric 'revnue' (did you mean 'revenue'?)",
        id="unknown-metric",
    ),
    pytest.param(
        plan(bonus(when={"metric": "growth_rate_attainment", "gte": "1"})),
        "components[0].when.metric",
        "unknown metric",
        id="attainment-without-targets",
    ),
    pytest.param(
        plan(bonus(when={"metric": "revenue"})), "components[0].when", "found none", id="when-without-comparison"
    ),
    pytest.param(
        plan(bonus(when={"metric": "revenue", "gte": "1", "lt": "2"})),
        "components[0].when",
        "found gte, lt",
        id="when-with-two-comparisons",
    ),
    pytest.param(
        plan(bonus(when={"metric": "revenue", "eq": "1"})),
        "components[0].when.eq",
        "unknown key 'eq'",
        id="when-unknown-operator",
    ),
    pytest.param(
        plan(bonus(when={"metric": "revenue", "gte": 1.0})),
        "components[0].when.gte",
        "decimal string",
        id="threshold-a-float",
    ),
    pytest.param(
        plan(commission(), multiplier(factor="-0.8")),
        "components[1].factor",
        "must not be negative",
        id="negative-factor",
    ),
    pytest.param(
        plan(commission(), multiplier(applies_to=[])),
        "components[1].applies_to",
        "must not be empty",
        id="applies-to-empty",
    ),
    pytest.param(
        plan(commission(), multiplier(applies_to="commission")),
        "components[1].applies_to",
        "must be a list",
        id="applies-to-a-string",
    ),
    pytest.param(
        plan(commission(), multiplier(applies_to=["comission"])),
        "components[1].applies_to[0]",
        "names no component",
        id="applies-to-unknown",
    ),
    pytest.param(
        plan(commission(), multiplier(applies_to=["commission", "commission"])),
        "components[1].applies_to[1]",
        "twice",
        id="applies-to-repeats",
    ),
    pytest.param(
        plan(commission(), cap(), multiplier(applies_to=["cap"])),
        "components[2].applies_to[0]",
        "applies only to commission and bonus",
        id="applies-to-a-cap",
    ),
    pytest.param(
        plan(commission(), multiplier(applies_to=["underperformance"])),
        "components[1].applies_to[0]",
        "applies only to commission and bonus",
        id="applies-to-itself",
    ),
    pytest.param(plan(cap(max="-1")), "components[0].max", "must not be negative", id="negative-cap"),
    pytest.param(plan(cap(max="100.001")), "components[0].max", "two decimal places", id="cap-below-a-cent"),
    pytest.param(plan(cap(), cap(id="second-cap")), "components[1].kind", "at most one cap", id="two-caps"),
]


@pytest.mark.parametrize(("document", "field", "fragment"), BAD_DOCUMENTS)
def test_a_bad_document_is_refused_with_the_field_and_the_reason(document, field, fragment):
    problems = problems_of(document)

    assert any(p.field == field and fragment in p.message for p in problems), problems


def test_a_document_with_several_problems_reports_all_of_them():
    document = plan(
        commission(
            tiers=[
                {"from_attainment": "0", "rat": "0.03"},  # typo, so rate missing
                {"from_attainment": "1.0", "rate": "-0.05"},
            ]
        ),  # negative rate
        bonus(kind="bonsu"),  # unknown kind
        bonus(id="commission", amount=5000),  # duplicate id, a number
        multiplier(applies_to=["nobody"]),  # unknown component
        cap(max="-1"),  # negative cap
    )

    fields = {problem.field for problem in problems_of(document)}

    assert fields == {
        "components[0].tiers[0].rat",
        "components[0].tiers[0].rate",
        "components[0].tiers[1].rate",
        "components[1].kind",
        "components[2].id",
        "components[2].amount",
        "components[3].applies_to[0]",
        "components[4].max",
    }


def test_problems_come_with_no_rules():
    rules, problems = parse_rules(plan(cap(max="-1")))

    assert rules is None
    assert problems == [PlanProblem("components[0].max", "must not be negative, got '-1'")]


# --- properties ---------------------------------------------------------------------------------

decimal_text = st.decimals(min_value=0, max_value=10, places=4).map(lambda d: format(d, "f"))
cents_text = st.decimals(min_value=0, max_value=100000, places=2).map(lambda d: format(d, "f"))


@st.composite
def tier_documents(draw):
    starts = draw(
        st.lists(st.decimals(min_value=Decimal("0.01"), max_value=5, places=2), unique=True, max_size=MAX_TIERS - 1)
    )
    rates = draw(st.lists(decimal_text, min_size=len(starts) + 1, max_size=len(starts) + 1))
    return [
        {"from_attainment": format(start, "f"), "rate": rate}
        for start, rate in zip([Decimal(0)] + sorted(starts), rates, strict=True)
    ]


conditions = st.builds(
    lambda metric, op, threshold: {"metric": metric, op: threshold},
    st.sampled_from(CONDITION_METRICS),
    st.sampled_from(OPERATORS),
    st.decimals(min_value=-5, max_value=5, places=3).map(str),
)


@st.composite
def valid_documents(draw):
    commissions = [
        {
            "id": f"commission-{n}",
            "kind": "commission",
            "base": "revenue",
            "mode": draw(st.sampled_from(["marginal", "flat"])),
            "tiers": draw(tier_documents()),
        }
        for n in range(draw(st.integers(1, 3)))
    ]
    bonuses = [
        {"id": f"bonus-{n}", "kind": "bonus", "when": draw(conditions), "amount": draw(cents_text)}
        for n in range(draw(st.integers(0, 3)))
    ]
    scalable = [c["id"] for c in commissions + bonuses]
    multipliers = [
        {
            "id": f"multiplier-{n}",
            "kind": "multiplier",
            "applies_to": draw(st.lists(st.sampled_from(scalable), min_size=1, unique=True)),
            "when": draw(conditions),
            "factor": draw(decimal_text),
        }
        for n in range(draw(st.integers(0, 2)))
    ]
    caps = [{"id": "cap", "kind": "cap", "max": draw(cents_text)}][: draw(st.integers(0, 1))]
    return {"components": draw(st.permutations(commissions + bonuses + multipliers + caps))}


@given(valid_documents())
def test_any_valid_document_round_trips_through_its_canonical_json(document):
    rules, problems = parse_rules(document)
    assert problems == []

    again, problems_again = parse_rules(rules_to_json(rules))

    assert problems_again == []
    assert again == rules
    assert rules_to_json(again) == rules_to_json(rules)


PLAN_WORDS = [
    "components",
    "id",
    "kind",
    "base",
    "mode",
    "tiers",
    "from_attainment",
    "rate",
    "when",
    "metric",
    "amount",
    "applies_to",
    "factor",
    "max",
    *OPERATORS,
    "commission",
    "bonus",
    "multiplier",
    "cap",
    "revenue",
    "marginal",
    "flat",
    "0",
    "1.0",
    "0.03",
    "-1",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(PLAN_WORDS)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(PLAN_WORDS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)


@given(st.one_of(json_values, st.builds(lambda c: {"components": c}, st.lists(json_values))))
def test_any_json_gets_rules_or_problems_and_never_an_exception(document):
    rules, problems = parse_rules(document)

    assert (rules is None) == bool(problems)
    assert all(isinstance(p.field, str) and p.message for p in problems)
    if rules is not None:
        assert parse_rules(rules_to_json(rules)) == (rules, [])
