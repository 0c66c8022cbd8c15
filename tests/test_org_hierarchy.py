"""The organisation as a hierarchy (company → region → team → rep) and its directors, over HTTP
on SQLite and PostgreSQL.

The department of api_client: R-ann and R-bob in T-1 (East), R-cat in T-2 (West); none of those
teams or regions was ever created, so they keep the behaviour they always had. Here East and
West are created, and T-3 is formed in East.
"""

from __future__ import annotations

from builders import ev, onboard
from payout_fixtures import JAN

from api.auth import create_token

EAST_WEST_T3 = [
    ev("RegionCreated", JAN, region="East", name="East China", director_id="D-east"),
    ev("RegionCreated", JAN, region="West", name="West China"),
    ev("TeamCreated", JAN, team_id="T-3", name="Hangzhou", region="East", manager_id="M-3"),
]


def log_state(api) -> tuple[int, str]:
    """The log's count and head digest: a refused batch changes neither."""
    head = api.client.app.state.ledger.head()
    return head.position, head.link


def test_a_rep_onboarded_into_a_team_of_east_naming_west_is_refused_naming_the_field(api):
    api.record(*EAST_WEST_T3)
    before = log_state(api)
    response = api.post("/events", onboard("R-dan", "T-3", "West", "2026-02-01T09:00:00+00:00"))
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["field"] == "data.region" and "T-3" in problem["message"] and "East" in problem["message"]
    assert log_state(api) == before


def test_a_team_cannot_be_formed_in_a_region_never_created_and_nothing_is_written(api):
    before = log_state(api)
    team = ev("TeamCreated", JAN, team_id="T-9", name="Nowhere", region="North")
    response = api.post("/events", team)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "data.region"
    again = api.post("/events", {"events": [*EAST_WEST_T3, EAST_WEST_T3[2]]})  # T-3 twice in one batch
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "data.team_id"
    assert log_state(api) == before


def test_a_transfer_into_a_created_team_takes_the_teams_region_and_its_figures_follow(api):
    api.record(*EAST_WEST_T3)
    # R-cat (West) moves to T-3 (East) on 1 March without naming a region: East is filled in.
    api.record(ev("RepTransferred", "2026-03-01T00:00:00+00:00", rep_id="R-cat", team_id="T-3"))
    (moved,) = api.get("/events", type="RepTransferred", rep="R-cat").json()["events"]
    assert moved["data"]["region"] == "East"
    # A later transfer of region alone, out of T-3's region, is refused.
    away = ev("RepTransferred", "2026-03-05T00:00:00+00:00", rep_id="R-cat", region="West")
    response = api.post("/events", away)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "data.region"


def test_a_rep_in_a_team_never_created_keeps_the_region_they_were_given(api):
    api.record(*EAST_WEST_T3)
    # T-1 was never created: R-eve joins it in West, as before hierarchies existed.
    assert api.post("/events", onboard("R-eve", "T-1", "West", "2026-02-01T09:00:00+00:00")).status_code == 201


def test_a_created_team_nobody_is_in_yet_is_a_known_scope_and_a_team_never_created_nor_joined_is_not(api):
    api.record(*EAST_WEST_T3)
    assert api.get("/targets", scope="team:T-3", period="2026-Q1").status_code == 200
    assert api.get("/targets", scope="team:T-404", period="2026-Q1").status_code == 404


def test_a_director_of_east_reads_and_manages_east_and_cannot_touch_west(api):
    api.record(*EAST_WEST_T3)
    assert api.get("/kpis", role="director", scope="region:East", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-1", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="team:T-3", period="2026-Q1").status_code == 200
    assert api.get("/kpis", role="director", scope="region:West", period="2026-Q1").status_code == 404
    assert api.get("/kpis", role="director", scope="team:T-2", period="2026-Q1").status_code == 404
    assert api.get("/kpis", role="director", scope="company", period="2026-Q1").status_code == 403
    before = log_state(api)
    west_target = ev("TargetSet", JAN, scope={"region": "West"}, metric="revenue", period="2026-Q2", value="1.00")
    assert api.post("/events", west_target, role="director").status_code == 403
    west_team = ev("TeamCreated", JAN, team_id="T-8", name="Chengdu", region="West")
    assert api.post("/events", west_team, role="director").status_code == 403
    assert log_state(api) == before
    east_team = ev("TeamCreated", JAN, team_id="T-7", name="Suzhou", region="East")
    east_target = ev("TargetSet", JAN, scope={"region": "East"}, metric="revenue", period="2026-Q2", value="1.00")
    assert api.post("/events", {"events": [east_team, east_target]}, role="director").status_code == 201
    # The director's writes name the region they direct.
    (entry,) = api.get("/events", type="TeamCreated", after=before[0]).json()["events"]
    assert entry["actor"].startswith("director:East:tok_")


def test_a_directors_quadrants_compare_the_teams_of_their_region(api):
    # T-1 (East) won 210,000 in Q1 (R-ann 130,000 + R-bob 80,000) and nothing in Q4 2025.
    answer = api.get("/kpis/quadrants", role="director", period="2026-Q1").json()
    assert answer["region"] == "East" and answer["regions"] == []
    assert [(row["team"], row["revenue"]) for row in answer["teams"]] == [("T-1", "210000.00")]
    assert api.get("/kpis/quadrants", role="director", period="2026-Q1", region="West").status_code == 404
    west = api.get("/kpis/quadrants", period="2026-Q1", region="West").json()  # admin: any region
    assert [(row["team"], row["revenue"]) for row in west["teams"]] == [("T-2", "77777.77")]


def test_a_director_token_is_bound_to_its_region(api):
    engine = api.client.app.state.engine
    secret, info = create_token(engine, "director", region="West")
    assert info.region == "West"
    west = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/kpis", params={"scope": "rep:R-cat", "period": "2026-Q1"}, headers=west).status_code == 200
    assert api.client.get("/kpis", params={"scope": "rep:R-ann", "period": "2026-Q1"}, headers=west).status_code == 404


def test_a_directors_dashboard_offers_their_region_its_teams_and_reps_only(api):
    answer = api.get("/web/scopes", role="director").json()
    assert [option["scope"] for option in answer["scopes"]] == ["region:East", "team:T-1", "rep:R-ann", "rep:R-bob"]
    assert api.get("/web/me", role="director").json()["region"] == "East"


def test_a_retried_transfer_whose_region_the_team_filled_in_is_a_duplicate_not_a_conflict(api):
    api.record(*EAST_WEST_T3)
    move = ev("RepTransferred", "2026-03-01T00:00:00+00:00", event_id="move-cat", rep_id="R-cat", team_id="T-3")
    first = api.post("/events", move)
    again = api.post("/events", move)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["duplicates"] == [0] and again.json()["positions"] == first.json()["positions"]
