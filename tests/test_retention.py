"""The retention policy: each kind of personal data is erased so long after the rep left."""

from __future__ import annotations

from datetime import datetime

import pytest
from builders import ev, onboard
from typer.testing import CliRunner

from api.cli import app
from ledger.config import ConfigError, Settings, settings_from_env
from ledger.personal import ERASED
from ledger.retention import Keep, add_months, parse_policy
from ledger.store import Ledger
from projections.db import engine_for
from replay.retention import retention_due
from services.retention import apply_retention

LEFT = "2023-06-30T18:00:00+00:00"


def feedback(rep: str, text: str):
    return ev(
        "FeedbackGiven",
        "2023-03-01T09:00:00Z",
        feedback_id=f"F-{rep}",
        rep_id=rep,
        author_id="M-1",
        kind="coaching",
        text=text,
    )


def dispute(rep: str, text: str):
    return ev("DisputeOpened", "2023-04-01T09:00:00Z", dispute_id=f"X-{rep}", rep_id=rep, period="2023-Q1", text=text)


@pytest.fixture
def leavers(settings):
    """R-1 left on 30 June 2023 (texts of every kind); R-2 never left."""
    ledger = Ledger(Settings(**{**settings.__dict__, "retention": "identity=5y,evaluations=3y,disputes=18m"}))
    ledger.record(
        [
            onboard("R-1", when="2022-01-01T00:00:00Z", name="Left Person"),
            onboard("R-2", when="2022-01-01T00:00:00Z", name="Stayer"),
            feedback("R-1", "texts of a leaver"),
            feedback("R-2", "texts of a stayer"),
            dispute("R-1", "a leaver's dispute"),
            ev("RepOffboarded", LEFT, rep_id="R-1"),
        ],
        "seed",
    )
    engine = engine_for(ledger.settings)
    yield ledger, engine
    engine.dispose()
    ledger.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_nothing_is_due_before_the_shortest_period_runs_out(leavers):
    ledger, _ = leavers
    assert retention_due(ledger, at("2024-12-30T17:59:59+00:00")) == []


def test_each_kind_falls_due_after_its_own_period(leavers):
    ledger, _ = leavers
    assert [(d.rep_id, d.category) for d in retention_due(ledger, at("2024-12-30T18:00:00+00:00"))] == [
        ("R-1", "disputes")
    ]
    due = retention_due(ledger, at("2026-07-01T00:00:00+00:00"))
    assert [(d.category, d.keep, d.due_at.isoformat()) for d in due] == [
        ("disputes", "18m", "2024-12-30T18:00:00+00:00"),
        ("evaluations", "3y", "2026-06-30T18:00:00+00:00"),
    ]


def test_applying_the_policy_erases_only_what_is_due_and_records_the_ground(leavers):
    ledger, engine = leavers
    apply_retention(ledger, engine, at("2026-07-01T00:00:00+00:00"), "cli:test")
    texts = {(r.type, r.data["rep_id"]): r.data.get("text") or r.data.get("name") for r in ledger.read_log()}
    assert texts[("FeedbackGiven", "R-1")] == ERASED and texts[("DisputeOpened", "R-1")] == ERASED
    assert texts[("RepOnboarded", "R-1")] == "Left Person"  # identity: kept five years
    assert texts[("FeedbackGiven", "R-2")] == "texts of a stayer"
    (erasure,) = ledger.read_log(types=["PersonalDataErased"])
    assert erasure.data["ground"] == "retention" and erasure.data["categories"] == ["evaluations", "disputes"]
    assert retention_due(ledger, at("2026-07-01T00:00:00+00:00")) == []  # done: nothing due twice
    assert ledger.verify().ok


def test_a_policy_is_read_from_the_environment_and_a_bad_one_is_refused():
    assert str(parse_policy("evaluations=18m")["evaluations"]) == "18m"
    assert str(parse_policy("")["identity"]) == "5y"
    assert parse_policy("disputes=never")["disputes"].until(at(LEFT)) is None
    with pytest.raises(ConfigError, match="PERFLEDGER_RETENTION"):
        settings_from_env({"PERFLEDGER_RETENTION": "evaluations=soon"})
    with pytest.raises(ConfigError, match="not a kind of personal data"):
        settings_from_env({"PERFLEDGER_RETENTION": "salary=3y"})


def test_months_are_calendar_months():
    assert add_months(at("2023-08-31T00:00:00+00:00"), 6) == at("2024-02-29T00:00:00+00:00")
    assert Keep(months=0, days=90).until(at("2024-01-01T00:00:00+00:00")) == at("2024-03-31T00:00:00+00:00")


def test_the_cli_lists_what_is_due_and_erases_it_only_when_confirmed(tmp_path):
    url = f"sqlite:///{tmp_path}/l.db"
    ledger = Ledger(Settings(database_url=url))
    ledger.record(
        [
            onboard("R-1", when="2020-01-01T00:00:00Z"),
            feedback("R-1", "old texts"),
            ev("RepOffboarded", "2020-06-30T00:00:00Z", rep_id="R-1"),
        ],
        "seed",
    )
    ledger.close()
    runner = CliRunner()
    env = {"PERFLEDGER_DATABASE_URL": url, "COLUMNS": "200"}
    listed = runner.invoke(app, ["retention", "--dry-run"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "R-1" in listed.output and "evaluations" in listed.output and "identity" in listed.output
    refused = runner.invoke(app, ["retention"], env=env, input="n\n")
    assert refused.exit_code == 1 and "nothing was erased" in refused.output
    done = runner.invoke(app, ["retention", "--yes"], env=env)
    assert done.exit_code == 0 and "Erased 1 rep(s)' data" in done.output, done.output
    assert "Nothing is due" in runner.invoke(app, ["retention", "--dry-run"], env=env).output
