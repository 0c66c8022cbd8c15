"""GET /kpis, /kpis/quadrants, /targets and /reps/{id}/history through HTTP: figures as decimal
strings, both time axes, reads that see every acknowledged write, and a 422 naming the parameter
for every malformed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from api_client import FAR, FAR_AMOUNT, MATE, OWN, TEAM, Api, department
from builders import correct, ev
from fastapi.testclient import TestClient
from payout_fixtures import JAN, won_deal

from api import deps
from api.app import create_app
from projections.queries.kpis import kpis as projections_kpis
from projections.runner import catch_up, projected_position

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def kpis(api: Api, scope: str, period: str = "2026-Q1", **params) -> dict:
    response = api.get("/kpis", scope=scope, period=period, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_reps_kpis_are_decimal_strings_and_counts_with_the_cut_offs_named(api):
    answer = kpis(api, f"rep:{OWN}")
    assert (answer["scope"], answer["period"]) == (f"rep:{OWN}", "2026-Q1")
    assert answer["as_of"].startswith("2026-03-31T23:59:59.999999")
    figures = answer["kpis"]
    assert figures["revenue"] == "130000.00" and figures["avg_order_value"] == "130000.00"
    assert figures["orders"] == 1 and figures["new_customers"] == 1 and figures["win_rate"] == "1.0000"
    assert figures["growth_rate"] is None  # nothing in the previous quarter
    assert figures["attainment"] == {"revenue": "1.3000"} and figures["pace"] == {"revenue": "1.3000"}
    assert figures["sales_cycle_days"] == {"mean": "26.00", "median": "26.00"}
    assert figures["activities"]["call"] == 0 and figures["off_track"] == []


def test_team_region_and_company_kpis_add_up_their_reps(api):
    assert kpis(api, f"team:{TEAM}")["kpis"]["revenue"] == "210000.00"
    assert kpis(api, f"team:{TEAM}")["kpis"]["attainment"] == {"revenue": "1.0500"}
    assert kpis(api, "region:West")["kpis"]["revenue"] == FAR_AMOUNT
    assert kpis(api, "company")["kpis"]["revenue"] == "287777.77"


@pytest.mark.parametrize("scope", ["rep:R-NOPE", "team:T-NOPE", "region:Atlantis"])
def test_a_scope_nobody_is_in_is_a_404_naming_it_not_zeros(api, scope):
    response = api.client.get(
        "/kpis", params={"scope": scope, "period": "2026-Q1"}, headers={**api.headers("admin"), **EN}
    )
    assert response.status_code == 404 and response.json()["detail"] == f"scope {scope} not found"
    chinese = api.client.get(
        "/kpis", params={"scope": scope, "period": "2026-Q1"}, headers={**api.headers("admin"), **ZH}
    )
    assert chinese.status_code == 404 and chinese.json()["detail"] == f"未找到 scope {scope}"


@pytest.mark.parametrize(("unknown", "beyond_reach"), [("rep:R-NOPE", f"rep:{FAR}"), ("team:T-NOPE", "team:T-2")])
def test_a_manager_cannot_tell_an_unknown_scope_from_one_beyond_reach(api, unknown, beyond_reach):
    answers = [
        api.client.get("/kpis", params={"scope": s, "period": "2026-Q1"}, headers={**api.headers("manager"), **EN})
        for s in (unknown, beyond_reach)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json()["detail"].replace(unknown, beyond_reach) == answers[1].json()["detail"]
    assert set(answers[0].json()) == set(answers[1].json())


def test_a_correction_recorded_after_t_is_invisible_at_known_at_t_and_visible_now(api):
    before_correction = api.recorded_at(api.head())
    api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    assert kpis(api, f"rep:{OWN}", known_at=before_correction)["kpis"]["revenue"] == "130000.00"
    assert kpis(api, f"rep:{OWN}")["kpis"]["revenue"] == "110000.00"
    assert kpis(api, "company", known_at=before_correction)["kpis"]["revenue"] == "287777.77"


def test_as_of_keeps_only_what_had_happened_by_then(api):
    early = kpis(api, f"rep:{OWN}", as_of="2026-02-01T00:00:00+00:00")
    assert early["as_of"] == "2026-02-01T00:00:00Z" and early["kpis"]["revenue"] == "0.00"
    # A third of the quarter gone and nothing won: pace 0, off track.
    assert early["kpis"]["pace"] == {"revenue": "0.0000"} and early["kpis"]["off_track"] == ["revenue"]


def test_a_read_sees_the_write_acknowledged_just_before_it(api):
    api.record(*won_deal("D-9", MATE, "20000.00", won_at="2026-03-01T09:00:00+00:00"))
    assert kpis(api, f"rep:{MATE}")["kpis"]["revenue"] == "100000.00"


def test_after_a_position_already_projected_answers_at_once(api):
    assert kpis(api, "company", after=api.head())["kpis"]["revenue"] == "287777.77"


def test_after_a_position_a_projection_worker_has_not_applied_yet_is_a_503_to_retry(api, monkeypatch):
    monkeypatch.setattr(deps, "bring_up_to_date", lambda ledger, engine: projected_position(engine))  # a lagging worker
    api.client.app.state.after_timeout = 0.05
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    response = api.get("/kpis", scope="company", period="2026-Q1", after=position)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1" and "retry" in response.json()["detail"]


def test_after_a_position_beyond_the_log_is_a_422_not_a_wait(api):
    response = api.get("/kpis", scope="company", period="2026-Q1", after=api.head() + 1)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "query.after"


def test_quadrants_place_each_region_against_the_median_thresholds(api):
    api.record(
        *won_deal("D-10", OWN, "100000.00", won_at="2026-05-10T09:00:00+00:00"),
        *won_deal("D-11", FAR, "155555.54", won_at="2026-05-11T09:00:00+00:00"),
    )
    response = api.get("/kpis/quadrants", period="2026-Q2")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["thresholds"] == {"revenue": "127777.77", "growth_rate": "0.2381"}
    regions = {row["region"]: row for row in answer["regions"]}
    assert regions["East"] == {
        "region": "East",
        "revenue": "100000.00",
        "growth_rate": "-0.5238",
        "quadrant": "low-low",
    }
    assert regions["West"]["growth_rate"] == "1.0000" and regions["West"]["quadrant"] == "high-high"


def test_quadrant_thresholds_can_be_given(api):
    api.record(*won_deal("D-10", OWN, "100000.00", won_at="2026-05-10T09:00:00+00:00"))
    answer = api.get("/kpis/quadrants", period="2026-Q2", revenue_threshold="50000", growth_threshold="-0.6").json()
    assert answer["thresholds"] == {"revenue": "50000", "growth_rate": "-0.6"}
    assert {row["region"]: row["quadrant"] for row in answer["regions"]}["East"] == "high-high"


def test_targets_show_the_value_in_force_and_every_revision(api):
    before_revision = api.recorded_at(api.head())
    api.record(
        ev(
            "TargetSet",
            JAN,
            scope={"rep": OWN},
            metric="revenue",
            period="2026-Q1",
            value="120000",
            reason="key account reassigned",
        )
    )
    revenue = api.get("/targets", scope=f"rep:{OWN}", period="2026-Q1").json()["targets"]["revenue"]
    assert revenue["value"] == "120000" and [r["value"] for r in revenue["revisions"]] == ["100000", "120000"]
    assert revenue["revisions"][1]["reason"] == "key account reassigned"
    earlier = api.get("/targets", scope=f"rep:{OWN}", period="2026-Q1", known_at=before_revision).json()
    assert earlier["targets"]["revenue"]["value"] == "100000" and earlier["consistency"] is None


def test_a_team_target_is_checked_against_the_sum_of_its_reps_targets(api):
    (row,) = api.get("/targets", scope=f"team:{TEAM}", period="2026-Q1").json()["consistency"]
    assert (row["team_target"], row["reps_sum"], row["consistent"]) == ("200000", "200000", True)
    api.record(ev("TargetSet", JAN, scope={"rep": OWN}, metric="revenue", period="2026-Q1", value="120000"))
    (row,) = api.get("/targets", scope=f"team:{TEAM}", period="2026-Q1").json()["consistency"]
    assert (row["reps_sum"], row["difference"], row["consistent"]) == ("220000", "-20000", False)
    assert set(row["reps"]) == {OWN, MATE} and FAR not in row["reps"]


def test_a_reps_history_lists_evaluations_and_feedback_as_known(api):
    answer = api.get(f"/reps/{OWN}/history").json()
    assert [entry["kind"] for entry in answer["history"]] == ["evaluation", "feedback"]
    evaluation = answer["history"][0]
    assert evaluation["data"]["result_score"] == 71 and evaluation["previous"] is None
    assert api.get(f"/reps/{OWN}/history", known_at="2026-01-01T00:00:00+00:00").json()["history"] == []


@pytest.mark.parametrize(
    ("path", "params", "field", "says"),
    [
        ("/kpis", {"scope": "company", "period": "2026-Q5"}, "query.period", "YYYY-Qn"),
        ("/kpis", {"scope": "company", "period": "1999"}, "query.period", "2000..2100"),
        ("/kpis", {"scope": "company"}, "query.period", "required"),
        ("/kpis", {"scope": "department:7", "period": "2026"}, "query.scope", "rep:ID"),
        ("/kpis", {"scope": "rep:", "period": "2026"}, "query.scope", "rep:ID"),
        ("/kpis", {"scope": "rep:a b", "period": "2026"}, "query.scope", "spaces"),
        ("/kpis", {"scope": "company", "period": "2026", "as_of": "2026-03-01T00:00:00"}, "query.as_of", "time zone"),
        (
            "/kpis",
            {"scope": "company", "period": "2026", "known_at": "yesterday at noon"},
            "query.known_at",
            "ISO 8601",
        ),
        (
            "/kpis",
            {"scope": "company", "period": "2026", "known_at": "1900-01-01T00:00:00Z"},
            "query.known_at",
            "2000..2100",
        ),
        ("/kpis", {"scope": "company", "period": "2026", "after": "-1"}, "query.after", "greater than"),
        ("/kpis", {"scope": "company", "period": "2026", "after": "lots"}, "query.after", "integer"),
        ("/kpis/quadrants", {"period": "2026", "revenue_threshold": "NaN"}, "query.revenue_threshold", ""),
        ("/kpis/quadrants", {"period": "2026", "growth_threshold": "1e400"}, "query.growth_threshold", ""),
        ("/targets", {"scope": "company", "period": "26-Q1"}, "query.period", ""),
        (f"/reps/{OWN}/history", {"known_at": "2026-13-01T00:00:00Z"}, "query.known_at", "ISO 8601"),
        ("/payouts", {"period": "2026-00"}, "query.period", ""),
        (f"/payouts/{OWN}/2026-Q1/changes", {}, "query.from_known_at", "required"),
        (
            f"/payouts/{OWN}/2026-Q1/changes",
            {"from_known_at": "2026-03-01T00:00:00Z", "to_known_at": "2026-02-01T00:00:00Z"},
            "query.to_known_at",
            "before",
        ),
        (f"/payouts/{OWN}/2026-Q9/explain", {}, "path.period", "YYYY-Qn"),
        ("/audit/verify", {"digest": "abc"}, "query.digest", ""),
    ],
)
def test_a_malformed_parameter_is_a_422_naming_it_and_saying_what_to_send(api, path, params, field, says):
    response = api.get(path, **params)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert [p["field"] for p in problems] == [field]
    assert says in problems[0]["message"]


# ---------------------------------------------------------------- a projection worker keeps the projections


@pytest.fixture
def follow_api(settings):
    """The app as `serve --projections follow` runs it: reads never fold; the test folds, as the worker would."""
    with TestClient(create_app(settings, projection_worker=True)) as client:
        api = Api(client)
        api.record(*department())
        client.app.state.after_timeout = 0.05
        yield api


def fold(api: Api) -> int:
    state = api.client.app.state
    return catch_up(state.ledger, state.engine)


def test_with_a_projection_worker_a_read_folds_nothing_and_after_waits_for_the_worker(follow_api):
    api = follow_api
    assert kpis(api, "company")["kpis"]["revenue"] == "0.00"  # nothing folded yet: the worker's position
    fold(api)
    (position,) = api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    assert kpis(api, "company")["kpis"]["revenue"] == "287777.77"  # the read did not fold the correction
    waited = api.get("/kpis", scope="company", period="2026-Q1", after=position)
    assert waited.status_code == 503 and waited.headers["Retry-After"] == "1"
    assert "retry" in waited.json()["detail"]
    fold(api)
    assert kpis(api, "company", after=position)["kpis"]["revenue"] == "267777.77"


def test_a_remembered_answer_is_the_computed_one_byte_for_byte_headers_included(follow_api, monkeypatch):
    from api.routers import kpis as route

    api = follow_api
    fold(api)
    kpis(api, "company")  # this process's first read: it checks the projections' schema (no memo yet)
    state = api.client.app.state
    now = datetime.now(UTC)  # both reads at one "now" (their known_at), after the head was recorded
    state.settings = replace(state.settings, clock=lambda: now)
    computed = []
    monkeypatch.setattr(route, "kpis", lambda *args: computed.append(args) or projections_kpis(*args))
    first = api.get("/kpis", scope=f"rep:{OWN}", period="2026-Q1")
    second = api.get("/kpis", scope=f"rep:{OWN}", period="2026-Q1")
    assert len(computed) == 1  # the second answer was the memo's
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second.headers == first.headers
