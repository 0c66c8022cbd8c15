"""Plan sign-off and disputes on the write side: their rules, refused with clear errors."""

from __future__ import annotations

import pytest
from builders import ev, onboard, open_deal, split, win
from payout_fixtures import STANDARD_RULES, publish

from ledger.errors import InvalidBatch

T = "2026-04-02T09:00:00+00:00"


@pytest.fixture
def books(ledger):
    ledger.record(
        [onboard("R-1"), onboard("R-2"), publish(1, STANDARD_RULES), open_deal("D-1", "R-1"), win("D-1", "100.00")],
        "seed",
    )
    return ledger


def opened(dispute_id="DS-1"):
    return ev(
        "DisputeOpened",
        T,
        dispute_id=dispute_id,
        rep_id="R-2",
        period="2026-Q1",
        text="half of D-1 was mine",
        events=[5],
    )


def resolved(outcome, corrections=(), dispute_id="DS-1"):
    return ev(
        "DisputeResolved",
        T,
        dispute_id=dispute_id,
        resolver_id="M-1",
        outcome=outcome,
        reason="checked",
        corrections=list(corrections),
    )


def refused(ledger, batch, fragment):
    before = ledger.head()
    with pytest.raises(InvalidBatch) as error:
        ledger.record(batch, "t")
    assert fragment in str([p.message for p in error.value.problems]), error.value.problems
    assert ledger.head() == before


def test_a_rep_acknowledges_only_a_published_plan_version(books):
    books.record([ev("PlanAcknowledged", T, rep_id="R-1", plan_id="std", version=1)], "rep:R-1")
    refused(books, [ev("PlanAcknowledged", T, rep_id="R-1", plan_id="std", version=2)], "no published version 2")
    refused(books, [ev("PlanAcknowledged", T, rep_id="R-1", plan_id="nope", version=1)], "no published version 1")


def test_an_accepted_dispute_records_its_corrections_in_the_same_batch(books):
    books.record([opened()], "rep:R-2")
    fix = {**split("D-1", {"R-1": "0.5", "R-2": "0.5"}), "event_id": "fix-1"}
    recorded = books.record([fix, resolved("accepted", ["fix-1"])], "manager:T-1")
    assert [r.type for r in books.read_log()[-2:]] == ["DealCreditSplit", "DisputeResolved"]
    assert recorded.positions[1] == recorded.positions[0] + 1


def test_a_resolution_cannot_cite_a_correction_outside_its_batch(books):
    books.record([opened(), {**split("D-1", {"R-1": "0.5", "R-2": "0.5"}), "event_id": "fix-1"}], "t")
    refused(books, [resolved("accepted", ["fix-1"])], "just before the resolution")
    fix = {**split("D-1", {"R-1": "0.4", "R-2": "0.6"}), "event_id": "fix-2"}
    comment = ev("DisputeCommented", T, dispute_id="DS-1", author_id="M-1", text="fixing")
    refused(books, [fix, comment, resolved("accepted", ["fix-2"])], "just before the resolution")


def test_a_rejected_dispute_names_no_corrections_and_changes_nothing(books):
    books.record([opened()], "rep:R-2")
    fix = {**split("D-1", {"R-1": "0.5", "R-2": "0.5"}), "event_id": "fix-1"}
    refused(books, [fix, resolved("rejected", ["fix-1"])], "a rejected dispute changes nothing")
    books.record([resolved("rejected")], "manager:T-1")


def test_a_dispute_is_resolved_once_and_must_exist(books):
    refused(books, [resolved("rejected")], "unknown dispute DS-1")
    books.record([opened(), resolved("rejected")], "t")
    refused(books, [resolved("accepted")], "already resolved (rejected)")
    refused(books, [opened()], "dispute DS-1 already exists")


def test_a_dispute_naming_a_deal_never_credited_to_its_rep_is_refused_naming_the_deal(books):
    naming = {**opened(), "data": {**opened()["data"], "deal_id": "D-1"}}
    refused(books, [naming], "deal D-1 is not R-2's")
    unknown = {**opened(), "data": {**opened()["data"], "deal_id": "D-404"}}
    refused(books, [unknown], "unknown deal D-404")
    # once D-1 is split with may name it (and still may after a later split takes it away)
    books.record([split("D-1", {"R-1": "0.5", "R-2": "0.5"})], "t")
    books.record([split("D-1", {"R-1": "1"})], "t")
    books.record([naming], "rep:R-2")
