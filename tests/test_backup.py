"""Backups with proof: a copy is accepted only if its chain verifies and ends at the head written
beside it, and a store restored from it, once rebuilt, gives the same figures."""

from __future__ import annotations

import json
import os
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from builders import ev
from payout_fixtures import department, won_deal
from typer.testing import CliRunner

from api.cli import app
from ledger.backup import BackupError, backup, manifest_path, read_manifest, restore
from ledger.config import Settings
from ledger.store import Ledger
from projections.db import engine_for
from projections.payouts.assembly import payout
from projections.queries.kpis import kpis
from projections.runner import catch_up, rebuild

D = Decimal
POSTGRES_URL = os.environ.get("PERFLEDGER_TEST_POSTGRES_URL")


def _admin_execute(sql: str) -> None:
    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql)


def figures(settings: Settings) -> dict:
    """What finance and a manager read of Q1: the team's and R-1's KPIs and R-1's payout."""
    ledger, engine = Ledger(settings), engine_for(settings)
    try:
        catch_up(ledger, engine)
        team = kpis(engine, settings, "team:T-1", "2026-Q1")
        rep = kpis(engine, settings, "rep:R-1", "2026-Q1")
        paid = payout(engine, settings, "R-1", "2026-Q1")
        return {
            "team": team,
            "rep": rep,
            "payout": (paid.total, [(line.component, line.amount) for line in paid.evaluation.lines]),
        }
    finally:
        ledger.close()
        engine.dispose()


def seeded(settings: Settings) -> Ledger:
    ledger = Ledger(settings)
    ledger.record([*department(), *won_deal("D-1", "R-1", "130000.00"), *won_deal("D-2", "R-2", "80000.00")], "seed")
    return ledger


def sqlite_settings(path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", tz_name="UTC", currency="CNY")


def test_a_sqlite_store_restored_from_its_backup_and_rebuilt_gives_the_same_figures(tmp_path):
    source = sqlite_settings(tmp_path / "live.db")
    seeded(source).close()
    before = figures(source)
    assert before["payout"][0] > 0  # R-1 at 130% earns something: the comparison below means something

    manifest = backup(source, tmp_path / "copy.db")
    assert manifest.events == manifest.position > 0
    written = json.loads(manifest_path(tmp_path / "copy.db").read_text())
    assert (written["position"], written["head"]) == (manifest.position, manifest.head)

    target = sqlite_settings(tmp_path / "restored.db")
    restored = restore(tmp_path / "copy.db", target)
    assert restored.events_checked == manifest.position
    ledger, engine = Ledger(target), engine_for(target)
    rebuild(ledger, engine)
    assert ledger.head().link == manifest.head
    ledger.close()
    engine.dispose()
    assert figures(target) == before


def test_a_copy_changed_by_one_byte_is_refused_and_nothing_is_restored(tmp_path):
    source = sqlite_settings(tmp_path / "live.db")
    seeded(source).close()
    copy = tmp_path / "copy.db"
    backup(source, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="sha256 differs"):
        restore(copy, sqlite_settings(tmp_path / "restored.db"))
    assert not (tmp_path / "restored.db").exists()


def test_a_manifest_naming_another_head_is_refused_though_the_bytes_match(tmp_path):
    """Someone rewrote the log in the copy and its manifest's checksum, but the head an auditor
    wrote down was kept: the copy's chain no longer ends there."""
    source = sqlite_settings(tmp_path / "live.db")
    seeded(source).close()
    copy = tmp_path / "copy.db"
    manifest = backup(source, copy)
    written = json.loads(manifest_path(copy).read_text())
    written["head"] = "0" * 64
    manifest_path(copy).write_text(json.dumps(written))
    with pytest.raises(BackupError, match=f"not at the head its manifest names \\(position {manifest.position}"):
        restore(copy, sqlite_settings(tmp_path / "restored.db"))
    assert not (tmp_path / "restored.db").exists()


def test_a_backup_never_overwrites_and_a_restore_needs_an_empty_store(tmp_path):
    source = sqlite_settings(tmp_path / "live.db")
    seeded(source).close()
    copy = tmp_path / "copy.db"
    backup(source, copy)
    with pytest.raises(BackupError, match="already exists"):
        backup(source, copy)
    with pytest.raises(BackupError, match="already exists"):
        restore(copy, source)  # the live store itself: it holds a ledger


def test_a_backup_taken_while_writers_record_is_one_consistent_moment(tmp_path):
    source = sqlite_settings(tmp_path / "live.db")
    ledger = seeded(source)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ledger.record(
                [ev("ActivityLogged", "2026-02-01T10:00:00Z", activity_id=f"A-{n}", rep_id="R-1", kind="call")], "w"
            )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        manifest = backup(source, tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join()
    ledger.close()
    restored = restore(tmp_path / "copy.db", sqlite_settings(tmp_path / "restored.db"))
    assert restored.events_checked == manifest.position


def test_the_cli_backs_up_and_restores_and_says_what_to_do_next(tmp_path, monkeypatch):
    source = sqlite_settings(tmp_path / "live.db")
    seeded(source).close()
    monkeypatch.setenv("PERFLEDGER_DATABASE_URL", source.database_url)
    runner = CliRunner()
    done = runner.invoke(app, ["backup", str(tmp_path / "copy.db")])
    assert done.exit_code == 0, done.output
    assert "head" in done.output and read_manifest(tmp_path / "copy.db").head in done.output.replace("\n", "")
    again = runner.invoke(app, ["restore", str(tmp_path / "copy.db")])
    assert again.exit_code == 1
    assert "already exists" in again.output
    restored = runner.invoke(
        app, ["restore", str(tmp_path / "copy.db"), "--database-url", f"sqlite:///{tmp_path}/restored.db"]
    )
    assert restored.exit_code == 0, restored.output
    assert "perfledger rebuild" in restored.output


@pytest.fixture
def other_database():
    """A second database on the test server, to restore a dump into its schema of origin."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need PERFLEDGER_TEST_POSTGRES_URL")
    name = f"restore_{uuid.uuid4().hex[:10]}"
    _admin_execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _admin_execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.postgres
def test_a_postgresql_store_restored_from_its_dump_and_rebuilt_gives_the_same_figures(tmp_path, other_database):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE SCHEMA {schema}")
    try:
        source = Settings(database_url=f"{POSTGRES_URL}?schema={schema}", tz_name="UTC", currency="CNY")
        seeded(source).close()
        before = figures(source)
        manifest = backup(source, tmp_path / "ledger.dump")
        assert manifest.kind == "pg_dump" and manifest.schema == schema

        target = Settings(database_url=f"{other_database}?schema={schema}", tz_name="UTC", currency="CNY")
        restored = restore(tmp_path / "ledger.dump", target)
        assert restored.events_checked == manifest.position
        ledger, engine = Ledger(target), engine_for(target)
        rebuild(ledger, engine)
        ledger.close()
        engine.dispose()
        assert figures(target) == before

        with pytest.raises(BackupError, match="already holds"):
            restore(tmp_path / "ledger.dump", target)
    finally:
        _admin_execute(f"DROP SCHEMA {schema} CASCADE")
