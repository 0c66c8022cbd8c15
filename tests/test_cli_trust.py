"""The trust commands: a statement, a dispute, and who has not signed their plan."""

from __future__ import annotations

import orjson
from builders import ev, split
from payout_fixtures import department, won_deal
from typer.testing import CliRunner

from api.cli import app
from ledger.config import Settings
from ledger.store import Ledger

T = "2026-04-03T09:00:00+00:00"


def test_statement_dispute_and_unsigned_commands_answer_from_the_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("PERFLEDGER_DATABASE_URL", url)
    ledger = Ledger(Settings(database_url=url))
    ledger.record(
        [
            *department(),
            *won_deal("D-1", "R-1", "100000.00"),
            ev("DisputeOpened", T, dispute_id="DS-1", rep_id="R-2", period="2026-Q1", text="half was mine"),
            {**split("D-1", {"R-1": "0.5", "R-2": "0.5"}), "event_id": "fix"},
            ev(
                "DisputeResolved",
                T,
                dispute_id="DS-1",
                resolver_id="M-1",
                outcome="accepted",
                reason="ok",
                corrections=["fix"],
            ),
        ],
        "seed",
    )
    ledger.close()
    runner = CliRunner()
    statement = runner.invoke(app, ["statement", "R-2", "2026-Q1"])
    # 50000 of 100000 target (50%) → 1500 × 0.8 = 1200
    assert statement.exit_code == 0, statement.output
    assert "CN¥1,200.00" in statement.output and "NOT acknowledged" in statement.output
    shown = runner.invoke(app, ["dispute", "show", "DS-1"])
    assert shown.exit_code == 0 and "0.00 → 1200.00" in shown.output
    unsigned = runner.invoke(app, ["unsigned", "2026-Q1"])
    assert unsigned.exit_code == 0 and "R-1" in unsigned.output and "R-2" in unsigned.output
    missing = runner.invoke(app, ["dispute", "show", "DS-404"])
    assert missing.exit_code != 0


def test_dispute_resolve_records_the_corrections_linked_and_prints_the_payout_before_and_after(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("PERFLEDGER_DATABASE_URL", url)
    ledger = Ledger(Settings(database_url=url))
    ledger.record(
        [
            *department(),
            *won_deal("D-1", "R-1", "100000.00"),
            *won_deal("D-2", "R-2", "80000.00"),
            ev(
                "DisputeOpened",
                T,
                dispute_id="DS-1",
                rep_id="R-2",
                period="2026-Q1",
                component="commission",
                text="half of D-1 was mine",
            ),
        ],
        "seed",
    )
    head = ledger.head().position
    ledger.close()
    fixes = tmp_path / "fixes.json"
    fixes.write_text(orjson.dumps([split("D-1", {"R-1": "0.5", "R-2": "0.5"})]).decode())
    runner = CliRunner()
    done = runner.invoke(
        app, ["dispute", "resolve", "DS-1", "--outcome", "accepted", "--reason", "CRM", "--corrections", str(fixes)]
    )
    assert done.exit_code == 0, done.output
    # 80000 (2400) → 80000 + 50000 = 130000: 3000 + 1000 + 800 + bonus 5000 = 9800
    assert f"at {head + 1}, {head + 2}" in done.stdout and "payout 2400.00 → 9800.00 (+7400.00)" in done.stdout
    again = runner.invoke(app, ["dispute", "resolve", "DS-1", "--outcome", "rejected", "--reason", "no"])
    assert again.exit_code != 0 and "already resolved" in again.output
