"""The dashboard's server side (api/routers/web.py), without a browser: the page and its files,
the charting library served from the installed package, and the three reads only the page
makes (/web/me, /web/scopes, /web/team), whose figures must be GET /kpis's, role by role.
The page itself is driven in Chromium by tests/e2e/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from api_client import role_tokens
from builders import correct, ev, onboard, open_deal, split, win
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers import web
from services.policy import CAPABILITIES

WEB = Path(__file__).resolve().parent.parent / "api" / "web"
PERIOD = "2026-Q2"


class Dash:
    """The app on a small story: R-1 and R-2 in T-1 (East), R-3 in T-2 (West)."""

    def __init__(self, client: TestClient):
        self.client = client
        engine = client.app.state.engine
        self.tokens = role_tokens(engine, rep_id="R-1", team_id="T-1")

    def get(self, path: str, role: str = "admin", **params):
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def record(self, *events) -> None:
        response = self.client.post(
            "/events", json={"events": list(events)}, headers={"Authorization": f"Bearer {self.tokens['admin']}"}
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def dash(settings) -> Iterator[Dash]:
    with TestClient(create_app(settings)) as client:
        board = Dash(client)
        board.record(
            onboard("R-1"),
            onboard("R-2"),
            onboard("R-3", team_id="T-2", region="West"),
            open_deal("D-1", "R-1", when="2026-03-20T09:00:00+00:00"),
            win("D-1", "1000.50", when="2026-04-10T09:00:00+00:00"),
            open_deal("D-2", "R-1", customer_id="C-2", when="2026-04-01T09:00:00+00:00"),
            win("D-2", "2500.00", when="2026-06-02T09:00:00+00:00"),
            open_deal("D-3", "R-2", customer_id="C-3", when="2026-04-01T09:00:00+00:00"),
            win("D-3", "700.00", when="2026-05-02T09:00:00+00:00"),
            open_deal("D-4", "R-3", customer_id="C-4", when="2026-01-05T09:00:00+00:00"),
            win("D-4", "9000.00", when="2026-02-02T09:00:00+00:00"),
            ev(
                "TargetSet",
                "2026-04-01T00:00:00+00:00",
                scope={"rep": "R-1"},
                metric="revenue",
                period=PERIOD,
                value="10000.00",
            ),
        )
        yield board


def kpi(dash: Dash, scope: str, period: str, role: str = "admin", **cutoffs) -> dict:
    response = dash.get("/kpis", role, scope=scope, period=period, **cutoffs)
    assert response.status_code == 200, response.text
    return response.json()["kpis"]


# ---------------------------------------------------------------- the page and its files


def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(dash):
    response = dash.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-cache"  # the page itself is always revalidated
    digest = web.assets().digest
    assert f'<script type="module" src="/web/assets/{digest}/app.js">' in response.text
    assert "/web/static/" not in response.text and "plotly" not in response.text.lower()


def page_files() -> list[Path]:
    return sorted(p for p in WEB.rglob("*") if p.is_file() and p.suffix in (".js", ".css", ".svg", ".html"))


def test_every_file_of_the_page_is_served_and_nothing_else_is(dash):
    assert {"views/help.js", "views/why.js"} <= {p.relative_to(WEB).as_posix() for p in page_files()}
    for path in page_files():
        name = path.relative_to(WEB).as_posix()
        response = dash.client.get(f"/web/static/{name}", headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, name
        assert response.content == path.read_bytes()
    assert dash.client.get("/web/static/app.js").headers["content-type"].startswith("text/javascript")
    for name in ("nope.js", ".hidden.js", "..%2Frouters%2Fweb.py", "%2e%2e%2fapp.py", "web.py", "app.js.map"):
        assert dash.client.get(f"/web/static/{name}").status_code == 404, name
    assert dash.client.get("/web/static/../routers/web.py").status_code == 404
    assert dash.client.get("/web/static/views/../../routers/web.py").status_code == 404


def test_the_pages_files_are_cached_for_a_year_under_their_digest_and_sent_compressed(dash):
    """index.html names each file under the digest of all of them: a new release changes every
    address, so a file may be kept for a year; an old address still answers, but uncached."""
    digest = web.assets().digest
    plain = dash.client.get(f"/web/assets/{digest}/app.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.content == (WEB / "app.js").read_bytes()
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    zipped = dash.client.get(f"/web/assets/{digest}/app.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx unzips
    assert int(zipped.headers["content-length"]) < len(plain.content) // 2
    assert (
        dash.client.get(f"/web/assets/{digest}/app.js", headers={"If-None-Match": plain.headers["etag"]}).status_code
        == 304
    )
    old = dash.client.get("/web/assets/0123456789abcdef/app.js")
    assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
    assert dash.client.get(f"/web/assets/{digest}/../deps.py").status_code == 404
    page = dash.client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"


def test_no_file_outside_the_views_folder_is_served_through_it(dash):
    for name in ("..%2Fapp.js", "%2e%2e%2fweb.py", ".hidden.js", "nope.js", "common.js.map"):
        assert dash.client.get(f"/web/static/views/{name}").status_code == 404, name
    for name in (
        "views%2F..%2F..%2Frouters%2Fweb.py",
        "views/.hidden.js",
        "other/app.js",
        "views/views/why.js",
        "views/nope.js",
    ):
        assert dash.client.get(f"/web/static/{name}").status_code == 404, name


def test_the_page_loads_nothing_from_the_internet():
    """No CDN, no web font, no analytics: every URL in the page's files is the server's own."""
    for path in page_files():
        source = path.read_text()
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", source)
        assert [u for u in urls if u != "http://www.w3.org/2000/svg"] == [], path.name


def test_only_the_chart_module_turns_the_apis_figures_into_numbers():
    """The page formats figures as text (format.js) and computes none; charts.js alone makes
    plotting coordinates of them (and places an axis' ticks among those coordinates). clock.js
    reads today's date in the ledger's zone (calendar arithmetic for the period presets), no figure."""
    conversions = re.compile(r"parseFloat|parseInt|Number\(|Math\.|\.toFixed\(|valueAsNumber|BigInt\(")
    allowed = {"charts.js": {"Number(", "Math.", ".toFixed("}, "clock.js": {"Number(", "Math."}}
    for path in sorted(WEB.rglob("*.js")):
        found = set(conversions.findall(path.read_text()))
        assert found <= allowed.get(path.name, set()), path.name
    assert "Number(" in (WEB / "charts.js").read_text()


# ---------------------------------------------------------------- who is signed in, what they may pick


@pytest.mark.parametrize("role", ["admin", "finance", "auditor", "manager", "rep"])
def test_me_names_the_role_and_the_capabilities_the_policy_gives_it(dash, role):
    answer = dash.get("/web/me", role).json()
    assert answer["role"] == role
    assert answer["capabilities"] == sorted(name for name, roles in CAPABILITIES.items() if role in roles)
    assert (answer["rep_id"], answer["team_id"]) == {"rep": ("R-1", None), "manager": (None, "T-1")}.get(
        role, (None, None)
    )
    assert answer["currency"] == "CNY" and answer["tz"] == "UTC"


def test_me_without_a_token_is_401(dash):
    assert dash.client.get("/web/me").status_code == 401
    assert dash.client.get("/web/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_scopes_follow_the_reading_rules_of_each_role(dash):
    everything = dash.get("/web/scopes", "finance").json()
    assert [s["scope"] for s in everything["scopes"]] == [
        "company",
        "region:East",
        "region:West",
        "team:T-1",
        "team:T-2",
        "rep:R-1",
        "rep:R-2",
        "rep:R-3",
    ]
    assert everything["reps"][2] == {
        "rep_id": "R-3",
        "name": "Rep R-3",
        "team_id": "T-2",
        "region": "West",
        "offboarded": False,
    }
    manager = dash.get("/web/scopes", "manager").json()
    assert [s["scope"] for s in manager["scopes"]] == ["team:T-1", "rep:R-1", "rep:R-2"]
    rep = dash.get("/web/scopes", "rep").json()
    assert [s["scope"] for s in rep["scopes"]] == ["rep:R-1"] and [r["rep_id"] for r in rep["reps"]] == ["R-1"]


def test_scopes_as_known_at_an_earlier_time_leave_out_later_reps(dash):
    before = datetime.now(UTC)
    time.sleep(0.01)
    dash.record(onboard("R-4", team_id="T-2", region="West", when="2026-05-01T09:00:00+00:00"))
    assert "R-4" in [r["rep_id"] for r in dash.get("/web/scopes").json()["reps"]]
    earlier = dash.get("/web/scopes", known_at=before.isoformat()).json()
    assert "R-4" not in [r["rep_id"] for r in earlier["reps"]]


# ---------------------------------------------------------------- the team table


def test_each_row_of_the_team_table_is_what_get_kpis_answers_for_that_rep(dash):
    table = dash.get("/web/team", scope="team:T-1", period=PERIOD)
    assert table.status_code == 200, table.text
    answer = table.json()
    assert answer["months"] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert [row["rep_id"] for row in answer["rows"]] == ["R-1", "R-2"]
    assert answer["total_rows"] == 2 and answer["next_offset"] is None
    for row in answer["rows"]:
        figures = kpi(dash, f"rep:{row['rep_id']}", PERIOD)
        assert row["revenue"] == figures["revenue"]
        assert row["orders"] == figures["orders"]
        assert row["attainment"] == figures["attainment"] and row["pace"] == figures["pace"]
        assert row["off_track"] == figures["off_track"]
        for month in row["revenue_by_month"]:
            assert month["revenue"] == kpi(dash, f"rep:{row['rep_id']}", month["period"])["revenue"]
    r1 = answer["rows"][0]
    assert r1["name"] == "Rep R-1" and (r1["team_id"], r1["region"]) == ("T-1", "East")
    assert r1["revenue"] == "3500.50" and r1["attainment"] == {"revenue": "0.3501"} and r1["off_track"] == ["revenue"]
    assert [m["revenue"] for m in r1["revenue_by_month"]] == ["0.00", "0.00", "0.00", "1000.50", "0.00", "2500.00"]


def test_the_team_table_honours_as_of_and_known_at_like_get_kpis(dash):
    known_at = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    dash.record(correct("D-2", "3000.00", when="2026-07-01T09:00:00+00:00"))
    now = dash.get("/web/team", scope="rep:R-1", period=PERIOD).json()["rows"][0]
    then = dash.get("/web/team", scope="rep:R-1", period=PERIOD, known_at=known_at).json()
    assert now["revenue"] == "4000.50" and then["rows"][0]["revenue"] == "3500.50"
    assert then["rows"][0]["revenue"] == kpi(dash, "rep:R-1", PERIOD, known_at=known_at)["revenue"]
    assert then["known_at"].startswith(known_at[:19])
    as_of = "2026-05-15T00:00:00+00:00"
    early = dash.get("/web/team", scope="team:T-1", period=PERIOD, as_of=as_of).json()
    assert early["months"] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]  # June had not begun
    for row in early["rows"]:
        figures = kpi(dash, f"rep:{row['rep_id']}", PERIOD, as_of=as_of)
        assert (row["revenue"], row["pace"]) == (figures["revenue"], figures["pace"])
        assert (
            row["revenue_by_month"][-1]["revenue"]
            == kpi(dash, f"rep:{row['rep_id']}", "2026-05", as_of=as_of)["revenue"]
        )


def test_the_company_and_region_tables_list_their_reps_and_page(dash):
    company = dash.get("/web/team", "auditor", scope="company", period=PERIOD).json()
    assert [r["rep_id"] for r in company["rows"]] == ["R-1", "R-2", "R-3"]
    west = dash.get("/web/team", scope="region:West", period=PERIOD).json()
    assert [r["rep_id"] for r in west["rows"]] == ["R-3"]
    first = dash.get("/web/team", scope="company", period=PERIOD, limit=2).json()
    assert [r["rep_id"] for r in first["rows"]] == ["R-1", "R-2"] and first["next_offset"] == 2
    rest = dash.get("/web/team", scope="company", period=PERIOD, limit=2, offset=2).json()
    assert [r["rep_id"] for r in rest["rows"]] == ["R-3"] and rest["next_offset"] is None
    year = dash.get("/web/team", scope="rep:R-3", period="2026").json()
    assert len(year["months"]) == 12 and year["rows"][0]["revenue_by_month"][1]["revenue"] == "9000.00"


def test_the_team_table_answers_each_role_as_get_kpis_does(dash):
    assert dash.get("/web/team", "manager", scope="team:T-1", period=PERIOD).status_code == 200
    assert dash.get("/web/team", "manager", scope="team:T-2", period=PERIOD).status_code == 404
    assert dash.get("/web/team", "manager", scope="rep:R-3", period=PERIOD).status_code == 404
    assert dash.get("/web/team", "manager", scope="company", period=PERIOD).status_code == 403
    assert dash.get("/web/team", "manager", scope="region:East", period=PERIOD).status_code == 403
    own = dash.get("/web/team", "rep", scope="rep:R-1", period=PERIOD).json()
    assert [r["rep_id"] for r in own["rows"]] == ["R-1"]
    assert dash.get("/web/team", "rep", scope="rep:R-2", period=PERIOD).status_code == 404
    assert dash.get("/web/team", "rep", scope="team:T-1", period=PERIOD).status_code == 404
    for role, scope in (("manager", "team:T-2"), ("rep", "rep:R-2"), ("manager", "company")):
        assert (
            dash.get("/kpis", role, scope=scope, period=PERIOD).status_code
            == dash.get("/web/team", role, scope=scope, period=PERIOD).status_code
        )


def test_a_manager_sees_every_rep_who_was_in_the_team_during_the_period(dash):
    """R-2 moved to T-2 on 15 June: the manager of T-1 reads R-2's Q2 row with what counts for
    T-1 (D-3, 700.00, won in May), but not R-2's own attainment or months (R-2 is beyond reach now)."""
    dash.record(ev("RepTransferred", "2026-06-15T00:00:00+00:00", rep_id="R-2", team_id="T-2", region="West"))
    admin = dash.get("/web/team", scope="team:T-1", period=PERIOD).json()
    manager = dash.get("/web/team", "manager", scope="team:T-1", period=PERIOD).json()
    assert [r["rep_id"] for r in admin["rows"]] == ["R-1", "R-2"]  # R-2 was in T-1 for most of Q2
    assert [r["rep_id"] for r in manager["rows"]] == ["R-1", "R-2"] and manager["total_rows"] == 2
    moved = manager["rows"][1]
    assert (moved["reachable"], moved["revenue"], moved["attainment"], moved["revenue_by_month"]) == (
        False,
        "700.00",
        {},
        [],
    )
    assert moved["left"]["team_id"] == "T-2" and moved["left"]["on"].startswith("2026-06-15T00:00:00")
    assert dash.get("/kpis", "manager", scope="rep:R-2", period=PERIOD).status_code == 404


class TestAPastPeriodAddsUpForAManager:
    """The defect of issue 23: T-1's Q1 rows summed to less than its revenue card, because a rep
    who moved team in July was left out of the rows but not of the card. The story, in Q1:

    - R-1 (T-1) wins D-1 for 1,000.50 on 10 February, and D-9 with R-3 (T-2) split 0.6 / 0.4:
      333.33 → R-1 199.998, R-3 133.332 → to the cent by the largest remainder 200.00 and 133.33;
    - R-2 (T-1) wins D-2 for 2,000.25 on 20 March, and moves to T-2 (West) on 1 July;
    - R-4 joins T-1 from T-2 on 15 February: D-5 (500.00, 1 February) is T-2's, D-6 (400.00,
      1 March) is T-1's.

    T-1's card: 1,000.50 + 200.00 + 2,000.25 + 400.00 = 3,600.75; its rows: R-1 1,200.50,
    R-2 2,000.25, R-4 400.00, which sum to 3,600.75 exactly."""

    @pytest.fixture
    def story(self, dash):
        dash.record(
            onboard("R-4", team_id="T-2", region="West"),
            open_deal("D-11", "R-1", customer_id="C-11", when="2026-01-05T09:00:00+00:00"),
            win("D-11", "1000.50", when="2026-02-10T09:00:00+00:00"),
            open_deal("D-19", "R-1", customer_id="C-19", when="2026-01-05T09:00:00+00:00"),
            win("D-19", "333.33", when="2026-02-12T09:00:00+00:00"),
            split("D-19", {"R-1": "0.6", "R-3": "0.4"}, when="2026-02-13T09:00:00+00:00"),
            open_deal("D-12", "R-2", customer_id="C-12", when="2026-01-05T09:00:00+00:00"),
            win("D-12", "2000.25", when="2026-03-20T09:00:00+00:00"),
            open_deal("D-15", "R-4", customer_id="C-15", when="2026-01-05T09:00:00+00:00"),
            win("D-15", "500.00", when="2026-02-01T09:00:00+00:00"),
            ev("RepTransferred", "2026-02-15T00:00:00+00:00", rep_id="R-4", team_id="T-1", region="East"),
            open_deal("D-16", "R-4", customer_id="C-16", when="2026-02-16T09:00:00+00:00"),
            win("D-16", "400.00", when="2026-03-01T09:00:00+00:00"),
            ev("RepTransferred", "2026-07-01T00:00:00+00:00", rep_id="R-2", team_id="T-2", region="West"),
        )
        return dash

    def test_the_rows_sum_to_the_revenue_card_to_the_cent(self, story):
        for role in ("manager", "admin"):
            card = kpi(story, "team:T-1", "2026-Q1", role)
            table = story.get("/web/team", role, scope="team:T-1", period="2026-Q1").json()
            assert [r["rep_id"] for r in table["rows"]] == ["R-1", "R-2", "R-4"]
            assert [r["revenue"] for r in table["rows"]] == ["1200.50", "2000.25", "400.00"]
            assert card["revenue"] == "3600.75"
            assert sum(Decimal(r["revenue"]) for r in table["rows"]) == Decimal(card["revenue"])

    def test_the_moved_and_joined_reps_are_marked_with_where_and_when(self, story):
        rows = {
            r["rep_id"]: r for r in story.get("/web/team", "manager", scope="team:T-1", period="2026-Q1").json()["rows"]
        }
        assert rows["R-2"]["left"]["team_id"] == "T-2" and rows["R-2"]["left"]["on"].startswith("2026-07-01")
        assert rows["R-2"]["reachable"] is False
        assert rows["R-4"]["joined"]["team_id"] == "T-2" and rows["R-4"]["joined"]["on"].startswith("2026-02-15")
        assert rows["R-4"]["reachable"] is True and rows["R-4"]["left"] is None
        assert rows["R-1"]["joined"] is None and rows["R-1"]["left"] is None

    def test_the_west_team_keeps_what_was_earned_there(self, story):
        """T-2 in Q1: R-3's D-4 (9,000.00) and its 133.33 of D-19, R-4's D-5 (500.00): 9,633.33."""
        card = kpi(story, "team:T-2", "2026-Q1")
        rows = story.get("/web/team", scope="team:T-2", period="2026-Q1").json()["rows"]
        assert {r["rep_id"]: r["revenue"] for r in rows} == {"R-3": "9133.33", "R-4": "500.00"}
        assert card["revenue"] == "9633.33" == str(sum(Decimal(r["revenue"]) for r in rows))


@pytest.mark.parametrize(
    "params",
    [
        {"scope": "team:T-1", "period": "2026-13"},
        {"scope": "team", "period": PERIOD},
        {"scope": "team:T-1", "period": PERIOD, "as_of": "2026-05-01T00:00:00"},  # no zone
        {"scope": "team:T-1", "period": PERIOD, "known_at": "yesterday"},
        {"scope": "team:T-1", "period": PERIOD, "limit": 0},
        {"scope": "team:T-1", "period": PERIOD, "offset": -1},
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(dash, params):
    response = dash.get("/web/team", **params)
    assert response.status_code == 422, response.text
    assert all(p["field"].startswith("query.") for p in response.json()["detail"])


def test_money_in_the_team_table_is_a_decimal_string(dash):
    row = dash.get("/web/team", scope="rep:R-1", period=PERIOD).json()["rows"][0]
    assert isinstance(row["revenue"], str) and Decimal(row["revenue"]) == Decimal("3500.50")
    assert all(isinstance(m["revenue"], str) for m in row["revenue_by_month"])


def test_no_module_of_the_page_declares_a_name_twice():
    """A top-level name declared twice is a SyntaxError that stops the whole module (every view
    blank): two branches each adding a helper of the same name merge without a conflict."""
    declaration = re.compile(
        r"^(?:export\s+)?(?:async\s+)?(?:function\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)", re.M
    )
    for path in sorted(WEB.rglob("*.js")):
        names = declaration.findall(path.read_text())
        assert sorted({n for n in names if names.count(n) > 1}) == [], path.relative_to(WEB).as_posix()


def test_every_module_of_the_page_parses_as_an_es_module(tmp_path):
    """Each file parsed as the browser does (a module: strict, so a name declared twice, as a merge
    of two views may leave it, is a SyntaxError that blanks the page). Needs Node; skipped without."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    checker = tmp_path / "parse.mjs"
    checker.write_text(
        'import { readFileSync } from "node:fs";\n'
        'import vm from "node:vm";\n'
        "for (const f of process.argv.slice(2)) {\n"
        '  try { new vm.SourceTextModule(readFileSync(f, "utf8"), { identifier: f }); }\n'
        "  catch (e) { console.log(`${f}: ${e.message}`); }\n"
        "}\n"
    )
    modules = [str(p) for p in page_files() if p.suffix == ".js"]
    done = subprocess.run(
        [node, "--experimental-vm-modules", str(checker), *modules], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
