"""A store recorded before personal fields were sealed: its clear texts are read as before, read
as erased once their rep's key is destroyed, and the chain is left as it is."""

from __future__ import annotations

import orjson
import pytest
from builders import ev, onboard

from ledger.personal import ERASED, is_sealed
from ledger.store import Ledger
from projections.db import engine_for, reading
from projections.runner import catch_up
from projections.tables import rep_timeline, reps
from services.erasure import erase_person


class LedgerBeforeSealing(Ledger):
    """The ledger as an earlier version recorded: personal fields in clear."""

    sealed_types = frozenset()


OLD = "coached on objection handling in 2025"


@pytest.fixture
def old_store(settings):
    before = LedgerBeforeSealing(settings)
    before.record(
        [
            onboard("R-1", name="旧名字"),
            ev(
                "FeedbackGiven",
                "2025-05-01T09:00:00Z",
                "fb-1",
                feedback_id="F-1",
                rep_id="R-1",
                author_id="M",
                kind="coaching",
                text=OLD,
            ),
        ],
        "old version",
    )
    before.close()
    ledger = Ledger(settings)
    engine = engine_for(settings)
    yield ledger, engine
    engine.dispose()
    ledger.close()


def test_old_clear_events_read_as_before_and_new_ones_are_sealed(old_store):
    ledger, _ = old_store
    ledger.record(
        [
            ev(
                "FeedbackGiven",
                "2026-05-01T09:00:00Z",
                feedback_id="F-2",
                rep_id="R-1",
                author_id="M",
                kind="coaching",
                text="new",
            )
        ],
        "t",
    )
    states = [orjson.loads(row[7]) for row in ledger.read_stored(0, 100)]
    assert [is_sealed(s.get("text") or s.get("name")) for s in states] == [False, False, True]
    assert [r.data.get("text") or r.data.get("name") for r in ledger.read_log()] == ["旧名字", OLD, "new"]
    assert ledger.verify().ok


def test_a_resent_old_event_is_still_recognised(old_store):
    ledger, _ = old_store
    again = ev(
        "FeedbackGiven",
        "2025-05-01T09:00:00Z",
        "fb-1",
        feedback_id="F-1",
        rep_id="R-1",
        author_id="M",
        kind="coaching",
        text=OLD,
    )
    assert ledger.record([again], "t").duplicates == [0]


def test_erasing_a_rep_of_an_old_store_reads_their_clear_texts_as_erased_and_keeps_the_chain(old_store):
    ledger, engine = old_store
    catch_up(ledger, engine)
    head = ledger.head()
    erase_person(ledger, engine, "R-1", requested_by="hr", ground="request", actor="t")
    assert [
        r.data.get("text") or r.data.get("name") for r in ledger.read_log(types=["RepOnboarded", "FeedbackGiven"])
    ] == [ERASED, ERASED]
    with reading(engine) as conn:
        assert conn.execute(reps.select().with_only_columns(reps.c.name)).scalar() == ERASED
        assert ERASED in conn.execute(rep_timeline.select().with_only_columns(rep_timeline.c.payload)).scalar()
    report = ledger.verify(head.link)
    assert report.ok and report.extends_digest  # the log was not rewritten: its old bytes stay (docs/design.md)
