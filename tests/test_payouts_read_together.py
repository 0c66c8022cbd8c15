"""A quarter's payouts and replay read once for every rep give what each rep's own reads give.

The reads done together: one read transaction held for the whole computation (`held_reading`),
the figures of `FIGURES_BATCH` reps a statement, the memberships read once for every rep and
knowledge time, the log's position at a knowledge time by bisection (`positions_at`), and the
events learned since each approval picked by position. Each is checked against the plain
per-rep read on a generated company (splits, corrections, refunds, transfers, backdated facts),
approved at three different moments with corrections recorded in between.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from builders import GENERATED_UNTIL, correct
from sqlalchemy import event, select

import projections.payouts.assembly as assembly
import replay.replays as replays
from demo.generator import generate
from ledger.decoding import micros_to_time
from projections.db import ReadInterrupted, engine_for, held_reading, reading
from projections.payouts.assembly import payout, period_payouts
from projections.queries.membership import membership_history, stints, stints_at
from projections.runner import catch_up
from projections.tables import deal_facts
from replay.explain import events_between
from replay.replays import PlanRequest, replay
from services.approvals import approve

PERIOD = "2026-Q1"
CHANGED = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "marginal",
            "tiers": [
                {"from_attainment": "0", "rate": "0.03"},
                {"from_attainment": "1.0", "rate": "0.055"},
                {"from_attainment": "1.2", "rate": "0.085"},
            ],
        }
    ]
}


@pytest.fixture
def company(ledger, settings) -> Iterator[tuple[Any, Any, Any, list[str]]]:
    """24 generated reps; a third approved, two Q1 deals corrected, another third approved, one
    more correction, the rest approved: three approval moments, facts learned after each."""
    engine = engine_for(settings)
    stream = generate(3000, seed=9, now=GENERATED_UNTIL, reps=24)
    while batch := list(itertools.islice(stream, 500)):
        ledger.record(batch, "seed")
    catch_up(ledger, engine)
    with reading(engine) as conn:
        won = conn.execute(
            select(deal_facts.c.deal_id, deal_facts.c.rep_id, deal_facts.c.won_cents)
            .where(deal_facts.c.won_cents > 0, deal_facts.c.occurred_us < 1775001600000000)  # before 1 April
            .order_by(deal_facts.c.position)
        ).all()
    reps = [p.rep_id for p in period_payouts(engine, settings, PERIOD)]
    corrected = iter(won)

    def correct_one() -> None:
        deal = next(corrected)
        ledger.record([correct(deal.deal_id, f"{deal.won_cents // 100 + 1234}.00", when="2026-03-30T09:00:00Z")], "crm")

    for third in (reps[:8], reps[8:16], reps[16:]):
        for rep_id in third:
            approve(ledger, engine, settings, rep_id, PERIOD, "finance:1")
        correct_one()
        correct_one()
    catch_up(ledger, engine)
    yield ledger, engine, settings, reps
    engine.dispose()


def per_rep(monkeypatch: pytest.MonkeyPatch, ledger: Any) -> None:
    """The plain path: nothing memoized, nothing held, nothing read ahead, each rep's learned
    events asked of the log by evidence position."""
    for module in (assembly, replays):
        monkeypatch.setattr(module, "memoized", contextlib.nullcontext)
        monkeypatch.setattr(module, "held_reading", lambda engine: contextlib.nullcontext())
    monkeypatch.setattr(ledger, "positions_at", lambda times: {})


def test_a_quarters_payouts_read_together_equal_each_reps_own_payout(company, monkeypatch):
    ledger, engine, settings, reps = company
    monkeypatch.setattr(assembly, "FIGURES_BATCH", 5)  # five batches of reps, the last one padded
    known = micros_to_time(ledger.recorded_at_of(ledger.head().position))
    together = period_payouts(engine, settings, PERIOD, known_at=known)
    alone = [payout(engine, settings, rep_id, PERIOD, known_at=known) for rep_id in reps]
    assert [p.rep_id for p in together] == reps
    assert [p.to_json() for p in together] == [p.to_json() for p in alone]
    assert sum(p.total for p in together) > 0


def test_the_replay_of_an_approved_quarter_equals_the_replay_read_rep_by_rep(company, monkeypatch):
    ledger, engine, settings, reps = company
    monkeypatch.setattr(assembly, "FIGURES_BATCH", 5)
    together = replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    assert all(row["basis"] == "approved" for row in together["diff"])
    learned = [row for row in together["diff"] if row["causes"]["facts"]["events"]]
    assert learned, "some reps learned a correction after their approval"
    assert all(e["type"] == "DealAmountCorrected" for row in learned for e in row["causes"]["facts"]["events"])
    with monkeypatch.context() as patched:
        per_rep(patched, ledger)
        alone = replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    assert together == alone


def test_the_events_learned_since_an_approval_picked_by_position_are_those_recorded_since(company):
    ledger, engine, settings, reps = company
    now_us = ledger.recorded_at_of(ledger.head().position)
    head = ledger.head().position
    for rep_id in reps[::5]:
        with reading(engine) as conn:
            state = assembly.approval_state(conn, rep_id, PERIOD, now_us)
        assert state is not None and state.known_at_us is not None
        then = payout(engine, settings, rep_id, PERIOD, known_at=micros_to_time(state.known_at_us))
        now = payout(engine, settings, rep_id, PERIOD, known_at=micros_to_time(now_us))
        span = ledger.positions_at([state.known_at_us, now_us])
        assert span[now_us] == head
        picked = events_between(ledger, engine, then, now, state.known_at_us, now_us, (span[state.known_at_us], head))
        assert picked == events_between(ledger, engine, then, now, state.known_at_us, now_us)


def test_the_position_at_a_knowledge_time_is_the_last_one_recorded_by_then(company):
    ledger = company[0]
    head = ledger.head().position
    times = {p: ledger.recorded_at_of(p) for p in (1, 2, 500, 1499, 1500, 2999, 3000, head - 1, head)}
    for position, known_us in times.items():
        assert ledger.position_at(known_us) == position
        assert ledger.position_at(known_us - 1) == position - 1  # knowledge time grows with position
    assert ledger.position_at(0) == 0
    assert ledger.position_at(times[head] + 10**9) == head
    asked = [t + d for t in times.values() for d in (-1, 0, 1)] + [0, times[head] + 10**9]
    together = ledger.positions_at(asked)
    assert together == {t: ledger.position_at(t) for t in asked}
    assert together == {t: ledger._scanned_position_at(t) for t in asked}


def test_a_reps_stints_from_the_memberships_read_once_are_those_read_at_each_knowledge_time(company):
    ledger, engine, _, reps = company
    moments = [ledger.recorded_at_of(p) for p in (30, 800, 2000, ledger.head().position)]
    with reading(engine) as conn:
        history = membership_history(conn)
        for known_us in moments:
            for rep_id in reps:
                assert stints_at(history.get(rep_id, []), known_us) == stints(conn, known_us, [rep_id])
    assert any(len(rows) > 1 for rows in history.values())  # a transfer or two among them


class Statements:
    """The statements an engine runs and the connections it checks out, while counting."""

    def __init__(self, engine: Any):
        self.sql: list[str] = []
        self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)
        self.engine = engine

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.sql.append(statement)

    def _checkout(self, *args: Any) -> None:
        self.checkouts += 1

    def on(self, table: str) -> int:
        return sum(f"FROM {table}" in sql for sql in self.sql)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine.pool, "checkout", self._checkout)


def test_the_replay_reads_the_memberships_once_and_holds_one_connection(company):
    ledger, engine, settings, reps = company
    replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))  # its catch-up done, statements compiled
    counted = Statements(engine)
    try:
        replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    finally:
        counted.close()
    # The active reps, then every rep's stints at its approval's and the replay's knowledge times,
    # from one read (it was one read of the table per approval's knowledge time: 24 here).
    assert counted.on("memberships") == 2
    # The catch-up's glance at the tracked position, then one read transaction for the rest.
    assert counted.checkouts <= 2


def test_a_quarters_figures_are_read_a_batch_of_reps_at_a_time(company, monkeypatch):
    _, engine, settings, reps = company
    period_payouts(engine, settings, PERIOD)
    for batch, statements in ((5, 5), (len(reps), 1)):  # 24 reps: five batches of five, or one
        monkeypatch.setattr(assembly, "FIGURES_BATCH", batch)
        counted = Statements(engine)
        try:
            period_payouts(engine, settings, PERIOD)
        finally:
            counted.close()
        assert counted.on("activities") == statements
        assert counted.checkouts == 1


def test_a_held_read_is_one_transaction_and_ends_with_its_block(settings):
    engine = engine_for(settings)
    try:
        with held_reading(engine):
            with reading(engine) as first, reading(engine) as second:
                assert first is second
            with held_reading(engine), reading(engine) as nested:
                assert nested is first
        with reading(engine) as after:
            assert after is not first
    finally:
        engine.dispose()


# ---------------------------------------------------------------- a held connection lost mid-way


def end_the_held_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the replay's payouts are read, end the connection it holds: on PostgreSQL as a restart
    or `pg_terminate_backend` would; a SQLite connection cannot be ended, so there the read is
    interrupted as a lost one would be."""
    approval_states = replays.approval_states

    def ended_first(engine: Any, *args: Any) -> Any:
        if engine.dialect.name != "postgresql":
            raise ReadInterrupted("the connection to the database was lost in the middle of a long read")
        import psycopg

        with reading(engine) as held:
            pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(False), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return approval_states(engine, *args)

    monkeypatch.setattr(replays, "approval_states", ended_first)


def test_a_replay_whose_held_connection_is_ended_fails_as_interrupted_and_writes_nothing(company, monkeypatch):
    ledger, engine, settings, _ = company
    head = ledger.head().position
    end_the_held_connection(monkeypatch)
    with pytest.raises(ReadInterrupted, match="run it again" if engine.dialect.name == "postgresql" else "lost"):
        replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    assert ledger.head().position == head
    monkeypatch.undo()
    assert replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))["diff"]  # the pool has a live one


def test_the_api_answers_an_interrupted_replay_503_with_retry_after(api, monkeypatch):
    end_the_held_connection(monkeypatch)
    response = api.post("/replays", {"period": "2026-Q1", "plan": {"rules": CHANGED}}, role="finance")
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "store_busy" and response.headers["Retry-After"] == "1"
    monkeypatch.undo()
    assert api.post("/replays", {"period": "2026-Q1", "plan": {"rules": CHANGED}}, role="finance").status_code == 200


def test_the_cli_says_an_interrupted_replay_wrote_nothing_and_can_run_again(cli, sqlite_ledger, tmp_path, monkeypatch):
    from payout_fixtures import department

    sqlite_ledger.record(department(), "seed")
    rules = tmp_path / "rules.json"
    rules.write_text(orjson.dumps(CHANGED).decode())
    end_the_held_connection(monkeypatch)
    result = cli("replay", "2026-Q1", "--rules", str(rules))
    assert result.exit_code == 1
    assert "lost in the middle of a long read" in result.output and "run the same command again" in result.output


def test_the_replay_asks_the_log_once_for_the_plans_and_once_a_rep_that_learned_something(company, monkeypatch):
    ledger, engine, settings, reps = company
    asked: list[list[int]] = []
    events_at = ledger.events_at

    def counted(positions: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(list(positions))
        return events_at(positions, *args, **kwargs)

    monkeypatch.setattr(ledger, "events_at", counted)
    answer = replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    learned = [row for row in answer["diff"] if row["causes"]["facts"]["events"]]
    assert 0 < len(learned) < len(reps)
    assert len(asked) == 1 + len(learned)  # it was once a rep for the plan, and once a rep for its evidence


@pytest.fixture
def approved_company(ledger, settings) -> Iterator[tuple[Any, Any, Any, list[str]]]:
    """24 generated reps, every one approved (a third at a time), nothing but approvals since."""
    engine = engine_for(settings)
    stream = generate(3000, seed=9, now=GENERATED_UNTIL, reps=24)
    while batch := list(itertools.islice(stream, 500)):
        ledger.record(batch, "seed")
    catch_up(ledger, engine)
    reps = [p.rep_id for p in period_payouts(engine, settings, PERIOD)]
    for third in (reps[:8], reps[8:16], reps[16:]):
        for rep_id in third:
            approve(ledger, engine, settings, rep_id, PERIOD, "finance:1")
    catch_up(ledger, engine)
    yield ledger, engine, settings, reps
    engine.dispose()


def counted_replay(ledger: Any, engine: Any, settings: Any) -> tuple[dict[str, Any], int]:
    """A replay of the quarter under CHANGED, and how many statements read the activities."""
    counted = Statements(engine)
    try:
        answer = replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    finally:
        counted.close()
    return answer, counted.on("activities")


def test_reps_approved_with_only_approvals_since_have_their_figures_read_once(approved_company, monkeypatch):
    ledger, engine, settings, reps = approved_company
    replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))  # its catch-up done, statements compiled
    shared, reads = counted_replay(ledger, engine, settings)
    # the replay's knowledge time read once: each approval's saw the very same rows
    assert reads == 1
    assert [row["basis"] for row in shared["diff"]] == ["approved"] * len(reps)
    monkeypatch.setattr(replays, "PAYOUT_BOOKKEEPING", ())  # every approval's figures read at its own time
    each, reads = counted_replay(ledger, engine, settings)
    assert reads == 2
    assert each == shared


def test_a_fact_recorded_after_the_approvals_has_every_approvals_figures_read_again(approved_company, monkeypatch):
    ledger, engine, settings, reps = approved_company
    with reading(engine) as conn:
        deal_id, won_cents = conn.execute(
            select(deal_facts.c.deal_id, deal_facts.c.won_cents)
            .where(deal_facts.c.won_cents > 0, deal_facts.c.occurred_us < 1775001600000000)  # before 1 April
            .order_by(deal_facts.c.position)
        ).first()
    ledger.record([correct(deal_id, f"{won_cents // 100 + 1234}.00", when="2026-03-30T09:00:00Z")], "crm")
    replay(ledger, engine, settings, PERIOD, PlanRequest(rules=CHANGED))
    learned, reads = counted_replay(ledger, engine, settings)
    assert reads == 2  # now and at the approvals' knowledge times
    assert any(row["causes"]["facts"]["events"] for row in learned["diff"])  # the correction, learned since
    monkeypatch.setattr(replays, "PAYOUT_BOOKKEEPING", ())
    assert counted_replay(ledger, engine, settings)[0] == learned
