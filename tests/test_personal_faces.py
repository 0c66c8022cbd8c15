"""Erasure, subject access and retention through the faces: the admin endpoint and the CLI."""

from __future__ import annotations

import orjson
import pytest
from api_client import FAR, OWN, department

from ledger.personal import ERASED
from ledger.store import Ledger

ERASE = {"requested_by": OWN, "ground": "request", "irreversible": True}


def feedback_text(api, rep: str) -> str:
    history = api.get(f"/reps/{rep}/history").json()["history"]
    return next(entry["data"]["text"] for entry in history if entry["kind"] == "feedback")


@pytest.mark.parametrize("role", ["finance", "auditor", "manager", "rep"])
def test_only_an_admin_may_erase_a_person(api, role):
    response = api.post(f"/people/{OWN}/erase", ERASE, role=role)
    assert response.status_code == 403, response.text
    assert feedback_text(api, OWN) == f"Keep going, {OWN}"


def test_an_erasure_must_say_it_knows_it_is_irreversible(api):
    response = api.post(f"/people/{OWN}/erase", {**ERASE, "irreversible": False})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body.irreversible"


def test_an_admin_erases_a_rep_and_the_history_shows_erased_while_the_payout_stays(api):
    before = api.get(f"/payouts/{OWN}/2026-Q1/explain").json()["total"]
    response = api.post(f"/people/{OWN}/erase", ERASE)
    assert response.status_code == 201, response.text
    assert response.json()["keys_destroyed"] == ["identity", "evaluations", "disputes"]
    assert feedback_text(api, OWN) == ERASED
    assert api.get(f"/payouts/{OWN}/2026-Q1/explain").json()["total"] == before
    assert feedback_text(api, FAR) == f"Keep going, {FAR}"
    assert api.post(f"/people/{OWN}/erase", ERASE).status_code == 409  # once


def test_a_client_cannot_record_an_erasure_event_itself(api):
    event = {
        "type": "PersonalDataErased",
        "occurred_at": "2026-05-01T00:00:00Z",
        "data": {"rep_id": OWN, "requested_by": OWN, "ground": "request"},
    }
    response = api.post("/events", {"events": [event]})
    assert response.status_code == 422
    assert "person erase" in response.text


@pytest.fixture
def seeded_cli(cli, sqlite_settings):
    """`cli` on a store holding the small department; the test fails on any other exit code than `code`."""
    store = Ledger(sqlite_settings)
    store.record(department(), "seed")
    store.close()

    def invoke(*args: str, code: int = 0, answer: str | None = None):
        result = cli(*args, answer=answer)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_the_cli_warns_before_an_erasure_and_erases_nothing_unless_confirmed(seeded_cli):
    refused = seeded_cli("person", "erase", OWN, "--requested-by", OWN, answer="n\n", code=1)
    assert "cannot be undone" in refused.output and "nothing was erased" in refused.output
    done = seeded_cli("person", "erase", OWN, "--requested-by", OWN, answer="y\n")
    assert "Erased the personal data of R-ann: identity, evaluations, disputes" in done.output
    again = seeded_cli("person", "erase", OWN, "--requested-by", OWN, "--yes", code=1)
    assert "already erased" in again.output


def test_the_cli_refuses_an_unknown_ground(seeded_cli):
    result = seeded_cli("person", "erase", OWN, "--requested-by", OWN, "--ground", "whim", "--yes", code=1)
    assert "unknown ground" in result.output


def test_an_admin_gets_everything_the_ledger_holds_about_a_rep(api):
    response = api.get(f"/people/{OWN}/export")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["subject"] == OWN and document["name"] == f"Rep {OWN}" and document["erased"] == []
    assert set(document["keys"]) == {"identity", "evaluations"}  # R-ann has no dispute
    types = [event["type"] for event in document["events"]]
    assert types == ["RepOnboarded", "TargetSet", "DealOpened", "DealWon", "EvaluationRecorded", "FeedbackGiven"]
    assert document["counts"]["DealWon"] == 1
    feedback = next(e for e in document["events"] if e["type"] == "FeedbackGiven")
    assert feedback["data"]["text"] == f"Keep going, {OWN}" and feedback["personal_fields"] == ["text"]
    assert all(e["data"].get("rep_id") in (OWN, None) for e in document["events"])  # nobody else's


@pytest.mark.parametrize("role", ["finance", "auditor", "manager", "rep"])
def test_only_an_admin_may_export_a_person(api, role):
    assert api.get(f"/people/{OWN}/export", role=role).status_code == 403


def test_a_person_the_ledger_knows_nothing_about_is_a_404(api):
    assert api.get("/people/R-nobody/export").status_code == 404


def test_the_export_page_speaks_the_reader_s_language(api):
    page = api.client.get(
        f"/people/{OWN}/export", params={"format": "html"}, headers={**api.headers("admin"), "Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "账本中关于 R-ann 的全部信息" in page.text and f"Keep going, {OWN}" in page.text


def test_after_an_erasure_the_export_says_so_and_shows_erased(api):
    api.post(f"/people/{OWN}/erase", ERASE)
    document = api.get(f"/people/{OWN}/export").json()
    assert document["erased"] == ["disputes", "evaluations", "identity"]  # a tombstone for each kind
    assert document["keys"]["identity"]["erased_at"]
    assert document["name"] == ERASED
    assert document["events"][-1]["type"] == "PersonalDataErased"
    assert f"Keep going, {OWN}" not in str(document)


def test_the_cli_writes_the_export_as_json_and_as_a_page(seeded_cli, tmp_path):
    seeded_cli("person", "export", OWN, "--output", str(tmp_path / "ann.json"))
    document = orjson.loads((tmp_path / "ann.json").read_bytes())
    assert document["subject"] == OWN and len(document["events"]) == 6
    seeded_cli("--locale", "zh-CN", "person", "export", OWN, "--format", "html", "--output", str(tmp_path / "ann.html"))
    assert "账本中关于 R-ann 的全部信息" in (tmp_path / "ann.html").read_text()
    assert "holds nothing" in seeded_cli("person", "export", "R-nobody", code=1).output
