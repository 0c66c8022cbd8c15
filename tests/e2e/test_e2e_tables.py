"""Every table of the dashboard goes to a spreadsheet: each has its CSV and .xlsx links beside it,
and a file downloaded from the page in Chinese has Chinese headings and the rows the page shows;
and a team's payouts read in Chinese (headings, ¥, the totals row), as the API answers.

Tables without a file of their own, and why: a deal's events (the ledger's events, one by one:
GET /events is the ledger's read, in JSON) and the coaching scores (four figures of two evaluations).
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from test_e2e_dashboard import PERIOD, text, wait_view

pytestmark = pytest.mark.e2e
Session = Server = Any  # conftest.Session, conftest.Server

WITHOUT_FILE = {"events-table", "scores-table"}
PAYOUT_TITLE = "激励对账单"  # "Payout statement" in the zh-CN catalog


def chinese_tab(browser: Any, server: Server) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="UTC")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{server.base}/")
    page.locator("html[lang='zh-CN']").wait_for(state="attached")
    return context, page


def sign_in(page: Any, server: Server, role: str) -> None:
    page.locator("#token-input").fill(server.demo.tokens[role])
    page.locator("#sign-in-form button[type=submit]").click()
    page.locator("#app").wait_for(state="visible")


def tables_without_links(page: Any) -> list[str]:
    """The visible tables whose panel has no CSV and .xlsx link."""
    return page.locator("table.data").evaluate_all(
        """tables => tables.filter(t => t.offsetParent !== null).filter(t => {
             const panel = t.closest('.panel') || t.parentElement;
             return !(panel.querySelector('a[data-format=csv]') && panel.querySelector('a[data-format=xlsx]'));
           }).map(t => t.id)"""
    )


def csv_of(page: Any, selector: str) -> list[list[str]]:
    href = page.locator(selector).first.get_attribute("href")
    response = page.request.get(page.url.split("/#")[0].rstrip("/") + href)  # with the page's session cookie
    assert response.ok, response.text()
    return list(csv.reader(io.StringIO(response.body().decode("utf-8-sig"))))


def test_every_table_has_its_files_and_they_speak_the_pages_chinese(browser: Any, server: Server):
    demo = server.demo
    context, page = chinese_tab(browser, server)
    try:
        sign_in(page, server, "admin")
        page.goto(f"{server.base}/#/overview?period={PERIOD}&scope=company")
        page.locator("#view-overview[data-state=ready]").wait_for()
        page.locator("#quadrant-trend-table").wait_for()
        assert set(tables_without_links(page)) == set()

        # the team table: the file holds every rep of the scope, the page's first rows first
        shown = page.locator("#team-table tbody tr[data-rep]").evaluate_all("rows => rows.map(r => r.dataset.rep)")
        header, *rows = csv_of(page, "#team-downloads a[data-format=csv]")
        assert header[:4] == ["销售代表", "姓名", "团队", "区域"]
        assert [row[0] for row in rows[: len(shown)]] == shown
        listed = (
            server.api("admin").get("/web/team", params={"scope": "company", "period": PERIOD, "limit": 500}).json()
        )
        assert [row[0] for row in rows] == [r["rep_id"] for r in listed["rows"]]
        first = page.locator(f"#team-table tr[data-rep='{shown[0]}'] td[data-col=revenue]").get_attribute("data-raw")
        assert rows[0][4] == first

        # the regions: the page's rows, in Chinese
        regions = page.locator("#quadrant-table tbody tr[data-region]").evaluate_all(
            "rows => rows.map(r => r.dataset.region)"
        )
        header, *rows = csv_of(page, "#quadrant-downloads a[data-format=csv]")
        assert header == ["区域", "业绩", "增长率", "象限"] and [row[0] for row in rows] == regions

        # the rep page's tables: deals, follow-ups, activities
        page.goto(f"{server.base}/#/rep?period={PERIOD}&rep={demo.rep}")
        page.locator("#view-rep[data-state=ready]").wait_for()
        page.locator("#deals-table tbody tr[data-deal]").first.wait_for()
        assert set(tables_without_links(page)) <= WITHOUT_FILE
        header, *_ = csv_of(page, "#deals-downloads a[data-format=csv]")
        assert re.search(r"[\u4e00-\u9fff]", header[0]), header
        header, *_ = csv_of(page, "#payout p.downloads a[data-format=csv]")  # the why's lines
        assert header == ["组成项", "类型", "金额", "事件"]
    finally:
        context.close()


def test_a_teams_payouts_read_in_chinese_with_the_apis_figures(browser: Any, server: Server):
    demo = server.demo
    scope = f"team:{demo.team}"
    listed = server.api("finance").get("/payouts", params={"period": PERIOD, "scope": scope}).json()
    context, page = chinese_tab(browser, server)
    try:
        sign_in(page, server, "finance")
        page.goto(f"{server.base}/#/payouts?period={PERIOD}&scope={scope}")
        page.locator("#view-payouts[data-state=ready]").wait_for()
        page.locator("#payouts-table tbody tr[data-rep]").first.wait_for()
        headings = page.locator("#payouts-table thead th").evaluate_all(
            "ths => ths.map(t => t.innerText.replace(/[↑↓]/, '').trim())"
        )
        assert headings[:3] == ["销售代表", "团队", "方案"] and headings[4].startswith("审批"), headings
        assert page.locator("#payouts-table-title").inner_text() == "每位销售代表的激励及其审批"
        for payout in listed["payouts"]:
            cell = page.locator(f"#payouts-table tr[data-rep='{payout['rep_id']}'] td[data-col=total]")
            assert cell.get_attribute("data-raw") == payout["total"]
            assert cell.inner_text() == f"¥{Decimal(payout['total']):,.2f}"
        totals = page.locator("#payouts-table tfoot tr.totals")
        assert totals.locator("th").inner_text() == f"合计（{listed['totals']['reps']} 名销售代表）"
        assert totals.locator("td[data-col=total]").get_attribute("data-raw") == listed["totals"]["total"]
        header, *rows = csv_of(page, "#payouts-exports a[data-format=csv]")
        assert header[:5] == ["销售代表", "期间", "方案", "计算激励", "审批状态"]
        assert sorted(row[0] for row in rows) == sorted(p["rep_id"] for p in listed["payouts"])
    finally:
        context.close()


def test_the_why_and_the_off_track_summary_read_in_chinese_on_a_phone(tab: Session, server: Server):
    """Where the words carry the meaning, the phone's Chinese page too: the summary's sentence and
    the why's heading of the events behind the payout."""
    from playwright.sync_api import expect

    demo, api = server.demo, server.api("admin")
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.sign_in(demo.tokens["admin"])
    tab.page.locator("#locale-switch").select_option("zh-CN")
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}&scope=company")
    wait_view(tab, "overview", period=PERIOD, scope="company")
    listed = api.get("/kpis/off-track", params={"scope": "company", "period": PERIOD, "limit": 1}).json()
    expect(tab.page.locator("#help-summary")).to_have_text(
        f"{listed['reps_in_scope']} 名销售中有 {listed['off_track']} 名未达进度"
    )
    tab.page.goto(f"{tab.base}/#/rep?period={PERIOD}&rep={demo.rep}")
    wait_view(tab, "rep", rep=demo.rep)
    expect(tab.page.locator("#payout .events-title")).to_contain_text("本次激励依据的事件")
    assert text(tab, "#payout-title") == PAYOUT_TITLE
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= 390
