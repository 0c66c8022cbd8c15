"""The dashboard's views, each opened as the role that reads it, in a given language and width:
shared by the accessibility checks (test_e2e_accessibility.py) and the screenshots
(`python -m docs.screenshots`), so both see the same page in the same state.

A view here is a name and a function that brings an already signed-in page to it, filled in:
the payout lines of the why opened, a deal's events listed, a replay run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PERIOD = "2026-Q2"  # the demo's period (conftest.PERIOD)
WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCALES = ("en", "zh-CN")
ACTION_TIMEOUT = 20_000  # milliseconds (conftest.ACTION_TIMEOUT)


@dataclass(frozen=True)
class Where:
    """What the views need to know of the demo: its server, a rep, the rep's team, a region."""

    base: str
    rep: str
    team: str
    region: str


@dataclass(frozen=True)
class View:
    name: str  # also the screenshot's stem
    role: str  # the token it is read with: admin, director, manager, finance, rep; "" for none
    title: str  # what it shows, for the screenshots' index
    open: Callable[[Any, Where], None]


def ready(page: Any, view: str) -> None:
    page.locator(f"#view-{view}[data-state=ready]").wait_for(timeout=ACTION_TIMEOUT)
    page.locator("#status").filter(has_not_text="…").wait_for(timeout=ACTION_TIMEOUT)


def _sign_in_form(page: Any, where: Where) -> None:
    page.goto(f"{where.base}/")
    page.locator("#sign-in-form").wait_for(state="visible")


def _overview(scope: Callable[[Where], str]) -> Callable[[Any, Where], None]:
    def show(page: Any, where: Where) -> None:
        page.goto(f"{where.base}/#/overview?period={PERIOD}&scope={scope(where)}")
        ready(page, "overview")
        page.locator("#help-panel table, #help-panel .note").first.wait_for()
        page.locator("#rollup-panel table").first.wait_for()

    return show


def _rep(page: Any, where: Where) -> None:
    page.goto(f"{where.base}/#/rep?period={PERIOD}&rep={where.rep}")
    ready(page, "rep")
    page.locator("#deals-table tbody tr[data-deal]").first.wait_for()
    page.locator("#deals-table .events-button").first.click()  # the events behind a deal
    page.locator("#events-table tbody tr[data-position]").first.wait_for()
    page.locator("#coaching h4").first.wait_for()


def _why(page: Any, where: Where) -> None:
    page.goto(f"{where.base}/#/rep?period={PERIOD}&rep={where.rep}")
    ready(page, "rep")
    for line in page.locator("#payout details.line summary").all():
        line.click()  # every payout line opened: its inputs, its rule, its events
    page.locator("#payout").scroll_into_view_if_needed()


def _payouts(page: Any, where: Where) -> None:
    page.goto(f"{where.base}/#/payouts?period={PERIOD}&scope=team:{where.team}")
    ready(page, "payouts")
    page.locator("#payouts-table tbody tr[data-rep]").first.wait_for()


def _replay(page: Any, where: Where) -> None:
    page.goto(f"{where.base}/#/replay?period={PERIOD}")
    ready(page, "replay")
    page.locator("#r-run").click()  # the last published version against what was approved
    page.locator("#diff-table tbody tr[data-rep]").first.wait_for()


VIEWS: tuple[View, ...] = (
    View("sign-in", "", "Sign in (before a session)", _sign_in_form),
    View(
        "overview",
        "admin",
        "Overview of the company: who needs help, KPIs, team, roll-up, regions",
        _overview(lambda w: "company"),
    ),
    View(
        "overview-region",
        "director",
        "A region director's morning: off-track summary and the roll-up by team",
        _overview(lambda w: f"region:{w.region}"),
    ),
    View("overview-team", "manager", "A manager's team", _overview(lambda w: f"team:{w.team}")),
    View("rep", "manager", "A rep drilled into: deals, the events behind one, activities, follow-ups, coaching", _rep),
    View("why", "rep", "The why: a rep's payout line by line, with the events behind it", _why),
    View("payouts", "finance", "A team's payouts, their approval and exports", _payouts),
    View("replay", "finance", "A replay of the period under the published plan, against what was approved", _replay),
)


def sign_in(page: Any, where: Where, token: str) -> None:
    """Through the page's own form, as a person would."""
    page.locator("#token-input").fill(token)
    page.locator("#sign-in-form button[type=submit]").click()
    page.locator("#app").wait_for(state="visible", timeout=ACTION_TIMEOUT)


def open_view(browser: Any, where: Where, view: View, token: str, locale: str, width: str) -> tuple[Any, Any]:
    """A new browser context in `locale` at `width`, signed in with `token`, on `view`: (context, page)."""
    context = browser.new_context(
        viewport=WIDTHS[width],
        locale="en-GB" if locale == "en" else locale,
        timezone_id="UTC",
        service_workers="block",
        device_scale_factor=1,
    )
    context.set_default_timeout(ACTION_TIMEOUT)
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(where.base) else r.abort())
    page = context.new_page()
    page.goto(f"{where.base}/")
    page.locator(f"html[lang='{locale}']").wait_for(state="attached")  # the page has read its language
    if view.role:
        sign_in(page, where, token)
    view.open(page, where)
    page.locator(f"html[lang='{locale}']").wait_for(state="attached")  # (again, after a reload)
    return context, page
