"""Schema evolution: an event stored at class version 1 is read back upcast to version 2."""

from __future__ import annotations

from typing import ClassVar

from builders import ev, lose, onboard, open_deal
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


def test_a_target_stored_before_allocations_reads_as_set_by_hand_on_both_sides(ledger):
    """TargetSet is at version 2 (`allocation_id`): a version-1 fact, as older stores hold it, is
    upcast to `allocation_id: None` by the mapper (a revision loads its target) and the read side."""
    import orjson

    from ledger.aggregates import Target

    scope = {"rep": "R-1"}
    target = ev("TargetSet", "2026-01-01T00:00:00+00:00", scope=scope, metric="revenue", period="2026-Q1", value="100")
    ledger.record([onboard("R-1"), target], "t")
    stream = Target.create_id(scope, "revenue", "2026-Q1")
    stored = ledger.recorder.select_streams([stream])[stream][-1]
    state = orjson.loads(stored.state)
    assert state.pop("class_version") == 2 and state.pop("allocation_id") is None
    as_v1 = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(state))
    assert ledger.app.mapper.to_domain_event(as_v1).allocation_id is None
    record = to_log_record(2, 0, "TargetSet", "R-1", "t", None, stored.topic, as_v1.state)
    assert record.data["allocation_id"] is None and str(record.data["value"]) == "100"
