"""The same statement and tables in both languages: a rep's statement as a page and a PDF, KPI
tables and a period's payouts (with approval state) as CSV and .xlsx, in zh-CN and in en, with
money as the locale writes it and the zone the times are in."""

from __future__ import annotations

import base64
import csv
import io
import re
import zlib
from decimal import Decimal

import pytest
from api_client import OWN, running
from openpyxl import load_workbook

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
# The statement's words in English: none of them may be left on the Chinese page.
ENGLISH_LABELS = ("Statement", "Component", "Total", "Adjustments", "Deals behind", "Disputes", "none", "Digest",
                  "As of", "Plan ", "approved", "Times are shown")  # fmt: skip


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from ledger.config import Settings

    folder = tmp_path_factory.mktemp("exports")
    settings = Settings(database_url=f"sqlite:///{folder}/l.db", tz_name="Asia/Shanghai", locale="en")
    with running(settings) as client:
        approved = client.post(f"/payouts/{OWN}/2026-Q1/approve")
        assert approved.status_code == 201, approved.text
        yield client


def get(api, path: str, lang: dict[str, str], **params):
    response = api.client.get(path, params=params, headers={**api.headers("admin"), **lang})
    assert response.status_code == 200, response.text
    return response


def test_the_statement_page_reads_in_chinese_with_yuan_and_its_zone_and_in_english(api):
    figures = get(api, f"/statements/{OWN}/2026-Q1", EN).json()
    total = Decimal(figures["total"])
    zh = get(api, f"/statements/{OWN}/2026-Q1", ZH, format="html").text
    en = get(api, f"/statements/{OWN}/2026-Q1", EN, format="html").text

    assert "<html lang=zh-CN>" in zh and "<html lang=en>" in en
    assert f"¥{total:,}" in zh and f"CN¥{total:,}" in en
    assert "激励对账单" in zh and "组成项" in zh and "合计" in zh and "已于" in zh
    assert "时间按 Asia/Shanghai（GMT+08:00）显示" in zh and "Times are shown in Asia/Shanghai" in en
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", zh, flags=re.S))
    assert [label for label in ENGLISH_LABELS if label in visible] == []


def test_the_statement_prints_as_a_pdf_in_chinese(api):
    pdf = get(api, f"/statements/{OWN}/2026-Q1", ZH, format="pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="statement-{OWN}-2026-Q1.pdf"'
    body = pdf.content
    assert body.startswith(b"%PDF-") and b"/STSong-Light" in body and b"/UniGB-UCS2-H" in body
    streams = re.findall(rb"/ASCII85Decode /FlateDecode \].*?stream\r?\n(.*?)~>", body, re.S)
    text = b"".join(zlib.decompress(base64.a85decode(stream)) for stream in streams)
    assert "激励对账单".encode("utf-16-be") in shown(text)  # drawn in the Chinese CID font, as UCS-2


def shown(content: bytes) -> bytes:
    """The bytes of a page's text strings, `(…) Tj`, their escapes (\\ddd octal, \\( …) undone."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def undo(match: re.Match[bytes]) -> bytes:
        code = match[1]
        return bytes([int(code, 8)]) if code[:1].isdigit() else escapes.get(code, code)

    literals = re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, re.S)
    return b"".join(re.sub(rb"\\([0-7]{1,3}|.)", undo, literal, flags=re.S) for literal in literals)


def test_the_statement_lines_export_to_a_sheet_with_the_total(api):
    figures = get(api, f"/statements/{OWN}/2026-Q1", EN).json()
    sheet = get(api, f"/statements/{OWN}/2026-Q1", ZH, format="csv")
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0] == ["组成项", "类型", "金额", "事件"]
    assert ["合计", "", figures["total"], ""] in rows
    assert [line["amount"] for line in figures["lines"]] == [r[2] for r in rows[1 : 1 + len(figures["lines"])]]


def test_kpis_export_as_csv_with_a_bom_and_chinese_headings_and_the_apis_figures(api):
    answer = get(api, "/kpis", EN, scope="company", period="2026-Q1").json()
    sheet = get(api, "/kpis", ZH, scope="company", period="2026-Q1", format="csv")
    assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
    assert sheet.headers["content-disposition"] == 'attachment; filename="kpis.csv"'
    assert sheet.content.startswith("\ufeff".encode())  # Excel on Chinese Windows opens it as UTF-8
    header, row = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert header[:5] == ["范围", "期间", "业绩", "增长率", "订单数"]
    assert row[:3] == ["company", "2026-Q1", answer["kpis"]["revenue"]]
    assert header[-1] == "偏离目标"


def test_a_periods_payouts_export_to_xlsx_with_their_approval_state(api):
    payouts = get(api, "/payouts", EN, period="2026-Q1").json()["payouts"]
    book = load_workbook(io.BytesIO(get(api, "/payouts", ZH, period="2026-Q1", format="xlsx").content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "2026-Q1 激励" and "Asia/Shanghai" in rows[2][0]
    header = rows[4]
    assert header[:5] == ("销售代表", "期间", "方案", "计算激励", "审批状态")
    assert header[9] == "审批时间（Asia/Shanghai）"
    table = {row[0]: row for row in rows[5:]}
    assert set(table) == {p["rep_id"] for p in payouts}
    own = table[OWN]
    assert own[4] == "已审批" and Decimal(str(own[5])) == Decimal(
        next(p["total"] for p in payouts if p["rep_id"] == OWN)
    )
    assert {table[rep][4] for rep in table if rep != OWN} == {"未审批"}
    money_cell = next(c for c in list(book.active.iter_rows(min_row=6, max_row=6))[0] if c.column == 4)
    assert "¥" in money_cell.number_format and "#,##0.00" in money_cell.number_format


def test_the_same_payouts_export_speaks_english_for_an_english_reader(api):
    sheet = get(api, "/payouts", EN, period="2026-Q1", format="csv")
    header, *rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert header[:5] == ["Rep", "Period", "Plan", "Computed payout", "Approval state"]
    assert sorted({row[4] for row in rows}) == ["approved", "not approved"]


def test_an_export_format_the_api_does_not_write_is_refused_naming_it(api):
    response = api.client.get("/kpis", params={"scope": "company", "period": "2026-Q1", "format": "pdf"},
                              headers=api.headers("admin"))  # fmt: skip
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "query.format"


def test_a_chinese_rep_ids_files_are_named_for_the_browser_in_ascii_and_in_full(tmp_path):
    from urllib.parse import quote

    from builders import onboard

    from ledger.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path}/l.db", locale="zh-CN")
    with running(settings) as api:
        api.record(onboard("R-张伟:1", "T-1", "East", "2026-01-05T09:00:00+00:00"))
        pdf = get(api, "/statements/R-张伟:1/2026-Q1", ZH, format="pdf")
        sheet = get(api, "/statements/R-张伟:1/2026-Q1", ZH, format="xlsx")
    name = "statement-R-张伟:1-2026-Q1"
    assert pdf.headers["content-disposition"] == (
        f"attachment; filename=\"statement-R-__:1-2026-Q1.pdf\"; filename*=UTF-8''{quote(name + '.pdf', safe='')}"
    )
    book = load_workbook(io.BytesIO(sheet.content))
    assert book.sheetnames == ["statement-R-张伟_1-2026-Q1"]  # a colon has no place in a sheet's title


def test_a_name_with_a_control_character_downloads_as_xlsx_with_it_replaced():
    # a rep's name or a scope typed with a control character (which xlsx refuses) must not fail
    # the whole download with a 500: the cell shows U+FFFD where the character was
    from datetime import UTC

    from api.exports import TEXT, Sheet, to_xlsx
    from api.i18n import Lang

    sheet = Sheet("team", "Team \x07T-1", [("Rep\x1b", TEXT)], rows=[["Wang\x00 Fang"]], notes=["scope team:\x01"])
    book = load_workbook(io.BytesIO(to_xlsx(sheet, Lang("zh-CN"), "CNY", UTC)))
    values = [cell for row in book.active.iter_rows(values_only=True) for cell in row if cell]
    assert values == ["Team \ufffdT-1", "scope team:\ufffd", "Rep\ufffd", "Wang\ufffd Fang"]
