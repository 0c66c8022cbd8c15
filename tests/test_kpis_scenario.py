"""Every KPI of docs/design.md on one small sales month, worked out by hand in Asia/Shanghai (+08:00).

The story (all times +08:00; "K1".."K4" are the moments the ledger learned each part):

  Org     R-1 and R-2 in team T-A (East), R-3 in team T-B (West), from 1 January.
          R-2 moves to T-B (West) on 16 March 09:00 -- recorded late, at K2.
  Targets March: R-1 revenue 20000 (revised to 16000 at K3), R-1 orders 4, R-1 win_rate 0.8,
          R-2 revenue 10000, team T-A revenue 30000; April: R-1 revenue 5000.
  Leads   R-1: L-1 on 15 Feb, L-2 on 3 Mar, L-3 on 4 Mar.
  Deals   D-1 R-1 C-1 (lead L-1) opened 20 Feb 10:00, won 1 Mar 00:30 for 10000
                (March here, but 28 Feb 16:30 in UTC); refund 500 on 20 Mar;
                corrected to 12000 on 5 Apr -- recorded last, at K4.
          D-2 R-1 C-2 (lead L-2) opened 3 Mar 12:00, won 13 Mar 12:00 for 6000; refund 1000 on 10 Apr.
          D-3 R-1 C-3 opened 5 Mar, won 1 Apr 00:30 for 4000 (April here, 31 Mar in UTC).
          D-4 R-1 C-4 opened 6 Mar, lost 28 Mar.
          D-5 R-2 C-5 opened 5 Mar 10:00, won 10 Mar 10:00 for 8000; split 50/50 with R-3 at K2.
          D-6 R-2 C-6 opened 12 Mar 10:00, won 20 Mar 10:00 for 2000 (after R-2's move).
  R-1's activities: calls on 2 Mar and 31 Mar 23:59; emails on 3 Mar (replied), 4 Mar (not),
          5 Mar (not said), 1 Apr 00:01 (April).
  R-1's follow-ups: F-1 due 10 Mar, done 9 Mar; F-2 due 20 Mar, never done; F-3 due 31 Mar
          20:00, done 2 Apr; F-4 due 2 Apr.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest
from builders import ev, lose, onboard, open_deal, refund, win
from projection_fixtures import projected_stores

from projections.payouts.rep_figures import rep_figures
from projections.queries.history import rep_history
from projections.queries.kpis import quadrants, target_consistency, targets

T = "+08:00"


def at(day: str, clock: str = "10:00") -> str:
    return f"2026-{day}T{clock}:00{T}"


SET_IN_FEBRUARY = at("02-25")


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


def target(scope, metric, period, value, event_id, when=SET_IN_FEBRUARY, reason=None):
    data = {"scope": scope, "metric": metric, "period": period, "value": value}
    if reason:
        data["reason"] = reason
    return ev("TargetSet", when, event_id, **data)


def lead(lead_id, day):
    return ev("LeadCreated", at(day), f"lead-{lead_id}", lead_id=lead_id, rep_id="R-1")


def activity(activity_id, kind, when, replied=None):
    extra = {} if replied is None else {"replied": replied}
    return ev("ActivityLogged", when, activity_id, activity_id=activity_id, rep_id="R-1", kind=kind, **extra)


def followup(followup_id, due):
    return ev("FollowUpScheduled", at("03-01", "08:00"), followup_id, followup_id=followup_id, rep_id="R-1", due_at=due)


def done(followup_id, when):
    return ev("FollowUpCompleted", when, f"{followup_id}-done", followup_id=followup_id)


def with_id(envelope, event_id):
    return {**envelope, "event_id": event_id}


@pytest.fixture
def month(projected_store):
    store = projected_store("Asia/Shanghai")
    k1 = store.record(
        onboard("R-1", "T-A", "East", at("01-01", "09:00")),
        onboard("R-2", "T-A", "East", at("01-01", "09:00")),
        onboard("R-3", "T-B", "West", at("01-01", "09:00")),
        target({"rep": "R-1"}, "revenue", "2026-03", "20000.00", "t-r1-rev"),
        target({"rep": "R-1"}, "orders", "2026-03", "4", "t-r1-orders"),
        target({"rep": "R-1"}, "win_rate", "2026-03", "0.8", "t-r1-win"),
        target({"rep": "R-2"}, "revenue", "2026-03", "10000.00", "t-r2-rev"),
        target({"team": "T-A"}, "revenue", "2026-03", "30000.00", "t-ta-rev"),
        target({"rep": "R-1"}, "revenue", "2026-04", "5000.00", "t-r1-rev-apr"),
        lead("L-1", "02-15"),
        lead("L-2", "03-03"),
        lead("L-3", "03-04"),
        with_id(open_deal("D-1", "R-1", "C-1", at("02-20"), lead_id="L-1"), "d1-open"),
        with_id(win("D-1", "10000.00", at("03-01", "00:30")), "d1-won"),
        with_id(open_deal("D-2", "R-1", "C-2", at("03-03", "12:00"), lead_id="L-2"), "d2-open"),
        with_id(win("D-2", "6000.00", at("03-13", "12:00")), "d2-won"),
        with_id(open_deal("D-3", "R-1", "C-3", at("03-05")), "d3-open"),
        with_id(win("D-3", "4000.00", at("04-01", "00:30")), "d3-won"),
        with_id(open_deal("D-4", "R-1", "C-4", at("03-06")), "d4-open"),
        with_id(lose("D-4", at("03-28")), "d4-lost"),
        with_id(open_deal("D-5", "R-2", "C-5", at("03-05")), "d5-open"),
        with_id(win("D-5", "8000.00", at("03-10")), "d5-won"),
        with_id(open_deal("D-6", "R-2", "C-6", at("03-12")), "d6-open"),
        with_id(win("D-6", "2000.00", at("03-20")), "d6-won"),
        with_id(refund("D-1", "500.00", at("03-20")), "d1-refund"),
        with_id(refund("D-2", "1000.00", at("04-10")), "d2-refund"),
        activity("A-1", "call", at("03-02")),
        activity("A-2", "call", at("03-31", "23:59")),
        activity("A-3", "email", at("03-03"), replied=True),
        activity("A-4", "email", at("03-04"), replied=False),
        activity("A-5", "email", at("03-05")),
        activity("A-6", "email", at("04-01", "00:01"), replied=False),
        followup("F-1", at("03-10")),
        followup("F-2", at("03-20")),
        followup("F-3", at("03-31", "20:00")),
        followup("F-4", at("04-02")),
        done("F-1", at("03-09")),
        done("F-3", at("04-02")),
    )
    k2 = store.record(
        ev(
            "DealCreditSplit",
            at("03-11"),
            "d5-split",
            deal_id="D-5",
            splits=[{"rep_id": "R-2", "share": "0.5"}, {"rep_id": "R-3", "share": "0.5"}],
        ),
        ev("RepTransferred", at("03-16", "09:00"), "r2-moves", rep_id="R-2", team_id="T-B", region="West"),
    )
    k3 = store.record(
        target(
            {"rep": "R-1"}, "revenue", "2026-03", "16000.00", "t-r1-rev-2", at("03-15"), reason="territory rebalanced"
        )
    )
    k4 = store.record(
        ev(
            "DealAmountCorrected",
            at("04-05"),
            "d1-corrected",
            deal_id="D-1",
            amount="12000.00",
            reason="missing line item",
        )
    )
    store.project()
    store.k = {"K1": k1, "K2": k2, "K3": k3, "K4": k4}
    return store


# --- revenue --------------------------------------------------------------------------------


def test_revenue_is_won_amounts_as_corrected_minus_refunds_in_the_period(month):
    # R-1, March: D-1 won 1 Mar 00:30 (+08:00) as corrected 12000, D-2 won 13 Mar 6000, less the
    # D-1 refund of 20 Mar 500 = 17500. D-3 (won 1 Apr 00:30) and D-2's refund (10 Apr) are April.
    assert month.kpis("rep:R-1", "2026-03")["revenue"] == D("17500.00")
    # April: D-3 4000 - D-2's refund 1000 = 3000: the refund counts in its own period.
    assert month.kpis("rep:R-1", "2026-04")["revenue"] == D("3000.00")


def test_a_correction_recorded_after_the_fact_restates_the_wins_own_period(month):
    # Before the correction was known (K3): 10000 + 6000 - 500 = 15500. From K4: 12000 + 6000 - 500.
    # The correction happened on 5 April, yet it restates March (the win's period), not April.
    assert month.kpis("rep:R-1", "2026-03", known_at=month.k["K3"])["revenue"] == D("15500.00")
    assert month.kpis("rep:R-1", "2026-03", known_at=month.k["K4"])["revenue"] == D("17500.00")
    assert month.kpis("rep:R-1", "2026-04", known_at=month.k["K4"])["revenue"] == D("3000.00")


def test_period_boundaries_follow_the_ledgers_time_zone(month):
    # D-1 won 1 Mar 00:30 +08:00 = 28 Feb 16:30 UTC; D-3 won 1 Apr 00:30 +08:00 = 31 Mar 16:30 UTC.
    assert month.kpis("rep:R-1", "2026-02")["revenue"] == D("0.00")
    # The same projected tables read in UTC: March = D-2 6000 + D-3 4000 - D-1's refund 500 = 9500,
    # and February holds D-1 (12000 as corrected).
    utc = type(month.settings)(database_url=month.settings.database_url, tz_name="UTC")
    from projections.queries.kpis import kpis

    assert kpis(month.engine, utc, "rep:R-1", "2026-03")["revenue"] == D("9500.00")
    assert kpis(month.engine, utc, "rep:R-1", "2026-02")["revenue"] == D("12000.00")


def test_a_split_divides_revenue_by_share_from_the_moment_it_is_known(month):
    # D-5 (8000) was R-2's alone until the 50/50 split became known at K2.
    assert month.kpis("rep:R-2", "2026-03", known_at=month.k["K1"])["revenue"] == D("10000.00")
    assert month.kpis("rep:R-3", "2026-03", known_at=month.k["K1"])["revenue"] == D("0.00")
    # From K2: R-2 = 4000 (half of D-5) + 2000 (D-6); R-3 = 4000.
    assert month.kpis("rep:R-2", "2026-03")["revenue"] == D("6000.00")
    assert month.kpis("rep:R-3", "2026-03")["revenue"] == D("4000.00")


def test_a_deal_counts_for_the_team_and_region_its_rep_had_when_it_happened(month):
    # T-A: R-1's 17500 + R-2's half of D-5 (won 10 Mar, before R-2 moved on 16 Mar) = 21500.
    # T-B: R-3's half of D-5 4000 + D-6 2000 (won 20 Mar, after R-2 moved) = 6000.
    assert month.kpis("team:T-A", "2026-03")["revenue"] == D("21500.00")
    assert month.kpis("team:T-B", "2026-03")["revenue"] == D("6000.00")
    assert month.kpis("region:East", "2026-03")["revenue"] == D("21500.00")
    assert month.kpis("region:West", "2026-03")["revenue"] == D("6000.00")
    # The company is every deal once: 17500 + 8000 + 2000.
    assert month.kpis("company", "2026-03")["revenue"] == D("27500.00")


def test_a_backdated_transfer_changes_history_only_for_reads_that_know_it(month):
    # At K1 the ledger did not know R-2 had moved: D-5 (whole, unsplit) and D-6 were T-A's:
    # 15500 (R-1 before the correction) + 8000 + 2000 = 25500, and T-B had nothing.
    assert month.kpis("team:T-A", "2026-03", known_at=month.k["K1"])["revenue"] == D("25500.00")
    assert month.kpis("team:T-B", "2026-03", known_at=month.k["K1"])["revenue"] == D("0.00")
    # At K2 both the move (back to 16 Mar) and the split are known: T-A 15500 + 4000, T-B 4000 + 2000.
    assert month.kpis("team:T-A", "2026-03", known_at=month.k["K2"])["revenue"] == D("19500.00")
    assert month.kpis("team:T-B", "2026-03", known_at=month.k["K2"])["revenue"] == D("6000.00")


def test_as_of_counts_only_what_had_happened_by_then(month):
    # As of 16 Mar 00:00: D-1 (12000; its correction restates the win, so it applies) and D-2
    # (6000); the refund of 20 Mar had not happened yet.
    assert month.kpis("rep:R-1", "2026-03", as_of=datetime.fromisoformat(at("03-16", "00:00")))["revenue"] == D(
        "18000.00"
    )


# --- growth ---------------------------------------------------------------------------------


def test_growth_rate_compares_with_the_previous_period_and_is_null_after_nothing(month):
    # April vs March for R-1: (3000 - 17500) / 17500 = -0.828571... -> -0.8286.
    assert month.kpis("rep:R-1", "2026-04")["growth_rate"] == D("-0.8286")
    # March vs February: February's revenue is 0, so there is no growth rate.
    assert month.kpis("rep:R-1", "2026-03")["growth_rate"] is None


# --- new customers --------------------------------------------------------------------------


def test_new_customers_are_customers_whose_first_win_falls_in_the_period(month):
    # R-1 in March: C-1 (D-1) and C-2 (D-2); C-3's first win (D-3) is in April.
    assert month.kpis("rep:R-1", "2026-03")["new_customers"] == 2
    assert month.kpis("rep:R-1", "2026-04")["new_customers"] == 1
    # A split deal counts whole for each rep it credits: R-2 has C-5 (D-5, split 50/50 with R-3)
    # and C-6 = 2; R-3 has C-5 = 1.
    assert month.kpis("rep:R-2", "2026-03")["new_customers"] == 2
    assert month.kpis("rep:R-3", "2026-03")["new_customers"] == 1
    # The company counts each customer once: C-1, C-2, C-5, C-6.
    assert month.kpis("company", "2026-03")["new_customers"] == 4


# --- conversion -----------------------------------------------------------------------------


def test_conversion_rate_is_the_share_of_the_periods_leads_whose_deal_was_won(month):
    # March leads of R-1: L-2 (its deal D-2 won 13 Mar) and L-3 (no deal): 1 / 2.
    assert month.kpis("rep:R-1", "2026-03")["conversion_rate"] == D("0.5")
    # February's lead L-1 was converted by D-1, won on 1 Mar: not yet as of the end of February...
    assert month.kpis("rep:R-1", "2026-02")["conversion_rate"] == D(0)
    # ...but it was by 31 March.
    assert month.kpis("rep:R-1", "2026-02", as_of=datetime.fromisoformat(at("03-31")))["conversion_rate"] == D(1)


# --- win rate, orders, average order value, sales cycle -------------------------------------


def test_win_rate_is_won_over_won_and_lost_of_deals_closed_in_the_period(month):
    # R-1 in March: won D-1, D-2; lost D-4 (28 Mar): 2 / 3.
    assert month.kpis("rep:R-1", "2026-03")["win_rate"] == D("0.6667")
    # The company: won D-1, D-2, D-5, D-6, lost D-4: 4 / 5.
    assert month.kpis("company", "2026-03")["win_rate"] == D("0.8")


def test_orders_count_won_deals_whole_and_average_order_value_divides_won_amount(month):
    # 2 orders for 12000 + 6000 won (refunds aside): 9000 each.
    march = month.kpis("rep:R-1", "2026-03")
    assert (march["orders"], march["avg_order_value"]) == (2, D("9000.00"))
    # Before the correction: (10000 + 6000) / 2.
    assert month.kpis("rep:R-1", "2026-03", known_at=month.k["K3"])["avg_order_value"] == D("8000.00")
    # D-5 (split: counted whole, its half of the money) and D-6 = 2 orders for
    # 4000 + 2000 won: 6000 / 2 = 3000.
    r2 = month.kpis("rep:R-2", "2026-03")
    assert (r2["orders"], r2["avg_order_value"]) == (2, D("3000.00"))
    # T-A at K2: R-1's D-1 and D-2, and D-5 (R-2 was in T-A when it was won) = 3;
    # T-B: D-5 through R-3 and D-6 (R-2 had moved) = 2; the company counts D-5 once: 4.
    assert month.kpis("team:T-A", "2026-03")["orders"] == 3
    assert month.kpis("team:T-B", "2026-03")["orders"] == 2
    assert month.kpis("company", "2026-03")["orders"] == 4


def test_sales_cycle_is_mean_and_median_days_from_opening_to_win(month):
    # D-1 20 Feb 10:00 -> 1 Mar 00:30 = 8 days 14.5 hours = 8.6042 days; D-2 exactly 10 days.
    # Mean = median (two deals) = 9.3021 -> 9.30.
    assert month.kpis("rep:R-1", "2026-03")["sales_cycle_days"] == {"mean": D("9.30"), "median": D("9.30")}
    # The company adds D-5 (5 days) and D-6 (8 days): sorted 5, 8, 8.6042, 10.
    # Mean 31.6042 / 4 = 7.90; median (8 + 8.6042) / 2 = 8.30.
    assert month.kpis("company", "2026-03")["sales_cycle_days"] == {"mean": D("7.90"), "median": D("8.30")}


# --- activities and follow-ups --------------------------------------------------------------


def test_activities_are_counted_by_kind_with_the_email_reply_rate(month):
    march = month.kpis("rep:R-1", "2026-03")
    # The call at 31 Mar 23:59 is March; the email at 1 Apr 00:01 is April.
    assert march["activities"] == {"call": 2, "visit": 0, "email": 3, "meeting": 0, "demo": 0, "other": 0}
    # 1 of the 3 March emails was replied to (one said not, one did not say).
    assert march["email_reply_rate"] == D("0.3333")
    assert month.kpis("rep:R-1", "2026-04")["email_reply_rate"] == D(0)


def test_followups_due_done_and_overdue(month):
    # Due in March: F-1, F-2, F-3. Done by the end of March: F-1 (F-3 only on 2 April).
    # Overdue at the end of March: F-2 and F-3.
    assert month.kpis("rep:R-1", "2026-03")["followups"] == {"due": 3, "done": 1, "overdue": 2}
    # As of 15 March: F-1 done, F-2 and F-3 not yet due.
    mid = month.kpis("rep:R-1", "2026-03", as_of=datetime.fromisoformat(at("03-15", "00:00")))
    assert mid["followups"] == {"due": 3, "done": 1, "overdue": 0}


# --- attainment, pace, off track ------------------------------------------------------------


def test_attainment_divides_the_figure_by_the_target_in_force(month):
    # Revenue 17500 / 16000 (the revision) = 1.09375 -> 1.0938; orders 2 / 4; win rate (2/3) / 0.8.
    march = month.kpis("rep:R-1", "2026-03")
    assert march["attainment"] == {"revenue": D("1.0938"), "orders": D("0.5"), "win_rate": D("0.8333")}
    # At the end of the month the whole period has elapsed: pace = attainment.
    assert march["pace"] == march["attainment"]
    assert march["off_track"] == ["orders", "win_rate"]
    # Before the revision was known (K2) the target was 20000; before the correction, 15500 won.
    assert month.kpis("rep:R-1", "2026-03", known_at=month.k["K2"])["attainment"]["revenue"] == D("0.775")


def test_pace_divides_attainment_by_the_elapsed_share_of_the_period(month):
    # As of 16 Mar 00:00, 15 of March's 31 days have elapsed. Revenue 18000 / 16000 = 1.125,
    # pace 1.125 / (15/31) = 2.325; orders 2 / 4 = 0.5, pace 0.5 * 31/15 = 1.0333.
    # The win rate (2 won, none lost yet) 1 / 0.8 = 1.25 is a ratio: its pace is its attainment.
    mid = month.kpis("rep:R-1", "2026-03", as_of=datetime.fromisoformat(at("03-16", "00:00")))
    assert mid["attainment"] == {"revenue": D("1.125"), "orders": D("0.5"), "win_rate": D("1.25")}
    assert mid["pace"] == {"revenue": D("2.325"), "orders": D("1.0333"), "win_rate": D("1.25")}
    assert mid["off_track"] == []


def test_an_empty_period_has_zero_counts_and_null_rates(month):
    june = month.kpis("rep:R-1", "2026-06")
    assert june == {
        "revenue": D("0.00"),
        "growth_rate": None,
        "new_customers": 0,
        "leads": 0,
        "conversion_rate": None,
        "win_rate": None,
        "orders": 0,
        "avg_order_value": None,
        "sales_cycle_days": {"mean": None, "median": None},
        "activities": {"call": 0, "visit": 0, "email": 0, "meeting": 0, "demo": 0, "other": 0},
        "email_reply_rate": None,
        "followups": {"due": 0, "done": 0, "overdue": 0},
        "attainment": {},
        "pace": {},
        "off_track": [],
    }
    # A team nobody was ever in is just as empty, not an error.
    assert month.kpis("team:T-none", "2026-03")["revenue"] == D("0.00")


def test_quarter_and_year_periods_add_up_their_months(month):
    # Q1 = February (0) + March (17500) for R-1; the year adds April (3000).
    assert month.kpis("rep:R-1", "2026-Q1")["revenue"] == D("17500.00")
    assert month.kpis("rep:R-1", "2026")["revenue"] == D("20500.00")


# --- targets, consistency, quadrants --------------------------------------------------------


def test_targets_show_the_value_in_force_and_every_revision(month):
    current = targets(month.engine, month.settings, "rep:R-1", "2026-03")
    assert current["revenue"]["value"] == D("16000.00")
    assert [(r["value"], r["reason"]) for r in current["revenue"]["revisions"]] == [
        (D("20000.00"), None),
        (D("16000.00"), "territory rebalanced"),
    ]
    earlier = targets(month.engine, month.settings, "rep:R-1", "2026-03", known_at=month.k["K2"])
    assert earlier["revenue"]["value"] == D("20000.00")


def test_a_team_target_unlike_the_sum_of_its_reps_targets_is_flagged(month):
    # T-A's March revenue target 30000; its reps in March: R-1 (16000) and R-2 (10000, until 16 Mar).
    (row,) = target_consistency(month.engine, month.settings, "2026-03")
    assert (row["team_id"], row["metric"], row["team_target"], row["reps_sum"]) == (
        "T-A",
        "revenue",
        D("30000.00"),
        D("26000.00"),
    )
    assert row["consistent"] is False and row["difference"] == D("4000.00")


def test_regions_fall_into_quadrants_by_revenue_and_growth(month):
    # April: East = R-1's 3000 (vs March 21500: growth -18500/21500 = -0.8605);
    # West = 0 (vs March 6000: growth -1). Medians: revenue 1500, growth -0.93025 -> -0.9303.
    result = quadrants(month.engine, month.settings, "2026-04")
    assert result["thresholds"] == {"revenue": D("1500.00"), "growth_rate": D("-0.9303")}
    assert [(r["region"], r["revenue"], r["growth_rate"], r["quadrant"]) for r in result["regions"]] == [
        ("East", D("3000.00"), D("-0.8605"), "high-high"),
        ("West", D("0.00"), D(-1), "low-low"),
    ]
    given = quadrants(
        month.engine, month.settings, "2026-04", thresholds={"revenue": D(5000), "growth_rate": D("-0.95")}
    )
    assert [r["quadrant"] for r in given["regions"]] == ["low-high", "low-low"]


# --- evidence for payouts -------------------------------------------------------------------


def test_rep_figures_name_the_events_behind_each_figure(month):
    figures, evidence = rep_figures(month.engine, month.settings, "R-1", "2026-03")
    assert (figures["revenue"], figures["orders"], figures["new_customers"]) == (D("17500.00"), 2, 2)
    assert evidence["revenue"] == month.at("d1-won", "d2-won", "d1-refund", "d1-corrected")
    assert evidence["orders"] == month.at("d1-won", "d2-won")
    assert evidence["revenue_attainment"] == month.at("t-r1-rev-2")
    # R-3's revenue is half of D-5: the win and the split that gave R-3 its share.
    _, r3 = rep_figures(month.engine, month.settings, "R-3", "2026-03")
    assert r3["revenue"] == month.at("d5-won", "d5-split")
    # March's activities are A-1..A-5 (A-6 is 1 April); its emails, replied or not.
    assert evidence["activities"] == month.at("A-1", "A-2", "A-3", "A-4", "A-5")
    assert evidence["email_reply_rate"] == month.at("A-3", "A-4", "A-5")
    # Leads created in March are L-2 and L-3 (L-1 is February's); L-2 converted by D-2's win.
    assert evidence["conversion_rate"] == month.at("lead-L-2", "lead-L-3", "d2-won")
    # Growth compares with February, whose revenue is nothing (D-1's win is 1 March here).
    assert evidence["growth_rate"] == evidence["revenue"]


def test_rep_figures_of_many_reps_read_together_equal_each_read_alone(month):
    from projections.db import reading
    from projections.payouts.rep_figures import figures_by_rep
    from projections.queries.cutoffs import cutoffs

    reps = ["R-1", "R-2", "R-3", "R-9"]  # R-9 was never onboarded: no rows, empty figures
    at = {name: cutoffs(month.settings, "2026-03", known_at=month.k[name]) for name in ("K1", "K2", "K3", "K4")}
    with reading(month.engine) as conn:
        for cut in at.values():
            together = figures_by_rep(conn, month.settings, dict.fromkeys(reps, cut))
            assert together == {rep: figures_by_rep(conn, month.settings, {rep: cut})[rep] for rep in reps}
        # Each rep at its own knowledge time, as a replay reads payouts approved at different moments.
        mixed = {"R-1": at["K3"], "R-2": at["K1"], "R-3": at["K2"], "R-9": at["K4"]}
        together = figures_by_rep(conn, month.settings, mixed)
        assert together == {rep: figures_by_rep(conn, month.settings, {rep: cut})[rep] for rep, cut in mixed.items()}
    assert together["R-9"][0]["revenue"] == D("0.00") and together["R-9"][1]["activities"] == []
    # R-1 at K3: D-1 as first won (10000) less its refund (500), and D-2's 6000; the target of 16000 is known.
    assert together["R-1"][0]["revenue"] == D("15500.00")
    assert together["R-1"][1]["revenue_attainment"] == month.at("t-r1-rev-2")
    # R-2 at K1, before the split: all of D-5 (8000) and D-6 (2000); R-3 at K2 has D-5's other half.
    assert together["R-2"][0]["revenue"] == D("10000.00") and together["R-3"][0]["revenue"] == D("4000.00")
    # One read covers one period and one as_of: reps at other ones are refused, not mixed in.
    with reading(month.engine) as conn, pytest.raises(ValueError, match="must share the period and as_of"):
        figures_by_rep(conn, month.settings, {"R-1": at["K1"], "R-2": cutoffs(month.settings, "2026-04")})


def test_the_same_answers_come_from_a_full_rebuild(month):
    from projections.runner import rebuild

    before = [month.kpis(scope, "2026-03") for scope in ("rep:R-1", "team:T-A", "region:West", "company")]
    rebuild(month.ledger, month.engine)
    assert [month.kpis(scope, "2026-03") for scope in ("rep:R-1", "team:T-A", "region:West", "company")] == before


def test_feedback_history_sets_each_evaluation_beside_the_previous_one(projected_store):
    store = projected_store("UTC")
    store.record(onboard("R-1"))
    store.record(
        ev(
            "EvaluationRecorded",
            "2026-04-03T10:00:00+00:00",
            evaluation_id="E-Q1",
            rep_id="R-1",
            period="2026-Q1",
            evaluator_id="M-1",
            result_score=60,
            process_scores={"discovery": 50, "follow_up": 70},
        ),
        ev(
            "FeedbackGiven",
            "2026-04-03T11:00:00+00:00",
            feedback_id="FB-1",
            rep_id="R-1",
            author_id="M-1",
            kind="coaching",
            text="Qualify budget first.",
            evaluation_id="E-Q1",
        ),
        ev(
            "ImprovementPlanSet",
            "2026-04-04T10:00:00+00:00",
            improvement_plan_id="IP-1",
            rep_id="R-1",
            goals=["Better discovery"],
            trainings=["Discovery questioning"],
            review_by="2026-06-30T00:00:00+00:00",
        ),
        ev("TrainingCompleted", "2026-05-10T10:00:00+00:00", rep_id="R-1", training="Discovery questioning"),
        ev(
            "EvaluationRecorded",
            "2026-07-02T10:00:00+00:00",
            evaluation_id="E-Q2",
            rep_id="R-1",
            period="2026-Q2",
            evaluator_id="M-1",
            result_score=72,
            process_scores={"discovery": 68, "follow_up": 65, "demo": 80},
        ),
    )
    store.project()
    timeline = rep_history(store.engine, store.settings, "R-1")
    assert [e["kind"] for e in timeline] == ["evaluation", "feedback", "improvement_plan", "training", "evaluation"]
    assert timeline[0]["previous"] is None
    second = timeline[-1]
    assert second["previous"]["evaluation_id"] == "E-Q1"
    # Discovery grew 50 -> 68 (+18), follow-up slipped 70 -> 65 (-5); demo was not scored before.
    assert second["process_delta"] == {"discovery": 18, "follow_up": -5}
    assert second["result_delta"] == 12


def test_a_backdated_first_win_moves_the_new_customer_to_its_own_period(projected_store):
    store = projected_store("UTC")
    store.record(onboard("R-1"), onboard("R-3", "T-B", "West"))
    # C-9's first known win: R-3's D-20 on 20 April.
    before = store.record(
        open_deal("D-20", "R-3", "C-9", "2026-04-01T10:00:00+00:00"), win("D-20", "900.00", "2026-04-20T10:00:00+00:00")
    )
    # Recorded later: R-1 had won C-9 already on 25 March (a backdated win).
    store.record(
        open_deal("D-21", "R-1", "C-9", "2026-03-01T10:00:00+00:00"), win("D-21", "100.00", "2026-03-25T10:00:00+00:00")
    )
    store.project()
    # As first known, C-9 was April's new customer, R-3's.
    assert store.kpis("rep:R-3", "2026-04", known_at=before)["new_customers"] == 1
    assert store.kpis("company", "2026-03", known_at=before)["new_customers"] == 0
    # Once the earlier win is known, C-9 is March's (R-1's), and April has none.
    assert store.kpis("rep:R-3", "2026-04")["new_customers"] == 0
    assert store.kpis("rep:R-1", "2026-03")["new_customers"] == 1
    assert store.kpis("company", "2026-04")["new_customers"] == 0
    assert store.kpis("company", "2026")["new_customers"] == 1


def test_a_lead_recorded_after_its_deal_was_won_still_converts(projected_store):
    store = projected_store("UTC")
    store.record(onboard("R-1"))
    store.record(
        open_deal("D-30", "R-1", "C-1", "2026-03-02T10:00:00+00:00", lead_id="L-9"),
        win("D-30", "100.00", "2026-03-05T10:00:00+00:00"),
    )
    store.record(ev("LeadCreated", "2026-03-01T10:00:00+00:00", lead_id="L-9", rep_id="R-1"))
    store.project()
    # The one March lead, L-9, was converted by D-30 (won 5 March): 1 / 1.
    assert store.kpis("rep:R-1", "2026-03")["conversion_rate"] == D(1)
