"""The quarter in progress, read as a new user reads it on 3 December 2026 (a fixed clock): the
cut-offs default to now, pace is measured on the share of the quarter elapsed in the ledger's
zone, and the same read at the quarter's end equals attainment."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal as D

import pytest
from api_client import running
from builders import ev, onboard, open_deal, win
from projection_fixtures import FixedClock, projected_stores

from projections.queries.cutoffs import cutoffs
from projections.queries.history import rep_history
from projections.queries.kpis import targets

T = "+08:00"
# The last instant of 3 December in Shanghai: 64 of the quarter's 92 days have passed.
END_OF_3_DECEMBER = f"2026-12-03T23:59:59.999999{T}"


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


@pytest.fixture
def clock():
    """Noon on 3 December while the facts are recorded; each read moves it on first (a fixed
    clock stamps each recording a microsecond after the one before: a read at the same instant
    would not know them yet)."""
    return FixedClock(f"2026-12-03T12:00:00{T}")


@pytest.fixture
def quarter(projected_store, clock):
    """R-ZW: a Q4 revenue target of 100000 set on 1 October; won 50000 in October and 23900 in
    November (73.9% of the target, 1.0617 of the pace on 3 December); two follow-ups, one due
    on 1 December and one on 20 December, neither done."""
    store = projected_store("Asia/Shanghai", clock)
    store.record(
        onboard("R-ZW", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        ev(
            "TargetSet",
            f"2026-10-01T09:00:00{T}",
            "t-q4",
            scope={"rep": "R-ZW"},
            metric="revenue",
            period="2026-Q4",
            value="100000.00",
        ),
        open_deal("D-1", "R-ZW", "C-1", f"2026-10-02T10:00:00{T}"),
        win("D-1", "50000.00", f"2026-10-20T10:00:00{T}"),
        open_deal("D-2", "R-ZW", "C-2", f"2026-11-02T10:00:00{T}"),
        win("D-2", "23900.00", f"2026-11-25T10:00:00{T}"),
        ev("FollowUpScheduled", f"2026-11-20T10:00:00{T}", "f-1", followup_id="F-1", rep_id="R-ZW",
           due_at=f"2026-12-01T10:00:00{T}"),
        ev("FollowUpScheduled", f"2026-11-20T10:00:00{T}", "f-2", followup_id="F-2", rep_id="R-ZW",
           due_at=f"2026-12-20T10:00:00{T}"),
    )  # fmt: skip
    store.project()
    clock.set(END_OF_3_DECEMBER)
    return store


def test_a_read_of_the_quarter_in_progress_is_as_of_now_and_counts_64_of_92_days(quarter):
    cut = cutoffs(quarter.settings, "2026-Q4")
    assert cut.as_of_us == cutoffs(quarter.settings, "2026-Q4", datetime.fromisoformat(END_OF_3_DECEMBER)).as_of_us
    assert cut.status == "in_progress"
    assert D(cut.upto_us - cut.start_us) / D(cut.end_us - cut.start_us) == D(64) / D(92)


def test_a_rep_at_74_percent_of_the_target_on_3_december_is_on_pace(quarter):
    figures = quarter.kpis("rep:R-ZW", "2026-Q4")
    assert figures["attainment"]["revenue"] == D("0.7390")
    # pace = 73900 / (100000 × 64/92) = 1.06231…
    assert figures["pace"]["revenue"] == D("1.0623")
    assert figures["off_track"] == []


def test_only_the_followup_due_before_now_is_overdue(quarter):
    assert quarter.kpis("rep:R-ZW", "2026-Q4")["followups"]["overdue"] == 1


def test_the_same_read_at_the_quarter_end_gives_pace_equal_to_attainment(quarter, clock):
    clock.set(f"2027-01-15T09:00:00{T}")
    figures = quarter.kpis("rep:R-ZW", "2026-Q4")
    assert figures["pace"]["revenue"] == figures["attainment"]["revenue"] == D("0.7390")
    assert figures["off_track"] == ["revenue"]
    assert figures["followups"]["overdue"] == 2
    assert cutoffs(quarter.settings, "2026-Q4").status == "ended"


def test_a_period_not_yet_started_reads_empty_and_says_so(quarter):
    cut = cutoffs(quarter.settings, "2027-Q1")
    assert cut.status == "not_started"
    figures = quarter.kpis("rep:R-ZW", "2027-Q1")
    assert figures["revenue"] == D("0.00") and figures["orders"] == 0


def test_a_target_revision_counts_from_the_day_it_was_set(quarter, clock):
    clock.set(f"2026-12-03T20:00:00{T}")
    quarter.record(
        ev("TargetSet", f"2026-11-15T09:00:00{T}", "t-q4-rev", scope={"rep": "R-ZW"}, metric="revenue",
           period="2026-Q4", value="80000.00", reason="territory rebalanced"),
    )  # fmt: skip
    quarter.project()
    clock.set(END_OF_3_DECEMBER)
    on_10_november = datetime.fromisoformat(f"2026-11-10T23:59:59{T}")
    assert targets(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4", on_10_november)["revenue"]["value"] == D(
        "100000.00"
    )
    assert quarter.kpis("rep:R-ZW", "2026-Q4", as_of=on_10_november)["attainment"]["revenue"] == D("0.5000")
    assert targets(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4")["revenue"]["value"] == D("80000.00")


def test_a_history_as_of_a_day_leaves_out_what_happened_after_it(quarter, clock):
    clock.set(f"2026-12-03T20:00:00{T}")
    quarter.record(
        ev("FeedbackGiven", f"2026-02-03T10:00:00{T}", "fb-1", feedback_id="FB-1", rep_id="R-ZW", author_id="M-1",
           kind="coaching", text="ask for the budget earlier"),
        ev("FeedbackGiven", f"2026-03-10T10:00:00{T}", "fb-2", feedback_id="FB-2", rep_id="R-ZW", author_id="M-1",
           kind="recognition", text="closed the Wuxi deal"),
    )  # fmt: skip
    quarter.project()
    clock.set(END_OF_3_DECEMBER)
    on_3_february = datetime.fromisoformat(f"2026-02-03T23:59:59{T}")
    history = rep_history(quarter.engine, quarter.settings, "R-ZW", as_of=on_3_february)
    assert [entry["data"]["feedback_id"] for entry in history] == ["FB-1"]
    assert len(rep_history(quarter.engine, quarter.settings, "R-ZW")) == 2


def test_the_weekly_meeting_reads_a_week_of_the_ledgers_zone(quarter):
    # D-2 was won on Wednesday 25 November at 10:00 in Shanghai: 2026-W48 (23 to 29 November)
    assert quarter.kpis("rep:R-ZW", "2026-W48")["revenue"] == D("23900.00")
    assert quarter.kpis("rep:R-ZW", "2026-W47")["revenue"] == D("0.00")
    assert cutoffs(quarter.settings, "2026-W49").status == "in_progress"


def test_the_api_answers_a_week_and_refuses_a_week_that_does_not_exist(settings):
    with running(replace(settings, tz_name="Asia/Shanghai")) as api:
        answer = api.get("/kpis", scope="company", period="2026-W48")
        assert answer.status_code == 200 and answer.json()["period"] == "2026-W48"
        refused = api.get("/kpis", scope="company", period="2025-W53")
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert problem["field"] == "query.period" and "2025 has no week 53" in problem["message"]
