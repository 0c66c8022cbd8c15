"""The drill-down behind a rep's figures (issue 23): GET /reps/{id}/deals, /activities and
/followups, at as_of and as known at known_at, paged, visible as the rep is (404 beyond reach),
and each as .csv / .xlsx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_client import role_tokens
from builders import correct, ev, lose, onboard, open_deal, refund, split, win
from fastapi.testclient import TestClient

from api.app import create_app


class Board:
    def __init__(self, client: TestClient):
        self.client = client
        self.tokens = role_tokens(client.app.state.engine, rep_id="R-1", team_id="T-1")

    def get(self, path: str, role: str = "admin", **params):
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def json(self, path: str, role: str = "admin", **params) -> dict:
        response = self.get(path, role, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def record(self, *events) -> None:
        response = self.client.post(
            "/events", json={"events": list(events)}, headers={"Authorization": f"Bearer {self.tokens['admin']}"}
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def board(settings) -> Iterator[Board]:
    """R-1 (T-1, East) in Q2 2026: D-1 won 10 April for 1,000.00, corrected to 1,200.00, 200.00
    refunded 20 May; D-2 lost 3 May; D-3 open since 1 April (expected 5,000.00); D-4 R-2's,
    won 2 June for 900.00 and split 1/3 to R-1 (300.00). R-3 is in T-2 (West)."""
    with TestClient(create_app(settings)) as client:
        board = Board(client)
        board.record(
            onboard("R-1"),
            onboard("R-2"),
            onboard("R-3", team_id="T-2", region="West"),
            open_deal("D-1", "R-1", customer_id="C-1", when="2026-03-20T09:00:00+00:00"),
            win("D-1", "1000.00", when="2026-04-10T09:00:00+00:00"),
            correct("D-1", "1200.00", when="2026-04-12T09:00:00+00:00"),
            refund("D-1", "200.00", when="2026-05-20T09:00:00+00:00"),
            open_deal("D-2", "R-1", customer_id="C-2", when="2026-04-01T09:00:00+00:00"),
            lose("D-2", when="2026-05-03T09:00:00+00:00"),
            open_deal("D-3", "R-1", customer_id="C-3", when="2026-04-01T09:00:00+00:00", expected_amount="5000.00"),
            open_deal("D-4", "R-2", customer_id="C-4", when="2026-04-01T09:00:00+00:00"),
            win("D-4", "900.00", when="2026-06-02T09:00:00+00:00"),
            split("D-4", {"R-2": "0.666666667", "R-1": "0.333333333"}, when="2026-06-03T09:00:00+00:00"),
            ev("ActivityLogged", "2026-04-02T09:00:00+00:00", activity_id="A-1", rep_id="R-1", kind="call"),
            ev(
                "ActivityLogged",
                "2026-05-02T09:00:00+00:00",
                activity_id="A-2",
                rep_id="R-1",
                kind="email",
                replied=True,
            ),
            ev(
                "FollowUpScheduled",
                "2026-04-02T09:00:00+00:00",
                followup_id="F-1",
                rep_id="R-1",
                due_at="2026-04-20T09:00:00+00:00",
                deal_id="D-3",
            ),
            ev(
                "FollowUpScheduled",
                "2026-04-02T09:00:00+00:00",
                followup_id="F-2",
                rep_id="R-1",
                due_at="2026-04-25T09:00:00+00:00",
            ),
            ev("FollowUpCompleted", "2026-04-24T09:00:00+00:00", followup_id="F-2"),
            ev(
                "FollowUpScheduled",
                "2026-04-02T09:00:00+00:00",
                followup_id="F-3",
                rep_id="R-1",
                due_at="2026-06-25T09:00:00+00:00",
            ),
        )
        yield board


def test_a_reps_deals_show_each_stage_amount_and_days_in_stage(board):
    """As of 1 June 00:00: D-1 won 10 April 09:00, 1,200.00 as corrected, credited 1,000.00 after
    the refund, 51 whole days won (51 days 15 h); D-2 lost 3 May 09:00 (28 days 15 h: 28); D-3 open
    since 1 April 09:00 (60 days 15 h: 60). D-4 is R-2's, and split to R-1 only on 3 June: not R-1's yet."""
    answer = board.json("/reps/R-1/deals", as_of="2026-06-01T00:00:00+00:00")
    deals = {d["deal_id"]: d for d in answer["deals"]}
    assert [d["deal_id"] for d in answer["deals"]] == ["D-2", "D-3", "D-1"]  # newest opened first
    assert (deals["D-1"]["stage"], deals["D-1"]["amount"], deals["D-1"]["credited"], deals["D-1"]["stage_days"]) == (
        "won",
        "1200.00",
        "1000.00",
        51,
    )
    assert (deals["D-2"]["stage"], deals["D-2"]["stage_days"], deals["D-2"]["amount"]) == ("lost", 28, None)
    assert (deals["D-3"]["stage"], deals["D-3"]["stage_days"], deals["D-3"]["expected_amount"]) == (
        "open",
        60,
        "5000.00",
    )
    later = {d["deal_id"]: d for d in board.json("/reps/R-1/deals", as_of="2026-06-05T00:00:00+00:00")["deals"]}
    assert (later["D-4"]["owner"], later["D-4"]["amount"], later["D-4"]["credited"]) == ("R-2", "900.00", "300.00")
    assert len(deals["D-1"]["events"]) == 4  # opened, won, corrected, refunded
    assert answer["total"] == 3 and answer["next_offset"] is None


def test_the_deals_of_a_period_are_those_closed_in_it_and_those_open_at_as_of(board):
    """Q2 at its end: D-1 won (credited 1,000.00), D-2 lost, D-3 open, D-4 won 2 June: R-1's third
    of 900.00 is 300.00. The credited amounts add up to R-1's Q2 revenue card: 1,300.00."""
    answer = board.json("/reps/R-1/deals", period="2026-Q2")
    won = [d for d in answer["deals"] if d["stage"] == "won"]
    assert sorted((d["deal_id"], d["credited"]) for d in won) == [("D-1", "1000.00"), ("D-4", "300.00")]
    card = board.json("/kpis", scope="rep:R-1", period="2026-Q2")["kpis"]
    assert card["revenue"] == "1300.00"
    only_open = board.json("/reps/R-1/deals", period="2026-Q2", stage="open")
    assert [d["deal_id"] for d in only_open["deals"]] == ["D-3"]
    first = board.json("/reps/R-1/deals", period="2026-Q2", limit=2)
    assert len(first["deals"]) == 2 and first["next_offset"] == 2 and first["total"] == 4


def test_a_deal_won_after_known_at_is_still_open_as_known_then(board):
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    board.record(win("D-3", "4500.00", when="2026-06-10T09:00:00+00:00"))
    now = {d["deal_id"]: d for d in board.json("/reps/R-1/deals")["deals"]}
    then = {d["deal_id"]: d for d in board.json("/reps/R-1/deals", known_at=before)["deals"]}
    assert (now["D-3"]["stage"], now["D-3"]["amount"]) == ("won", "4500.00")
    assert (then["D-3"]["stage"], then["D-3"]["amount"]) == ("open", None)


def test_activities_and_followups_with_the_overdue_first(board):
    """As of 1 May: A-1 (2 April) only; F-1 due 20 April and not done: overdue 10 days
    (20 April 09:00 → 1 May 00:00 is 10 days 15 h); F-2 done on 24 April; F-3 due 25 June."""
    acts = board.json("/reps/R-1/activities", as_of="2026-05-01T00:00:00+00:00")
    assert [a["activity_id"] for a in acts["activities"]] == ["A-1"]
    q2 = board.json("/reps/R-1/activities", period="2026-Q2")
    assert [(a["activity_id"], a["kind"], a["replied"]) for a in q2["activities"]] == [
        ("A-2", "email", True),
        ("A-1", "call", None),
    ]
    follow = board.json("/reps/R-1/followups", as_of="2026-05-01T00:00:00+00:00")
    assert [(f["followup_id"], f["state"], f["overdue_days"]) for f in follow["followups"]] == [
        ("F-1", "overdue", 10),
        ("F-2", "done", None),
        ("F-3", "due", None),
    ]
    overdue = board.json("/reps/R-1/followups", as_of="2026-05-01T00:00:00+00:00", state="overdue")
    assert [f["followup_id"] for f in overdue["followups"]] == ["F-1"]


@pytest.mark.parametrize("path", ["deals", "activities", "followups"])
def test_each_role_drills_into_the_reps_it_reaches_and_no_others(board, path):
    for role, rep, status in [
        ("manager", "R-1", 200),
        ("manager", "R-3", 404),
        ("director", "R-1", 200),
        ("director", "R-3", 404),
        ("rep", "R-1", 200),
        ("rep", "R-2", 404),
        ("auditor", "R-3", 200),
    ]:
        assert board.get(f"/reps/{rep}/{path}", role).status_code == status, (role, rep)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"period": "2026-13"}, {"as_of": "2026-05-01T00:00:00"}],
)
def test_bad_paging_or_cutoffs_are_a_422_naming_the_parameter(board, params):
    response = board.get("/reps/R-1/deals", **params)
    assert response.status_code == 422 and response.json()["detail"][0]["field"].startswith("query.")


def test_each_drill_down_downloads_as_csv_and_xlsx(board):
    csv = board.get("/reps/R-1/deals", period="2026-Q2", format="csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Deal,Customer,Stage,Days in stage") and len(lines) == 5
    follow = board.get("/reps/R-1/followups", format="xlsx", as_of="2026-05-01T00:00:00+00:00")
    assert follow.status_code == 200 and follow.content[:2] == b"PK"
    acts = board.get("/reps/R-1/activities", format="csv", period="2026-Q2")
    assert acts.content.decode("utf-8-sig").splitlines()[1].startswith("A-2,email,")
