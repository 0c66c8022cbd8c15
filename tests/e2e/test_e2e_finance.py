"""Finance's payouts and the rep's own page, in headless Chromium against the demo store (conftest.py).

- finance: the team's payouts as the API answers them (states, totals), sorted by total; exported
  to CSV with the same rows; approved in one batch after a confirmation naming the count and the
  total, the answer shown; a replay's results biggest change first with totals and causes, exported.
- a manager sees the payouts but no bulk approval.
- the rep: their own payout's why in words (attainment and rates as percentages to two decimals,
  money to the cent, each event listed once in a sentence), their printable statement in both
  languages and as a PDF, a dispute opened on a line; the same why in Chinese.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
PERIOD = "2026-Q2"  # the demo's period (conftest.PERIOD)
Session = Server = Any  # conftest.Session, conftest.Server


def wait_view(tab: Session, view: str, **filters: str) -> None:
    from playwright.sync_api import expect

    section = tab.page.locator(f"#view-{view}")
    for name, value in filters.items():
        expect(section).to_have_attribute("data-key", re.compile(rf"(^|&){name}={re.escape(value)}(&|$)"))
    expect(section).to_have_attribute("data-state", "ready")


def raw(tab: Session, selector: str) -> str | None:
    return tab.page.locator(selector).first.get_attribute("data-raw")


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def cny(value: str) -> str:
    """How the English page writes money: CN¥, grouped thousands, two decimals (the API's are cents)."""
    amount = Decimal(value)
    return ("-" if amount < 0 else "") + f"CN¥{abs(amount):,.2f}"


def test_finance_reads_the_teams_payouts_exports_them_approves_them_in_one_batch_and_replays(
    tab: Session, server: Server
):
    from playwright.sync_api import expect

    demo = server.demo
    api = server.api("finance")
    scope = f"team:{demo.team}"
    tab.sign_in(demo.tokens["finance"])
    tab.page.goto(f"{tab.base}/#/payouts?period={PERIOD}&scope={scope}")
    wait_view(tab, "payouts", period=PERIOD, scope=scope)
    listed = api.get("/payouts", params={"period": PERIOD, "scope": scope}).json()
    assert listed["payouts"], "the demo team has payouts in the period"

    # every rep of the team with the API's total and approval state, and the API's totals
    rows = tab.page.locator("#payouts-table tbody tr[data-rep]")
    expect(rows).to_have_count(len(listed["payouts"]))
    for payout in listed["payouts"]:
        row = f"#payouts-table tr[data-rep='{payout['rep_id']}']"
        assert raw(tab, f"{row} td[data-col=total]") == payout["total"]
        assert tab.page.locator(f"{row} td[data-col=state]").get_attribute("data-state") == payout["approval"]["state"]
        expect(tab.page.locator(f"{row} a.statement-link.html[data-lang='zh-CN']")).to_have_attribute(
            "href", re.compile(rf"/statements/{payout['rep_id']}/{PERIOD}\?format=html&lang=zh-CN")
        )
    assert raw(tab, "#payouts-table tfoot td[data-col=total]") == listed["totals"]["total"]
    expect(tab.page.locator("#payouts-table tfoot th")).to_have_text(f"Total ({listed['totals']['reps']} reps)")

    # sorted by total: the biggest first
    tab.page.locator("#payouts-table thead button[data-sort=total]").click()
    shown = [
        Decimal(v) for v in rows.evaluate_all("rows => rows.map(r => r.querySelector('[data-col=total]').dataset.raw)")
    ]
    assert shown == sorted((Decimal(p["total"]) for p in listed["payouts"]), reverse=True)
    tab.shot("11-payouts")

    # the CSV: the same reps and totals (the link is the GET export of the same period and scope)
    with tab.page.expect_download() as download:
        tab.page.locator("#payouts-exports a[data-format=csv]").click()
    header, *exported = csv_rows(Path(download.value.path()))
    assert header[:4] == ["Rep", "Period", "Plan", "Computed payout"]
    assert {r[0]: r[3] for r in exported} == {p["rep_id"]: p["total"] for p in listed["payouts"]}
    assert download.value.suggested_filename == f"payouts-{PERIOD}.csv"

    # bulk approval: the confirmation names the count and the total; the answer is shown rep by rep
    tab.page.get_by_role("button", name="Approve all in this scope…").click()
    question = tab.page.locator("#bulk-question")
    expect(question).to_contain_text(f"{listed['totals']['reps']} reps")
    expect(question).to_contain_text(cny(listed["totals"]["total"]))
    tab.shot("12-bulk-confirm")
    tab.page.get_by_role("button", name="Yes, approve them").click()
    summary = tab.page.locator("#bulk-result .bulk-summary")
    expect(summary).to_be_visible()
    with_plan = [p for p in listed["payouts"] if p["plan"] is not None and p["approval"]["state"] == "not_approved"]
    expect(summary).to_contain_text(f"{len(with_plan)} approved")
    expect(tab.page.locator("#bulk-result .bulk-approved li")).to_have_count(len(with_plan))
    after = api.get("/payouts", params={"period": PERIOD, "scope": scope}).json()
    assert {p["rep_id"] for p in after["payouts"] if p["approval"]["state"] == "approved"} >= {
        p["rep_id"] for p in with_plan
    }
    for payout in with_plan:
        expect(
            tab.page.locator(f"#payouts-table tr[data-rep='{payout['rep_id']}'] td[data-col=state]")
        ).to_have_attribute("data-state", "approved")
    tab.shot("13-bulk-approved", full_page=True)

    # a replay under the latest published version: biggest change first, totals, causes, and its export
    tab.page.locator("#tab-replay").click()
    wait_view(tab, "replay", period=PERIOD)
    tab.page.get_by_role("button", name="Run replay").click()
    diff_rows = tab.page.locator("#diff-table tbody tr[data-rep]")
    expect(tab.page.locator("#diff-table tfoot tr.totals")).to_be_visible()
    plans = api.get("/events", params={"type": "IncentivePlanPublished"}).json()["events"]
    latest = plans[-1]["data"]
    body = {"period": PERIOD, "plan": {"plan_id": latest["plan_id"], "version": latest["version"]}}
    replayed = api.post("/replays", json=body).json()
    expect(diff_rows).to_have_count(len(replayed["diff"]))
    deltas = [
        abs(Decimal(v))
        for v in diff_rows.evaluate_all("rows => rows.map(r => r.querySelector('[data-col=delta]').dataset.raw)")
    ]
    assert deltas == sorted((abs(Decimal(r["delta"])) for r in replayed["diff"]), reverse=True)
    assert raw(tab, "#diff-table tfoot td[data-col=after]") == replayed["totals"]["after"]
    assert raw(tab, "#diff-table tfoot td[data-col=delta]") == replayed["totals"]["delta"]
    moved = [r for r in replayed["diff"] if Decimal(r["delta"]) != 0]
    if moved:  # a moved payout names its cause, and so does each of its lines
        row = tab.page.locator(f"#diff-table tr[data-rep='{moved[0]['rep_id']}']")
        expect(row.locator("ul.causes [data-cause]").first).to_be_visible()
        row.locator("details summary").click()
        for line in moved[0]["causes"]["rule"]["lines"]:
            cell = row.locator(f"details tr[data-component='{line['component']}'] td[data-cause=rule]")
            assert cell.get_attribute("data-raw") == line["delta"]
    with tab.page.expect_download() as download:
        tab.page.locator("#replay-exports button[data-format=csv]").click()
    header, *exported = csv_rows(Path(download.value.path()))
    assert header[:5] == ["Rep", "Compared with", "Before", "After", "Delta"]
    assert [r[0] for r in exported[:-1]] == diff_rows.evaluate_all("rows => rows.map(r => r.dataset.rep)") or [
        abs(Decimal(r[4])) for r in exported[:-1]
    ] == deltas  # ties may list in another order
    assert {r[0]: r[4] for r in exported[:-1]} == {r["rep_id"]: r["delta"] for r in replayed["diff"]}
    assert exported[-1][4] == replayed["totals"]["delta"]
    with tab.page.expect_download() as download:
        tab.page.locator("#replay-exports button[data-format=xlsx]").click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # a zip: the .xlsx
    tab.shot("14-replay-results", full_page=True)
    assert tab.outside == []


def test_a_manager_reads_the_teams_payouts_and_is_offered_no_bulk_approval(tab: Session, server: Server):
    from playwright.sync_api import expect

    demo = server.demo
    tab.sign_in(demo.tokens["manager"])
    tab.page.goto(f"{tab.base}/#/payouts?period={PERIOD}&scope=team:{demo.team}")
    wait_view(tab, "payouts", period=PERIOD)
    params = {"period": PERIOD, "scope": f"team:{demo.team}"}
    listed = server.api("manager").get("/payouts", params=params).json()
    expect(tab.page.locator("#payouts-table tbody tr[data-rep]")).to_have_count(len(listed["payouts"]))
    expect(tab.page.locator("#bulk")).to_be_hidden()
    answer = server.api("manager").post("/payouts/approve", json={"scope": f"team:{demo.team}", "period": PERIOD})
    assert answer.status_code == 403


def test_the_rep_reads_why_their_payout_is_what_it_is_prints_their_statement_and_questions_a_line(
    tab: Session, server: Server
):
    from playwright.sync_api import expect

    demo = server.demo
    mine = server.api("rep")
    tab.sign_in(demo.tokens["rep"])
    expect(tab.page.locator("#tab-payouts")).to_be_hidden()
    tab.page.goto(f"{tab.base}/#/rep?period={PERIOD}&rep={demo.rep}")
    wait_view(tab, "rep", rep=demo.rep, period=PERIOD)
    explained = mine.get(f"/payouts/{demo.rep}/{PERIOD}/explain").json()
    lines = explained["tree"]["lines"]
    assert lines, "the demo rep has payout lines"

    # each event behind the payout is listed once, whatever the number of lines resting on it
    positions = sorted({e["position"] for line in lines for e in line["events"]})
    listed = tab.page.locator("#payout ol.events-once > li")
    expect(listed).to_have_count(len(positions))
    assert sorted(listed.evaluate_all("items => items.map(i => Number(i.dataset.position))")) == positions
    expect(tab.page.locator("#payout .events-title")).to_have_text(f"Events behind this payout ({len(positions)})")

    # the deal the tests follow reads as a sentence: its id, its amount in money, its date
    won = next(
        e for line in lines for e in line["events"] if e["type"] == "DealWon" and e["data"]["deal_id"] == demo.deal
    )
    sentence = tab.page.locator(f"#payout ol.events-once > li[data-position='{won['position']}'] .sentence")
    expect(sentence).to_have_text(
        re.compile(
            rf"^Deal {re.escape(demo.deal)} won: {re.escape(cny(won['data']['amount']))} on \w{{3}} \d{{1,2}}, 2026$"
        )
    )

    # a line's inputs in words: attainment and rates as percentages to two decimals, money to the cent
    first = tab.page.locator("#payout details.line").first
    first.locator("summary").click()
    assert first.get_attribute("data-component") == lines[0]["component"]
    assert raw(tab, "#payout details.line .amount") == lines[0]["amount"]
    expect(tab.page.locator("#payout details.line .amount").first).to_have_text(cny(lines[0]["amount"]))
    inputs = lines[0]["inputs"]
    if inputs.get("attainment") is not None:
        cell = first.locator("td[data-input=attainment]")
        assert cell.get_attribute("data-raw") == inputs["attainment"]
        expect(cell).to_have_text(re.compile(r"^\d[\d,]*\.\d{2}%$"))
    for rate in first.locator("table.slices td[data-raw]").all_inner_texts():
        assert re.fullmatch(r"(CN¥)?-?[\d,]+\.\d{2}%?", rate), rate
    text = tab.page.locator("#payout").inner_text()
    assert "{" not in text and "scope:" not in text  # no raw JSON left
    if inputs.get("attainment") is not None and len(inputs["attainment"]) > 8:
        assert inputs["attainment"] not in text
    refs = first.locator(".refs button[data-ref]").evaluate_all("bs => bs.map(b => Number(b.dataset.ref))")
    order = listed.evaluate_all("items => items.map(i => Number(i.dataset.position))")  # as they happened
    assert refs == [p for p in order if p in {e["position"] for e in lines[0]["events"]}]
    tab.shot("15-rep-why", full_page=True)

    # the printable statement, in Chinese and in English, and as a PDF
    zh = tab.page.locator("#payout a.statement-link.html[data-lang='zh-CN']").get_attribute("href")
    en = tab.page.locator("#payout a.statement-link.html[data-lang='en']").get_attribute("href")
    assert "激励对账单" in mine.get(zh).text
    assert f"Statement of {demo.rep}" in mine.get(en).text
    with tab.page.expect_popup() as popup:  # the link itself, with the page's session
        tab.page.locator("#payout a.statement-link.html[data-lang='en']").click()
    expect(popup.value.locator("h1")).to_have_text(f"Statement of {demo.rep} for {PERIOD}")
    popup.value.close()
    with tab.page.expect_download() as download:
        tab.page.locator("#payout a.statement-link.pdf").click()
    assert Path(download.value.path()).read_bytes()[:4] == b"%PDF"

    # a dispute on the first line, opened from the page (its form closed until asked for)
    expect(first.get_by_label("What is wrong with this line?")).to_be_hidden()
    first.get_by_role("button", name="Question this line").click()
    first.get_by_label("What is wrong with this line?").fill("A deal of mine from June is missing: <b>D-x</b>")
    first.get_by_role("button", name="Open the dispute").click()
    opened = first.locator(".dispute-opened")
    expect(opened).to_contain_text("Dispute DS-")
    dispute_id = opened.get_attribute("data-dispute")
    dispute = mine.get(f"/disputes/{dispute_id}").json()
    assert (dispute["status"], dispute["rep_id"], dispute["period"]) == ("open", demo.rep, PERIOD)
    tab.shot("16-rep-dispute")

    # the same why in Chinese
    tab.page.locator("#locale-switch").select_option("zh-CN")
    wait_view(tab, "rep", rep=demo.rep)
    expect(tab.page.locator("#payout .events-title")).to_have_text(f"本次激励依据的事件（{len(positions)}）")
    sentence = tab.page.locator(f"#payout ol.events-once > li[data-position='{won['position']}'] .sentence")
    amount = f"¥{Decimal(won['data']['amount']):,.2f}"
    expect(sentence).to_contain_text(f"赢单 {demo.deal}")
    expect(sentence).to_contain_text(amount)
    tab.shot("17-rep-why-zh", full_page=True)
    assert tab.outside == []


NUMBER_CASES = [  # (value, pct in en, amount in en)
    ("1.3088243028846153846153846153846153846153846", "130.88%", "1.31"),
    ("0.085", "8.50%", "0.09"),
    ("3848.027350", "384,802.74%", "3,848.03"),
    ("-734.885", "-73,488.50%", "-734.89"),
    ("-0.00", "0.00%", "0.00"),
    ("1234567.5", "123,456,750.00%", "1,234,567.50"),
]


def test_the_why_words_figures_by_intl_exactly_and_orders_decimal_strings_by_their_digits(tab: Session):
    """views/numbers.js in Chromium: percentages and cents rounded half away from zero on the decimal
    text (no float), and an order on decimal strings by sign and digits, by size for a replay's deltas."""
    tab.page.goto(f"{tab.base}/")
    shown = tab.page.evaluate(
        """async (cases) => {
        const n = await import("/web/static/views/numbers.js");
        return cases.map(([value]) => [n.pct(value), n.amount(value)]);
    }""",
        NUMBER_CASES,
    )
    assert shown == [[pct, amount] for _, pct, amount in NUMBER_CASES]
    order = tab.page.evaluate("""async () => {
        const n = await import("/web/static/views/numbers.js");
        const values = ["10.5", "-3", "2", "0.00", "-0", "100", "9.99", "-10.01", "10.50"];
        return [[...values].sort(n.compareDecimal), [...values].sort((a, b) => n.compareSize(b, a))];
    }""")
    assert order[0] == ["-10.01", "-3", "0.00", "-0", "2", "9.99", "10.5", "10.50", "100"]
    assert order[1] == ["100", "10.5", "10.50", "-10.01", "9.99", "-3", "2", "0.00", "-0"]
