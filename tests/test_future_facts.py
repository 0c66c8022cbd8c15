"""Facts cannot come from the future: a deal won tomorrow is refused, whole batch and all, with
the event and the field named; a plan for next quarter is recorded; a writer's clock a few
minutes fast is tolerated."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from api_client import running
from builders import ev, onboard, open_deal, win
from projection_fixtures import FixedClock

from ledger.config import ConfigError, settings_from_env
from ledger.errors import InvalidBatch
from ledger.store import Ledger

T = "+08:00"
NOW = f"2026-12-03T15:00:00{T}"


@pytest.fixture
def clocked(settings):
    store = Ledger(replace(settings, clock=FixedClock(NOW)))
    store.record(
        [onboard("R-ZW", when=f"2026-01-05T09:00:00{T}"), open_deal("D-1", "R-ZW", when=f"2026-11-02T10:00:00{T}")],
        "seed",
    )
    yield store
    store.close()


def test_a_deal_won_tomorrow_is_refused_and_nothing_is_written(clocked):
    before = clocked.head()
    batch = [ev("ActivityLogged", f"2026-12-03T11:00:00{T}", activity_id="A-1", rep_id="R-ZW", kind="call"),
             win("D-1", "18000.00", f"2026-12-04T10:00:00{T}")]  # fmt: skip
    with pytest.raises(InvalidBatch) as refused:
        clocked.record(batch, "tester")
    (problem,) = refused.value.problems
    assert (problem.index, problem.field, problem.code) == (1, "occurred_at", "occurred_at.future")
    assert "DealWon dated" in problem.message and "2026-12-04T10:00:00+08:00" in problem.message
    assert clocked.head() == before
    assert clocked.check(batch) == refused.value.problems


def test_a_writer_clock_a_few_minutes_fast_is_tolerated(clocked):
    four_minutes_ahead = (datetime.fromisoformat(NOW) + timedelta(minutes=4)).isoformat()
    six_minutes_ahead = (datetime.fromisoformat(NOW) + timedelta(minutes=6)).isoformat()
    clocked.record([win("D-1", "18000.00", four_minutes_ahead)], "tester")
    with pytest.raises(InvalidBatch):
        clocked.record([ev("ActivityLogged", six_minutes_ahead, activity_id="A-2", rep_id="R-ZW", kind="call")], "t")


def test_a_target_for_next_quarter_is_recorded(clocked):
    target = {"scope": {"rep": "R-ZW"}, "metric": "revenue", "period": "2027-Q1", "value": "120000.00"}
    clocked.record([ev("TargetSet", NOW, **target)], "finance")
    # a plan may also be dated when it takes effect
    clocked.record([ev("TargetSet", f"2027-01-01T00:00:00{T}", **target, reason="from the first day")], "finance")


def test_the_tolerance_is_set_in_seconds_by_the_environment():
    assert settings_from_env({"PERFLEDGER_FUTURE_TOLERANCE": "60"}).future_tolerance == timedelta(seconds=60)
    assert settings_from_env({}).future_tolerance == timedelta(minutes=5)
    with pytest.raises(ConfigError, match="PERFLEDGER_FUTURE_TOLERANCE"):
        settings_from_env({"PERFLEDGER_FUTURE_TOLERANCE": "five minutes"})


def test_the_api_refuses_a_deal_won_tomorrow_naming_the_event_and_the_field(settings):
    with running(replace(settings, clock=FixedClock(NOW)), seed=False) as api:
        api.record(
            onboard("R-ZW", when=f"2026-01-05T09:00:00{T}"), open_deal("D-1", "R-ZW", when=f"2026-11-02T10:00:00{T}")
        )
        response = api.post("/events", {"events": [win("D-1", "18000.00", f"2026-12-04T10:00:00{T}")]})
        assert response.status_code == 422, response.text
        (problem,) = response.json()["detail"]
        assert (problem["index"], problem["field"], problem["code"]) == (0, "occurred_at", "occurred_at.future")
        assert api.head() == 2
