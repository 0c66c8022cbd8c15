"""Where R-ZW will land in 2026-Q4, worked by hand, read on 3 December 2026 (a fixed clock): the
run-rate and pipeline forecasts, what he earns if they land, the same forecast as known at an
earlier known_at after later events, and the off-track list of his team."""

from __future__ import annotations

import gc
from datetime import datetime
from decimal import Decimal as D

import orjson
import pytest
from api_client import Api
from builders import ev, lose, onboard, open_deal, win
from fastapi.testclient import TestClient
from payout_fixtures import FLAT_RULES, assign, publish
from projection_fixtures import FixedClock, projected_stores
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from projections.accel.registry import SWITCH
from projections.db import reading
from projections.forecasting import (
    MIN_CLOSED,
    Learned,
    OpenDeals,
    Pipeline,
    Track,
    combined,
    forecast_error,
    learned,
    pipeline_of,
    projection,
    weighted,
)
from projections.queries import forecast as forecast_queries
from projections.queries.cutoffs import cutoffs
from projections.queries.forecast import forecast, off_track, open_deals, pipelines
from projections.units import DAY_US

T = "+08:00"
END_OF_3_DECEMBER = f"2026-12-03T23:59:59.999999{T}"
Q4_END_US = int(datetime.fromisoformat(f"2027-01-01T00:00:00{T}").timestamp()) * 1_000_000


# --- the arithmetic, without a database --------------------------------------------------------


def test_the_rep_own_win_rate_counts_once_he_has_closed_enough_deals():
    # six won deals of 18, 23 and four times 40 days: 201 days in all
    own = Track(won=D(6), lost=D(4), won_amount=D("113900"), cycles_us=201 * DAY_US, cycles=6)
    team = Track(won=D(1), lost=D(9))
    found = learned(own, team, combined([own, team]))
    assert (found.probability, found.source, found.closed) == (D("0.6"), "rep", D(10))
    assert found.cycle_us == 201 * DAY_US // 6  # 33.5 days


def test_a_rep_with_too_few_closed_deals_is_weighted_with_his_teams_win_rate():
    own = Track(won=D(2), lost=D(0))
    team = Track(won=D(3), lost=D(9))
    assert MIN_CLOSED == 5
    found = learned(own, combined([team, own]), combined([team, own]))
    assert (found.probability, found.source) == (D(5) / D(14), "team")
    assert learned(Track(), Track(), Track()).source == "none"


def test_only_open_deals_expected_to_close_by_the_end_count_each_at_its_expected_value():
    own = learned(Track(won=D(6), lost=D(4), won_amount=D("113900"), cycles_us=40 * DAY_US, cycles=1), Track(), Track())
    opened = lambda day: int(datetime.fromisoformat(f"2026-{day}T10:00:00{T}").timestamp()) * 1_000_000  # noqa: E731
    deals = OpenDeals(
        [opened("11-20"), opened("12-01"), opened("11-10")],
        # O-1: + 40 days = 30 Dec, in Q4; O-2: + 40 days = 10 Jan, not; O-3: 20 Dec, at his
        # average win of 113900 / 6
        [3_000_000, 4_000_000, None],
    )
    pipeline = pipeline_of(deals, own.cycle_us, Q4_END_US)
    assert pipeline == Pipeline(open_deals=3, expected=2, cents=3_000_000, unknown=1)  # O-1 and O-3
    found = weighted(pipeline, own)
    # (30000 + 18983.33…) × 0.6 = 18000 + 11390
    assert (found.revenue, found.orders, found.deals, found.open_deals) == (D("29390"), D("1.2"), 2, 3)


def test_run_rate_and_pipeline_forecasts_of_64_of_92_days():
    found = projection("revenue", D("73900"), D(64) / D(92), D("29390"), D("100000"))
    assert found["run_rate"] == D("106231.25")  # 73900 × 92 / 64
    assert found["pipeline"] == D("103290.00")
    assert found["attainment"] == {"actual": D("0.7390"), "run_rate": D("1.0623"), "pipeline": D("1.0329")}
    assert projection("orders", D(2), D(0), D(0), None)["run_rate"] is None  # not started: no pace yet
    assert forecast_error(D("110000"), D("100000")) == D("0.1000")


# --- the same, from the ledger ------------------------------------------------------------------


@pytest.fixture
def projected_store(store_url):
    yield from projected_stores(store_url)


@pytest.fixture
def clock():
    return FixedClock(f"2026-12-03T12:00:00{T}")


def history() -> list[dict]:
    """Four deals won (10000 each, 40 days from opening to win) and four lost, in the summer."""
    events = []
    for n, (opened, won) in enumerate((("04-01", "05-11"), ("05-01", "06-10"), ("06-01", "07-11"), ("07-01", "08-10"))):
        events += [
            open_deal(f"H-W{n}", "R-ZW", f"C-W{n}", f"2026-{opened}T10:00:00{T}"),
            win(f"H-W{n}", "10000.00", f"2026-{won}T10:00:00{T}"),
            open_deal(f"H-L{n}", "R-ZW", f"C-L{n}", f"2026-{opened}T11:00:00{T}"),
            lose(f"H-L{n}", f"2026-{won}T11:00:00{T}"),
        ]
    return events


@pytest.fixture
def quarter(projected_store, clock):
    store = projected_store("Asia/Shanghai", clock)
    store.record(
        onboard("R-ZW", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        onboard("R-LI", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        publish(1, FLAT_RULES),
        assign({"company": True}),
        ev("TargetSet", f"2026-10-01T09:00:00{T}", scope={"rep": "R-ZW"}, metric="revenue", period="2026-Q4",
           value="100000.00"),
        ev("TargetSet", f"2026-10-01T09:00:00{T}", scope={"rep": "R-LI"}, metric="revenue", period="2026-Q4",
           value="100000.00"),
        *history(),
        open_deal("D-1", "R-ZW", "C-1", f"2026-10-02T10:00:00{T}"),
        win("D-1", "50000.00", f"2026-10-20T10:00:00{T}"),
        open_deal("D-2", "R-ZW", "C-2", f"2026-11-02T10:00:00{T}"),
        win("D-2", "23900.00", f"2026-11-25T10:00:00{T}"),
        open_deal("O-1", "R-ZW", "C-3", f"2026-11-20T10:00:00{T}", expected_amount="30000.00"),
        open_deal("O-2", "R-ZW", "C-4", f"2026-12-01T10:00:00{T}", expected_amount="40000.00"),
        open_deal("O-3", "R-ZW", "C-5", f"2026-11-10T10:00:00{T}"),
        open_deal("L-1", "R-LI", "C-6", f"2026-10-05T10:00:00{T}"),
        win("L-1", "20000.00", f"2026-11-05T10:00:00{T}"),
    )  # fmt: skip
    store.project()
    clock.set(END_OF_3_DECEMBER)
    return store


def test_history_gives_r_zw_six_wins_in_ten_and_a_mean_cycle_of_33_and_a_half_days(quarter):
    answer = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4")
    # won: H-W0..3, D-1, D-2; lost: H-L0..3. Cycles: 18 (D-1), 23 (D-2) and four of 40 days: mean 33.5
    assert answer["pipeline"] == {
        "open_deals": 3,
        "expected_in_period": 2,
        "win_probability": D("0.6000"),
        "learned_from": "rep",
        "closed_deals": D(10),
        "cycle_days": D("33.50"),
    }


def test_r_zw_is_forecast_to_land_above_his_target_by_both_methods(quarter):
    answer = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4")
    assert answer["elapsed_share"] == D("0.6957")  # 64 / 92
    revenue = answer["forecast"]["revenue"]
    # O-1 (30000, opened 20 Nov) and O-3 (no amount: his average win, 113900 / 6) are expected by
    # 31 December (opened + 33.5 days); O-2 (opened 1 December) is not: (30000 + 18983.33) × 0.6 = 29390.
    assert (revenue["actual"], revenue["run_rate"], revenue["pipeline"]) == (
        D("73900.00"),
        D("106231.25"),
        D("103290.00"),
    )
    assert revenue["attainment"] == {"actual": D("0.7390"), "run_rate": D("1.0623"), "pipeline": D("1.0329")}
    orders = answer["forecast"]["orders"]
    assert (orders["actual"], orders["run_rate"], orders["pipeline"]) == (D("2.0000"), D("2.8750"), D("3.2000"))


def test_if_the_forecast_lands_he_earns_the_flat_commission_and_the_target_bonus(quarter):
    payout = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4")["payout"]
    # 4% of revenue, and 5000 at 100% of the target
    assert payout["so_far"] == D("2956.00")  # 73900 × 4%
    assert payout["run_rate"] == D("9249.25")  # 106231.25 × 4% + 5000
    assert payout["pipeline"] == D("9131.60")  # 103290 × 4% + 5000


def test_the_forecast_as_known_at_an_earlier_time_is_unchanged_by_later_events(quarter, clock):
    known = datetime.fromisoformat(END_OF_3_DECEMBER)
    before = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4", known_at=known)
    clock.set(f"2026-12-04T09:00:00{T}")
    quarter.record(
        win("O-1", "35000.00", f"2026-12-03T16:00:00{T}"),  # late: happened on the 3rd, recorded on the 4th
        open_deal("O-4", "R-ZW", "C-7", f"2026-12-03T17:00:00{T}", expected_amount="90000.00"),
    )
    quarter.project()
    clock.set(f"2026-12-04T10:00:00{T}")
    again = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4", as_of=known, known_at=known)
    assert again == before
    today = forecast(quarter.engine, quarter.settings, "rep:R-ZW", "2026-Q4", as_of=known)
    assert today["forecast"]["revenue"]["actual"] == D("108900.00")


def test_the_team_off_track_list_ranks_r_li_first_with_his_pace_and_his_forecast(quarter):
    answer = off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4")
    assert answer["reps_in_scope"] == 2
    (row,) = answer["reps"]  # R-ZW is ahead of pace and forecast above target: not listed
    assert row["rep_id"] == "R-LI"
    # R-LI: 20000 of 100000 by 3 December, no open deal: his pipeline forecast is 20000 (0.2 of
    # the target), his pace 0.2 / (64/92) = 0.2875 (100000 × 64/92 = 69565.22 expected by now)
    projected, pace = row["reasons"]
    assert (projected["kind"], projected["metric"], projected["value"], projected["forecast"]) == (
        "forecast",
        "revenue",
        D("0.2000"),
        D("20000.00"),
    )
    assert (pace["kind"], pace["metric"], pace["value"], pace["expected_by_now"]) == (
        "pace",
        "revenue",
        D("0.2875"),
        D("69565.22"),
    )
    # he learned from his team: 1 deal of his own, 7 wins in 11 closed for T-1
    assert (row["pipeline"]["learned_from"], row["pipeline"]["win_probability"]) == ("team", D("0.6364"))


def test_get_kpis_forecast_and_off_track_answer_the_same_with_their_cut_offs(quarter):
    with TestClient(create_app(quarter.settings)) as client:
        api = Api(client)
        answer = api.get("/kpis/forecast", scope="rep:R-ZW", period="2026-Q4").json()
        assert (answer["period_status"], answer["as_of"]) == ("in_progress", END_OF_3_DECEMBER)
        assert answer["forecast"]["revenue"]["pipeline"] == "103290.00"
        assert answer["payout"]["pipeline"] == "9131.60"
        listed = api.get("/kpis/off-track", scope="team:T-1", period="2026-Q4").json()
        assert [row["rep_id"] for row in listed["reps"]] == ["R-LI"] and listed["off_track"] == 1
        assert api.get("/kpis/off-track", scope="team:T-1", period="2026-Q4", limit=1001).status_code == 422
        assert api.get("/kpis/forecast", scope="company", period="2026-Q4", role="rep").status_code == 403


def test_perfledger_forecast_and_off_track_print_the_same_figures(quarter):
    env = {"PERFLEDGER_DATABASE_URL": quarter.settings.database_url, "PERFLEDGER_TZ": "Asia/Shanghai", "COLUMNS": "200"}
    at = ["--period", "2026-Q4", "--as-of", END_OF_3_DECEMBER]
    runner = CliRunner()
    shown = runner.invoke(cli, ["forecast", *at, "--scope", "rep:R-ZW"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "103290.00" in shown.output and "106231.25" in shown.output
    assert "if the pipeline lands, 9131.60" in shown.output
    as_json = orjson.loads(runner.invoke(cli, ["forecast", *at, "--scope", "rep:R-ZW", "--json"], env=env).output)
    assert as_json["forecast"]["revenue"]["pipeline"] == "103290.00"
    listed = runner.invoke(cli, ["off-track", *at, "--scope", "team:T-1"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "1 of 2 reps" in listed.output and "R-LI" in listed.output and "R-ZW" not in listed.output
    assert "0.2875" in listed.output and "69565.22" in listed.output


def test_a_pipeline_holds_the_deals_open_at_as_of_as_known_at_known_at_each_weighed_against_its_reps_cycle(
    projected_store, monkeypatch
):
    """As of 10 November, as known on the 12th: R-A's three open deals (O-3 is won after as_of),
    two of them opened more than R-A's 65-day cycle before 1 January (by 28 October), one of those
    without an expected amount; R-B's one open deal as known (W-1's win was recorded on the 14th),
    expected without a cycle of its own; not L-1 (lost by then) nor N-1 (recorded on the 13th)."""
    clock = FixedClock(f"2026-11-09T12:00:00{T}")
    store = projected_store("Asia/Shanghai", clock)
    store.record(
        onboard("R-A", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        onboard("R-B", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        open_deal("O-1", "R-A", "C-1", f"2026-10-01T10:00:00{T}", expected_amount="1000.00"),
        open_deal("O-2", "R-A", "C-2", f"2026-10-20T10:00:00{T}"),
        open_deal("O-3", "R-A", "C-3", f"2026-11-01T10:00:00{T}", expected_amount="500.00"),
        open_deal("W-1", "R-B", "C-4", f"2026-10-05T10:00:00{T}", expected_amount="700.00"),
        open_deal("L-1", "R-B", "C-5", f"2026-10-06T10:00:00{T}", expected_amount="900.00"),
        lose("L-1", f"2026-11-09T10:00:00{T}"),
    )  # fmt: skip
    clock.set(f"2026-11-13T12:00:00{T}")
    store.record(open_deal("N-1", "R-B", "C-6", f"2026-11-09T11:00:00{T}", expected_amount="300.00"))
    clock.set(f"2026-11-14T12:00:00{T}")
    store.record(win("W-1", "700.00", f"2026-11-08T10:00:00{T}"))
    clock.set(f"2026-11-16T12:00:00{T}")
    store.record(win("O-3", "500.00", f"2026-11-15T10:00:00{T}"))
    store.project()
    as_of, known_at = f"2026-11-10T00:00:00{T}", f"2026-11-12T00:00:00{T}"
    cut = cutoffs(store.settings, "2026-Q4", datetime.fromisoformat(as_of), datetime.fromisoformat(known_at))
    learned_from = {
        "R-A": Learned(None, "none", D(0), 65 * DAY_US, None),  # expected if opened before 28 Oct
        "R-B": Learned(None, "none", D(0), None, None),  # every open deal expected
    }
    expected = {
        "R-A": Pipeline(open_deals=3, expected=2, cents=100_000, unknown=1),  # O-1, O-2 (O-3 opened 1 Nov)
        "R-B": Pipeline(open_deals=1, expected=1, cents=70_000, unknown=0),  # W-1
    }
    for switch in ("0", "1"):  # PostgreSQL gathers them a rep a row (accel.open_deals_in_sql); plain, a deal a row
        monkeypatch.setenv(SWITCH, switch)
        with reading(store.engine) as conn:
            for reps in (["R-A", "R-B"], None):  # named, or every rep's read
                found = pipelines(open_deals(conn, cut, reps), cut, learned_from)
                assert found == expected, f"PERFLEDGER_ACCEL={switch}, reps {reps}"


def test_the_forecast_error_of_an_ended_quarter_compares_the_forecast_made_at_its_middle(projected_store):
    clock = FixedClock(f"2026-10-21T09:00:00{T}")
    store = projected_store("Asia/Shanghai", clock)
    store.record(
        onboard("R-ZW", "T-1", "East", f"2026-01-05T09:00:00{T}"),
        ev("TargetSet", f"2026-10-01T09:00:00{T}", scope={"rep": "R-ZW"}, metric="revenue", period="2026-Q4",
           value="100000.00"),
        open_deal("D-1", "R-ZW", "C-1", f"2026-10-02T10:00:00{T}"),
        win("D-1", "50000.00", f"2026-10-20T10:00:00{T}"),
    )  # fmt: skip
    clock.set(f"2026-11-26T09:00:00{T}")
    store.record(
        open_deal("D-2", "R-ZW", "C-2", f"2026-11-02T10:00:00{T}"), win("D-2", "23900.00", f"2026-11-25T10:00:00{T}")
    )
    store.project()
    clock.set(f"2027-01-15T09:00:00{T}")
    error = forecast(store.engine, store.settings, "rep:R-ZW", "2026-Q4")["error"]
    # the middle of Q4 in Shanghai: 46 of 92 days, 16 November 00:00. Known then: D-1 alone, so
    # the run rate was 50000 / 0.5 = 100000 and the pipeline 50000 (no open deal known, nothing
    # to learn a win rate from); what happened: 73900.
    assert error["made_at"] == datetime.fromisoformat(f"2026-11-16T00:00:00{T}")
    assert (error["revenue"]["actual"], error["revenue"]["run_rate"], error["revenue"]["pipeline"]) == (
        D("73900.00"),
        D("100000.00"),
        D("50000.00"),
    )
    assert error["revenue"]["run_rate_error"] == D("0.3532")  # 26100 / 73900
    assert error["revenue"]["pipeline_error"] == D("-0.3234")  # -23900 / 73900


def test_off_track_remembers_the_tracks_by_the_facts_they_read_so_a_later_as_of_shares_them(quarter):
    remembered: dict = {}

    def remember(key, compute):
        if key not in remembered:
            remembered[key] = compute()
        return remembered[key]

    def tracks_keys():
        return sorted(str(key) for key in remembered if key[0] == "tracks")

    plain = off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4")
    assert off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4", remember=remember) == plain
    # the year before "now" (3 December, the end of it) holds every deal fact of the store: the
    # first is H-W0/H-L0 opening on 1 April, the last D-2 won on 25 November
    (key,) = tracks_keys()
    # an hour earlier the same facts fall in the window: the same key, the tracks read once
    earlier = datetime.fromisoformat(f"2026-12-03T22:59:59{T}")
    again = off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4", as_of=earlier, remember=remember)
    assert tracks_keys() == [key]
    assert again == off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4", as_of=earlier)
    # before D-2 was won (24 November) the window ends at an earlier fact: other tracks, read anew
    before_d2 = datetime.fromisoformat(f"2026-11-24T12:00:00{T}")
    then = off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4", as_of=before_d2, remember=remember)
    assert len(tracks_keys()) == 2
    assert then == off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4", as_of=before_d2)


def test_the_off_track_list_is_read_with_the_garbage_collector_paused_and_leaves_it_on(quarter, monkeypatch):
    """A company's rows live until its list is ranked: collections over them are time lost
    (ledger/gc_pause.py); reference counting still frees them, and the collector is back after."""
    seen = []
    plain = forecast_queries.standings

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return plain(*args, **kwargs)

    monkeypatch.setattr(forecast_queries, "standings", watched)
    off_track(quarter.engine, quarter.settings, "team:T-1", "2026-Q4")
    assert seen == [False]
    assert gc.isenabled()
