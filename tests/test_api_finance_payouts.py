"""What the dashboard's finance view reads: GET /payouts with each payout's approval state and the
page's totals, narrowed to the scope a bulk approval would take; POST /replays with its totals,
and the same replay as a spreadsheet, the biggest change first.

The department (tests/api_client.py): for 2026-Q1 R-ann (T-1, East) is owed 9800.00 (commission
4800 + target bonus 5000), R-bob (T-1, East) 2400.00, R-cat (T-2, West) 2333.33.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from api_client import FAR, MATE, OWN, Api
from builders import correct
from openpyxl import load_workbook

Q1 = "2026-Q1"
V2 = {"plan_id": "std", "version": 2}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def listed(api: Api, role: str = "finance", **params) -> dict:
    response = api.get("/payouts", role=role, period=Q1, **params)
    assert response.status_code == 200, response.text
    return response.json()


def states(answer: dict) -> dict[str, tuple]:
    return {
        p["rep_id"]: (p["total"], p["approval"]["state"], p["approval"]["owed"], p["approval"]["difference"])
        for p in answer["payouts"]
    }


def test_each_payout_comes_with_its_approval_state_and_the_page_with_its_totals(api):
    assert api.post(f"/payouts/{OWN}/{Q1}/approve", role="finance").status_code == 201
    # D-1 corrected from 130000 to 110000 after the approval: R-ann's commission 4800 → 3500, so
    # computed now 3500 + 5000 = 8500.00 against 9800.00 owed: a difference of −1300.00
    api.record(correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00"))
    answer = listed(api)
    assert states(answer) == {
        OWN: ("8500.00", "approved", "9800.00", "-1300.00"),
        MATE: ("2400.00", "not_approved", None, None),
        FAR: ("2333.33", "not_approved", None, None),
    }
    # 8500.00 + 2400.00 + 2333.33 computed; only R-ann's 9800.00 owed
    assert answer["totals"] == {"reps": 3, "total": "13233.33", "owed": "9800.00"}
    assert answer["scope"] is None


def test_a_scope_narrows_the_list_to_the_reps_a_bulk_approval_of_it_takes(api):
    east = listed(api, scope="region:East")
    assert [p["rep_id"] for p in east["payouts"]] == [OWN, MATE]
    assert east["totals"] == {"reps": 2, "total": "12200.00", "owed": "0.00"}  # 9800.00 + 2400.00
    assert east["scope"] == "region:East"
    west = listed(api, scope="team:T-2")
    assert [p["rep_id"] for p in west["payouts"]] == [FAR]
    # what the finance view confirms is what the bulk approval then approves
    approved = api.post("/payouts/approve", {"scope": "region:East", "period": Q1}, role="finance").json()
    assert [a["rep_id"] for a in approved["approved"]] == [OWN, MATE]
    assert {p["rep_id"]: p["approval"]["state"] for p in listed(api)["payouts"]} == {
        OWN: "approved",
        MATE: "approved",
        FAR: "not_approved",
    }


def test_a_rep_lists_only_their_own_payout_and_a_manager_only_their_teams(api):
    rep = listed(api, role="rep")
    assert states(rep) == {OWN: ("9800.00", "not_approved", None, None)}
    assert rep["totals"] == {"reps": 1, "total": "9800.00", "owed": "0.00"}
    manager = listed(api, role="manager")
    assert [p["rep_id"] for p in manager["payouts"]] == [OWN, MATE]
    assert manager["totals"]["total"] == "12200.00"
    assert [p["rep_id"] for p in listed(api, role="manager", scope="team:T-1")["payouts"]] == [OWN, MATE]
    assert [p["rep_id"] for p in listed(api, role="finance")["payouts"]] == [OWN, MATE, FAR]


@pytest.mark.parametrize(
    ("role", "scope", "status"),
    [
        ("manager", "team:T-2", 404),  # another team: not found, as GET /kpis says
        ("manager", "company", 403),
        ("rep", "region:East", 403),
        ("finance", "team:T-9", 404),  # nobody was ever in it
    ],
)
def test_a_scope_beyond_the_tokens_reach_is_refused_and_lists_nothing(api, role, scope, status):
    response = api.get("/payouts", role=role, period=Q1, scope=scope)
    assert response.status_code == status, response.text
    assert FAR not in response.text or status == 404 and scope == "team:T-9"


def test_a_rep_scope_is_not_a_bulk_scope_and_is_refused_naming_the_parameter(api):
    response = api.get("/payouts", role="finance", period=Q1, scope=f"rep:{OWN}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.scope"


@pytest.mark.parametrize("role", ["manager", "rep", "auditor"])
def test_only_finance_and_admins_bulk_approve_what_the_view_lists(api, role):
    head = api.head()
    response = api.post("/payouts/approve", {"scope": "company", "period": Q1}, role=role)
    assert response.status_code == 403
    assert api.head() == head


def test_a_replay_answers_its_totals_by_column_and_by_cause(api):
    response = api.post("/replays", {"period": Q1, "plan": V2}, role="finance")
    assert response.status_code == 200, response.text
    # nothing approved: v2 (a flat 4%) against v1 computed, R-ann +400.00, R-bob +800.00, R-cat +777.78;
    # every difference is the rule's (no facts were learned since an approval)
    assert response.json()["totals"] == {
        "reps": 3,
        "before": "14533.33",  # 9800.00 + 2400.00 + 2333.33
        "after": "16511.11",  # 10200.00 + 3200.00 + 3111.11
        "delta": "1977.78",
        "rule": "1977.78",
        "facts": "0.00",
        "both": "0.00",
    }


def test_a_replay_exports_to_csv_biggest_change_first_with_its_causes_and_the_totals(api):
    response = api.client.post(
        "/replays?format=csv", json={"period": Q1, "plan": V2}, headers={**api.headers("finance"), **EN}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="replay-2026-Q1.csv"' in response.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header[:6] == ["Rep", "Compared with", "Before", "After", "Delta", "Cause: plan rules"]
    # by the size of the change: R-bob 800.00, R-cat 777.78, R-ann 400.00; then the totals
    assert [row[:6] for row in rows] == [
        [MATE, "computed (not approved)", "2400.00", "3200.00", "800.00", "800.00"],
        [FAR, "computed (not approved)", "2333.33", "3111.11", "777.78", "777.78"],
        [OWN, "computed (not approved)", "9800.00", "10200.00", "400.00", "400.00"],
        ["Total (3 reps)", "", "14533.33", "16511.11", "1977.78", "1977.78"],
    ]
    assert rows[2][8] == "commission 400.00; target-bonus 0.00"


def test_a_replay_exports_to_xlsx_in_chinese_with_money_as_numbers(api):
    response = api.client.post(
        "/replays?format=xlsx", json={"period": Q1, "plan": V2}, headers={**api.headers("finance"), **ZH}
    )
    assert response.status_code == 200, response.text
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "2026-Q1 按 std v2 重算"
    header = rows[4]
    assert header[:5] == ("销售代表", "对比基准", "之前", "之后", "变化")
    assert [row[0] for row in rows[5:]] == [MATE, FAR, OWN, "合计（3 名销售代表）"]
    assert Decimal(str(rows[5][4])) == Decimal("800.00") and Decimal(str(rows[-1][3])) == Decimal("16511.11")


def test_a_manager_cannot_run_or_export_a_replay(api):
    response = api.client.post("/replays?format=csv", json={"period": Q1, "plan": V2}, headers=api.headers("manager"))
    assert response.status_code == 403


def test_a_statement_link_names_its_language_over_the_readers(api):
    def page(lang: str, header: dict[str, str]) -> str:
        response = api.client.get(
            f"/statements/{OWN}/{Q1}", params={"format": "html", "lang": lang}, headers={**api.headers("rep"), **header}
        )
        assert response.status_code == 200, response.text
        return response.text

    assert "激励对账单" in page("zh-CN", EN)  # "{rep} {period} 激励对账单", though the reader asks for English
    assert f"Statement of {OWN} for {Q1}" in page("en", ZH)
    refused = api.get(f"/statements/{OWN}/{Q1}", role="rep", format="html", lang="fr")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "query.lang"
    assert api.get(f"/statements/{FAR}/{Q1}", role="rep", format="html", lang="en").status_code == 404


def test_the_explanation_lists_each_event_behind_the_payout_once_with_the_lines_resting_on_it(api):
    answer = api.get(f"/payouts/{OWN}/{Q1}/explain", role="rep").json()
    tree = answer["tree"]
    # R-ann's commission and her target bonus both rest on D-1's win and her revenue target: two
    # lines citing the same events, listed once
    by_line = {line["component"]: {e["position"] for e in line["events"]} for line in tree["lines"]}
    assert by_line["commission"] & by_line["target-bonus"]
    positions = [e["position"] for e in tree["events"]]
    assert sorted(positions) == sorted(set().union(*by_line.values())) and len(positions) == len(set(positions))
    for event in tree["events"]:
        assert event["lines"] == [c for c, cited in by_line.items() if event["position"] in cited]
    won = next(e for e in tree["events"] if e["type"] == "DealWon")
    assert won["data"]["amount"] == "130000.00" and won["lines"] == ["commission", "target-bonus"]
    times = [e["occurred_at"] for e in tree["events"]]
    assert times == sorted(times)  # in the order they happened (one zone: UTC)


def test_a_past_periods_payouts_show_the_team_each_rep_was_in_then_and_who_moved_during_it(api):
    from builders import ev

    # R-bob moves to T-2 (West) on 15 February, during Q1; R-ann moves there on 10 April, after Q1.
    api.record(
        ev("RepTransferred", "2026-02-15T00:00:00+00:00", rep_id=MATE, team_id="T-2", region="West"),
        ev("RepTransferred", "2026-04-10T00:00:00+00:00", rep_id=OWN, team_id="T-2", region="West"),
    )
    teams = {p["rep_id"]: (p["team_id"], p["region"], p["teams"], p["moved"]) for p in listed(api)["payouts"]}
    # Q1: R-ann ended it in T-1 (her move came later: not her team now, T-2); R-bob ended it in
    # T-2 and was in T-1 before; R-cat never moved
    assert teams[OWN] == ("T-1", "East", ["T-1"], [])
    assert teams[MATE] == (
        "T-2",
        "West",
        ["T-1", "T-2"],
        [{"team_id": "T-2", "region": "West", "on": "2026-02-15T00:00:00Z"}],
    )
    assert teams[FAR] == ("T-2", "West", ["T-2"], [])
    # under team T-1's scope R-bob is listed (he was in it during Q1), marked as moved
    in_team = listed(api, scope="team:T-1")["payouts"]
    assert [(p["rep_id"], p["team_id"], [m["team_id"] for m in p["moved"]]) for p in in_team] == [
        (OWN, "T-1", []),
        (MATE, "T-2", ["T-2"]),
    ]
    # Q2: R-ann moved during it
    q2 = {p["rep_id"]: p for p in api.get("/payouts", role="finance", period="2026-Q2").json()["payouts"]}
    assert (q2[OWN]["team_id"], q2[OWN]["teams"], q2[MATE]["teams"]) == ("T-2", ["T-1", "T-2"], ["T-2"])
    assert q2[OWN]["moved"][0]["on"] == "2026-04-10T00:00:00Z"


def test_the_payouts_spreadsheet_names_the_team_each_rep_ended_the_period_in_and_the_moves(api):
    from builders import ev

    # R-bob moves to T-2 on 15 February, during Q1: finance's file says T-2, and the move
    api.record(ev("RepTransferred", "2026-02-15T00:00:00+00:00", rep_id=MATE, team_id="T-2", region="West"))
    response = api.client.get(
        "/payouts", params={"period": Q1, "format": "csv"}, headers={**api.headers("finance"), **EN}
    )
    assert response.status_code == 200, response.text
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    team, moved = header.index("Team"), header.index("Moved")
    by_rep = {row[0]: (row[team], row[moved]) for row in rows if row and row[0] in (OWN, MATE)}
    assert by_rep == {OWN: ("T-1", ""), MATE: ("T-2", "moved to T-2 on 2026-02-15")}
