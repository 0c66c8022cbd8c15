"""A store recorded before personal fields were sealed: its clear texts are read as before, read
as erased once their rep's key is destroyed, and the chain is left as it is."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from builders import ev, onboard

from ledger.personal import ERASED, is_sealed
from ledger.store import Ledger
from projections.db import engine_for, reading
from projections.runner import catch_up
from projections.tables import rep_timeline, reps
from services.erasure import erase_person
from services.resealing import reseal_history


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


def clear_bytes_found(ledger, texts: list[str]) -> list[str]:
    stored = b"".join(row[7] for row in ledger.read_stored(0, 1000))
    return [t for t in texts if t.encode() in stored]


def test_the_one_off_reseal_seals_old_events_in_place_and_verify_still_passes(old_store):
    ledger, _ = old_store
    head = ledger.head()
    assert clear_bytes_found(ledger, ["旧名字", OLD]) == ["旧名字", OLD]
    done = reseal_history(ledger, "cli:test")
    assert done.count == 2 and done.position == head.position + 1
    assert clear_bytes_found(ledger, ["旧名字", OLD]) == []
    assert [
        r.data.get("text") or r.data.get("name") for r in ledger.read_log(types=["RepOnboarded", "FeedbackGiven"])
    ] == ["旧名字", OLD]
    report = ledger.verify(head.link)
    assert report.ok and report.extends_digest, report.message  # the links as they were
    assert reseal_history(ledger, "cli:test").count == 0  # once: nothing is in clear any more


def test_after_the_reseal_an_erasure_leaves_no_byte_of_the_old_texts(old_store, settings):
    ledger, engine = old_store
    reseal_history(ledger, "cli:test")
    erase_person(ledger, engine, "R-1", requested_by="hr", ground="request", actor="t")
    assert [
        r.data.get("text") or r.data.get("name") for r in ledger.read_log(types=["RepOnboarded", "FeedbackGiven"])
    ] == [ERASED, ERASED]
    assert ledger.verify().ok
    if not ledger.is_postgres:
        db = settings.database_url.removeprefix("sqlite:///")
        content = b"".join(Path(p).read_bytes() for p in (db, f"{db}-wal") if Path(p).exists())
        assert "旧名字".encode() not in content and OLD.encode() not in content


def test_a_resealed_event_altered_afterwards_fails_verify_at_its_position(old_store):
    ledger, _ = old_store
    reseal_history(ledger, "cli:test")
    rec = ledger.recorder
    mark = "%s" if ledger.is_postgres else "?"
    (row,) = ledger._query(f"SELECT l.notification_id FROM {rec.entries_table} l WHERE l.position = 2", None)
    state = ledger.read_stored(1, 1)[0][7]
    with rec.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f"UPDATE {rec.events_table} SET state = {mark} WHERE {rec.notification_key} = {mark}",
            (state.replace(b"coaching", b"praising"), row[0]),
        )
    assert ledger.verify().first_bad_position == 2


def test_a_forged_attestation_row_fails_verify(old_store):
    ledger, _ = old_store
    reseal_history(ledger, "cli:test")
    rec = ledger.recorder
    with rec.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"UPDATE {rec.resealed_table} SET original_sha256 = 'x' WHERE position = 1")
    report = ledger.verify()
    assert not report.ok and "attestation" in report.message


def test_the_cli_reseals_after_a_confirmation(old_store, settings):
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    env = {"PERFLEDGER_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    assert "nothing was resealed" in runner.invoke(app, ["person", "seal-history"], env=env, input="n\n").output
    done = runner.invoke(app, ["person", "seal-history", "--yes"], env=env)
    assert done.exit_code == 0 and "Resealed 2 event(s)" in done.output, done.output
