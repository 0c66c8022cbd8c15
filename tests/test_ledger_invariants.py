"""The write side's invariants: each one refused with a clear error, nothing written."""

from __future__ import annotations

import pytest
from builders import correct, ev, lose, onboard, open_deal, refund, split, win

from ledger.errors import InvalidBatch

T = "2026-02-10T09:00:00+00:00"


def refused(ledger, batch, fragment):
    before = ledger.head()
    with pytest.raises(InvalidBatch) as error:
        ledger.record(batch, "tester")
    assert fragment in str([p.message for p in error.value.problems]), error.value.problems
    assert ledger.head() == before


@pytest.fixture
def rep(ledger):
    ledger.record([onboard("R-1"), onboard("R-2", team_id="T-2", region="West")], "seed")
    return ledger


def test_a_deal_is_opened_once(rep):
    rep.record([open_deal("D-1", "R-1")], "t")
    refused(rep, [open_deal("D-1", "R-2")], "opened once")


def test_a_deal_is_won_or_lost_once_and_never_both(rep):
    rep.record([open_deal("D-1", "R-1"), open_deal("D-2", "R-1"), win("D-1", "10.00"), lose("D-2")], "t")
    refused(rep, [lose("D-1")], "already won")
    refused(rep, [win("D-2", "10.00")], "already lost")
    refused(rep, [lose("D-2")], "already lost")


def test_a_deal_cannot_be_won_before_it_was_opened(rep):
    rep.record([open_deal("D-1", "R-1", when="2026-03-01T00:00:00+00:00")], "t")
    refused(rep, [win("D-1", "10.00", when="2026-02-01T00:00:00+00:00")], "opened later")


def test_refunds_never_exceed_the_won_amount_in_total(rep):
    rep.record([open_deal("D-1", "R-1"), win("D-1", "100.00"), refund("D-1", "60.00")], "t")
    refused(rep, [refund("D-1", "40.01")], "exceeds what is left")
    rep.record([refund("D-1", "40.00")], "t")  # exactly what is left is fine
    refused(rep, [refund("D-1", "0.01")], "exceeds what is left")


def test_a_refund_within_one_batch_counts_against_the_next(rep):
    rep.record([open_deal("D-1", "R-1"), win("D-1", "100.00")], "t")
    refused(rep, [refund("D-1", "70.00"), refund("D-1", "70.00")], "exceeds what is left")


def test_a_correction_needs_a_won_deal(rep):
    rep.record([open_deal("D-1", "R-1")], "t")
    refused(rep, [correct("D-1", "50.00")], "only a won deal can be corrected")
    refused(rep, [refund("D-1", "50.00")], "only a won deal can be refunded")


def test_a_correction_below_what_was_already_refunded_is_refused(rep):
    rep.record([open_deal("D-1", "R-1"), win("D-1", "100.00"), refund("D-1", "80.00")], "t")
    refused(rep, [correct("D-1", "50.00")], "cannot be lower")


def test_unknown_reps_are_rejected_wherever_a_rep_is_named(rep):
    refused(rep, [ev("ActivityLogged", T, activity_id="A-1", rep_id="R-9", kind="call")], "unknown rep R-9")
    refused(rep, [open_deal("D-1", "R-9")], "unknown rep R-9")
    refused(
        rep,
        [ev("TargetSet", T, scope={"rep": "R-9"}, metric="revenue", period="2026-Q1", value="1")],
        "unknown rep R-9",
    )
    rep.record([open_deal("D-1", "R-1"), win("D-1", "10.00")], "t")
    refused(rep, [split("D-1", {"R-1": "0.5", "R-9": "0.5"})], "unknown rep R-9")


def test_split_shares_must_sum_to_one(rep):
    rep.record([open_deal("D-1", "R-1"), win("D-1", "10.00")], "t")
    refused(rep, [split("D-1", {"R-1": "0.5", "R-2": "0.4"})], "sum to 1")
    rep.record([split("D-1", {"R-1": "0.6", "R-2": "0.4"})], "t")


RULES = {
    "components": [
        {
            "id": "c",
            "kind": "commission",
            "base": "revenue",
            "mode": "flat",
            "tiers": [{"from_attainment": "0", "rate": "0.03"}],
        }
    ]
}


def plan(version):
    return ev("IncentivePlanPublished", T, plan_id="std", version=version, effective_from="2026-01", rules=RULES)


def test_plan_versions_increase(rep):
    rep.record([plan(1), plan(3)], "t")
    refused(rep, [plan(3)], "must be higher")
    refused(rep, [plan(2)], "must be higher")


def test_a_plan_is_assigned_only_once_published(rep):
    refused(
        rep,
        [ev("IncentivePlanAssigned", T, scope={"company": True}, plan_id="nope", from_period="2026-01")],
        "unknown plan",
    )


def test_a_closed_period_takes_no_new_approval(rep):
    rep.record([ev("PeriodClosed", T, period="2026-Q1")], "t", system=True)
    approval = ev(
        "PayoutApproved",
        T,
        rep_id="R-1",
        period="2026-02",
        amount="100.00",
        plan_id="std",
        plan_version=1,
        digest="a" * 64,
    )
    refused_system(rep, [approval], "2026-Q1 is closed")


def test_a_payout_is_approved_once_and_then_only_adjusted(rep):
    approval = ev(
        "PayoutApproved",
        T,
        rep_id="R-1",
        period="2026-Q1",
        amount="100.00",
        plan_id="std",
        plan_version=1,
        digest="a" * 64,
    )
    rep.record([approval], "t", system=True)
    refused_system(rep, [approval], "already approved")
    adjustment = ev("PayoutAdjusted", T, rep_id="R-1", period="2026-Q1", amount="-20.00", reason="refund found")
    rep.record([adjustment], "t", system=True)


def refused_system(ledger, batch, fragment):
    before = ledger.head()
    with pytest.raises(InvalidBatch) as error:
        ledger.record(batch, "tester", system=True)
    assert fragment in str([p.message for p in error.value.problems]), error.value.problems
    assert ledger.head() == before


def test_a_rep_is_onboarded_once_and_offboarded_once(rep):
    refused(rep, [onboard("R-1")], "already exists")
    rep.record([ev("RepOffboarded", "2026-06-30T00:00:00+00:00", rep_id="R-1")], "t")
    refused(rep, [ev("RepOffboarded", "2026-07-30T00:00:00+00:00", rep_id="R-1")], "already offboarded")


def test_feedback_can_only_cite_an_evaluation_of_the_same_rep(rep):
    evaluation = ev(
        "EvaluationRecorded",
        T,
        evaluation_id="E-1",
        rep_id="R-2",
        period="2026-Q1",
        evaluator_id="M-2",
        result_score=70,
        process_scores={"discovery": 60},
    )
    rep.record([evaluation], "t")
    feedback = ev(
        "FeedbackGiven",
        T,
        feedback_id="F-1",
        rep_id="R-1",
        author_id="M-1",
        kind="coaching",
        text="x",
        evaluation_id="E-1",
    )
    refused(rep, [feedback], "has no evaluation E-1")


def test_a_follow_up_is_completed_once_and_only_if_scheduled(rep):
    refused(rep, [ev("FollowUpCompleted", T, followup_id="F-1")], "unknown follow-up")
    rep.record(
        [
            ev("FollowUpScheduled", T, followup_id="F-1", rep_id="R-1", due_at="2026-03-01T00:00:00Z"),
            ev("FollowUpCompleted", T, followup_id="F-1"),
        ],
        "t",
    )
    refused(rep, [ev("FollowUpCompleted", T, followup_id="F-1")], "already completed")


def test_an_activity_id_is_logged_once(rep):
    call = ev("ActivityLogged", T, activity_id="A-1", rep_id="R-1", kind="call")
    rep.record([call], "t")
    refused(rep, [call], "activity A-1 already exists")


def test_a_closed_period_never_approved_takes_an_adjustment_as_its_first_record(rep):
    adjustment = ev(
        "PayoutAdjusted", T, rep_id="R-1", period="2026-03", amount="120.00", reason="replay found a missed deal"
    )
    refused_system(rep, [adjustment], "approve it first")
    rep.record([ev("PeriodClosed", T, period="2026-Q1")], "t", system=True)
    assert rep.record([adjustment], "t", system=True).positions
    assert rep.read_log()[-1].type == "PayoutAdjusted"
