"""The page's shell in Chromium: signing in with no script (the token never in a URL, the
history or the server's log), user text in charts as text, a phone's width, the period presets
and one time zone, and /docs with no internet."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from test_e2e_dashboard import PERIOD, wait_view

pytestmark = pytest.mark.e2e
Session = Server = Any  # conftest.Session, conftest.Server

SCRIPTS = re.compile(r"/web/(assets/[0-9a-f]+|static)/.*\.js$")


def block_scripts(tab: Session) -> None:
    """The page's modules never arrive: what a phone shows while they are still on their way."""
    tab.page.route(SCRIPTS, lambda route: route.abort())


def test_a_form_submitted_before_any_script_signs_in_without_the_token_in_a_url_or_the_log(
    tab: Session, server: Server
):
    from playwright.sync_api import expect

    token = server.demo.tokens["manager"]
    asked: list[str] = []
    tab.page.on("request", lambda request: asked.append(request.url))
    block_scripts(tab)
    tab.page.goto(f"{tab.base}/")
    tab.page.get_by_label("API token").fill(token)
    tab.page.get_by_label("API token").press("Enter")  # no script has run: the browser submits the form
    tab.page.wait_for_url(f"{tab.base}/")
    assert any(url.endswith("/web/sign-in") for url in asked)
    assert [url for url in asked if token in url] == []
    assert token not in tab.page.url and "token=" not in tab.page.url
    cookie = next(c for c in tab.page.context.cookies() if c["name"] == "perfledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert tab.page.evaluate("document.cookie") == ""  # no script can read it

    # the scripts arrive: the page is signed in by the cookie, the history holds no token
    tab.page.unroute(SCRIPTS)
    tab.page.reload()
    expect(tab.page.locator("#whoami")).to_have_text(f"Signed in as the manager of team {server.demo.team}")
    tab.page.go_back()
    assert token not in tab.page.url
    logged = server.log.read_text()
    assert "POST /web/sign-in" in logged  # the access log is on: the server did write the request
    assert token not in logged


def test_a_token_not_accepted_brings_the_form_back_saying_so_in_both_languages(tab: Session, server: Server):
    from playwright.sync_api import expect

    block_scripts(tab)
    tab.page.goto(f"{tab.base}/")
    tab.page.get_by_label("API token").fill("wrong-token-123")
    tab.page.get_by_label("API token").press("Enter")
    tab.page.wait_for_url(re.compile(r"sign-in=failed"))
    expect(tab.page.locator("#sign-in-error")).to_contain_text("That token was not accepted")
    assert "wrong-token-123" not in tab.page.url and "wrong-token-123" not in tab.page.content()

    tab.page.unroute(SCRIPTS)
    tab.page.goto(f"{tab.base}/")
    tab.page.locator("#locale-switch").select_option("zh-CN")
    tab.page.get_by_label("API 令牌").fill("wrong-token-456")
    tab.page.get_by_role("button", name="登录").click()  # the script's sign-in: the same route, by fetch
    expect(tab.page.locator("#sign-in-error")).to_contain_text("令牌未被接受")
    assert tab.page.url == f"{tab.base}/"


def test_a_score_name_that_looks_like_a_link_is_shown_as_text_in_the_chart(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    hostile = '<a href="/web/sign-out">Session expired</a>'
    recorded = server.api("admin").post(
        "/events",
        json={
            "events": [
                {
                    "type": "EvaluationRecorded",
                    "event_id": "e2e-hostile-score",
                    "occurred_at": "2026-06-28T10:00:00+00:00",
                    "data": {
                        "evaluation_id": "E-e2e-hostile",
                        "rep_id": demo.other_rep,
                        "period": PERIOD,
                        "evaluator_id": "e2e",
                        "result_score": 64,
                        "process_scores": {hostile: 71, "discovery": 58},
                    },
                }
            ]
        },
    )
    assert recorded.status_code in (201, 200), recorded.text
    tab.sign_in(demo.tokens["admin"])
    tab.page.goto(f"{tab.base}/#/rep?period={PERIOD}&rep={demo.other_rep}")
    wait_view(tab, "rep", rep=demo.other_rep)
    chart = tab.page.locator("#process-chart")
    expect(chart.locator(".chart-legend li").get_by_text(hostile, exact=True)).to_be_visible()  # literally
    assert chart.locator("a").count() == 0
    assert tab.page.locator("a[href='/web/sign-out']").count() == 0
    titles = chart.locator("svg title").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert any(title.startswith(f"{hostile}: 71") for title in titles)


VIEWS = ("overview", "rep", "payouts", "replay")


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_on_a_phone_no_view_is_wider_than_the_screen_and_the_status_comes_first(browser: Any, server: Server, locale):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale, timezone_id="UTC")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/")
        page.locator("#token-input").fill(server.demo.tokens["admin"])
        page.locator("#sign-in-form button[type=submit]").click()
        page.locator("#app").wait_for(state="visible")
        for view in VIEWS:
            page.goto(f"{server.base}/#/{view}?period={PERIOD}&scope=company&rep={server.demo.rep}")
            page.locator(f"#view-{view}[data-state=ready]").wait_for()
            if view == "rep":
                for line in page.locator("#payout details.line summary").all():
                    line.click()  # the payout lines open: their tables of inputs and events too
            if view == "overview":
                page.locator("#quadrant-chart svg").wait_for()
                boxes = page.locator("#quadrant-chart .region text").evaluate_all(
                    "nodes => nodes.map(n => { const b = n.getBoundingClientRect();"
                    " return [b.left, b.right, b.top, b.bottom]; })"
                )
                overlapping = [
                    (a, b)
                    for i, a in enumerate(boxes)
                    for b in boxes[i + 1 :]
                    if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
                ]
                assert boxes and overlapping == [], "the regions' names overlap"
            page.screenshot(path=f"screenshots/phone-{locale}-{view}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{view} is {width} px wide"
        page.goto(f"{server.base}/#/overview?period={PERIOD}&scope=company")
        page.locator("#view-overview[data-state=ready]").wait_for()
        summary = page.locator("#help-panel").bounding_box()
        status = page.locator("#team-table").bounding_box()
        cards = page.locator("#kpi-cards").bounding_box()
        assert summary and status and cards
        assert summary["y"] < status["y"] < cards["y"], "who is off track, then the team's status, then the cards"
        assert summary["y"] < 844, "the off-track summary starts on the first screen"
    finally:
        context.close()


def test_the_page_opens_on_this_quarter_so_far_and_shows_and_reads_times_in_the_ledgers_zone(
    browser: Any, server: Server
):
    """The browser is in Los Angeles, the ledger in UTC (PERFLEDGER_TZ): every time is the ledger's."""
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="America/Los_Angeles"
    )
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{server.base}/")
        page.locator("#token-input").fill(server.demo.tokens["admin"])
        page.locator("#sign-in-form button[type=submit]").click()
        page.locator("#view-overview[data-state=ready]").wait_for()
        today = datetime.now(UTC)
        quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        expect(page.locator("#f-period")).to_have_value(quarter)
        expect(page.locator("#preset-this_quarter")).to_have_attribute("aria-pressed", "true")
        kpi_reads = [url for url in asked if "/kpis?" in url]
        assert kpi_reads and all(f"period={quarter}" in url and "as_of" not in url for url in kpi_reads)
        expect(page.locator("#period-line")).to_contain_text(f"{quarter} (This quarter): as of now (the period so far)")
        expect(page.locator("#tz-note")).to_contain_text("UTC")
        assert re.search(r"Updated \d\d:\d\d:\d\d UTC", page.locator("#status").inner_text())

        page.locator("#preset-last_quarter").click()
        last = f"{today.year}-Q{(today.month - 1) // 3}" if today.month > 3 else f"{today.year - 1}-Q4"
        page.locator("#view-overview[data-key*='preset=last_quarter'][data-state=ready]").wait_for()
        expect(page.locator("#f-period")).to_have_value(last)

        page.locator("#f-known-at").fill("2026-07-01T12:00:00")  # a wall time in the ledger's zone
        # waited for as it is sent (a request event can reach the list after the view is ready)
        in_utc = "known_at=2026-07-01T12%3A00%3A00.000Z"
        with page.expect_request(lambda request: in_utc in request.url):
            page.locator("#f-apply").click()
        page.locator("#view-overview[data-key*='known_at='][data-state=ready]").wait_for()
        expect(page.locator("#cutoffs")).to_contain_text("2026-07-01 12:00:00 UTC")
    finally:
        context.close()


def test_the_presets_and_the_cut_offs_read_in_chinese(tab: Session, server: Server):
    from playwright.sync_api import expect

    tab.page.goto(f"{tab.base}/")
    tab.page.locator("#locale-switch").select_option("zh-CN")
    tab.page.get_by_label("API 令牌").fill(server.demo.tokens["admin"])
    tab.page.get_by_role("button", name="登录").click()
    tab.page.locator("#view-overview[data-state=ready]").wait_for()
    for name in ("本周", "本月", "本季度", "年初至今", "上季度"):
        expect(tab.page.get_by_role("button", name=name)).to_be_visible()
    expect(tab.page.locator("#period-line")).to_contain_text("（本季度）：截至现在（本期间至今）；按账本当前所知。")
    tab.page.get_by_role("button", name="年初至今").click()
    expect(tab.page.locator("#f-period")).to_have_value(str(datetime.now(UTC).year))


def test_the_api_docs_need_no_internet(tab: Session):
    from playwright.sync_api import expect

    tab.page.goto(f"{tab.base}/docs")
    expect(tab.page.locator(".swagger-ui .information-container")).to_be_visible()
    assert tab.outside == [], "the docs asked for something beyond the server"


def test_signing_out_ends_the_session_and_a_stale_cookie_brings_the_form_back(tab: Session, server: Server):
    from playwright.sync_api import expect

    tab.sign_in(server.demo.tokens["finance"])
    tab.page.get_by_role("button", name="Sign out").click()
    expect(tab.page.locator("#sign-in")).to_be_visible()
    assert [c for c in tab.page.context.cookies() if c["name"] == "perfledger_session"] == []
    tab.page.reload()
    expect(tab.page.get_by_label("API token")).to_be_visible()

    tab.page.context.add_cookies([{"name": "perfledger_session", "value": "revoked-or-made-up", "url": tab.base}])
    tab.page.goto(f"{tab.base}/")
    expect(tab.page.get_by_label("API token")).to_be_visible()  # held back at first, shown once /web/me said 401
    expect(tab.page.locator("#app")).to_be_hidden()


def test_regions_close_together_keep_their_names_apart_on_a_phone_wide_chart(tab: Session):
    """Three regions within 2% of each other: each name goes above its dot, else below, else
    further off, never on another's (charts.js), and the quadrants are named in a legend."""
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.page.goto(f"{tab.base}/")
    boxes = tab.page.evaluate("""async () => {
        const charts = await import("/web/static/charts.js");
        const box = document.createElement("div");
        box.className = "chart";
        box.style.width = "360px";
        document.body.append(box);
        charts.quadrants(box, { thresholds: { revenue: "1000000.00", growth_rate: "0.10" }, regions: [
          { region: "East China", revenue: "1000000.00", growth_rate: "0.100", quadrant: "high-high" },
          { region: "华东大区", revenue: "1010000.00", growth_rate: "0.101", quadrant: "high-high" },
          { region: "Overseas", revenue: "1020000.00", growth_rate: "0.099", quadrant: "high-low" },
          { region: "North", revenue: "3000000.00", growth_rate: "0.300", quadrant: "high-high" } ] });
        const legend = [...box.querySelectorAll(".chart-legend li")].map((li) => li.textContent);
        return { legend, names: [...box.querySelectorAll(".region text")].map((n) => {
          const b = n.getBoundingClientRect(); return [n.textContent, b.left, b.right, b.top, b.bottom]; }) };
    }""")
    names = boxes["names"]
    assert [n[0] for n in names] == ["East China", "华东大区", "Overseas", "North"]
    overlapping = [
        (a[0], b[0])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if a[1] < b[2] and b[1] < a[2] and a[3] < b[4] and b[3] < a[4]
    ]
    assert overlapping == []
    assert len(boxes["legend"]) == 4 and any("High revenue, high growth" in item for item in boxes["legend"])
