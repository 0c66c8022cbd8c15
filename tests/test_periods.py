"""Calendar periods in the ledger's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ledger.periods import QUARTER, parse_period, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def test_a_deal_won_just_after_midnight_in_shanghai_is_april_there_and_march_in_utc():
    won = datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    assert str(period_of(won, SHANGHAI)) == "2026-04"
    assert str(period_of(won, UTC)) == "2026-03"
    assert str(period_of(won, UTC, QUARTER)) == "2026-Q1"


@pytest.mark.parametrize("text", ["2026", "2026-Q1", "2026-Q4", "2026-01", "2026-12"])
def test_periods_print_as_they_are_written(text):
    assert str(parse_period(text)) == text


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-01", "2026-1", "", "2026-Q1x", "0999"])
def test_malformed_periods_are_refused_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="YYYY-MM, YYYY-Qn or YYYY|out of range"):
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
