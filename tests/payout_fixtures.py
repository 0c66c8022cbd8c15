"""A small department with a plan, for payout, replay and API tests."""

from __future__ import annotations

from builders import ev, onboard, open_deal, win

# The example plan of docs/design.md: marginal tiers 3% / 5% from 100% / 8% from 120% of target, a 5000
# bonus at target, a 2000 hunter bonus at 10 new customers, a 0.8 penalty below 60%, a cap.
STANDARD_RULES = {
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

# Version 2: a flat 4% with the same bonus, no penalty, no cap.
FLAT_RULES = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.04"}],
        },
        {
            "id": "target-bonus",
            "kind": "bonus",
            "when": {"metric": "revenue_attainment", "gte": "1.0"},
            "amount": "5000",
        },
    ]
}

JAN = "2026-01-01T00:00:00+00:00"


def publish(version: int, rules: dict, effective_from: str = "2026-01", plan_id: str = "std", when: str = JAN):
    return ev(
        "IncentivePlanPublished", when, plan_id=plan_id, version=version, effective_from=effective_from, rules=rules
    )


def assign(scope: dict, plan_id: str = "std", from_period: str = "2026-01"):
    return ev("IncentivePlanAssigned", JAN, scope=scope, plan_id=plan_id, from_period=from_period)


def target(rep_id: str, value: str, period: str = "2026-Q1", metric: str = "revenue"):
    return ev("TargetSet", JAN, scope={"rep": rep_id}, metric=metric, period=period, value=value)


def department() -> list[dict]:
    """R-1 (East) and R-2 (West), each with a Q1 revenue target of 100000, on the standard plan."""
    return [
        onboard("R-1", "T-1", "East", JAN),
        onboard("R-2", "T-2", "West", JAN),
        publish(1, STANDARD_RULES),
        assign({"company": True}),
        target("R-1", "100000"),
        target("R-2", "100000"),
    ]


def won_deal(
    deal_id: str, rep_id: str, amount: str, won_at: str = "2026-02-10T09:00:00+00:00", customer: str | None = None
):
    return [
        open_deal(deal_id, rep_id, customer or f"C-{deal_id}", when="2026-01-15T09:00:00+00:00"),
        win(deal_id, amount, won_at),
    ]
