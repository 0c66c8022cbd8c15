"""The dashboard's tables that had no file: the team table (GET /web/team) and the regions by
revenue and growth (GET /kpis/quadrants), as CSV and .xlsx, row for row what the JSON answers,
with Chinese headings for a Chinese reader, and `?lang=` (which the page's links carry) over
Accept-Language.

The story (tests/test_dashboard_api.py): R-1 and R-2 in T-1 (East), R-3 in T-2 (West); in 2026-Q2
R-1 won D-1 1000.50 (April) and D-2 2500.00 (June), R-2 won D-3 700.00 (May); R-3 won D-4 9000.00
in February. R-1's Q2 revenue target is 10000.00.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from test_dashboard_api import PERIOD, dash  # noqa: F401  (the story, as the fixture `dash`)

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def board(dash):  # noqa: F811  (the story's fixture, by another name here)
    return dash


def fetch(board, path: str, headers: dict[str, str] | None = None, role: str = "admin", **params):
    return board.client.get(
        path, params=params, headers={"Authorization": f"Bearer {board.tokens[role]}", **(headers or {})}
    )


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_team_table_as_csv_has_the_json_rows_and_chinese_headings(board):
    answer = fetch(board, "/web/team", scope="team:T-1", period=PERIOD).json()
    response = fetch(board, "/web/team", ZH, scope="team:T-1", period=PERIOD, format="csv")
    assert response.headers["content-disposition"] == 'attachment; filename="team-team-T-1-2026-Q2.csv"'
    header, *rows = csv_rows(response)
    assert header[:10] == [
        "销售代表",
        "姓名",
        "团队",
        "区域",
        "业绩",
        "订单数",
        "业绩目标达成率",
        "业绩进度",
        "偏离目标",
        "调动",
    ]
    assert header[10:] == [f"{month} 业绩" for month in answer["months"]]
    assert [row[0] for row in rows] == [row["rep_id"] for row in answer["rows"]] == ["R-1", "R-2"]
    for row, json_row in zip(rows, answer["rows"], strict=True):
        assert row[1:6] == [json_row["name"], json_row["team_id"], json_row["region"], json_row["revenue"],
                            str(json_row["orders"])]  # fmt: skip
        assert row[10:] == [month["revenue"] for month in json_row["revenue_by_month"]]
    # 3500.50 of 10000.00 = 35.01 %, the period ended (pace = attainment), revenue off track
    assert rows[0][4:9] == ["3500.50", "2", "35.01%", "35.01%", "业绩"]
    assert rows[0][10:] == ["0.00", "0.00", "0.00", "1000.50", "0.00", "2500.00"]
    # R-2 has no target: no attainment, no pace, nothing off track
    assert rows[1][4:9] == ["700.00", "1", "", "", ""]


def test_the_team_table_as_xlsx_holds_numbers_and_speaks_the_links_language(board):
    answer = fetch(board, "/web/team", scope="company", period=PERIOD).json()
    # The page's link carries lang=zh-CN; the browser's own header is English.
    response = fetch(board, "/web/team", EN, scope="company", period=PERIOD, format="xlsx", lang="zh-CN")
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][0] == "团队：company，2026-Q2"
    assert "共 3 名销售，列出 3 名。" in [line[0] for line in lines[1:5]]
    start = next(i for i, line in enumerate(lines) if line and line[0] == "销售代表") + 1
    table = lines[start:]
    assert [line[0] for line in table] == [row["rep_id"] for row in answer["rows"]] == ["R-1", "R-2", "R-3"]
    for line, row in zip(table, answer["rows"], strict=True):
        assert Decimal(str(line[4])) == Decimal(row["revenue"]) and line[5] == row["orders"]
    assert Decimal(str(table[0][6])) == Decimal("0.3501")  # a rate is a number with a % format
    assert table[2][4] == 0 and Decimal(str(table[2][11])) == Decimal("9000.00")  # February only


def test_the_team_file_pages_as_the_json_does_and_says_how_many_it_holds(board):
    first = fetch(board, "/web/team", scope="company", period=PERIOD, limit=2).json()
    header, *rows = csv_rows(fetch(board, "/web/team", EN, scope="company", period=PERIOD, limit=2, format="csv"))
    assert header[0] == "Rep" and [row[0] for row in rows] == [r["rep_id"] for r in first["rows"]] == ["R-1", "R-2"]
    book = load_workbook(io.BytesIO(fetch(board, "/web/team", EN, scope="company", period=PERIOD, limit=2,
                                          format="xlsx").content))  # fmt: skip
    assert "2 of 3 reps." in [line[0] for line in book.active.iter_rows(max_row=5, values_only=True)]


def test_the_team_file_is_refused_where_the_json_is(board):
    for role, scope in (("manager", "team:T-2"), ("manager", "company"), ("rep", "rep:R-2")):
        json_status = fetch(board, "/web/team", role=role, scope=scope, period=PERIOD).status_code
        assert json_status in (403, 404)
        assert fetch(board, "/web/team", role=role, scope=scope, period=PERIOD, format="csv").status_code == json_status
    refused = fetch(board, "/web/team", scope="team:T-1", period=PERIOD, format="pdf")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "query.format"


def test_the_regions_as_csv_have_the_json_rows_and_their_quadrant_in_chinese(board):
    answer = fetch(board, "/kpis/quadrants", period=PERIOD).json()
    response = fetch(board, "/kpis/quadrants", ZH, period=PERIOD, format="csv")
    assert response.headers["content-disposition"] == 'attachment; filename="quadrants-2026-Q2.csv"'
    header, *rows = csv_rows(response)
    assert header == ["区域", "业绩", "增长率", "象限"]
    assert [(row[0], row[1]) for row in rows] == [(r["region"], r["revenue"]) for r in answer["regions"]]
    # East: 1000.50 + 2500.00 + 700.00 = 4200.50, nothing in Q1 to grow from: no growth rate;
    # West: 9000.00 in Q1, 0.00 in Q2: -100 %, below the revenue median (2100.25), at the growth one.
    assert rows == [["East", "4200.50", "", "无象限（无增长率）"], ["West", "0.00", "-100.00%", "低业绩、高增长"]]


def test_the_regions_as_xlsx_name_the_thresholds_and_english_wins_with_lang_en(board):
    response = fetch(board, "/kpis/quadrants", ZH, period=PERIOD, format="xlsx", lang="en")
    assert response.status_code == 200, response.text
    lines = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert lines[0][0] == "Regions by revenue and growth: 2026-Q2"
    assert "Thresholds: revenue 2100.25, growth rate -100.00%." in [line[0] for line in lines[1:5]]
    start = next(i for i, line in enumerate(lines) if line and line[0] == "Region") + 1
    assert [(line[0], Decimal(str(line[1])), line[3]) for line in lines[start:]] == [
        ("East", Decimal("4200.50"), "no quadrant (no growth rate)"),
        ("West", Decimal("0"), "Low revenue, high growth"),
    ]
    assert fetch(board, "/kpis/quadrants", role="manager", period=PERIOD, format="csv").status_code == 403
