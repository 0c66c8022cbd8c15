"""Tests of demo.generator: determinism, size, streaming and every rule the ledger enforces.

The checker below is this file's own small fold over the envelopes; it does not use the ledger.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.generator import DEFAULT_PLAN_RULES, _Generator, org_size
from demo.generator import generate as generate_up_to


def end_of(year: int) -> datetime:
    """A moment after the last business day of `year` in every zone: the log is that whole year."""
    return datetime(year, 12, 31, 12, tzinfo=UTC)


def generate(n_events, *, now=None, **options):
    """Most of these tests read the generator's whole calendar year 2026 (as if generated on its last day)."""
    return generate_up_to(n_events, now=end_of(2026) if now is None else now, **options)


TYPES = {
    "RepOnboarded",
    "RepTransferred",
    "RepOffboarded",
    "TargetSet",
    "LeadCreated",
    "ActivityLogged",
    "FollowUpScheduled",
    "FollowUpCompleted",
    "DealOpened",
    "DealWon",
    "DealLost",
    "DealCreditSplit",
    "DealAmountCorrected",
    "DealRefunded",
    "EvaluationRecorded",
    "FeedbackGiven",
    "ImprovementPlanSet",
    "TrainingCompleted",
    "IncentivePlanPublished",
    "IncentivePlanAssigned",
    "AwardGranted",
}
ID_FIELDS = (
    "rep_id",
    "team_id",
    "deal_id",
    "lead_id",
    "customer_id",
    "activity_id",
    "followup_id",
    "evaluation_id",
    "evaluator_id",
    "feedback_id",
    "author_id",
    "improvement_plan_id",
    "plan_id",
    "manager_id",
)
METRICS = {"revenue", "orders", "new_customers", "conversion_rate", "win_rate", "avg_order_value", "activities"}
MONEY = re.compile(r"^\d+\.\d{2}$")
DECIMAL = re.compile(r"^\d+(\.\d+)?$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
ACTIVITY_KINDS = {"call", "visit", "email", "meeting", "demo", "other"}
PROCESS = {"prospecting", "discovery", "negotiation", "follow_up"}

# The rules JSON as printed in docs/design.md ("Incentive plans").
DESIGN_RULES = json.loads("""
{"components": [
  {"id": "commission", "kind": "commission", "base": "revenue", "mode": "marginal",
   "tiers": [{"from_attainment": "0", "rate": "0.03"}, {"from_attainment": "1.0", "rate": "0.05"},
             {"from_attainment": "1.2", "rate": "0.08"}]},
  {"id": "target-bonus", "kind": "bonus", "when": {"metric": "revenue_attainment", "gte": "1.0"},
   "amount": "5000"},
  {"id": "hunter", "kind": "bonus", "when": {"metric": "new_customers", "gte": "10"},
   "amount": "2000"},
  {"id": "underperformance", "kind": "multiplier", "applies_to": ["commission"],
   "when": {"metric": "revenue_attainment", "lt": "0.6"}, "factor": "0.8"},
  {"id": "cap", "kind": "cap", "max": "60000"}]}
""")


def _id_ok(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and not re.search(r"\s", value)


class LogChecker:
    """Folds envelopes in log order and asserts the rules; keeps a few statistics."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.event_ids: set[str] = set()
        self.reps: dict[str, str] = {}  # rep -> team
        self.gone: dict[str, datetime] = {}
        self.leads: dict[str, str] = {}  # lead -> rep
        self.deals: dict[str, dict] = {}
        self.followups: dict[str, dict] = {}
        self.evaluations: set[str] = set()
        self.plans: dict[str, int] = {}
        self.targets: dict[tuple, Decimal] = {}
        self.team_consistent: dict[tuple, bool] = {}
        self.types: Counter = Counter()
        self.emails = self.replies = 0
        self.backdated = 0
        self.latest: datetime | None = None
        self.customer_wins: Counter = Counter()
        self.revenue_by_quarter: Counter = Counter()
        self.deals_from_leads = 0
        self.n = 0

    # -- helpers ---------------------------------------------------------------------------
    def rep_named(self, rep_id: str, at: datetime) -> None:
        assert rep_id in self.reps, f"rep {rep_id} named before RepOnboarded"
        assert rep_id not in self.gone, f"rep {rep_id} named after RepOffboarded"

    def deal_touch(self, deal_id: str) -> dict:
        assert deal_id in self.deals, f"deal {deal_id} used before DealOpened"
        deal = self.deals[deal_id]
        for rep in deal["reps"]:
            assert rep not in self.gone, f"deal {deal_id} of offboarded rep {rep} touched"
        return deal

    def won_deal(self, deal_id: str, at: datetime, strictly_after: bool = False) -> dict:
        deal = self.deal_touch(deal_id)
        assert deal["state"] == "won", f"{deal_id} is not won"
        assert at > deal["won_at"] if strictly_after else at >= deal["won_at"]
        return deal

    @staticmethod
    def money(value: object) -> Decimal:
        assert isinstance(value, str) and MONEY.match(value), f"bad money {value!r}"
        return Decimal(value)

    def aware(self, value: object) -> datetime:
        assert isinstance(value, str)
        dt = datetime.fromisoformat(value)
        assert dt.tzinfo is not None and dt.utcoffset() is not None, f"naive time {value}"
        return dt

    # -- the fold ----------------------------------------------------------------------------
    def feed(self, env: dict) -> None:
        self.n += 1
        assert set(env) == {"type", "event_id", "occurred_at", "data"}
        typ, data = env["type"], env["data"]
        assert typ in TYPES, f"unexpected type {typ}"
        self.types[typ] += 1
        eid = env["event_id"]
        assert _id_ok(eid) and eid not in self.event_ids, f"bad or duplicate event_id {eid}"
        self.event_ids.add(eid)
        at = self.aware(env["occurred_at"])
        assert at.year == self.year and at.astimezone(UTC).year == self.year, at
        if self.latest is not None and at < self.latest - timedelta(hours=12):
            self.backdated += 1
            assert at >= self.latest - timedelta(days=14), "backdated by more than two weeks"
        self.latest = at if self.latest is None else max(self.latest, at)
        for field in ID_FIELDS:
            if field in data:
                assert _id_ok(data[field]), f"bad id {field}={data[field]!r}"
        getattr(self, "on_" + typ)(data, at)

    def on_RepOnboarded(self, d: dict, at: datetime) -> None:
        assert d["rep_id"] not in self.reps, "onboarded twice"
        assert d["name"] and _id_ok(d["team_id"]) and d["region"]
        self.reps[d["rep_id"]] = d["team_id"]

    def on_RepTransferred(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert self.reps[d["rep_id"]] != d["team_id"] and d["region"]
        self.reps[d["rep_id"]] = d["team_id"]

    def on_RepOffboarded(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        self.gone[d["rep_id"]] = at

    def on_TargetSet(self, d: dict, at: datetime) -> None:
        scope = d["scope"]
        assert isinstance(scope, dict) and len(scope) == 1
        ((kind, ref),) = scope.items()
        assert kind in {"rep", "team", "region", "company"}
        if kind == "company":
            assert ref is True
        else:
            assert _id_ok(ref)
        if kind == "rep":
            self.rep_named(ref, at)
        assert d["metric"] in METRICS and QUARTER.match(d["period"])
        assert isinstance(d["value"], str) and DECIMAL.match(d["value"])
        if d["metric"] in {"revenue", "avg_order_value"}:
            self.money(d["value"])
        if "reason" in d:
            assert isinstance(d["reason"], str) and d["reason"]
        value = Decimal(d["value"])
        self.targets[(kind, ref, d["metric"], d["period"])] = value
        if kind == "team" and d["metric"] == "revenue":
            members = [r for r, t in self.reps.items() if t == ref and r not in self.gone]
            total = sum(self.targets.get(("rep", r, "revenue", d["period"]), Decimal(0)) for r in members)
            self.team_consistent[(ref, d["period"])] = total == value

    def on_LeadCreated(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["lead_id"] not in self.leads, "lead created twice"
        self.leads[d["lead_id"]] = d["rep_id"]

    def on_ActivityLogged(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["kind"] in ACTIVITY_KINDS
        if "deal_id" in d:
            self.deal_touch(d["deal_id"])
        if "lead_id" in d:
            assert d["lead_id"] in self.leads
        if d["kind"] == "email":
            assert isinstance(d["replied"], bool)
            self.emails += 1
            self.replies += d["replied"]
        else:
            assert "replied" not in d, "replied on a non-email activity"

    def on_FollowUpScheduled(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["followup_id"] not in self.followups
        assert self.aware(d["due_at"]) > at
        if "deal_id" in d:
            self.deal_touch(d["deal_id"])
        if "lead_id" in d:
            assert d["lead_id"] in self.leads
        self.followups[d["followup_id"]] = {"rep": d["rep_id"], "at": at, "done": False}

    def on_FollowUpCompleted(self, d: dict, at: datetime) -> None:
        fu = self.followups.get(d["followup_id"])
        assert fu is not None and not fu["done"], "unknown or twice-completed follow-up"
        self.rep_named(fu["rep"], at)
        assert at > fu["at"]
        fu["done"] = True

    def on_DealOpened(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["deal_id"] not in self.deals, "deal opened twice"
        assert _id_ok(d["customer_id"])
        if "lead_id" in d:
            assert self.leads.get(d["lead_id"]) == d["rep_id"], "lead of another rep"
            self.deals_from_leads += 1
        if "expected_amount" in d:
            self.money(d["expected_amount"])
        self.deals[d["deal_id"]] = {
            "reps": {d["rep_id"]},
            "opened_at": at,
            "state": "open",
            "customer": d["customer_id"],
        }

    def on_DealWon(self, d: dict, at: datetime) -> None:
        deal = self.deal_touch(d["deal_id"])
        assert deal["state"] == "open", f"{d['deal_id']} closed twice"
        assert at >= deal["opened_at"], "won before opened"
        amount = self.money(d["amount"])
        deal.update(state="won", won_at=at, amount=amount, low=amount, refunded=Decimal(0))
        self.customer_wins[deal["customer"]] += 1
        self.revenue_by_quarter[(at.month - 1) // 3] += amount

    def on_DealLost(self, d: dict, at: datetime) -> None:
        deal = self.deal_touch(d["deal_id"])
        assert deal["state"] == "open", f"{d['deal_id']} closed twice"
        assert at >= deal["opened_at"], "lost before opened"
        deal["state"] = "lost"

    def on_DealCreditSplit(self, d: dict, at: datetime) -> None:
        deal = self.won_deal(d["deal_id"], at, strictly_after=True)
        splits = d["splits"]
        assert len(splits) >= 2
        reps = [s["rep_id"] for s in splits]
        assert len(set(reps)) == len(reps)
        for rep in reps:
            self.rep_named(rep, at)
        shares = [Decimal(s["share"]) for s in splits]
        assert all(isinstance(s["share"], str) for s in splits)
        assert all(s > 0 for s in shares) and sum(shares) == 1, shares
        deal["reps"].update(reps)

    def on_DealAmountCorrected(self, d: dict, at: datetime) -> None:
        deal = self.won_deal(d["deal_id"], at, strictly_after=True)
        amount = self.money(d["amount"])
        assert d["reason"]
        deal["amount"] = amount
        deal["low"] = min(deal["low"], amount)
        assert deal["refunded"] <= amount

    def on_DealRefunded(self, d: dict, at: datetime) -> None:
        deal = self.won_deal(d["deal_id"], at, strictly_after=True)
        deal["refunded"] += self.money(d["amount"])
        assert deal["refunded"] <= deal["amount"] and deal["refunded"] <= deal["low"]

    def on_EvaluationRecorded(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        m = QUARTER.match(d["period"])
        assert m and int(m.group(1)) == self.year
        q = int(m.group(2))
        assert q < 4, "Q4 evaluations would fall in the next year"
        quarter_end = datetime(self.year, 3 * q + 1, 1, tzinfo=at.tzinfo)
        assert quarter_end <= at <= quarter_end + timedelta(days=16), "not just after the quarter"
        assert d["evaluation_id"] not in self.evaluations
        self.evaluations.add(d["evaluation_id"])
        assert d["evaluator_id"].startswith("M-T-")
        score = d["result_score"]
        assert isinstance(score, int) and 0 <= score <= 100
        assert set(d["process_scores"]) == PROCESS
        assert all(isinstance(v, int) and 0 <= v <= 100 for v in d["process_scores"].values())
        assert set(d["swot"]) == {"strengths", "weaknesses", "opportunities", "threats"}
        assert all(isinstance(v, list) and v for v in d["swot"].values())

    def on_FeedbackGiven(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["kind"] in {"recognition", "improvement", "coaching"} and d["text"]
        assert d["author_id"].startswith("M-T-")
        if "evaluation_id" in d:
            assert d["evaluation_id"] in self.evaluations

    def on_ImprovementPlanSet(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["goals"] and d["trainings"]
        assert self.aware(d["review_by"]) > at

    def on_TrainingCompleted(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        assert d["training"]

    def on_IncentivePlanPublished(self, d: dict, at: datetime) -> None:
        assert d["version"] > self.plans.get(d["plan_id"], 0), "plan versions must increase"
        self.plans[d["plan_id"]] = d["version"]
        assert re.match(rf"^{self.year}-\d\d$", d["effective_from"])
        if d["version"] == 1:
            assert d["rules"] == DEFAULT_PLAN_RULES

    def on_IncentivePlanAssigned(self, d: dict, at: datetime) -> None:
        assert d["plan_id"] in self.plans and d["scope"] == {"company": True}

    def on_AwardGranted(self, d: dict, at: datetime) -> None:
        self.rep_named(d["rep_id"], at)
        self.money(d["amount"])
        assert QUARTER.match(d["period"]) and d["reason"]


def check(envelopes, year: int = 2026) -> LogChecker:
    checker = LogChecker(year)
    for env in envelopes:
        checker.feed(env)
    return checker


@pytest.fixture(scope="module")
def log_50k() -> list[dict]:
    return list(generate(50_000))


@pytest.fixture(scope="module")
def checked_50k(log_50k) -> LogChecker:
    return check(log_50k)


# --- determinism, size, streaming ------------------------------------------------------------
def test_the_same_seed_gives_the_identical_log():
    assert list(generate(5_000, seed=11)) == list(generate(5_000, seed=11))


def test_a_different_seed_gives_a_different_log():
    a, b = list(generate(5_000, seed=1)), list(generate(5_000, seed=2))
    assert [e["data"] for e in a] != [e["data"] for e in b]


@pytest.mark.parametrize("n", [500, 5_000, 50_000])
def test_the_log_has_the_requested_size_within_two_percent(n):
    got = sum(1 for _ in generate(n))
    assert abs(got - n) <= 0.02 * n
    assert got == n  # in fact exact


def test_zero_events_gives_an_empty_log():
    assert list(generate(0)) == []


def test_generation_is_lazy_and_streams(monkeypatch):
    """A year of 50 million envelopes: the first 2,000 come out of the first day's events, and
    no later day is built before its envelopes are asked for."""
    days_built: list[int] = []
    build_day = _Generator._day

    def counted(self: _Generator, d: int) -> list:
        days_built.append(d)
        return build_day(self, d)

    monkeypatch.setattr(_Generator, "_day", counted)
    stream = generate(50_000_000)
    assert days_built == []  # nothing until the first envelope is asked for
    head = list(itertools.islice(stream, 2_000))
    assert len(head) == 2_000
    assert days_built == [1]
    next(stream)
    assert days_built == [1]  # the rest of day 1 is already built: still no day 2


@pytest.mark.parametrize(
    "bad",
    [
        {"n_events": -1},
        {"n_events": 1.5},
        {"tz": "Mars/Olympus"},
        {"seed": "7"},
        {"now": datetime(2026, 12, 3, 15)},  # a naive time
        {"reps": 3},  # fewer than MIN_REPS
        {"reps": True},
    ],
)
def test_bad_arguments_are_rejected_at_the_call(bad):
    kwargs = {"n_events": 10, **bad}
    n = kwargs.pop("n_events")
    with pytest.raises(ValueError):
        generate(n, **kwargs)


def test_org_size_scales_with_the_number_of_events():
    assert org_size(500) == 8 and org_size(2_000) == 8
    assert org_size(1_000_000) == 500
    assert org_size(50_000) == 25


def test_the_onboarded_reps_match_org_size(checked_50k):
    assert checked_50k.types["RepOnboarded"] == org_size(50_000)


def test_a_company_of_a_given_number_of_reps_fits_the_requested_size():
    """`reps=` makes a larger company than the size would (the benchmark's 5,000 reps at 1M
    events): every rep is onboarded, the log keeps its size and its invariants."""
    log = list(generate(20_000, seed=4, reps=60))
    checker = check(log)
    assert checker.types["RepOnboarded"] == 60 != org_size(20_000)
    assert len(log) == 20_000
    assert list(generate(20_000, seed=4)) == list(generate(20_000, seed=4, reps=org_size(20_000)))


def test_the_default_plan_rules_are_the_design_rules():
    assert DEFAULT_PLAN_RULES == DESIGN_RULES


# --- the rules ---------------------------------------------------------------------------------
def test_a_50k_log_obeys_every_ledger_rule(checked_50k):
    c = checked_50k
    assert c.n == 50_000
    assert c.types["RepOffboarded"] == 1
    assert c.types["RepTransferred"] == 2
    assert c.plans == {"std": 2}


def _tamper(log: list[dict], kind: str) -> list[dict]:
    log = [dict(e, data=dict(e["data"])) for e in log]
    first = {
        t: next(i for i, e in enumerate(log) if e["type"] == t)
        for t in (
            "RepOnboarded",
            "DealOpened",
            "DealWon",
            "DealRefunded",
            "DealCreditSplit",
            "ActivityLogged",
            "RepOffboarded",
        )
    }
    if kind == "duplicate event id":
        log[5]["event_id"] = log[4]["event_id"]
    elif kind == "naive time":
        log[7]["occurred_at"] = log[7]["occurred_at"][:19]
    elif kind == "time outside the year":
        log[7]["occurred_at"] = "2025-12-31T23:00:00+00:00"
    elif kind == "unknown rep":
        log[first["ActivityLogged"]]["data"]["rep_id"] = "R-9999"
    elif kind == "id with a space":
        log[first["DealOpened"]]["data"]["customer_id"] = "C 1"
    elif kind == "won before opened":
        won = log[first["DealWon"]]
        opened = next(e for e in log if e["type"] == "DealOpened" and e["data"]["deal_id"] == won["data"]["deal_id"])
        won["occurred_at"] = "2026-01-02T00:00:00+00:00"
        assert opened["occurred_at"] > won["occurred_at"]
    elif kind == "won twice":
        won = log[first["DealWon"]]
        log.insert(first["DealWon"] + 1, dict(won, event_id="again"))
    elif kind == "refund above the won amount":
        log[first["DealRefunded"]]["data"]["amount"] = "999999999.00"
    elif kind == "shares not summing to one":
        splits = log[first["DealCreditSplit"]]["data"]["splits"]
        log[first["DealCreditSplit"]]["data"]["splits"] = [dict(splits[0], share="0.9"), *splits[1:]]
    elif kind == "event after offboarding":
        gone = log[first["RepOffboarded"]]["data"]["rep_id"]
        log.append(dict(log[-1], event_id="late", data={"rep_id": gone, "training": "x"}, type="TrainingCompleted"))
    elif kind == "ledger-written type":
        log.append(
            {
                "type": "PeriodClosed",
                "event_id": "pc",
                "occurred_at": log[-1]["occurred_at"],
                "data": {"period": "2026-Q1"},
            }
        )
    return log


@pytest.mark.parametrize(
    "kind",
    [
        "duplicate event id",
        "naive time",
        "time outside the year",
        "unknown rep",
        "id with a space",
        "won before opened",
        "won twice",
        "refund above the won amount",
        "shares not summing to one",
        "event after offboarding",
        "ledger-written type",
    ],
)
def test_the_checker_catches_a_broken_log(log_50k, kind):
    with pytest.raises((AssertionError, ValueError)):
        check(_tamper(log_50k, kind))


@pytest.mark.parametrize("n", [500, 2_000, 5_000])
def test_small_logs_obey_every_ledger_rule(n):
    check(generate(n, seed=n))


def test_envelopes_are_plain_json(log_50k):
    for env in log_50k[:5_000]:
        assert json.loads(json.dumps(env)) == env


def test_the_ledger_written_types_are_never_emitted(checked_50k):
    assert not {"PeriodClosed", "PayoutApproved", "PayoutAdjusted"} & set(checked_50k.types)


def test_every_event_type_of_a_sales_year_appears(checked_50k):
    assert set(checked_50k.types) == TYPES


def test_offboarded_rep_has_nothing_after_offboarding(log_50k):
    gone = next(e for e in log_50k if e["type"] == "RepOffboarded")
    rep = gone["data"]["rep_id"]
    at = datetime.fromisoformat(gone["occurred_at"])
    assert at.month >= 10
    deals = {e["data"]["deal_id"] for e in log_50k if e["type"] == "DealOpened" and e["data"]["rep_id"] == rep}
    after = log_50k[log_50k.index(gone) + 1 :]
    for env in after:
        d = env["data"]
        assert d.get("rep_id") != rep and d.get("deal_id") not in deals
        assert rep not in {s["rep_id"] for s in d.get("splits", ())}


def test_exactly_one_team_target_is_inconsistent_with_its_reps(checked_50k):
    bad = {team for (team, _period), ok in checked_50k.team_consistent.items() if not ok}
    assert len(bad) == 1
    periods = {p for (_t, p) in checked_50k.team_consistent}
    assert periods == {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}


def test_some_targets_are_revised_later_with_a_reason(log_50k):
    revised = [e for e in log_50k if e["type"] == "TargetSet" and "reason" in e["data"]]
    assert 3 <= len(revised) <= 20
    assert all(e["occurred_at"] >= "2026-04" for e in revised)


def test_plan_version_two_takes_effect_in_july(log_50k):
    plans = [e["data"] for e in log_50k if e["type"] == "IncentivePlanPublished"]
    assert [(p["version"], p["effective_from"]) for p in plans] == [(1, "2026-01"), (2, "2026-07")]
    assert plans[1]["rules"] != plans[0]["rules"]


# --- realism -----------------------------------------------------------------------------------
def test_the_event_mix_is_mostly_activities(checked_50k):
    share = {t: n / checked_50k.n for t, n in checked_50k.types.items()}
    assert 0.55 < share["ActivityLogged"] < 0.75
    assert 0.03 < share["DealOpened"] < 0.10
    won, lost = checked_50k.types["DealWon"], checked_50k.types["DealLost"]
    assert 0.3 < won / (won + lost) < 0.55
    assert 0.02 < checked_50k.types["DealCreditSplit"] / won < 0.05


def test_about_thirty_percent_of_emails_get_a_reply(checked_50k):
    assert 0.26 < checked_50k.replies / checked_50k.emails < 0.34


def test_about_one_percent_of_events_are_backdated(checked_50k):
    assert 0.004 < checked_50k.backdated / checked_50k.n < 0.02


def test_most_deals_come_from_leads_and_some_customers_come_back(checked_50k):
    c = checked_50k
    assert c.deals_from_leads / c.types["DealOpened"] > 0.6
    repeat = sum(1 for n in c.customer_wins.values() if n > 1)
    assert repeat > 20 and len(c.customer_wins) > 300  # new customers are far from trivial


def test_q4_sells_more_than_q1(checked_50k):
    rev = checked_50k.revenue_by_quarter
    assert rev[3] > rev[0] * Decimal("1.2")


def test_deal_amounts_span_thousands_to_hundreds_of_thousands(log_50k):
    amounts = [Decimal(e["data"]["amount"]) for e in log_50k if e["type"] == "DealWon"]
    assert min(amounts) >= 3000 and max(amounts) <= 200000
    assert max(amounts) > 100000 and min(amounts) < 10000


def test_weak_reps_get_improvement_plans(checked_50k):
    assert 0 < checked_50k.types["ImprovementPlanSet"] < checked_50k.types["EvaluationRecorded"]


# --- time zones ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tz", ["Asia/Shanghai", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kathmandu"]
)
def test_times_carry_the_offset_of_the_zone_and_stay_inside_the_year(tz):
    zone = ZoneInfo(tz)
    offsets = set()
    log = list(generate(20_000, seed=3, now=end_of(2028), tz=tz))
    check(log, year=2028)
    for env in log:
        at = datetime.fromisoformat(env["occurred_at"])
        local = at.replace(tzinfo=None)
        assert at.utcoffset() == local.replace(tzinfo=zone).utcoffset()
        offsets.add(env["occurred_at"][-6:])
    if tz == "America/New_York":
        assert offsets == {"-05:00", "-04:00"}
    if tz == "Asia/Shanghai":
        assert offsets == {"+08:00"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=4_000),
    seed=st.integers(-(10**6), 10**30),
    tz=st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"]),
)
def test_any_seed_size_and_zone_gives_a_valid_log(n, seed, tz):
    log = list(generate(n, seed=seed, tz=tz))
    assert len(log) == n
    check(log)


# --- anchored to the clock -------------------------------------------------------------------------
def test_generated_on_3_december_the_log_stops_before_now_with_the_fourth_quarter_in_progress():
    now = datetime(2026, 12, 3, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    log = list(generate(20_000, seed=5, tz="Asia/Shanghai", now=now))
    assert len(log) == 20_000
    assert max(datetime.fromisoformat(e["occurred_at"]) for e in log) < datetime(2026, 12, 3, tzinfo=now.tzinfo)
    assert {e["data"]["period"] for e in log if e["type"] == "TargetSet"} == {f"2026-Q{q}" for q in (1, 2, 3, 4)}
    opened = {e["data"]["deal_id"] for e in log if e["type"] == "DealOpened"}
    closed = {e["data"]["deal_id"] for e in log if e["type"] in ("DealWon", "DealLost")}
    assert len(opened - closed) > 50, "the quarter in progress has deals still open"


def test_generated_in_february_the_year_is_the_last_four_quarters():
    now = datetime(2027, 2, 10, 9, tzinfo=UTC)
    log = list(generate(20_000, seed=5, now=now))
    assert {e["data"]["period"] for e in log if e["type"] == "TargetSet"} == {
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
        "2027-Q1",
    }
    times = [e["occurred_at"] for e in log]
    assert min(times) >= "2026-04-02" and max(times) < "2027-02-10"
    plans = [e["data"] for e in log if e["type"] == "IncentivePlanPublished"]
    assert [(p["version"], p["effective_from"]) for p in plans] == [(1, "2026-04"), (2, "2026-10")]
