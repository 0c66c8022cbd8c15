"""Bad input gets a clear error naming the event and the field, and nothing is written."""

from __future__ import annotations

import pytest
from builders import ev, onboard, open_deal, refund, win

from ledger.errors import ConflictError, InvalidBatch
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES

T = "2026-02-10T09:00:00+08:00"


@pytest.fixture
def seeded(ledger):
    """A rep with one won deal of 1000.00."""
    ledger.record([onboard("R-1"), open_deal("D-1", "R-1"), win("D-1", "1000.00")], "seed")
    return ledger


def log_fingerprint(ledger):
    head = ledger.head()
    return head.position, head.link


BAD_INPUTS = [
    # (name, envelope, field, message fragment)
    ("missing field", ev("DealWon", T, deal_id="D-1"), "data.amount", "Field required"),
    ("wrong type", ev("DealOpened", T, deal_id=42, rep_id="R-1", customer_id="C-1"), "data.deal_id", "string"),
    ("naive time", ev("DealWon", "2026-02-10T09:00:00", deal_id="D-1", amount="10.00"), "occurred_at", "no time zone"),
    ("negative amount", ev("DealWon", T, deal_id="D-1", amount="-5.00"), "data.amount", "must not be negative"),
    ("float amount", ev("DealWon", T, deal_id="D-1", amount=1000.5), "data.amount", "not float"),
    ("non-numeric amount", ev("DealWon", T, deal_id="D-1", amount="lots"), "data.amount", "is not an amount"),
    ("fractions of a cent", ev("DealWon", T, deal_id="D-1", amount="10.001"), "data.amount", "two decimal places"),
    ("unknown type", ev("DealWonBig", T, deal_id="D-1"), "type", "unknown event type"),
    ("system type from a client", ev("PayoutApproved", T, rep_id="R-1"), "type", "written by the ledger"),
    (
        "unknown rep",
        ev("ActivityLogged", T, activity_id="A-1", rep_id="R-404", kind="call"),
        "data.rep_id",
        "unknown rep R-404",
    ),
    ("unknown deal", win("D-404", "10.00"), "data.deal_id", "unknown deal D-404"),
    ("refund above the won amount", refund("D-1", "1000.01"), "data.amount", "exceeds what is left"),
    ("second win", win("D-1", "10.00"), "data.deal_id", "already won"),
    ("lost after won", ev("DealLost", T, deal_id="D-1"), "data.deal_id", "already won"),
    ("wrong currency", ev("DealWon", T, deal_id="D-1", amount="10.00", currency="USD"), "data.currency", "keeps CNY"),
    ("unknown field", ev("DealLost", T, deal_id="D-1", reasn="typo"), "data.reasn", "unknown field"),
    ("unknown envelope field", {**win("D-1", "1.00"), "recorded_at": T}, "recorded_at", "unknown field"),
    ("oversized id", open_deal("D-" + "9" * 80, "R-1"), "data.deal_id", "at most 64"),
    ("empty id", open_deal("", "R-1"), "data.deal_id", "at least 1"),
    ("id with spaces", open_deal("D 1", "R-1"), "data.deal_id", "spaces"),
    (
        "shares not summing to one",
        ev("DealCreditSplit", T, deal_id="D-1", splits=[{"rep_id": "R-1", "share": "0.5"}]),
        "data.splits",
        "sum to 1",
    ),
    (
        "unknown activity kind",
        ev("ActivityLogged", T, activity_id="A-1", rep_id="R-1", kind="fax"),
        "data.kind",
        "Input should be",
    ),
    (
        "bad period",
        ev("TargetSet", T, scope={"rep": "R-1"}, metric="revenue", period="2026-13", value="10"),
        "data.period",
        "not a period",
    ),
    (
        "bad scope",
        ev("TargetSet", T, scope={"galaxy": "x"}, metric="revenue", period="2026-Q1", value="10"),
        "data.scope",
        "unknown scope",
    ),
    (
        "score above 100",
        ev(
            "EvaluationRecorded",
            T,
            evaluation_id="E-1",
            rep_id="R-1",
            period="2026-Q1",
            evaluator_id="M-1",
            result_score=101,
            process_scores={},
        ),
        "data.result_score",
        "less than or equal to 100",
    ),
    ("not an object", ["DealWon"], "", "JSON object"),
]


@pytest.mark.parametrize("name, envelope, field, fragment", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_its_field_and_the_log_is_unchanged(seeded, name, envelope, field, fragment):
    before = log_fingerprint(seeded)
    with pytest.raises(InvalidBatch) as refused:
        seeded.record([onboard("R-2"), envelope], "tester")
    problems = [p for p in refused.value.problems if p.index == 1]
    assert any(p.field == field and fragment in p.message for p in problems), refused.value.problems
    assert all(p.index == 1 for p in refused.value.problems), "the good event is not blamed"
    assert log_fingerprint(seeded) == before


def test_every_problem_of_a_batch_is_reported_with_its_index(ledger):
    batch = [
        onboard("R-1"),
        ev("DealWon", "2026-02-10T09:00:00", deal_id="D-1", amount=3.5),  # naive time and a float
        ev("Nonsense", T),
        open_deal("D-2", "R-9"),  # unknown rep
    ]
    with pytest.raises(InvalidBatch) as refused:
        ledger.record(batch, "tester")
    found = {(p.index, p.field) for p in refused.value.problems}
    assert {(1, "occurred_at"), (1, "data.amount"), (2, "type")} <= found
    assert ledger.head().position == 0


def test_rule_violations_are_all_reported_after_the_schema_passes(seeded):
    with pytest.raises(InvalidBatch) as refused:
        seeded.record([win("D-1", "5.00"), open_deal("D-3", "R-404"), refund("D-1", "2000.00")], "t")
    assert [p.index for p in refused.value.problems] == [0, 1, 2]


def test_a_batch_is_all_or_nothing(seeded):
    before = log_fingerprint(seeded)
    with pytest.raises(InvalidBatch):
        seeded.record([onboard("R-2"), open_deal("D-2", "R-2"), win("D-2", "10.00"), win("D-1", "1.00")], "t")
    assert log_fingerprint(seeded) == before
    # nothing of the refused batch leaked: R-2 is still unknown
    with pytest.raises(InvalidBatch, match="unknown rep R-2"):
        seeded.record([open_deal("D-5", "R-2")], "t")


def test_a_batch_may_build_on_its_own_earlier_events(ledger):
    recorded = ledger.record(
        [onboard("R-1"), open_deal("D-1", "R-1"), win("D-1", "10.00"), refund("D-1", "10.00")], "t"
    )
    assert recorded.positions == [1, 2, 3, 4]


def test_money_is_kept_as_decimal_cents(seeded):
    seeded.record([open_deal("D-2", "R-1"), win("D-2", "18000")], "t")
    won = [r for r in seeded.read_log() if r.type == "DealWon"][-1]
    assert str(won.data["amount"]) == "18000.00"


def test_recorded_at_is_set_by_the_ledger_and_strictly_increases(seeded):
    seeded.record([onboard("R-2"), onboard("R-3")], "t")
    times = [r.recorded_at for r in seeded.read_log()]
    assert times == sorted(set(times))


def test_the_acting_user_is_recorded_with_each_event(seeded):
    seeded.record([onboard("R-2")], "manager:T-1")
    assert seeded.read_log()[-1].actor == "manager:T-1"


SAMPLES = {
    "RepOnboarded": onboard("R-9")["data"],
    "RepTransferred": {"rep_id": "R-1", "team_id": "T-2"},
    "RepOffboarded": {"rep_id": "R-1"},
    "RegionCreated": {"region": "East", "name": "East China", "director_id": "D-1"},
    "TeamCreated": {"team_id": "T-9", "name": "Shanghai 1", "region": "East", "manager_id": "M-1"},
    "RepLevelSet": {"rep_id": "R-1", "level": "senior"},
    "TargetSet": {"scope": {"rep": "R-1"}, "metric": "revenue", "period": "2026-Q1", "value": "100000"},
    "LeadCreated": {"lead_id": "L-1", "rep_id": "R-1", "source": "web"},
    "ActivityLogged": {"activity_id": "A-1", "rep_id": "R-1", "kind": "email", "replied": True},
    "FollowUpScheduled": {"followup_id": "F-1", "rep_id": "R-1", "due_at": "2026-03-01T00:00:00Z"},
    "FollowUpCompleted": {"followup_id": "F-1"},
    "DealOpened": open_deal("D-9", "R-1")["data"],
    "DealWon": {"deal_id": "D-1", "amount": "1.00"},  # D-1 is already won in the seed: schema only
    "DealLost": {"deal_id": "D-1"},
    "DealCreditSplit": {"deal_id": "D-1", "splits": [{"rep_id": "R-1", "share": "1"}]},
    "DealAmountCorrected": {"deal_id": "D-1", "amount": "900.00", "reason": "typo"},
    "DealRefunded": {"deal_id": "D-1", "amount": "100.00"},
    "EvaluationRecorded": {
        "evaluation_id": "E-1",
        "rep_id": "R-1",
        "period": "2026-Q1",
        "evaluator_id": "M-1",
        "result_score": 80,
        "process_scores": {"discovery": 70},
        "swot": {"strengths": ["closing"], "weaknesses": [], "opportunities": [], "threats": []},
    },
    "FeedbackGiven": {
        "feedback_id": "FB-1",
        "rep_id": "R-1",
        "author_id": "M-1",
        "kind": "coaching",
        "text": "ask more",
    },
    "ImprovementPlanSet": {
        "improvement_plan_id": "IP-1",
        "rep_id": "R-1",
        "goals": ["10 calls a day"],
        "trainings": ["SPIN"],
        "review_by": "2026-06-30T00:00:00+08:00",
    },
    "ImprovementPlanReviewed": {
        "improvement_plan_id": "IP-1",
        "rep_id": "R-1",
        "reviewer_id": "M-1",
        "outcome": "extended",
        "note": "half way there",
        "next_review_by": "2026-07-31T00:00:00+08:00",
    },
    "TrainingAssigned": {
        "training_id": "TR-1",
        "rep_id": "R-1",
        "training": "SPIN",
        "gap": "discovery",
        "due_by": "2026-06-30T00:00:00+08:00",
        "assigned_by": "M-1",
    },
    "TrainingCompleted": {"rep_id": "R-1", "training": "SPIN"},
    "IncentivePlanPublished": {
        "plan_id": "std",
        "version": 1,
        "effective_from": "2026-01",
        "rules": {
            "components": [
                {
                    "id": "commission",
                    "kind": "commission",
                    "base": "revenue",
                    "mode": "flat",
                    "tiers": [{"from_attainment": "0", "rate": "0.03"}],
                }
            ]
        },
    },
    "IncentivePlanAssigned": {"scope": {"company": True}, "plan_id": "std", "from_period": "2026-01"},
    "AwardGranted": {"rep_id": "R-1", "period": "2026-Q1", "amount": "500.00", "reason": "top closer"},
    "RecognitionGranted": {"rep_id": "R-1", "period": "2026-Q1", "title": "优秀销售"},
    "PlanAcknowledged": {"rep_id": "R-1", "plan_id": "std", "version": 1},
    "DisputeOpened": {
        "dispute_id": "DS-1",
        "rep_id": "R-1",
        "period": "2026-Q1",
        "text": "my split is missing",
        "component": "commission",
        "deal_id": "D-1",
        "events": [3],
    },
    "DisputeCommented": {"dispute_id": "DS-1", "author_id": "M-1", "text": "looking into it"},
    "DisputeResolved": {
        "dispute_id": "DS-1",
        "resolver_id": "M-1",
        "outcome": "accepted",
        "reason": "split agreed",
        "corrections": ["fix-1"],
    },
}


@pytest.mark.parametrize("event_type", sorted(set(DATA_MODELS) - SYSTEM_TYPES))
def test_every_client_event_type_has_a_sample_that_its_schema_accepts(event_type):
    from ledger.schemas import parse_envelope

    parsed = parse_envelope(0, ev(event_type, T, **SAMPLES[event_type]), currency="CNY")
    assert not isinstance(parsed, list), parsed


def test_a_reused_event_id_with_other_content_is_a_conflict_and_writes_nothing(seeded):
    seeded.record([ev("TrainingCompleted", T, "crm-1", rep_id="R-1", training="SPIN")], "t")
    before = log_fingerprint(seeded)
    with pytest.raises(ConflictError) as conflict:
        seeded.record([onboard("R-7"), ev("TrainingCompleted", T, "crm-1", rep_id="R-1", training="MEDDIC")], "t")
    assert conflict.value.problems[0].index == 1
    assert log_fingerprint(seeded) == before


def test_a_dry_run_reports_the_same_problems_and_writes_nothing(seeded):
    before = log_fingerprint(seeded)
    assert seeded.check([win("D-1", "5.00")])[0].message.startswith("deal D-1 is already won")
    assert seeded.check([onboard("R-2"), open_deal("D-2", "R-2")]) == []
    assert log_fingerprint(seeded) == before


def test_the_log_can_be_read_by_type_and_by_rep(seeded):
    seeded.record([onboard("R-2"), open_deal("D-2", "R-2")], "t")
    assert [r.type for r in seeded.read_log(types=["DealOpened"])] == ["DealOpened", "DealOpened"]
    assert [r.position for r in seeded.read_log(rep_ids=["R-2"])] == [4, 5]
    assert seeded.read_log(types=[]) == []
