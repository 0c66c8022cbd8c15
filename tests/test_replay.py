"""Replay and audit: approved payouts reproduce, replays diff line by line, the log is proven."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from builders import correct, ev
from payout_fixtures import FLAT_RULES, department, publish, won_deal

import replay.audit as audit_module
from ledger.decoding import micros_to_time
from ledger.store import Ledger
from projections.accel.registry import ACCELERATORS
from projections.db import database_url_of, engine_for, projection_url, writing
from projections.runner import catch_up, rebuild
from projections.tables import deal_facts
from replay.audit import SCRATCH_PREFIX, audit
from replay.explain import explain, explain_change
from replay.replays import PlanRequest, replay
from replay.sealing import verify
from services.adjustments import record_adjustments
from services.approvals import approve
from services.closing import close_period

D = Decimal


@pytest.fixture
def approved_q1(ledger: Ledger, settings):
    """Q1 approved for both reps, then a correction, a backdated deal and plan version 2."""
    engine = engine_for(settings)
    ledger.record([*department(), *won_deal("D-1", "R-1", "130000.00"), *won_deal("D-2", "R-2", "80000.00")], "seed")
    first = approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:1")
    second = approve(ledger, engine, settings, "R-2", "2026-Q1", "finance:1")
    # R-1 at 130%: 3000 + 1000 + 800 + bonus 5000; R-2 at 80%: 80000 × 3% = 2400, no bonus, no penalty
    assert (first.amount, second.amount) == (D("9800.00"), D("2400.00"))
    approved_at = micros_to_time(ledger.recorded_at_of(ledger.head().position))
    ledger.record(
        [
            correct("D-1", "110000.00", when="2026-04-05T00:00:00Z"),
            *won_deal("D-3", "R-2", "30000.00", won_at="2026-03-20T10:00:00+00:00"),  # backdated into Q1
            publish(2, FLAT_RULES, effective_from="2026-01", when="2026-04-06T00:00:00Z"),
        ],
        "crm",
    )
    catch_up(ledger, engine)
    yield ledger, engine, settings, approved_at
    engine.dispose()


def test_an_approved_payout_still_reproduces_its_digest_after_later_changes(approved_q1):
    ledger, engine, settings, _ = approved_q1
    for rep, approved_total in (("R-1", D("9800.00")), ("R-2", D("2400.00"))):
        answer = explain(ledger, engine, settings, rep, "2026-Q1")
        assert answer["reproduced"] is True
        assert answer["total"] == approved_total == answer["approved"]["amount"]
        assert answer["digest"] == answer["approved"]["digest"]
    # Today, under v2 (flat 4%, bonus at target): R-1 has 110000 → 4400 + 5000 = 9400, 400 less
    today = explain(ledger, engine, settings, "R-1", "2026-Q1")["today"]
    assert today["total"] == D("9400.00") and today["difference"] == D("-400.00")


def test_the_explanation_follows_each_line_down_to_its_events(approved_q1):
    ledger, engine, settings, _ = approved_q1
    tree = explain(ledger, engine, settings, "R-1", "2026-Q1")["tree"]
    commission = tree["lines"][0]
    assert commission["component"] == "commission" and commission["amount"] == D("4800.00")
    types = [e["type"] for e in commission["events"]]
    assert "DealWon" in types and "TargetSet" in types
    assert "DealAmountCorrected" not in types  # recorded after the approval: not what was approved
    won = next(e for e in commission["events"] if e["type"] == "DealWon")
    assert won["data"]["amount"] == D("130000.00") and won["position"] > 0


def test_replaying_q1_under_version_2_shows_the_differences_rep_by_rep_and_line_by_line(approved_q1):
    ledger, engine, settings, _ = approved_q1
    result = replay(ledger, engine, settings, "2026-Q1", PlanRequest("std", 2))
    diff = {row["rep_id"]: row for row in result["diff"]}
    # R-1: 110000 × 4% = 4400 + 5000 = 9400 against 9800 approved
    assert (diff["R-1"]["before"], diff["R-1"]["after"], diff["R-1"]["delta"]) == (
        D("9800.00"),
        D("9400.00"),
        D("-400.00"),
    )
    lines = {line["component"]: line for line in diff["R-1"]["lines"]}
    assert lines["commission"]["delta"] == D("-400.00") and lines["target-bonus"]["delta"] == D("0.00")
    # R-2: 80000 + the backdated 30000 = 110000 → 4400 + 5000 = 9400 against 2400 approved
    assert diff["R-2"]["delta"] == D("7000.00")
    lines = {line["component"]: line for line in diff["R-2"]["lines"]}
    assert lines["commission"]["delta"] == D("2000.00") and lines["target-bonus"]["delta"] == D("5000.00")


def test_a_draft_plan_given_inline_is_replayed_without_being_published(approved_q1):
    ledger, engine, settings, _ = approved_q1
    head = ledger.head().position
    draft = {
        "components": [
            {
                "id": "commission",
                "kind": "commission",
                "base": "revenue",
                "mode": "flat",
                "tiers": [{"from_attainment": "0", "rate": "0.10"}],
            }
        ]
    }
    result = replay(ledger, engine, settings, "2026-Q1", PlanRequest(rules=draft))
    assert {row["rep_id"]: row["after"] for row in result["diff"]} == {"R-1": D("11000.00"), "R-2": D("11000.00")}
    assert ledger.head().position == head  # a replay writes nothing


def test_recording_the_adjustments_of_a_replay_twice_writes_them_once(approved_q1):
    ledger, engine, settings, _ = approved_q1
    pinned = micros_to_time(ledger.recorded_at_of(ledger.head().position))
    first = record_adjustments(ledger, engine, settings, "2026-Q1", PlanRequest("std", 2), pinned, "finance:1")
    head = ledger.head().position
    again = record_adjustments(ledger, engine, settings, "2026-Q1", PlanRequest("std", 2), pinned, "finance:1")
    assert again["positions"] == first["positions"] and len(again["duplicates"]) == 2
    assert ledger.head().position == head
    adjusted = {e.data["rep_id"]: e.data["amount"] for e in ledger.read_log(types=["PayoutAdjusted"])}
    assert adjusted == {"R-1": D("-400.00"), "R-2": D("7000.00")}
    # the approved payout still reproduces; what is owed now includes the adjustment
    answer = explain(ledger, engine, settings, "R-1", "2026-Q1")
    assert answer["reproduced"] and answer["approved"]["current"] == D("9400.00")


def test_replaying_under_the_approved_plan_on_unchanged_knowledge_changes_nothing(ledger, settings):
    engine = engine_for(settings)
    ledger.record([*department(), *won_deal("D-1", "R-1", "130000.00"), *won_deal("D-2", "R-2", "55000.00")], "seed")
    for rep in ("R-1", "R-2"):
        approve(ledger, engine, settings, rep, "2026-Q1", "finance:1")
    result = replay(ledger, engine, settings, "2026-Q1", PlanRequest("std", 1))
    assert [row["delta"] for row in result["diff"]] == [D("0.00"), D("0.00")]
    assert all(line["delta"] == 0 for row in result["diff"] for line in row["lines"])


def test_explain_change_names_the_events_that_moved_a_payout(approved_q1):
    ledger, engine, settings, approved_at = approved_q1
    change = explain_change(ledger, engine, settings, "R-1", "2026-Q1", approved_at, datetime.now(UTC))
    assert change["before"] == D("9800.00") and change["after"] == D("9400.00") and change["delta"] == D("-400.00")
    assert {e["type"] for e in change["events"]} == {"DealAmountCorrected", "IncentivePlanPublished"}
    assert change["plan"] == {"before": {"plan_id": "std", "version": 1}, "after": {"plan_id": "std", "version": 2}}


def test_the_audit_rebuild_equals_the_live_projections(approved_q1):
    ledger, engine, settings, approved_at = approved_q1
    assert audit(ledger, engine, settings, periods=["2026-Q1"])["ok"] is True
    assert audit(ledger, engine, settings, known_at=approved_at, periods=["2026-Q1"])["ok"] is True


def test_the_audit_rebuild_finds_a_projection_row_altered_by_hand(approved_q1):
    ledger, engine, settings, _ = approved_q1
    with writing(engine) as conn:
        conn.execute(
            deal_facts.update().where(deal_facts.c.deal_id == "D-2").values(won_cents=deal_facts.c.won_cents + 100)
        )
    report = audit(ledger, engine, settings, periods=["2026-Q1"])
    assert report["ok"] is False
    assert any(d.get("table") == "deal_facts" for d in report["differences"])
    assert any(d.get("scope") == "rep:R-2" and d.get("figure") == "payout" for d in report["differences"])


def test_the_audit_names_each_row_altered_removed_or_added_by_hand_on_its_own_side(approved_q1):
    ledger, engine, settings, approved_at = approved_q1
    with engine.connect() as conn:
        d2 = conn.execute(deal_facts.select().where(deal_facts.c.deal_id == "D-2")).one()  # won before the approval
        d3 = conn.execute(deal_facts.select().where(deal_facts.c.deal_id == "D-3")).one()  # recorded after it
    with writing(engine) as conn:
        conn.execute(deal_facts.update().where(deal_facts.c.deal_id == "D-2").values(won_cents=d2.won_cents + 100))
        conn.execute(deal_facts.delete().where(deal_facts.c.deal_id == "D-3"))
        conn.execute(deal_facts.insert().values({**d2._asdict(), "position": 999_999, "seq": 0}))
    rows = {
        (d["problem"].split(",")[0], tuple(d["row"]))
        for d in audit(ledger, engine, settings)["differences"]
        if d.get("table") == "deal_facts"
    }
    altered = tuple({**d2._asdict(), "won_cents": d2.won_cents + 100}.values())
    added = tuple({**d2._asdict(), "position": 999_999, "seq": 0}.values())
    assert rows == {
        ("in the live projection", altered),
        ("in the rebuild", tuple(d2)),
        ("in the rebuild", tuple(d3)),
        ("in the live projection", added),
    }
    # As known at the approval, D-3 (recorded later) is in neither store: the two others remain.
    then = {
        (d["problem"].split(",")[0], tuple(d["row"]))
        for d in audit(ledger, engine, settings, known_at=approved_at)["differences"]
        if d.get("table") == "deal_facts"
    }
    assert then == rows - {("in the rebuild", tuple(d3))}


def _audit_schemas(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                (SCRATCH_PREFIX + "%",),
            ).scalars()
        )


def _spied_rebuild(monkeypatch, seen: list, fail: bool = False) -> None:
    """The audit's rebuild, noting the scratch store's schema, whether the activities fold in SQL
    there, and which schemas of audits exist meanwhile; then failing if asked."""

    def spying(log, scratch, progress=None):
        schema = projection_url(database_url_of(scratch) or "")[1]
        seen.append((schema, ACCELERATORS["activity"].reads_stretches(log, scratch)))
        reached = rebuild(log, scratch, progress=progress)
        assert schema in _audit_schemas(scratch)
        if fail:
            raise RuntimeError("a failure inside the audit")
        return reached

    monkeypatch.setattr(audit_module, "rebuild", spying)


def test_an_audit_on_postgresql_rebuilds_in_a_schema_of_the_same_database_dropped_afterwards(approved_q1, monkeypatch):
    ledger, engine, settings, approved_at = approved_q1
    if engine.dialect.name != "postgresql":
        pytest.skip("the scratch schema is PostgreSQL's")
    seen: list = []
    _spied_rebuild(monkeypatch, seen)
    assert audit(ledger, engine, settings, periods=["2026-Q1"])["ok"] is True
    assert audit(ledger, engine, settings, known_at=approved_at, periods=["2026-Q1"])["ok"] is True
    assert len(seen) == 2 and seen[0][0] != seen[1][0]
    for schema, activities_in_sql in seen:
        assert schema.startswith(SCRATCH_PREFIX) and not schema.startswith("pg_")
        assert activities_in_sql  # the live store's accelerated rebuild, not the Python fold
    assert not {schema for schema, _ in seen} & _audit_schemas(engine)


def test_an_audit_on_postgresql_that_fails_inside_still_drops_its_scratch_schema(approved_q1, monkeypatch):
    ledger, engine, settings, _ = approved_q1
    if engine.dialect.name != "postgresql":
        pytest.skip("the scratch schema is PostgreSQL's")
    seen: list = []
    _spied_rebuild(monkeypatch, seen, fail=True)
    with pytest.raises(RuntimeError, match="a failure inside the audit"):
        audit(ledger, engine, settings, periods=["2026-Q1"])
    assert len(seen) == 1 and seen[0][0] not in _audit_schemas(engine)


def test_the_audit_finds_a_projection_row_updated_in_the_live_schema_by_sql(approved_q1):
    ledger, engine, settings, approved_at = approved_q1
    with writing(engine) as conn:
        conn.exec_driver_sql("UPDATE deal_facts SET won_cents = won_cents + 1 WHERE deal_id = 'D-2'")
        d2 = conn.execute(deal_facts.select().where(deal_facts.c.deal_id == "D-2")).one()
    for known_at in (None, approved_at):  # at the head, and as known at the approval (D-2 was known then)
        report = audit(ledger, engine, settings, known_at=known_at)
        assert report["ok"] is False
        assert {"table": "deal_facts", "row": list(d2), "problem": "in the live projection, not in the rebuild"} in (
            report["differences"]
        )


def test_closing_a_period_seals_the_log_and_verify_proves_the_seal(approved_q1):
    ledger, engine, settings, _ = approved_q1
    closed = close_period(ledger, "2026-Q1", "finance:1")
    ledger.record([ev("TrainingCompleted", "2026-04-10T00:00:00Z", rep_id="R-1", training="SPIN")], "t")
    report = verify(ledger, digest=closed["head"])
    assert report["ok"] and report["digest_extended"] and report["seals"][0]["holds"]
    with ledger.recorder.datastore.transaction(commit=True) as cursor:
        mark = "%s" if ledger.is_postgres else "?"
        cursor.execute(
            f"UPDATE {ledger.recorder.entries_table} SET actor = {mark} WHERE position = 3", ["someone-else"]
        )
    tampered = verify(ledger, digest=closed["head"])
    assert not tampered["ok"] and tampered["first_bad_position"] == 3


def test_a_plan_that_does_not_exist_is_a_clear_error(approved_q1):
    from projections.payouts.assembly import PlanError

    ledger, engine, settings, _ = approved_q1
    with pytest.raises(PlanError, match="version 9 is not published"):
        replay(ledger, engine, settings, "2026-Q1", PlanRequest("std", 9))
    with pytest.raises(PlanError, match="plan.rules"):
        replay(ledger, engine, settings, "2026-Q1", PlanRequest(rules={"components": [{"id": "x", "kind": "magic"}]}))
