"""docs/design.md documents every event type exactly as ledger/schemas.py defines it.

Its event reference is rendered from the schemas (`python -m docs.events --write`); these tests
fail when the two part ways, and show that the renderer cannot leave a field or a rule unsaid.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from pydantic import field_validator

from demo.generator import DEFAULT_PLAN_RULES
from docs import events
from ledger import schemas


class DealWonThroughAChannel(schemas.DealWon):
    """A deal was won, through a sales channel."""

    channel: schemas.Name | None = None
    """Where the deal was won."""


class DealWonWithATip(schemas.DealWon):
    tip: float  # a float has no place in the contract: it cannot hold cents


class DealWonAboveAFloor(schemas.DealWon):
    @field_validator("amount")
    @classmethod
    def _above_floor(cls, amount: Decimal) -> Decimal:
        return amount


def reference_in_design() -> str:
    text = events.DESIGN.read_text(encoding="utf-8")
    _, _, rest = text.partition(events.BEGIN)
    reference, found, _ = rest.partition(events.END)
    assert found, f"{events.DESIGN} lost its event reference markers"
    return reference.strip("\n") + "\n"


def test_the_design_documents_every_event_type_as_the_schemas_define_it():
    assert reference_in_design() == events.render(), (
        "docs/design.md is out of date with ledger/schemas.py: run `.venv/bin/python -m docs.events --write`"
    )


def test_every_event_type_has_a_section_and_an_index_row_naming_who_records_it():
    reference = events.render()
    for name in schemas.DATA_MODELS:
        assert f"#### `{name}`" in reference
        who = "the ledger itself" if name in schemas.SYSTEM_TYPES else "a client"
        assert re.search(rf"^\| \[`{name}`\]\(#{name.lower()}\) \| {who} \|", reference, re.MULTILINE)


def test_the_three_types_the_ledger_writes_say_a_client_is_refused():
    reference = events.render()
    for name in ("PeriodClosed", "PayoutApproved", "PayoutAdjusted"):
        section = reference.split(f"#### `{name}`")[1].split("#### ")[0]
        assert "Written by the ledger itself: a client sending it is refused." in section


def test_a_field_added_to_an_event_appears_with_its_meaning():
    reference = events.render({"DealWon": DealWonThroughAChannel}, system=())
    assert "| `channel` | no | [name](#field-types) | Where the deal was won. |" in reference
    assert "`channel`" not in events.render()


def test_a_required_amount_lists_its_rules_from_its_validator():
    reference = events.render({"DealRefunded": schemas.DealRefunded}, system=())
    assert "| `amount` | yes | [money](#field-types) | More than 0. |" in reference


def test_a_field_of_a_type_the_contract_does_not_name_stops_the_rendering():
    with pytest.raises(events.Undescribed, match=r"DealWonWithATip\.tip"):
        events.render({"DealWon": DealWonWithATip}, system=())


def test_a_validator_that_does_not_say_what_it_checks_stops_the_rendering():
    with pytest.raises(events.Undescribed, match=r"DealWonAboveAFloor\._above_floor"):
        events.render({"DealWon": DealWonAboveAFloor}, system=())


def test_a_stale_reference_is_replaced_between_the_markers_and_nothing_else():
    document = f"before\n{events.BEGIN}\nold table\n{events.END}\nafter\n"
    wanted = f"before\n{events.BEGIN}\n\nnew table\n\n{events.END}\nafter\n"
    assert events.replaced(document, "new table\n") == wanted


def test_a_design_without_the_markers_is_refused_rather_than_rewritten():
    with pytest.raises(ValueError, match="markers"):
        events.replaced("no markers here\n", "table\n")


def test_the_example_plan_of_the_design_is_the_demos_plan():
    text = events.DESIGN.read_text(encoding="utf-8")
    block = text.split("<!-- example-plan -->", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(block) == DEFAULT_PLAN_RULES
