"""Importing as Chinese data arrives: a GB18030 CSV and an .xlsx with Chinese headers, through one
mapping file, record the same events as the equivalent JSON lines; bad rows are named by row and
column, in zh-CN, and nothing of a refused file is written."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from api.cli import app
from ledger.config import Settings
from ledger.store import Ledger
from services import sheets

MAPPING = """\
type_column = "类型"

[types]
"入职" = "RepOnboarded"
"新建商机" = "DealOpened"
"拜访记录" = "ActivityLogged"
"成交" = "DealWon"
"退款" = "DealRefunded"
"分成" = "DealCreditSplit"

[columns]
event_id = "单号"
occurred_at = "日期"
rep_id = "负责人"
name = "姓名"
team_id = "团队"
region = "区域"
activity_id = "单号"
customer_id = "客户名称"
deal_id = "商机编号"
amount = "金额"
expected_amount = "金额"
kind = "方式"
replied = "已回复"
notes = "备注"
reason = "备注"
splits = "分成比例"
"""
HEADERS = [
    "类型",
    "单号",
    "日期",
    "负责人",
    "姓名",
    "团队",
    "区域",
    "客户名称",
    "商机编号",
    "金额",
    "方式",
    "已回复",
    "备注",
    "分成比例",
]
# The rows as a sales assistant keeps them: Chinese words, ¥ and separators, dates without a zone.
ROWS = [
    ["入职", "E-1", "2026/01/02 09:00", "R-张伟", "张伟", "华东一组", "华东", "", "", "", "", "", "", ""],
    ["入职", "E-2", "2026/01/02 09:30", "R-李娜", "李娜", "华东一组", "华东", "", "", "", "", "", "", ""],
    ["新建商机", "O-1", "2026年3月1日", "R-张伟", "", "", "", "上海明华贸易", "D-1", "¥25,000.00", "", "", "", ""],
    [
        "拜访记录",
        "A-1",
        "2026/03/02 10:00",
        "R-张伟",
        "",
        "",
        "",
        "上海明华贸易",
        "D-1",
        "",
        "拜访",
        "",
        "首次拜访，客户有兴趣",
        "",
    ],
    ["拜访记录", "A-2", "2026-03-03 15:30", "R-李娜", "", "", "", "上海明华贸易", "D-1", "", "邮件", "是", "", ""],
    ["成交", "W-1", "2026/11/28 16:00", "", "", "", "", "", "D-1", "¥24,000.50", "", "", "", ""],
    ["分成", "S-1", "2026/11/28 16:05", "", "", "", "", "", "D-1", "", "", "", "", "R-张伟:0.6；R-李娜:0.4"],
    ["退款", "F-1", "2026年12月1日 10:00", "", "", "", "", "", "D-1", "1,000 元", "", "", "质量问题", ""],
]
ZONE = "+08:00"  # PERFLEDGER_TZ=Asia/Shanghai: times without a zone are Beijing time
# The same events, written by hand as JSON lines.
EXPECTED = [
    {"type": "RepOnboarded", "event_id": "E-1", "occurred_at": f"2026-01-02T09:00:00{ZONE}",
     "data": {"rep_id": "R-张伟", "name": "张伟", "team_id": "华东一组", "region": "华东"}},
    {"type": "RepOnboarded", "event_id": "E-2", "occurred_at": f"2026-01-02T09:30:00{ZONE}",
     "data": {"rep_id": "R-李娜", "name": "李娜", "team_id": "华东一组", "region": "华东"}},
    {"type": "DealOpened", "event_id": "O-1", "occurred_at": f"2026-03-01T00:00:00{ZONE}",
     "data": {"deal_id": "D-1", "rep_id": "R-张伟", "customer_id": "上海明华贸易", "expected_amount": "25000.00"}},
    {"type": "ActivityLogged", "event_id": "A-1", "occurred_at": f"2026-03-02T10:00:00{ZONE}",
     "data": {"activity_id": "A-1", "rep_id": "R-张伟", "kind": "visit", "customer_id": "上海明华贸易",
              "deal_id": "D-1", "notes": "首次拜访，客户有兴趣"}},
    {"type": "ActivityLogged", "event_id": "A-2", "occurred_at": f"2026-03-03T15:30:00{ZONE}",
     "data": {"activity_id": "A-2", "rep_id": "R-李娜", "kind": "email", "customer_id": "上海明华贸易",
              "deal_id": "D-1", "replied": True}},
    {"type": "DealWon", "event_id": "W-1", "occurred_at": f"2026-11-28T16:00:00{ZONE}",
     "data": {"deal_id": "D-1", "amount": "24000.50"}},
    {"type": "DealCreditSplit", "event_id": "S-1", "occurred_at": f"2026-11-28T16:05:00{ZONE}",
     "data": {"deal_id": "D-1",
              "splits": [{"rep_id": "R-张伟", "share": "0.6"}, {"rep_id": "R-李娜", "share": "0.4"}]}},
    {"type": "DealRefunded", "event_id": "F-1", "occurred_at": f"2026-12-01T10:00:00{ZONE}",
     "data": {"deal_id": "D-1", "amount": "1000.00", "reason": "质量问题"}},
]  # fmt: skip


def csv_text(rows: list[list[str]]) -> str:
    text = io.StringIO()
    csv.writer(text).writerows([HEADERS, *rows])  # as Excel writes it: cells with commas quoted, CRLF
    return text.getvalue()


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("销售记录")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def env(tmp_path):
    def make(name: str) -> tuple[Settings, dict[str, str]]:
        url = f"sqlite:///{tmp_path}/{name}.db"
        return Settings(database_url=url, tz_name="Asia/Shanghai"), {
            "PERFLEDGER_DATABASE_URL": url,
            "PERFLEDGER_TZ": "Asia/Shanghai",
            "COLUMNS": "220",
        }

    return make


def imported(settings: Settings) -> list[tuple]:
    ledger = Ledger(settings)
    try:
        return [(r.type, r.event_id, r.occurred_at, r.data) for r in ledger.read_log()]
    finally:
        ledger.close()


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def test_a_gb18030_csv_and_an_xlsx_with_chinese_headers_record_what_the_json_lines_record(env, tmp_path):
    mapping = tmp_path / "销售.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    jsonl = tmp_path / "same.jsonl"
    jsonl.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in EXPECTED), encoding="utf-8")
    gbk = tmp_path / "销售记录.csv"
    gbk.write_bytes(csv_text(ROWS).encode("gb18030"))  # what Excel saves on Chinese Windows
    workbook = write_xlsx(tmp_path / "销售记录.xlsx", ROWS)

    results = {}
    for name, file, extra in (("jsonl", jsonl, []), ("csv", gbk, ["--mapping", str(mapping)]),
                              ("xlsx", workbook, ["--mapping", str(mapping)])):  # fmt: skip
        settings, environment = env(name)
        result = run(environment, "import", str(file), *extra)
        assert result.exit_code == 0, result.output
        results[name] = imported(settings)

    assert len(results["jsonl"]) == len(EXPECTED)
    assert results["csv"] == results["jsonl"]
    assert results["xlsx"] == results["jsonl"]
    won = next(data for kind, _, _, data in results["xlsx"] if kind == "DealWon")
    assert won["amount"] == Decimal("24000.50")


def test_an_xlsx_with_excel_dates_and_numbers_reads_them_in_the_ledgers_zone(env, tmp_path):
    from datetime import datetime

    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"type": "DealWon", "columns": {"event_id": "单号", "occurred_at": "日期",
                                   "deal_id": "商机编号", "amount": "金额"}}, ensure_ascii=False))  # fmt: skip
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["单号", "日期", "商机编号", "金额"])
    sheet.append([10023, datetime(2026, 11, 28, 16, 0), "D-9", 24000.5])  # an id, a date and money as Excel stores them
    book.save(tmp_path / "won.xlsx")
    settings, environment = env("dates")
    result = run(environment, "import", str(tmp_path / "won.xlsx"), "--mapping", str(mapping), "--preview")
    assert result.exit_code == 0, result.output
    assert "2026-11-28T16:00:00+08:00" in result.output and "amount=24000.5" in result.output
    assert "event_id" in result.output and "10023" in result.output
    assert imported(settings) == []  # a preview records nothing


BAD = {  # row number in the sheet (the header is row 1) → (column, what is wrong)
    18: ("方式", "飞鸽传书"),
    205: ("日期", "2026年13月45日"),
    377: ("负责人", "R-无此人"),
    640: ("已回复", "也许"),
    999: ("金额", "¥12,3x5"),
}


def activity_rows(count: int) -> list[list[str]]:
    rows = []
    for n in range(2, count + 2):  # sheet rows 2..count+1
        rows.append(
            ["拜访记录", f"A-{n}", "2026/03/02 10:00", "R-张伟", "", "", "", "客户甲", "", "", "电话", "", "", ""]
        )
    return rows


def test_five_bad_rows_among_a_thousand_are_reported_exactly_by_row_and_column_in_chinese(env, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    rows = activity_rows(1000)
    for number, (column, value) in BAD.items():
        rows[number - 2][HEADERS.index(column)] = value
    rows[999 - 2][0] = "成交"  # a won deal whose amount is not one
    rows[999 - 2][HEADERS.index("商机编号")] = "D-1"
    settings, environment = env("bad")
    seed = tmp_path / "seed.jsonl"
    seed.write_text(json.dumps(EXPECTED[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert run(environment, "import", str(seed)).exit_code == 0
    before = imported(settings)

    result = run(environment, "--locale", "zh-CN", "import", str(write_xlsx(tmp_path / "活动.xlsx", rows)),
                 "--mapping", str(mapping))  # fmt: skip

    assert result.exit_code == 1
    reported = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 5 and cells[1].isdigit():
            reported[int(cells[1])] = (cells[2], cells[3])
    assert {row: column for row, (column, _) in reported.items()} == {row: col for row, (col, _) in BAD.items()}
    assert reported[18][1] == "必须是 'call', 'visit', 'email', 'meeting', 'demo' 或 'other' 之一"
    assert reported[377][1].startswith("未知的销售代表 R-无此人")
    for _, message in reported.values():
        assert re.search(r"[\u4e00-\u9fff]", message), message  # said in Chinese
    assert "1000 行中有 5 行无效" in result.output.replace("\n", "").replace(",", "")
    assert imported(settings) == before  # nothing of the refused file was written


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ("客户名称,成交金额\n".encode("utf-8-sig"), "utf-8-sig"),
        ("客户名称,成交金额\n".encode(), "utf-8"),
        ("客户名称,成交金额\n".encode("gb18030"), "gb18030"),
        ("客户名称,成交金额\n".encode("gbk"), "gb18030"),
    ],
)
def test_a_csvs_encoding_is_told_by_its_bom_or_its_bytes(head, encoding):
    assert sheets.detect_encoding(head) == encoding


@pytest.mark.parametrize(
    ("cell", "amount"),
    [("¥1,234.50", "1234.50"), ("￥12,345", "12345"), ("1,200 元", "1200"), (24000.5, "24000.5"), ("RMB 88", "88")],
)
def test_amounts_are_read_with_currency_signs_and_thousands_separators(cell, amount):
    assert sheets.money_text(cell) == amount


OTHER_SHEETS = [
    (  # targets: the scope from a column, the metric fixed, the period as written
        {"type": "TargetSet", "columns": {"scope.rep": "负责人", "period": "期间", "value": "目标业绩",
                                          "occurred_at": "设定日期"},
         "fixed": {"metric": "revenue"}},
        ["负责人", "期间", "目标业绩", "设定日期"],
        [["R-张伟", "2026-Q1", "¥100,000", "2026-01-02"]],
        {"type": "TargetSet", "data": {"scope": {"rep": "R-张伟"}, "metric": "revenue", "period": "2026-Q1",
                                       "value": "100000"}},
    ),
    (  # leads
        {"type": "LeadCreated", "columns": {"event_id": "线索编号", "lead_id": "线索编号", "rep_id": "负责人",
                                            "customer_id": "客户名称", "source": "来源", "occurred_at": "创建时间"}},
        ["线索编号", "负责人", "客户名称", "来源", "创建时间"],
        [["L-1", "R-张伟", "上海明华贸易", "展会", "2026年1月5日 09:30"]],
        {"type": "LeadCreated", "event_id": "L-1", "occurred_at": f"2026-01-05T09:30:00{ZONE}",
         "data": {"lead_id": "L-1", "rep_id": "R-张伟", "customer_id": "上海明华贸易", "source": "展会"}},
    ),
    (  # follow-ups: a due time without a zone, read in the ledger's
        {"type": "FollowUpScheduled", "columns": {"followup_id": "跟进编号", "rep_id": "负责人", "due_at": "截止时间",
                                                  "lead_id": "线索编号", "occurred_at": "安排时间"}},
        ["跟进编号", "负责人", "截止时间", "线索编号", "安排时间"],
        [["FU-1", "R-张伟", "2026/01/10 18:00", "L-1", "2026/01/06 10:00"]],
        {"type": "FollowUpScheduled", "occurred_at": f"2026-01-06T10:00:00{ZONE}",
         "data": {"followup_id": "FU-1", "rep_id": "R-张伟", "due_at": f"2026-01-10T18:00:00{ZONE}", "lead_id": "L-1"}},
    ),
    (  # evaluations: process scores as name:score pairs, a score Excel stored as a number
        {"type": "EvaluationRecorded", "columns": {"evaluation_id": "考评编号", "rep_id": "销售代表", "period": "期间",
                                                   "evaluator_id": "考评人", "result_score": "结果得分",
                                                   "process_scores": "过程得分", "occurred_at": "考评日期"}},
        ["考评编号", "销售代表", "期间", "考评人", "结果得分", "过程得分", "考评日期"],
        [["EV-1", "R-张伟", "2026-Q1", "M-王经理", 85.0, "发现需求:80；方案演示:90", "2026年3月31日"]],
        {"type": "EvaluationRecorded", "occurred_at": f"2026-03-31T00:00:00{ZONE}",
         "data": {"evaluation_id": "EV-1", "rep_id": "R-张伟", "period": "2026-Q1", "evaluator_id": "M-王经理",
                  "result_score": 85, "process_scores": {"发现需求": 80, "方案演示": 90}}},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("mapping", "headers", "rows", "expected"), OTHER_SHEETS, ids=lambda v: None)
def test_targets_leads_follow_ups_and_evaluations_come_from_sheets_too(env, tmp_path, mapping, headers, rows, expected):
    settings, environment = env("other")
    seed = tmp_path / "seed.jsonl"
    seed.write_text(json.dumps(EXPECTED[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert run(environment, "import", str(seed)).exit_code == 0
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / "sheet.xlsx")
    (tmp_path / "m.json").write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")

    result = run(environment, "import", str(tmp_path / "sheet.xlsx"), "--mapping", str(tmp_path / "m.json"))

    assert result.exit_code == 0, result.output
    kind, event_id, occurred_at, data = imported(settings)[-1]
    assert kind == expected["type"] and event_id == expected.get("event_id", event_id)
    if "occurred_at" in expected:
        assert occurred_at.isoformat() == expected["occurred_at"]
    plain = json.loads(json.dumps(data, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
    assert {key: plain[key] for key in expected["data"]} == json.loads(json.dumps(expected["data"], default=str))
