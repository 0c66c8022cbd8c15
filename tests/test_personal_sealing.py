"""Personal fields are stored sealed under their person's key; reading opens them; the chain runs
over the ciphertext."""

from __future__ import annotations

import orjson
import pytest
from builders import ev, onboard

from ledger.errors import ConflictError
from ledger.personal import PERSONAL_FIELDS, is_sealed
from ledger.schemas import DATA_MODELS, parse_batch
from ledger.store import content_hash

SUMMARY = "Closes well but neglects follow-ups with 王芳's accounts"


def evaluation(rep_id: str = "R-1", event_id: str | None = "eval-1", summary: str = SUMMARY):
    return ev(
        "EvaluationRecorded",
        "2026-03-31T09:00:00+00:00",
        event_id,
        evaluation_id=f"E-{rep_id}",
        rep_id=rep_id,
        period="2026-Q1",
        evaluator_id="M-1",
        result_score=80,
        process_scores={"prospecting": 70},
        swot={"strengths": ["persistent"], "weaknesses": ["late reports"]},
        summary=summary,
    )


def stored_states(ledger) -> list[dict]:
    return [orjson.loads(row[7]) for row in ledger.read_stored(0, 1000)]


def test_a_name_and_an_evaluation_are_stored_sealed_and_read_back_in_clear(ledger):
    ledger.record([onboard("R-1", name="张伟"), evaluation()], "t")
    onboarded, evaluated = stored_states(ledger)
    assert is_sealed(onboarded["name"]) and is_sealed(evaluated["summary"]) and is_sealed(evaluated["swot"])
    assert onboarded["rep_id"] == "R-1" and evaluated["result_score"] == 80  # ids and figures stay in clear
    stored_bytes = b"".join(row[7] for row in ledger.read_stored(0, 1000))
    assert "张伟".encode() not in stored_bytes and SUMMARY.encode() not in stored_bytes

    name, summary = ledger.read_log()
    assert name.data["name"] == "张伟"
    assert summary.data["summary"] == SUMMARY
    assert summary.data["swot"]["weaknesses"] == ["late reports"]


def test_each_rep_has_a_key_of_their_own(ledger):
    ledger.record([onboard("R-1"), onboard("R-2")], "t")
    first, second = stored_states(ledger)
    assert first["name"]["kid"] != second["name"]["kid"]


def test_the_chain_verifies_over_the_sealed_events(ledger):
    ledger.record([onboard("R-1"), evaluation()], "t")
    report = ledger.verify()
    assert report.ok and report.events_checked == 2


def test_a_resent_personal_event_is_answered_from_the_log(ledger):
    ledger.record([onboard("R-1"), evaluation()], "t")
    again = ledger.record([evaluation()], "t")
    assert again.positions == [2] and again.duplicates == [0]


def test_a_resent_personal_event_with_other_text_is_a_conflict(ledger):
    ledger.record([onboard("R-1"), evaluation()], "t")
    with pytest.raises(ConflictError):
        ledger.record([evaluation(summary="something else")], "t")


def test_the_content_hash_of_a_personal_event_is_not_the_hash_of_its_text(ledger):
    """The entries keep a hash per event; for a personal event it is keyed by the person's key."""
    ledger.record([onboard("R-1"), evaluation()], "t")
    (command,), _ = parse_batch([evaluation()], currency="CNY")
    hashes = ledger._query(f"SELECT content_hash FROM {ledger.recorder.entries_table} ORDER BY position", None)
    assert hashes[1][0] != content_hash(command)


def test_every_declared_personal_field_is_a_field_of_its_event():
    for event_type, fields in PERSONAL_FIELDS.items():
        assert set(fields) <= set(DATA_MODELS[event_type].model_fields), event_type


def test_dispute_comments_are_sealed_under_the_disputing_rep_s_dispute_key(ledger):
    ledger.record([onboard("R-1")], "t")
    ledger.record(
        [
            ev("DisputeOpened", "2026-04-02T09:00:00Z", dispute_id="X-1", rep_id="R-1", period="2026-Q1", text="mine"),
            ev("DisputeCommented", "2026-04-03T09:00:00Z", dispute_id="X-1", author_id="M-1", text="looking"),
        ],
        "t",
    )
    states = stored_states(ledger)
    assert states[1]["text"]["kid"] == states[2]["text"]["kid"]  # the disputing rep's key for disputes
    assert states[1]["text"]["kid"] != states[0]["name"]["kid"]  # another kind of data, another key
    assert [r.data["text"] for r in ledger.read_log(1)] == ["mine", "looking"]
