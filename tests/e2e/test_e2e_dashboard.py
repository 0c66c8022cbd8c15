"""The dashboard in headless Chromium against a server on a demo store (see conftest.py).

What a person would check, and that every figure on the page is the API's: sign in, pick a
rep, read revenue and payout and compare them with the API's JSON; turn back knowledge time
and see the revenue before a correction; a rep's token cannot reach another rep; finance runs
a replay and reads the diff. Each view is saved to screenshots/ (git-ignored).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

import pytest

from demo.generator import DEFAULT_PLAN_RULES

pytestmark = pytest.mark.e2e
PERIOD = "2026-Q2"  # the demo's period (conftest.PERIOD)
Session = Server = Any  # conftest.Session, conftest.Server


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_input(moment: datetime) -> str:
    """The value of a datetime-local field showing `moment` in the browser's zone (UTC here)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def money_text(value: str) -> str:
    """How the page writes a money string: grouped thousands, the API's own decimals."""
    return f"{Decimal(value):,}"


def wait_view(tab: Session, view: str, **filters: str) -> None:
    """Until the view has rendered for these filters (its data-key names them) and is ready."""
    from playwright.sync_api import expect

    section = tab.page.locator(f"#view-{view}")
    for name, value in filters.items():
        expect(section).to_have_attribute("data-key", re.compile(rf"(^|&){name}={re.escape(value)}(&|$)"))
    expect(section).to_have_attribute("data-state", "ready")


def raw(tab: Session, selector: str) -> str:
    return tab.page.locator(selector).first.get_attribute("data-raw")


def text(tab: Session, selector: str) -> str:
    return tab.page.locator(selector).first.inner_text().strip()


def csp_or_script_errors(tab: Session) -> list[str]:
    return [p for p in tab.problems if "Content Security Policy" in p or "Failed to load resource" not in p]


# ---------------------------------------------------------------- admin: overview, a rep, knowledge time


def test_sign_in_pick_a_rep_and_read_revenue_and_payout_as_the_api_answers(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    api = server.api("admin")
    tab.page.goto(f"{tab.base}/")
    expect(tab.page.get_by_role("heading", name="Sign in")).to_be_visible()
    tab.shot("01-sign-in")

    tab.sign_in(demo.tokens["admin"])
    tab.page.locator("#f-period").fill(PERIOD)
    tab.page.locator("#f-scope").select_option(f"team:{demo.team}")  # applies at once
    wait_view(tab, "overview", period=PERIOD, scope=f"team:{demo.team}")
    expect(tab.page.locator("#whoami")).to_have_text("Signed in as admin")

    # KPI cards of the team: the API's figures, targets, attainment and pace
    team_kpis = api.get("/kpis", params={"scope": f"team:{demo.team}", "period": PERIOD}).json()["kpis"]
    assert raw(tab, "#kpi-cards [data-metric=revenue] .figure") == team_kpis["revenue"]
    assert text(tab, "#kpi-cards [data-metric=revenue] .figure") == money_text(team_kpis["revenue"])
    targets = api.get("/targets", params={"scope": f"team:{demo.team}", "period": PERIOD}).json()["targets"]
    for metric, pace in team_kpis["pace"].items():
        card = f"#kpi-cards [data-metric={metric}]"
        assert raw(tab, f"{card} dd[data-what=pace]") == (pace or "")
        assert raw(tab, f"{card} dd[data-what=attainment]") == (team_kpis["attainment"][metric] or "")
        assert raw(tab, f"{card} dd[data-what=target]") == targets[metric]["value"]
        off = metric in team_kpis["off_track"]
        assert tab.page.locator(f"{card}.off-track").count() == int(off), metric

    # the team table: each rep's revenue is GET /kpis?scope=rep:ID, and revenue by month too
    rows = tab.page.locator("#team-table tbody tr[data-rep]")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 2
    for rep_id in rows.evaluate_all("rows => rows.map(r => r.dataset.rep)"):
        rep_kpis = api.get("/kpis", params={"scope": f"rep:{rep_id}", "period": PERIOD}).json()["kpis"]
        row = f"#team-table tr[data-rep='{rep_id}']"
        assert raw(tab, f"{row} td[data-col=revenue]") == rep_kpis["revenue"]
        assert raw(tab, f"{row} td[data-col=pace]") == (rep_kpis["pace"].get("revenue") or "")
        marked = tab.page.locator(f"{row}.off-track").count() == 1
        assert marked == bool(rep_kpis["off_track"]), rep_id
    spark = tab.page.locator(f"#team-table tr[data-rep='{demo.rep}'] .sparkline")
    label = spark.get_attribute("aria-label")
    for month in ("2026-04", "2026-05", "2026-06"):
        monthly = api.get("/kpis", params={"scope": f"rep:{demo.rep}", "period": month}).json()["kpis"]["revenue"]
        assert f"{month} {money_text(monthly)}" in label
    expect(spark.locator("svg").first).to_be_attached()  # drawn by charts.js

    # the region quadrants: the API's figures, four labelled quadrants, threshold lines
    quadrants = api.get("/kpis/quadrants", params={"period": PERIOD}).json()
    for region in quadrants["regions"]:
        assert raw(tab, f"#quadrant-table tr[data-region='{region['region']}'] td") == region["revenue"]
    chart = tab.page.locator("#quadrant-chart")
    for label_text in (
        "High revenue, high growth",
        "High revenue, low growth",
        "Low revenue, high growth",
        "Low revenue, low growth",
    ):
        expect(chart.get_by_text(label_text)).to_be_visible()
    tab.shot("02-overview")
    tab.shot("02-overview-full", full_page=True)

    # the page at 1280×800: no sideways scrolling, the filters and tabs in view
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= 1280
    for selector in ("#filters", "#f-known-at", "#f-apply", "nav.tabs"):
        box = tab.page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800, selector

    # pick a rep: their revenue and payout are the API's
    tab.page.locator(f"#team-table tr[data-rep='{demo.rep}'] a.rep-link").click()
    wait_view(tab, "rep", rep=demo.rep, period=PERIOD)
    rep_kpis = api.get("/kpis", params={"scope": f"rep:{demo.rep}", "period": PERIOD}).json()["kpis"]
    explained = api.get(f"/payouts/{demo.rep}/{PERIOD}/explain").json()
    listed = {p["rep_id"]: p for p in api.get("/payouts", params={"period": PERIOD}).json()["payouts"]}
    assert raw(tab, "#rep-kpi-cards [data-metric=revenue] .figure") == rep_kpis["revenue"]
    assert raw(tab, "#payout .total") == explained["total"] == listed[demo.rep]["total"]
    assert text(tab, "#payout .total").startswith(money_text(explained["total"]))
    assert rep_kpis["revenue"] == str(Decimal(rep_kpis["revenue"]))  # a decimal string, as returned
    history = api.get(f"/reps/{demo.rep}/history").json()["history"]
    expect(tab.page.locator("#timeline > li")).to_have_count(len(history))
    if any(e["kind"] == "evaluation" for e in history):
        expect(tab.page.locator("#process-chart svg").first).to_be_attached()
    tab.shot("03-rep")
    tab.shot("03-rep-full", full_page=True)

    # a line of the statement opens into its inputs and the events behind it
    lines = explained["tree"]["lines"]
    first = tab.page.locator("#payout details.line").first
    first.locator("summary").click()
    expect(first.locator(".explanation")).to_be_visible()
    assert first.get_attribute("data-component") == lines[0]["component"]
    assert raw(tab, "#payout details.line .amount") == lines[0]["amount"]
    # the line points at its events, each listed once below the lines
    positions = first.locator(".refs [data-ref]").evaluate_all("refs => refs.map(r => Number(r.dataset.ref))")
    assert sorted(positions) == sorted({e["position"] for e in lines[0]["events"]})
    for position in positions:
        assert tab.page.locator(f"#payout ol.events-once > li[data-position='{position}']").count() == 1
    first.scroll_into_view_if_needed()
    tab.shot("04-payout-explained")

    assert tab.outside == [], "the page asked for something beyond the server"
    assert csp_or_script_errors(tab) == []


def test_known_at_shows_the_revenue_and_payout_before_the_correction(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    api = server.api("admin")
    tab.sign_in(demo.tokens["admin"])
    tab.page.goto(f"{tab.base}/#/rep?period={PERIOD}&rep={demo.rep}")
    wait_view(tab, "rep", rep=demo.rep, period=PERIOD)
    now = api.get("/kpis", params={"scope": f"rep:{demo.rep}", "period": PERIOD}).json()["kpis"]["revenue"]
    assert raw(tab, "#rep-kpi-cards [data-metric=revenue] .figure") == now

    tab.page.locator("#f-known-at").fill(local_input(demo.known_at))
    tab.page.locator("#f-apply").click()
    known = iso(demo.known_at).replace("Z", ".000Z")
    wait_view(tab, "rep", rep=demo.rep, known_at=known)
    params = {"scope": f"rep:{demo.rep}", "period": PERIOD, "known_at": iso(demo.known_at)}
    before = api.get("/kpis", params=params).json()["kpis"]["revenue"]
    assert Decimal(now) - Decimal(before) == demo.corrected - demo.won  # the correction, and only it
    assert raw(tab, "#rep-kpi-cards [data-metric=revenue] .figure") == before
    expect(tab.page.locator("#rep-kpi-context")).to_contain_text(demo.known_at.strftime("%Y-%m-%d %H:%M:%S"))
    explained = api.get(f"/payouts/{demo.rep}/{PERIOD}/explain", params={"known_at": iso(demo.known_at)}).json()
    assert raw(tab, "#payout .total") == explained["total"]
    tab.shot("05-rep-known-at")

    # the overview at that knowledge time: the rep's row shows the figure before the correction too
    tab.page.locator("#tab-overview").click()
    wait_view(tab, "overview", known_at=known)
    if tab.page.locator(f"#team-table tr[data-rep='{demo.rep}']").count():
        assert raw(tab, f"#team-table tr[data-rep='{demo.rep}'] td[data-col=revenue]") == before

    # "Now" clears the cut-offs: the corrected figure is back
    tab.page.locator("#tab-rep").click()
    tab.page.locator("#f-now").click()
    wait_view(tab, "rep", rep=demo.rep, known_at="")
    assert raw(tab, "#rep-kpi-cards [data-metric=revenue] .figure") == now
    assert csp_or_script_errors(tab) == []


# ---------------------------------------------------------------- what each role sees


def test_a_rep_token_sees_only_its_rep_and_cannot_reach_another(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    mine = server.api("rep")
    tab.sign_in(demo.tokens["rep"])
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}")
    wait_view(tab, "overview", period=PERIOD)
    scopes = tab.page.locator("#f-scope option").evaluate_all("options => options.map(o => o.value)")
    reps = tab.page.locator("#f-rep option").evaluate_all("options => options.map(o => o.value)")
    assert scopes == [f"rep:{demo.rep}"] and reps == [demo.rep]
    expect(tab.page.locator("#tab-replay")).to_be_hidden()
    rows = tab.page.locator("#team-table tbody tr[data-rep]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.rep)") == [demo.rep]
    revenue = mine.get("/kpis", params={"scope": f"rep:{demo.rep}", "period": PERIOD}).json()["kpis"]["revenue"]
    assert raw(tab, "#kpi-cards [data-metric=revenue] .figure") == revenue
    tab.shot("06-rep-token-overview")

    # another rep, asked for by address: the API says 404 and the page shows none of their figures
    for path in (f"/payouts/{demo.other_rep}/{PERIOD}/explain", f"/reps/{demo.other_rep}/history"):
        assert mine.get(path).status_code == 404
    assert mine.get("/kpis", params={"scope": f"rep:{demo.other_rep}", "period": PERIOD}).status_code == 404
    tab.page.goto(f"{tab.base}/#/rep?period={PERIOD}&rep={demo.other_rep}")
    wait_view(tab, "rep", rep=demo.other_rep)
    expect(tab.page.locator("#rep-error")).to_contain_text(f"{demo.other_rep} not found")
    expect(tab.page.locator("#rep-body")).to_be_hidden()
    assert tab.page.locator("#rep-kpi-cards [data-metric]").count() == 0
    assert tab.page.locator("#payout .total").count() == 0
    tab.shot("07-rep-token-denied")


def test_a_manager_sees_their_team_and_no_region_figures(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    api = server.api("manager")
    tab.sign_in(demo.tokens["manager"])
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}")
    wait_view(tab, "overview", period=PERIOD, scope=f"team:{demo.team}")
    expect(tab.page.locator("#whoami")).to_have_text(f"Signed in as the manager of team {demo.team}")
    scopes = tab.page.locator("#f-scope option").evaluate_all("options => options.map(o => o.value)")
    assert scopes[0] == f"team:{demo.team}" and all(s.startswith("rep:") for s in scopes[1:])
    assert api.get("/kpis/quadrants", params={"period": PERIOD}).status_code == 403
    expect(tab.page.locator("#quadrant-context")).to_contain_text("finance, auditor and admin")
    expect(tab.page.locator("#tab-replay")).to_be_hidden()
    team = api.get("/web/team", params={"scope": f"team:{demo.team}", "period": PERIOD}).json()
    shown = tab.page.locator("#team-table tbody tr[data-rep]").evaluate_all("rows => rows.map(r => r.dataset.rep)")
    assert shown == [row["rep_id"] for row in team["rows"]]
    assert demo.other_rep not in shown
    tab.shot("08-manager-overview")


def test_finance_replays_a_plan_version_and_a_draft_and_reads_the_diff(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    api = server.api("finance")
    tab.sign_in(demo.tokens["finance"])
    tab.page.goto(f"{tab.base}/#/replay?period={PERIOD}")
    wait_view(tab, "replay", period=PERIOD)
    plans = api.get("/events", params={"type": "IncentivePlanPublished"}).json()["events"]
    latest = plans[-1]["data"]

    def check_diff(body: dict) -> list[dict]:
        expected = api.post("/replays", json=body).json()["diff"]
        rows = tab.page.locator("#diff-table tbody tr[data-rep]")
        expect(rows).to_have_count(len(expected))
        for row in expected:
            selector = f"#diff-table tr[data-rep='{row['rep_id']}']"
            for column in ("before", "after", "delta"):
                assert raw(tab, f"{selector} td[data-col={column}]") == row[column], (row["rep_id"], column)
        return expected

    tab.page.get_by_role("button", name="Run replay").click()
    expect(tab.page.locator("#diff-context")).to_contain_text(f"{latest['plan_id']} version {latest['version']}")
    check_diff({"period": PERIOD, "plan": {"plan_id": latest["plan_id"], "version": latest["version"]}})
    tab.shot("09-replay-version")

    # a draft: the same plan with a richer first commission tier
    draft = copy.deepcopy(latest.get("rules", DEFAULT_PLAN_RULES))
    commission = next(c for c in draft["components"] if c["kind"] == "commission")
    commission["tiers"][0]["rate"] = "0.04"
    tab.page.get_by_label("A draft (rules JSON)").check()
    tab.page.locator("#r-rules").fill(json.dumps(draft, indent=2))
    tab.page.get_by_role("button", name="Run replay").click()
    expect(tab.page.locator("#diff-context")).to_contain_text("a draft plan")
    diff = check_diff({"period": PERIOD, "plan": {"rules": draft}})
    assert any(Decimal(row["delta"]) != 0 for row in diff)
    tab.shot("10-replay-draft", full_page=True)

    # a draft that is not JSON: the page says so and sends nothing
    tab.page.locator("#r-rules").fill("{not json")
    tab.page.get_by_role("button", name="Run replay").click()
    expect(tab.page.locator("#replay-error")).to_contain_text("not valid JSON")
    assert tab.outside == []


# ---------------------------------------------------------------- the page's own rules


FORMAT_CASES = [
    "0.00",
    "5.5",
    "1234.50",
    "-734.88",
    "1234567.89",
    "1000000",
    "0.2534",
    "1.2",
    "0.05",
    "-0.0061",
    "12.5",
    "0.0000",
    "-0.00",
    "1.3838",
    "0.29112903225806451612903225806451612903225806451613",
    "2.5",
]


def expected_percent(value: str) -> str:
    """The rate × 100 with every digit the API gave (a zero without its sign)."""
    with localcontext(prec=200):
        shifted = Decimal(value).scaleb(2)
        text = f"{shifted:,.{max(0, len(value.partition('.')[2]) - 2)}f}"
    return (text.removeprefix("-") if shifted == 0 else text) + "%"


def test_the_page_formats_figures_as_text_exactly_as_the_api_wrote_them(tab: Session):
    """format.js, run in Chromium: money regrouped, rates with the point moved, nothing rounded."""
    tab.page.goto(f"{tab.base}/")
    shown = tab.page.evaluate(
        """async (cases) => {
        const f = await import("/web/static/format.js");
        return cases.map((c) => [f.money(c), f.percent(c)]);
    }""",
        FORMAT_CASES,
    )
    for value, (money, percent) in zip(FORMAT_CASES, shown, strict=True):
        assert money == f"{Decimal(value):,}", value
        assert percent == expected_percent(value), value
    assert tab.page.evaluate("""async () => {
        const f = await import("/web/static/format.js");
        return [f.money(null), f.percent(null), f.change(5), f.change(-3), f.change(0)];
    }""") == ["—", "—", "+5", "−3", "±0"]


def test_every_control_has_a_name_and_every_chart_a_text_alternative(tab: Session, server: Server):
    tab.sign_in(server.demo.tokens["finance"])
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}&scope=company")
    wait_view(tab, "overview", period=PERIOD, scope="company")
    nameless = tab.page.evaluate("""() => [...document.querySelectorAll("input, select, textarea, button, a[href]")]
        .filter((e) => e.type !== "radio" || !e.closest("label"))
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim())
        .map((e) => e.outerHTML.slice(0, 80))""")
    assert nameless == []
    unlabelled = tab.page.evaluate("""() => [...document.querySelectorAll(".chart:not([hidden]), .sparkline")]
        .filter((e) => e.getAttribute("role") !== "img" || !e.getAttribute("aria-label"))
        .map((e) => e.id || e.className)""")
    assert unlabelled == []
    assert tab.page.locator("#team-table tbody tr[data-rep]").count() >= 8  # the company: every active rep
