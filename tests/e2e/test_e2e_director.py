"""The director's morning and the manager's team (issue 23), in headless Chromium on the demo
store (see conftest.py): every figure on the page is the API's.

- the director's morning: open the page → the off-track summary and list of their region →
  a rep → a deal → the events behind it; the roll-up's totals row is the region's card; the
  summary in Chinese too;
- the manager's team: a past period of a team a rep has since left: the rep is listed, marked
  "moved to … on …", and the rows add up to the revenue card to the cent.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_e2e_dashboard import PERIOD, raw, text, wait_view

from api.auth import create_token
from ledger.config import Settings
from projections.db import engine_for

pytestmark = pytest.mark.e2e
Session = Server = Any  # conftest.Session, conftest.Server


def token_for(server: Server, role: str, **bound: str) -> str:
    engine = engine_for(Settings(database_url=server.demo.url, tz_name="UTC", currency="CNY"))
    try:
        return create_token(engine, role, label="e2e-director", **bound)[0]
    finally:
        engine.dispose()


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def test_the_directors_morning_off_track_list_a_rep_a_deal_and_its_events(tab: Session, server: Server):
    from playwright.sync_api import expect

    admin = server.api("admin")
    region = next(o["region"] for o in admin.get("/web/scopes").json()["reps"] if o["region"])
    director = token_for(server, "director", region=region)
    api = server.api("admin")
    scope = f"region:{region}"
    tab.sign_in(director)
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}&scope={scope}")
    wait_view(tab, "overview", period=PERIOD, scope=scope)

    # who needs help now: the API's count and list, worst first
    listed = api.get(
        "/kpis/off-track", params={"scope": scope, "period": PERIOD, "payouts": "true", "limit": 20}
    ).json()
    assert listed["off_track"] > 0, "the demo's region has nobody off track in its second quarter"
    count, total = listed["off_track"], listed["reps_in_scope"]
    expect(tab.page.locator("#help-summary")).to_have_text(f"{count} of {total} reps off track")
    rows = tab.page.locator("#help-table tbody tr[data-rep]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.rep)") == [r["rep_id"] for r in listed["reps"]]
    first = listed["reps"][0]
    row = f"#help-table tr[data-rep='{first['rep_id']}']"
    assert raw(tab, f"{row} td[data-col=pace]") == (first["pace"].get("revenue") or "")
    assert raw(tab, f"{row} td[data-col=forecast]") == first["forecast"]["revenue"]["pipeline"]
    assert raw(tab, f"{row} td[data-col=payout]") == (first["payout"]["pipeline"] or "")
    assert tab.page.locator(f"{row} .reasons li").count() == len(first["reasons"])
    reasons = tab.page.locator(f"{row} .reasons li").evaluate_all("items => items.map(i => i.dataset.metric)")
    assert reasons == [r["metric"] for r in first["reasons"]]  # worst first, as the API ranks them
    with tab.page.expect_download() as saving:  # a plain link: the session cookie goes with it
        tab.page.locator("#help-downloads a[data-format=csv]").click()
    saved = saving.value
    assert saved.suggested_filename == f"off-track-region-{region}-{PERIOD}.csv"
    csv = Path(saved.path()).read_text(encoding="utf-8-sig").splitlines()
    assert csv[0].startswith("Rep,Team,Region") and csv[1].startswith(first["rep_id"] + ",")

    # the roll-up of the region into its teams: the totals row is the region's card
    card = api.get("/kpis", params={"scope": scope, "period": PERIOD}).json()["kpis"]
    assert raw(tab, "#rollup-table tfoot td[data-col=revenue]") == card["revenue"]
    teams = api.get("/kpis/rollup", params={"scope": scope, "period": PERIOD}).json()
    shown = tab.page.locator("#rollup-table tbody tr[data-key]").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert shown == [r["key"] for r in teams["rows"]]
    expect(tab.page.locator("#quadrant-trend-table tbody tr").first).to_be_visible()
    # a heading sorts by its figure, and a second click turns the order round (the API's order)
    keys = "rows => rows.map(r => r.dataset.key)"
    for order in ("desc", "asc"):
        tab.page.locator("#rollup-table th[data-sort=revenue] button").click()
        expect(tab.page.locator("#rollup-table th[data-sort=revenue]")).to_have_attribute(
            "aria-sort", "descending" if order == "desc" else "ascending"
        )
        wanted = api.get("/kpis/rollup", params={"scope": scope, "period": PERIOD, "sort": "revenue", "order": order})
        assert tab.page.locator("#rollup-table tbody tr[data-key]").evaluate_all(keys) == [
            r["key"] for r in wanted.json()["rows"]
        ]
    tab.shot("director-01-morning", full_page=True)

    # a rep → their deals → a won deal's events
    tab.page.locator(f"{row} a.rep-link").click()
    wait_view(tab, "rep", rep=first["rep_id"], period=PERIOD)
    deals = api.get(f"/reps/{first['rep_id']}/deals", params={"period": PERIOD, "limit": 50}).json()["deals"]
    shown = tab.page.locator("#deals-table tbody tr[data-deal]").evaluate_all("rows => rows.map(r => r.dataset.deal)")
    assert shown == [d["deal_id"] for d in deals]
    won = next(d for d in deals if d["stage"] == "won")
    deal_row = f"#deals-table tr[data-deal='{won['deal_id']}']"
    assert raw(tab, f"{deal_row} td[data-col=credited]") == won["credited"]
    assert raw(tab, f"{deal_row} td[data-col=stage-days]") == str(won["stage_days"])
    tab.page.locator(f"{deal_row} button.events-button").click()
    events = tab.page.locator("#events-table tbody tr[data-position]")
    expect(events).to_have_count(len(won["events"][:20]))
    expect(tab.page.locator("#events-table tbody tr td.error")).to_have_count(0)
    positions = events.evaluate_all("rows => rows.map(r => Number(r.dataset.position))")
    assert positions == won["events"][:20]
    assert "DealWon" in text(tab, "#events-table tbody")
    expect(tab.page.locator("#coaching h4").first).to_be_visible()
    tab.shot("director-02-rep-deal-events", full_page=True)
    assert [p for p in tab.problems if "Failed to load resource" not in p] == []
    assert tab.outside == []


def test_the_summary_speaks_chinese_with_the_same_figures(tab: Session, server: Server):
    from playwright.sync_api import expect

    api = server.api("admin")
    tab.sign_in(server.demo.tokens["admin"])
    tab.page.locator("#locale-switch").select_option("zh-CN")
    tab.page.goto(f"{tab.base}/#/overview?period={PERIOD}&scope=company")
    wait_view(tab, "overview", period=PERIOD, scope="company")
    listed = api.get("/kpis/off-track", params={"scope": "company", "period": PERIOD, "limit": 1}).json()
    expect(tab.page.locator("#help-summary")).to_have_text(
        f"{listed['reps_in_scope']} 名销售中有 {listed['off_track']} 名未达进度"
    )
    expect(tab.page.locator("#help-title")).to_have_text("现在谁需要帮助")
    expect(tab.page.locator("#rollup-table tfoot th")).to_have_text("合计")


def test_the_managers_team_of_a_past_period_lists_the_rep_who_moved_and_adds_up(tab: Session, server: Server):
    from playwright.sync_api import expect

    admin = server.api("admin")
    transfers = admin.get("/events", params={"type": "RepTransferred", "limit": 1000}).json()["events"]
    moved = next(
        e for e in transfers if e["data"].get("team_id") and "2026-01-15" <= e["occurred_at"][:10] <= "2026-10-31"
    )
    rep, on = moved["data"]["rep_id"], date.fromisoformat(moved["occurred_at"][:10])
    before = (on - timedelta(days=10)).isoformat()
    history = admin.get("/events", params={"rep": rep, "type": ["RepOnboarded", "RepTransferred"], "limit": 100}).json()
    old_team = [
        e["data"]["team_id"] for e in history["events"] if e["occurred_at"][:10] <= before and e["data"].get("team_id")
    ][-1]
    period = quarter_of(on - timedelta(days=10))
    manager = token_for(server, "manager", team_id=old_team)
    tab.sign_in(manager)
    tab.page.goto(f"{tab.base}/#/overview?period={period}")
    scope = f"team:{old_team}"
    wait_view(tab, "overview", period=period, scope=scope)

    row = tab.page.locator(f"#team-table tbody tr[data-rep='{rep}']")
    expect(row).to_have_attribute("data-moved", "left")
    expect(row.locator("[data-mark=left]")).to_contain_text(f"moved to {moved['data']['team_id']} on {on.isoformat()}")
    card = raw(tab, "#kpi-cards [data-metric=revenue] .figure")
    rows = tab.page.locator("#team-table tbody tr[data-rep] td[data-col=revenue]").evaluate_all(
        "cells => cells.map(c => c.dataset.raw)"
    )
    table = server.api("admin").get("/web/team", params={"scope": scope, "period": period, "limit": 500}).json()
    assert len(rows) == table["total_rows"]  # every rep on one page
    assert sum(Decimal(r) for r in rows) == Decimal(card)
    assert raw(tab, "#rollup-table tfoot td[data-col=revenue]") == card
    tab.shot("manager-01-past-period", full_page=True)

    tab.page.locator("#team-off-only").check()
    hidden = tab.page.locator("#team-table tbody tr[data-rep]:not(.off-track)")
    for i in range(hidden.count()):
        expect(hidden.nth(i)).to_be_hidden()
