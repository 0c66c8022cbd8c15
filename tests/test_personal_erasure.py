"""Erasing a rep's personal data: their key is destroyed, the proof and the figures stand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from builders import ev, onboard
from payout_fixtures import JAN, STANDARD_RULES, assign, publish, target, won_deal
from sqlalchemy import select, text

from ledger.errors import InvalidBatch
from ledger.personal import ERASED
from projections.db import engine_for, reading
from projections.folds.trust import dispute_events
from projections.payouts.assembly import period_payouts
from projections.queries.kpis import kpis
from projections.runner import catch_up, projected_tables
from projections.tables import rep_timeline, reps
from replay.audit import audit
from replay.explain import explain
from replay.statements import dispute, statement
from services.approvals import approve
from services.erasure import ErasureRefused, erase_person

# What the ledger knows about R-1 and R-2 in words: each must be findable before, and R-1's
# nowhere after R-1's erasure.
R1_TEXTS = [
    "欧阳娜娜",
    "Misses follow-ups with the Jiangsu accounts",
    "Shadow a senior on demos",
    "My Q1 bonus is short",
]
R2_TEXTS = ["司马懿", "Strong closer, weak forecasts", "Attend forecasting class"]


def r1_story() -> list[dict]:
    return [
        ev(
            "EvaluationRecorded",
            "2026-03-31T09:00:00Z",
            evaluation_id="E-1",
            rep_id="R-1",
            period="2026-Q1",
            evaluator_id="M-1",
            result_score=72,
            process_scores={"prospecting": 60},
            swot={"weaknesses": [R1_TEXTS[1]]},
            summary=R1_TEXTS[1],
        ),
        ev(
            "FeedbackGiven",
            "2026-04-01T09:00:00Z",
            feedback_id="F-1",
            rep_id="R-1",
            author_id="M-1",
            kind="coaching",
            text=R1_TEXTS[1],
        ),
        ev(
            "ImprovementPlanSet",
            "2026-04-01T10:00:00Z",
            improvement_plan_id="P-1",
            rep_id="R-1",
            goals=[R1_TEXTS[2]],
            trainings=["SPIN"],
            review_by="2026-06-30T00:00:00Z",
        ),
        ev("DisputeOpened", "2026-04-02T09:00:00Z", dispute_id="X-1", rep_id="R-1", period="2026-Q1", text=R1_TEXTS[3]),
        ev(
            "DisputeCommented",
            "2026-04-03T09:00:00Z",
            dispute_id="X-1",
            author_id="M-1",
            text=R1_TEXTS[3] + " (manager)",
        ),
    ]


def r2_story() -> list[dict]:
    return [
        ev(
            "FeedbackGiven",
            "2026-04-01T09:00:00Z",
            feedback_id="F-2",
            rep_id="R-2",
            author_id="M-2",
            kind="recognition",
            text=R2_TEXTS[1],
        ),
        ev(
            "ImprovementPlanSet",
            "2026-04-01T10:00:00Z",
            improvement_plan_id="P-2",
            rep_id="R-2",
            goals=[R2_TEXTS[2]],
            trainings=[],
            review_by="2026-06-30T00:00:00Z",
        ),
    ]


@pytest.fixture
def department(ledger, settings):
    engine = engine_for(settings)
    ledger.record(
        [
            onboard("R-1", "T-1", "East", JAN, name=R1_TEXTS[0]),
            onboard("R-2", "T-1", "East", JAN, name=R2_TEXTS[0]),
            publish(1, STANDARD_RULES),
            assign({"company": True}),
            target("R-1", "100000"),
            target("R-2", "100000"),
            *won_deal("D-1", "R-1", "130000"),
            *won_deal("D-2", "R-2", "80000"),
            *r1_story(),
            *r2_story(),
        ],
        "seed",
    )
    catch_up(ledger, engine)
    approve(ledger, engine, settings, "R-1", "2026-Q1", "finance:test")
    yield ledger, engine, settings
    engine.dispose()


def figures(engine, settings, known_at: datetime) -> dict:
    """Every rep's payout (total and digest) and the team's KPIs, as known at `known_at`."""
    payouts = {p.rep_id: (p.total, p.digest) for p in period_payouts(engine, settings, "2026-Q1", known_at=known_at)}
    team = kpis(engine, settings, "team:T-1", "2026-Q1", known_at=known_at)
    return {"payouts": payouts, "team": team}


def erase_r1(ledger, engine) -> None:
    erase_person(ledger, engine, "R-1", requested_by="R-1", ground="request", actor="cli:hr")


def store_files(settings) -> list[Path]:
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def found_in_files(settings, texts: list[str]) -> list[str]:
    content = b"".join(p.read_bytes() for p in store_files(settings))
    return [t for t in texts if t.encode() in content]


def rows_holding(engine, texts: list[str]) -> list[tuple[str, str]]:
    """(table, text) for every projected or key row whose columns hold one of `texts`."""
    hits = []
    with reading(engine) as conn:
        for table in [*projected_tables(), "personal_keys"]:
            name = table if isinstance(table, str) else table.name
            for row in conn.execute(text(f"SELECT * FROM {name}")):
                flat = " ".join(str(v) for v in row)
                hits.extend((name, t) for t in texts if t in flat)
    return hits


def test_erasing_r1_leaves_no_byte_of_their_name_or_texts_in_the_sqlite_files(department, settings):
    ledger, engine, _ = department
    if ledger.is_postgres:
        pytest.skip("the files of PostgreSQL are its own: the next test looks at every row instead")
    assert found_in_files(settings, R1_TEXTS) == R1_TEXTS  # the scan can find them before
    erase_r1(ledger, engine)
    ledger.close()
    engine.dispose()
    assert found_in_files(settings, R1_TEXTS) == []
    assert found_in_files(settings, R2_TEXTS) == R2_TEXTS  # another rep's data is untouched


def in_the_log(ledger, texts: list[str]) -> list[str]:
    """Which of `texts` the log's stored bytes hold (its entries hold ids and hashes only)."""
    stored = b"".join(row[7] for row in ledger.read_stored(0, 10_000))
    return [t for t in texts if t.encode() in stored]


def test_after_erasing_r1_no_row_of_the_store_holds_their_texts(department):
    """The row-by-row scan, which is what PostgreSQL allows (its files are its own)."""
    ledger, engine, _ = department
    assert {t for _, t in rows_holding(engine, R1_TEXTS)} == set(R1_TEXTS)  # the projections' copies
    assert in_the_log(ledger, R1_TEXTS + R2_TEXTS) == []  # the log holds ciphertext only
    erase_r1(ledger, engine)
    assert rows_holding(engine, R1_TEXTS) == []
    assert in_the_log(ledger, R1_TEXTS) == []
    assert {t for _, t in rows_holding(engine, R2_TEXTS)} == set(R2_TEXTS)


def test_the_chain_and_every_figure_stand_after_the_erasure(department):
    ledger, engine, settings = department
    known_at = datetime.now(UTC)
    before = figures(engine, settings, known_at)
    head_before = ledger.head()
    erase_r1(ledger, engine)
    report = ledger.verify(head_before.link)
    assert report.ok and report.extends_digest
    assert figures(engine, settings, known_at) == before
    assert len(before["payouts"]) == 2 and before["payouts"]["R-1"][0] > 0


def test_an_approved_payout_of_the_erased_rep_is_still_reproduced_to_its_digest(department):
    ledger, engine, settings = department
    erase_r1(ledger, engine)
    explained = explain(ledger, engine, settings, "R-1", "2026-Q1")
    assert explained["reproduced"] is True
    assert explained["approved"]["digest"] == explained["digest"]


def test_an_audit_rebuild_after_the_erasure_equals_the_live_projections(department):
    ledger, engine, settings = department
    erase_r1(ledger, engine)
    report = audit(ledger, engine, settings, periods=["2026-Q1"])
    assert report["ok"], report["differences"][:5]


def test_the_projections_show_erased_where_the_texts_were(department):
    ledger, engine, _ = department
    erase_r1(ledger, engine)
    with reading(engine) as conn:
        names = dict(conn.execute(select(reps.c.rep_id, reps.c.name)).all())
        timeline = [
            row.payload for row in conn.execute(select(rep_timeline.c.payload).where(rep_timeline.c.rep_id == "R-1"))
        ]
        disputes = [row.payload for row in conn.execute(select(dispute_events.c.payload))]
    assert names == {"R-1": ERASED, "R-2": R2_TEXTS[0]}
    assert timeline and all(ERASED in payload for payload in timeline)
    assert disputes and all(ERASED in payload for payload in disputes)


def test_the_log_reads_erased_for_r1_and_in_clear_for_r2(department):
    ledger, engine, _ = department
    erase_r1(ledger, engine)
    by_rep = {}
    for record in ledger.read_log(types=["RepOnboarded", "FeedbackGiven"]):
        by_rep.setdefault(record.data["rep_id"], []).append(record.data.get("name") or record.data.get("text"))
    assert by_rep == {"R-1": [ERASED, ERASED], "R-2": [R2_TEXTS[0], R2_TEXTS[1]]}


def test_an_erasure_is_recorded_once(department):
    ledger, engine, _ = department
    erase_r1(ledger, engine)
    with pytest.raises(ErasureRefused, match="already erased"):
        erase_r1(ledger, engine)
    (event,) = ledger.read_log(types=["PersonalDataErased"])
    assert event.data == {
        "rep_id": "R-1",
        "requested_by": "R-1",
        "ground": "request",
        "categories": ["identity", "evaluations", "disputes"],
    }


def test_an_unknown_rep_cannot_be_erased_and_no_key_is_touched(department):
    ledger, engine, _ = department
    with pytest.raises(ErasureRefused, match="unknown rep"):
        erase_person(ledger, engine, "R-404", requested_by="hr", ground="request", actor="cli:hr")
    assert ledger.keys.status("R-404") == []


def test_no_personal_text_about_an_erased_rep_is_recorded_afterwards_but_figures_are(department):
    ledger, engine, _ = department
    erase_r1(ledger, engine)
    with pytest.raises(InvalidBatch, match="erased"):
        ledger.record(
            [
                ev(
                    "FeedbackGiven",
                    "2026-05-01T09:00:00Z",
                    feedback_id="F-9",
                    rep_id="R-1",
                    author_id="M-1",
                    kind="coaching",
                    text="again",
                )
            ],
            "t",
        )
    ledger.record(won_deal("D-9", "R-1", "1000"), "t")  # figures still are


def test_a_write_that_took_the_key_before_the_erasure_leaves_nothing_readable(department):
    """The race: a writer sealed R-1's text with the key, the erasure destroyed it before the
    writer's commit. What the writer stored can never be opened."""
    ledger, engine, _ = department
    real_keys_for = ledger.keys.keys_for

    def keys_then_erasure(slots):
        keys = real_keys_for(slots)
        ledger.keys.erase("R-1", ["evaluations"])  # the erasure lands between the writer's key fetch and its commit
        return keys

    ledger.keys.keys_for = keys_then_erasure
    racing = "written while R-1 was being erased"
    ledger.record(
        [
            ev(
                "FeedbackGiven",
                "2026-05-01T09:00:00Z",
                feedback_id="F-9",
                rep_id="R-1",
                author_id="M-1",
                kind="coaching",
                text=racing,
            )
        ],
        "t",
    )
    del ledger.keys.keys_for
    (stored,) = [r for r in ledger.read_log(types=["FeedbackGiven"]) if r.data["feedback_id"] == "F-9"]
    assert stored.data["text"] == ERASED
    raw = b"".join(row[7] for row in ledger.read_stored(0, 10_000))
    assert racing.encode() not in raw


def test_one_kind_of_data_can_be_erased_before_the_others(department):
    """Evaluations erased (a retention period ran out): the name and the dispute stay readable."""
    ledger, engine, _ = department
    erase_person(
        ledger, engine, "R-1", requested_by="retention", ground="retention", actor="t", categories=["evaluations"]
    )
    texts = {
        r.type: r.data.get("text") or r.data.get("summary") or r.data.get("name")
        for r in ledger.read_log(rep_ids=["R-1"])
    }
    assert texts["EvaluationRecorded"] == ERASED and texts["FeedbackGiven"] == ERASED
    assert texts["RepOnboarded"] == R1_TEXTS[0] and texts["DisputeOpened"] == R1_TEXTS[3]
    with reading(engine) as conn:
        assert conn.execute(select(reps.c.name).where(reps.c.rep_id == "R-1")).scalar() == R1_TEXTS[0]
    with pytest.raises(ErasureRefused, match="already erased"):
        erase_person(
            ledger, engine, "R-1", requested_by="hr", ground="retention", actor="t", categories=["evaluations"]
        )
    erase_r1(ledger, engine)  # the rest, later
    assert rows_holding(engine, R1_TEXTS) == []


def test_the_statement_and_the_dispute_of_an_erased_rep_show_erased(department):
    ledger, engine, settings = department
    erase_r1(ledger, engine)
    timeline = dispute(ledger, engine, settings, "X-1")["timeline"]
    assert [step["text"] for step in timeline] == [ERASED, ERASED]
    shown = orjson.dumps(statement(ledger, engine, settings, "R-1", "2026-Q1"), default=str).decode()
    assert not [t for t in R1_TEXTS if t in shown]
