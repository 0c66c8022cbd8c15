"""The org authorisation asks about (`api/org_view.py`): the projections' tables and the log beyond
them answer exactly as a fold of the whole log does, wherever the projections stand.

The fold of the whole log (`OrgCache` from position 0) is the specification: it is what the app
asked before the projections answered. A view that trusted lagging projections alone would let a
rep take a customer another rep brought in a moment earlier, or a manager write for a rep who
left the team; the tail folded from the projections' position is what closes that gap.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import GENERATED_UNTIL, ev, onboard
from projection_fixtures import close_store, open_store

from api.log_queries import LogReader
from api.org_cache import OrgCache
from api.org_view import ProjectedOrg
from demo.generator import generate
from ledger.reading import BoundedLog
from projections.runner import catch_up, projected_position
from services.policy import User, refusals

CLOCKS = (GENERATED_UNTIL - timedelta(days=120), GENERATED_UNTIL)


@pytest.fixture
def generated(store_url):
    store = open_store(store_url)
    events = list(generate(2500, seed=5, tz="Asia/Shanghai", now=GENERATED_UNTIL))
    for start in range(0, len(events), 500):
        store.record(*events[start : start + 500])
    yield store, events
    close_store(store)


def keys_of(events: list[dict], field: str) -> set[str]:
    return {e["data"][field] for e in events if isinstance(e["data"].get(field), str)}


def answers(org, events: list[dict]) -> dict:
    """Every question the policy asks, for every key the events name (and some nobody named)."""
    reps = keys_of(events, "rep_id") | {"R-nobody"}
    teams = keys_of(events, "team_id") | {"T-nobody"}
    regions = keys_of(events, "region") | {"Nowhere"}
    return {
        "team_of": {rep: org.team_of(rep) for rep in reps},
        "region_of": {rep: org.region_of(rep) for rep in reps},
        "reps_in_team": {team: org.reps_in_team(team) for team in teams},
        "region_of_team": {team: org.region_of_team(team) for team in teams},
        "reps_in_region": {region: org.reps_in_region(region) for region in regions},
        "knows": {
            (kind, key): org.knows(kind, key)
            for kind, keys in (("rep", reps), ("team", teams), ("region", regions))
            for key in keys
        },
        "deal_rep": {deal: org.deal_rep(deal) for deal in keys_of(events, "deal_id") | {"D-nobody"}},
        "lead_rep": {lead: org.lead_rep(lead) for lead in keys_of(events, "lead_id") | {"L-nobody"}},
        "followup_rep": {f: org.followup_rep(f) for f in keys_of(events, "followup_id") | {"F-nobody"}},
        "dispute_rep": {d: org.dispute_rep(d) for d in keys_of(events, "dispute_id") | {"X-nobody"}},
        "customer_reps": {c: org.customer_reps(c) for c in keys_of(events, "customer_id") | {"C-nobody"}},
    }


@pytest.mark.parametrize("projected_share", [0, 0.4, 1])
def test_the_projected_org_answers_as_the_fold_of_the_whole_log_wherever_the_projections_stand(
    generated, projected_share
):
    store, events = generated
    head = store.ledger.head().position
    catch_up(BoundedLog(store.ledger, int(head * projected_share)), store.engine)
    assert projected_position(store.engine) == int(head * projected_share)
    log = LogReader(store.ledger)
    for now in CLOCKS:
        expected = answers(OrgCache(log, clock=lambda now=now: now).view(), events)
        projected = ProjectedOrg(log, store.engine, clock=lambda now=now: now)
        assert answers(projected.view(), events) == expected
        # a batch's keys asked for at once answer as one by one
        view = projected.view()
        view.prefetch([(e["type"], e["data"]) for e in events])
        assert answers(view, events) == expected


def test_a_customer_brought_in_after_the_projections_position_is_not_new_to_another_rep(store_url):
    store = open_store(store_url)
    try:
        store.record(onboard("R-1", "T-1"), onboard("R-2", "T-2"))
        store.project()
        # R-1 (team T-1) brings customer C-9 in; no projection has folded it yet
        store.record(ev("LeadCreated", "2026-02-01T09:00:00+00:00", lead_id="L-1", rep_id="R-1", customer_id="C-9"))
        org = ProjectedOrg(LogReader(store.ledger), store.engine)
        taking = [("LeadCreated", {"lead_id": "L-2", "rep_id": "R-2", "customer_id": "C-9"})]
        (problem,) = refusals(User("manager", team_id="T-2"), taking, org.view())
        assert "customer C-9" in str(problem.message)
        # … and once projected, the projections' tables refuse it the same way
        store.project()
        (problem,) = refusals(User("manager", team_id="T-2"), taking, org.view())
        assert "customer C-9" in str(problem.message)
        own = [("LeadCreated", {"lead_id": "L-3", "rep_id": "R-1", "customer_id": "C-9"})]
        assert refusals(User("manager", team_id="T-1"), own, org.view()) == []
    finally:
        close_store(store)


def test_a_manager_loses_a_rep_transferred_out_before_the_projections_saw_it(store_url):
    store = open_store(store_url)
    try:
        store.record(onboard("R-1", "T-1"), onboard("R-2", "T-1"))
        store.project()
        store.record(ev("RepTransferred", "2026-03-01T09:00:00+00:00", rep_id="R-1", team_id="T-2"))
        org = ProjectedOrg(LogReader(store.ledger), store.engine, clock=lambda: GENERATED_UNTIL)
        view = org.view()
        assert view.team_of("R-1") == "T-2"
        assert view.reps_in_team("T-1") == {"R-2"}
        logging = [("ActivityLogged", {"activity_id": "A-1", "rep_id": "R-1", "kind": "call"})]
        assert refusals(User("manager", team_id="T-1"), logging, org.view())
        assert refusals(User("manager", team_id="T-2"), logging, org.view()) == []
    finally:
        close_store(store)
