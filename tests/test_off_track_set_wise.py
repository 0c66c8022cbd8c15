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
from projections.db import reading
from projections.forecasting import Track, learned
from projections.queries.cutoffs import cutoffs
from projections.queries.forecast import everyone_at, learned_by_rep, learned_in_scope, look_back, off_track
from projections.queries.membership import Scope
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
