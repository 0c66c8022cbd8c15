"""Schema evolution: an event stored at class version 1 is read back upcast to version 2."""

from __future__ import annotations

from typing import ClassVar

from builders import lose, onboard, open_deal
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.aggregates import Deal
from ledger.decoding import to_log_record


class DealLostV2(Deal.DealLost):
    """Version 2 adds a loss category; old facts were all 'unspecified'."""

    class_version: ClassVar[int] = 2
    category: str

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["category"] = "unspecified"


def stored_loss(ledger):
    ledger.record([onboard("R-1"), open_deal("D-1", "R-1"), lose("D-1")], "t")
    return ledger.recorder.select_streams([Deal.create_id("D-1")])[Deal.create_id("D-1")][-1]


def test_the_mapper_upcasts_a_version_1_fact(ledger):
    stored = stored_loss(ledger)
    as_v2 = StoredEvent(stored.originator_id, stored.originator_version, get_topic(DealLostV2), stored.state)
    event = ledger.app.mapper.to_domain_event(as_v2)
    assert event.category == "unspecified" and event.reason == "budget"


def test_the_read_side_upcasts_the_same_way(ledger):
    stored = stored_loss(ledger)
    record = to_log_record(3, 0, "DealLost", "R-1", "t", None, get_topic(DealLostV2), stored.state)
    assert record.data["category"] == "unspecified"
