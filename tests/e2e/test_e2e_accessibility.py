"""Every view of the dashboard passes axe-core (WCAG 2.x A and AA rules, and axe's best
practices), in English and Chinese, on a desktop (1440×900) and a phone (390×844), each read as
the role it is for (tests/e2e/views.py): sign-in; the overview of the company (admin), of a
region (director) and of a team (manager); a rep drilled into with a deal's events (manager); the
why with every payout line open (the rep); a team's payouts and a replay (finance).

axe-core is the copy bundled in the pinned `axe-playwright-python` package (no internet). A
violation fails the test with axe's rule, its help, and each element's selector and HTML.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_e2e_director import token_for
from views import LOCALES, VIEWS, WIDTHS, View, Where, open_view

pytestmark = pytest.mark.e2e
Server = Any  # conftest.Server

# WCAG 2.0/2.1/2.2 A and AA, and axe's best practices (landmarks, headings, one main, …).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "resultTypes": ["violations"],
}


def axe_report(violations: list[dict[str, Any]]) -> str:
    """axe's violations as a person reads them: the rule, what it wants, then each element."""
    lines = [f"{len(violations)} accessibility rule(s) broken:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    at {' '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:200]}")
            messages = [c["message"] for kind in ("any", "all", "none") for c in node.get(kind, [])]
            lines.extend(f"       · {m}" for m in messages[:3])
        if len(violation["nodes"]) > 8:
            lines.append(f"    … and {len(violation['nodes']) - 8} more elements")
    return "\n".join(lines)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page, options=AXE_OPTIONS).response["violations"]


@pytest.fixture(scope="module")
def where(server: Server) -> Where:
    admin = server.api("admin")
    region = next(o["region"] for o in admin.get("/web/scopes").json()["reps"] if o["region"])
    return Where(server.base, server.demo.rep, server.demo.team, region)


@pytest.fixture(scope="module")
def tokens(server: Server, where: Where) -> dict[str, str]:
    return {**server.demo.tokens, "director": token_for(server, "director", region=where.region)}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("view", VIEWS, ids=[v.name for v in VIEWS])
def test_the_view_breaks_no_accessibility_rule(
    browser: Any, where: Where, tokens: dict[str, str], view: View, locale: str, width: str
):
    context, page = open_view(browser, where, view, tokens.get(view.role, ""), locale, width)
    try:
        assert page.evaluate("document.documentElement.lang") == locale
        violations = axe_violations(page)
        assert violations == [], f"{view.name} ({view.role or 'signed out'}, {locale}, {width}):\n" + axe_report(
            violations
        )
    finally:
        context.close()


def test_the_report_names_the_rule_and_the_element_of_a_page_that_breaks_one(browser: Any, server: Server):
    """The check can fail: an image without a text alternative and an unlabelled field are found
    and reported with their rule and HTML."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(
            '<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>x</h1>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input id="f"></main></body></html>'
        )
        violations = axe_violations(page)
        report = axe_report(violations)
        assert {"image-alt", "label"} <= {v["id"] for v in violations}, report
        assert "image-alt (critical)" in report and '<input id="f">' in report
    finally:
        context.close()
