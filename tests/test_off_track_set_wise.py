"""The off-track list read for every rep of a scope at once (one grouped read per family of
facts, a team's and the company's pools read only when a rep needs them) answers what reading
it rep by rep gives: on a generated store with split deals, the company's list is its teams'
lists merged, row for row, and every rep's win rate and cycle are those of the plain reading
(each rep's closed deals by id, a pool the union of its reps' ids)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from builders import GENERATED_UNTIL, ev, onboard, open_deal
from sqlalchemy import select

from demo.generator import generate
from projections.accel.registry import SWITCH
from projections.db import reading
from projections.forecasting import Track, learned
from projections.queries.cutoffs import cutoffs, elapsed_share
from projections.queries.forecast import (
    everyone_at,
    forecast_row,
    learned_by_rep,
    learned_in_scope,
    look_back,
    off_track,
    reasons_of,
    standings,
    worst_of,
)
from projections.queries.membership import Scope, parse_scope
from projections.tables import deal_facts, memberships

PERIOD = "2026-Q4"
# Two reps hired in the quarter, with no closed deal: R-JOIN's pipeline is weighted with its
# team's win rate (T-East-1, generated), R-NEW's, alone in a new team, with the company's.
EDGES = [
    event
    for rep_id, team in (("R-JOIN", "T-East-1"), ("R-NEW", "T-NEW"))
    for event in (
        onboard(rep_id, team, "East", "2026-10-01T09:00:00+08:00"),
        ev("TargetSet", "2026-10-01T09:00:00+08:00", scope={"rep": rep_id}, metric="revenue", period=PERIOD,
           value="50000.00"),
        open_deal(f"D-{rep_id}", rep_id, f"C-{rep_id}", "2026-10-02T10:00:00+08:00", expected_amount="9000.00"),
    )
]  # fmt: skip


@pytest.fixture
def store(edged_store, store_url):
    made = edged_store(generate(3000, seed=3, tz="Asia/Shanghai", now=GENERATED_UNTIL), EDGES, store_url)
    made.project()
    return made


def teams_of(store) -> list[str]:
    with reading(store.engine) as conn:
        return sorted(t for t in conn.execute(select(memberships.c.team_id).distinct()).scalars() if t)


def test_the_company_off_track_list_is_its_teams_lists_merged_row_for_row(store):
    company = off_track(store.engine, store.settings, "company", PERIOD, GENERATED_UNTIL)
    lists = [
        off_track(store.engine, store.settings, f"team:{team}", PERIOD, GENERATED_UNTIL) for team in teams_of(store)
    ]
    merged = sorted(
        (row for found in lists for row in found["reps"]), key=lambda row: (row["reasons"][0]["value"], row["rep_id"])
    )
    assert company["reps"] == merged
    assert company["reps_in_scope"] == sum(found["reps_in_scope"] for found in lists)
    # the list exercises every source of a win rate, the company's among them (R-NEW's team)
    assert {row["pipeline"]["learned_from"] for row in merged} >= {"rep", "team", "company"}


def test_the_company_list_read_beside_its_tracks_is_the_list_read_in_one_line(store, monkeypatch):
    """On PostgreSQL the company's targets, deal sums and open deals are read on a side connection
    in the same snapshot (`accel.side_reads`); switched off, all on the read's own: one list."""
    monkeypatch.setenv(SWITCH, "1")
    beside = off_track(store.engine, store.settings, "company", PERIOD, GENERATED_UNTIL)
    monkeypatch.setenv(SWITCH, "0")
    assert off_track(store.engine, store.settings, "company", PERIOD, GENERATED_UNTIL) == beside
    assert beside["off_track"] >= 5


def test_each_reps_rank_is_the_value_of_the_first_reason_its_whole_row_gives(store):
    """A company's list ranks every rep by `worst_of` its standing and makes rows for the listed
    reps alone: the rank must be what the row's reasons would say, for every rep, on track or not."""
    cut = cutoffs(store.settings, PERIOD, GENERATED_UNTIL, None)
    share = elapsed_share(cut)
    with reading(store.engine) as conn:
        found = standings(conn, parse_scope("company"), cut)
    off, on = 0, 0
    for rep_id, standing in found.items():
        reasons = reasons_of(forecast_row(rep_id, standing, share), share)
        assert worst_of(standing, share) == (reasons[0]["value"] if reasons else None), rep_id
        off, on = off + bool(reasons), on + (not reasons)
    assert off >= 5 and on >= 1  # both kinds of rep are checked


@pytest.mark.parametrize(("offset", "limit"), [(0, 1), (0, 7), (5, 10), (3, 1000), (10_000, 5)])
def test_a_page_of_the_off_track_list_is_the_slice_of_the_whole_list(store, offset, limit):
    whole = off_track(store.engine, store.settings, "company", PERIOD, GENERATED_UNTIL)
    page = off_track(store.engine, store.settings, "company", PERIOD, GENERATED_UNTIL, offset=offset, limit=limit)
    assert page["reps"] == whole["reps"][offset : offset + limit]
    assert page["off_track"] == whole["off_track"] == len(whole["reps"])
    assert page["reps_in_scope"] == whole["reps_in_scope"] > whole["off_track"]


def test_every_reps_win_rate_and_cycle_are_those_of_its_deals_read_one_by_one(store):
    cut = cutoffs(store.settings, PERIOD, GENERATED_UNTIL, None)
    f = deal_facts.c
    with reading(store.engine) as conn:
        rows = conn.execute(
            select(
                f.rep_id, f.deal_id, f.won_ppb, f.lost_ppb, f.won_cents, f.refund_cents, f.cycle_us, f.deal_count
            ).where(look_back(cut))
        ).all()
        everyone = everyone_at(conn, cut)
        every_rep = learned_by_rep(conn, cut, everyone, everyone)
        team_by_team = {
            rep_id: found
            for team in teams_of(store)
            for rep_id, found in learned_in_scope(conn, cut, Scope("team", team))[1].items()
        }
    expected = learned_one_by_one(rows, everyone)
    assert every_rep == expected
    assert team_by_team == expected
    assert shared_wins(rows), "the store holds won deals split between reps: the pools' case"


def learned_one_by_one(rows, everyone) -> dict:
    """The plain reading: each rep's won and lost deals by id (its summed share above zero), a
    team's or the company's track the union of its reps' ids, then `learned`."""
    per_deal: dict = defaultdict(lambda: [0, 0])
    money: dict = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        per_deal[row.rep_id, row.deal_id][0] += row.won_ppb
        per_deal[row.rep_id, row.deal_id][1] += row.lost_ppb
        money[row.rep_id][0] += row.won_cents - row.refund_cents
        if row.deal_count == 1 and row.cycle_us is not None:
            money[row.rep_id][1] += row.cycle_us
            money[row.rep_id][2] += 1
    won, lost = defaultdict(set), defaultdict(set)
    for (rep_id, deal_id), (won_ppb, lost_ppb) in per_deal.items():
        if won_ppb > 0:
            won[rep_id].add(deal_id)
        if lost_ppb > 0:
            lost[rep_id].add(deal_id)

    def pool(rep_ids) -> Track:
        rep_ids = [rep_id for rep_id in rep_ids if rep_id in money]
        return Track(
            Decimal(len(set().union(*(won[r] for r in rep_ids)))),
            Decimal(len(set().union(*(lost[r] for r in rep_ids)))),
            Decimal(sum(money[r][0] for r in rep_ids)) / 100,
            sum(money[r][1] for r in rep_ids),
            sum(money[r][2] for r in rep_ids),
        )

    teams: dict = defaultdict(list)
    for rep_id in money:
        stint = everyone.get(rep_id)
        teams[None if stint is None else stint.team_id].append(rep_id)
    company = pool(list(money))
    return {
        rep_id: learned(pool([rep_id]) if rep_id in money else Track(), pool(teams.get(stint.team_id, [])), company)
        for rep_id, stint in everyone.items()
    }


def shared_wins(rows) -> set[str]:
    """The deals whose won share is above zero for more than one rep."""
    shares: dict = defaultdict(lambda: defaultdict(int))
    for row in rows:
        shares[row.deal_id][row.rep_id] += row.won_ppb
    return {deal_id for deal_id, by_rep in shares.items() if sum(1 for ppb in by_rep.values() if ppb > 0) > 1}
