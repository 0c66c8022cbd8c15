"""Calendar periods in the ledger's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ledger.periods import QUARTER, WEEK, parse_period, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def test_a_deal_won_just_after_midnight_in_shanghai_is_april_there_and_march_in_utc():
    won = datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    assert str(period_of(won, SHANGHAI)) == "2026-04"
    assert str(period_of(won, UTC)) == "2026-03"
    assert str(period_of(won, UTC, QUARTER)) == "2026-Q1"


@pytest.mark.parametrize(
    "text", ["2026", "2026-Q1", "2026-Q4", "2026-01", "2026-12", "2026-W01", "2026-W48", "2026-W53"]
)
def test_periods_print_as_they_are_written(text):
    assert str(parse_period(text)) == text


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-Q5", "26-01", "2026-1", "", "2026-Q1x", "0999", "2026-W1", "2026W48"]
)
def test_malformed_periods_are_refused_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="YYYY-MM, YYYY-Qn, YYYY-Www or YYYY|out of range"):
        parse_period(text)


def test_period_bounds_previous_and_containment():
    q1 = parse_period("2026-Q1")
    assert q1.start(SHANGHAI) == datetime(2026, 1, 1, tzinfo=SHANGHAI)
    assert q1.end(SHANGHAI) == datetime(2026, 4, 1, tzinfo=SHANGHAI)
    assert str(q1.previous()) == "2025-Q4"
    assert str(parse_period("2026-01").previous()) == "2025-12"
    assert q1.contains(parse_period("2026-03")) and not q1.contains(parse_period("2026-04"))
    assert [str(p) for p in parse_period("2026-02").enclosing()] == ["2026-02", "2026-Q1", "2026"]
    assert str(parse_period("2026-12").end(UTC).date()) == "2027-01-01"


# --- ISO weeks, read in the ledger's zone ----------------------------------------------------------


def test_the_week_of_the_seeds_sales_meeting_runs_monday_to_monday_in_shanghai():
    week = parse_period("2026-W48")
    assert week.start(SHANGHAI) == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert week.end(SHANGHAI) == datetime(2026, 11, 30, tzinfo=SHANGHAI)
    assert str(week.previous()) == "2026-W47"


def test_2026_w53_runs_from_28_december_2026_to_3_january_2027():
    week = parse_period("2026-W53")
    assert week.start(SHANGHAI) == datetime(2026, 12, 28, tzinfo=SHANGHAI)
    assert week.end(SHANGHAI) == datetime(2027, 1, 4, tzinfo=SHANGHAI)  # exclusive: 3 January is its last day
    assert str(parse_period("2027-W01").previous()) == "2026-W53"


def test_31_december_2025_is_in_2026_w01_read_in_shanghai():
    last_evening = datetime(2025, 12, 31, 23, 30, tzinfo=SHANGHAI)
    assert str(period_of(last_evening, SHANGHAI, WEEK)) == "2026-W01"
    # the same instant read in UTC (15:30 on 31 December) is in the same week
    assert str(period_of(last_evening, UTC, WEEK)) == "2026-W01"
    # Sunday 4 January 2026 at 23:30 in Shanghai is still W01; in Shanghai, 00:30 on Monday is W02
    assert str(period_of(datetime(2026, 1, 4, 23, 30, tzinfo=SHANGHAI), SHANGHAI, WEEK)) == "2026-W01"
    assert str(period_of(datetime(2026, 1, 4, 16, 30, tzinfo=UTC), SHANGHAI, WEEK)) == "2026-W02"


def test_2027_w01_starts_on_4_january_2027():
    assert parse_period("2027-W01").start(SHANGHAI) == datetime(2027, 1, 4, tzinfo=SHANGHAI)


def test_2025_has_no_week_53():
    with pytest.raises(ValueError, match="2025 has no week 53: its ISO weeks run 01 to 52"):
        parse_period("2025-W53")
    with pytest.raises(ValueError, match="no week 00"):
        parse_period("2026-W00")
