"""The dashboard in Chinese: the switch turns every text of the page to zh-CN (lang too), money
carries ¥, the quadrant axis counts in 万/亿, and switching back reads English again."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_e2e_dashboard import PERIOD, money_text, raw, text, wait_view

pytestmark = pytest.mark.e2e
Session = Server = Any  # conftest.Session, conftest.Server

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_switch_turns_the_whole_page_to_chinese_and_back(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo, api = server.demo, server.api("admin")
    tab.page.goto(f"{tab.base}/")
    tab.page.locator("#locale-switch").select_option("zh-CN")
    expect(tab.page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(tab.page.get_by_role("heading", name="登录")).to_be_visible()
    tab.page.get_by_label("API 令牌").fill(demo.tokens["admin"])
    tab.page.get_by_role("button", name="登录").click()
    tab.page.locator("#app").wait_for(state="visible")
    tab.page.locator("#f-period").fill(PERIOD)
    tab.page.locator("#f-scope").select_option("company")
    wait_view(tab, "overview", period=PERIOD, scope="company")

    expect(tab.page.locator("#whoami")).to_have_text("已以管理员身份登录")
    untranslated = tab.page.locator("[data-i18n]").evaluate_all(
        "nodes => nodes.map(n => n.textContent.trim()).filter(t => t && !/[\\u4e00-\\u9fff]/.test(t))"
    )
    assert untranslated == []
    revenue = api.get("/kpis", params={"scope": "company", "period": PERIOD}).json()["kpis"]["revenue"]
    card = "#kpi-cards [data-metric=revenue]"
    assert text(tab, f"{card} h4") == "业绩"
    assert text(tab, f"{card} .unit") == "¥" and raw(tab, f"{card} .figure") == revenue
    assert text(tab, f"{card} .figure") == money_text(revenue)
    zone = api.get("/web/me").json()["tz"]
    assert CJK.search(text(tab, "#tz-note")) and f"账本时区：{zone}" in text(tab, "#tz-note")
    ticks = tab.page.locator("#quadrant-chart .xtick text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert ticks and any(str(tick).endswith(("万", "亿")) for tick in ticks), ticks
    tab.shot("zh-01-overview")

    tab.page.locator("#locale-switch").select_option("en")
    expect(tab.page.locator("html")).to_have_attribute("lang", "en")
    expect(tab.page.locator("#whoami")).to_have_text("Signed in as admin")
    expect(tab.page.locator(f"{card} h4")).to_have_text("Revenue")
