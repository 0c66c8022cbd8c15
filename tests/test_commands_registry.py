"""The command registry's own rules (services/commands.py), without a store: how a request
becomes envelopes, and how another module's command with a body of its own is checked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ledger.errors import InvalidBatch
from ledger.messages import Msg
from services.commands import REGISTRY, CommandSpec, Request, envelopes_of, field_name

NOW = "2026-04-01T10:00:00+00:00"


def test_a_won_deal_request_becomes_one_envelope_with_the_paths_deal_id_and_the_time_given():
    envelopes = envelopes_of(
        REGISTRY["deal.won"], Request({"amount": "5.00", "event_id": "e1"}, {"deal_id": "D-1"}), NOW, "rep:R-1"
    )
    assert envelopes == [
        {"type": "DealWon", "occurred_at": NOW, "event_id": "e1", "data": {"amount": "5.00", "deal_id": "D-1"}}
    ]


def test_a_made_up_id_is_the_same_for_a_retry_with_the_same_event_id_and_another_for_another_writer():
    spec = REGISTRY["activity.log"]
    body = {"rep_id": "R-1", "kind": "call", "event_id": "call-1"}
    first = envelopes_of(spec, Request(body), NOW, "rep:R-1")[0]["data"]["activity_id"]
    again = envelopes_of(spec, Request(body), NOW, "rep:R-1")[0]["data"]["activity_id"]
    other = envelopes_of(spec, Request(body), NOW, "manager:T-1")[0]["data"]["activity_id"]
    without = envelopes_of(spec, Request({"rep_id": "R-1", "kind": "call"}), NOW, "rep:R-1")[0]["data"]["activity_id"]
    assert first == again and first.startswith("A-") and other != first and without != first


def test_an_event_field_is_named_as_the_command_names_it():
    won = REGISTRY["deal.won"]
    assert field_name("data.deal_id", won) == "path.deal_id"
    assert field_name("data.amount", won) == "body.amount"
    assert field_name("data.splits[0].share", REGISTRY["deal.split"]) == "body.splits[0].share"
    assert field_name("occurred_at", won) == "body.occurred_at"
    assert field_name("type", won) == "command"


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str
    corrected_amount: str


def _build(spec: CommandSpec, data: dict[str, Any], event_id: str | None, occurred_at: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "DealAmountCorrected",
            "occurred_at": occurred_at,
            "data": {"deal_id": data["dispute_id"], "amount": data["corrected_amount"], "reason": data["outcome"]},
        }
    ]


def test_a_command_with_a_body_model_of_its_own_is_checked_against_it_then_built_into_its_events():
    spec = CommandSpec(
        "dispute.try",
        "DealAmountCorrected",
        "/disputes/{dispute_id}/try",
        Msg("t", "try"),
        {},
        ("dispute_id",),
        build=_build,
        body_model=Resolution,
    )
    assert set(spec.fields()) == {"outcome", "corrected_amount"}
    built = envelopes_of(spec, Request({"outcome": "ok", "corrected_amount": "3.00"}, {"dispute_id": "D-1"}), NOW, "x")
    assert built[0]["data"] == {"deal_id": "D-1", "amount": "3.00", "reason": "ok"}
    with pytest.raises(InvalidBatch) as refused:
        envelopes_of(spec, Request({"outcome": 3, "corrected_amount": "3.00"}, {"dispute_id": "D-1"}), NOW, "x")
    assert [(p.field, p.code) for p in refused.value.problems] == [("body.outcome", "pydantic.string_type")]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_commands_example_is_a_valid_event_once_the_token_names_the_person(name):
    from ledger.schemas import parse_batch

    spec = REGISTRY[name]
    envelopes = envelopes_of(spec, Request(spec.example, dict.fromkeys(spec.path_fields, "X-1")), NOW, "rep:R-ann")
    for envelope in envelopes:
        if spec.people_field:
            envelope["data"][spec.people_field] = "manager:T-1"
    commands, problems = parse_batch(envelopes, currency="CNY")
    assert problems == [] and [c.type for c in commands] == [spec.event_type]
