"""`perfledger demo` end to end on a small department, generated up to 15 November 2026 (the
fourth quarter in progress): it fills a fresh store, refuses to overwrite a full one, and every
figure it prints is what the API answers for the same store as of that moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import create_token
from api.cli import app
from ledger.config import Settings

EVENTS = "3000"
NOW = "2026-11-15T12:00:00+00:00"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.db")


@pytest.fixture(scope="module")
def printed(store) -> str:
    result = CliRunner().invoke(
        app, ["demo", "--events", EVENTS, "--database-url", store.database_url, "--now", NOW], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def api(store, printed) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(store)) as client:
        yield client, {"Authorization": f"Bearer {create_token(client.app.state.engine, 'admin')[0]}"}


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")] if "│" in line else line.split()


def summary_rows(printed: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in printed.splitlines():
        parts = line.split()
        if len(parts) == 8 and (parts[0] == "company" or parts[0].startswith("region:")):
            rows[(parts[0], parts[1])] = parts[2:]
    return rows


def shown(value) -> str:
    return "–" if value is None else str(value)


def test_the_kpi_summary_prints_what_get_kpis_answers_for_every_scope_and_period(printed, api):
    client, headers = api
    rows = summary_rows(printed)
    assert ("company", "2026-Q3") in rows and ("company", "2026-Q4") in rows and len(rows) >= 4
    for (scope, period), figures in rows.items():
        asked = {"scope": scope, "period": period, "as_of": NOW}
        kpis = client.get("/kpis", params=asked, headers=headers).json()["kpis"]
        expected = [
            kpis["revenue"],
            kpis["growth_rate"],
            kpis["orders"],
            kpis["win_rate"],
            kpis["attainment"].get("revenue"),
            kpis["pace"].get("revenue"),
        ]
        assert figures == [shown(v) for v in expected], (scope, period)


def test_the_quadrant_table_prints_what_get_kpis_quadrants_answers(printed, api):
    client, headers = api
    answer = client.get("/kpis/quadrants", params={"period": "2026-Q4", "as_of": NOW}, headers=headers).json()
    lines = [cells(line) for line in printed.splitlines() if "│" in line]
    for region in answer["regions"]:
        row = [region["region"], region["revenue"], shown(region["growth_rate"]), shown(region["quadrant"])]
        assert row in lines


def test_the_top_reps_are_the_highest_revenues_of_the_quarter_just_ended_the_api_reports(printed, api):
    client, headers = api
    payouts = client.get("/payouts", params={"period": "2026-Q3"}, headers=headers).json()["payouts"]
    revenue = {p["rep_id"]: p["figures"]["revenue"] for p in payouts}
    top = sorted(revenue, key=lambda rep: (-float(revenue[rep]), rep))[:5]
    rows = (cells(line) for line in printed.splitlines() if "│" in line)
    printed_top = [row[:2] for row in rows if row[0] in revenue]
    assert printed_top == [[rep, revenue[rep]] for rep in top]


def test_the_explained_payout_is_the_best_reps_approved_and_reproduced(printed, api):
    client, headers = api
    header = next(line for line in printed.splitlines() if "· 2026-Q3 · total" in line)
    rep, total = header.split(" · ")[0].strip(), header.split("total ")[1].split()[0]
    answer = client.get(f"/payouts/{rep}/2026-Q3/explain", headers=headers).json()
    assert answer["total"] == total and answer["reproduced"] is True
    assert "reproduced ✓" in printed


def test_the_demo_refuses_a_store_that_already_holds_a_ledger(store, printed):
    result = CliRunner().invoke(app, ["demo", "--events", EVENTS, "--database-url", store.database_url])
    assert result.exit_code == 1 and "--fresh" in result.output and "already holds a ledger" in result.output


def test_fresh_deletes_the_store_and_the_same_seed_prints_the_same_figures(tmp_path):
    url = f"sqlite:///{tmp_path}/again.db"
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--events", "500", "--database-url", url, "--now", NOW])
    again = runner.invoke(app, ["demo", "--events", "500", "--database-url", url, "--fresh", "--now", NOW])
    assert (first.exit_code, again.exit_code) == (0, 0), again.output
    assert summary_rows(first.stdout) == summary_rows(again.stdout) != {}


def test_the_demo_refuses_to_run_up_to_a_moment_in_the_future(tmp_path):
    url = f"sqlite:///{tmp_path}/future.db"
    result = CliRunner().invoke(
        app, ["demo", "--events", "500", "--database-url", url, "--now", "2999-01-01T00:00:00Z"]
    )
    assert result.exit_code == 2 and "--now must not be in the future" in result.output


def test_every_improvement_plan_due_by_now_is_reviewed_so_none_shows_overdue(api):
    client, admin = api

    # The plans the demo generated (evaluations scoring under 55 set one, due about 60 days
    # later); those due by NOW are reviewed (met or missed) after the generated log, so the
    # coaching of their reps lists no overdue review as of NOW.
    def events(kind: str) -> list[dict]:
        page = client.get("/events", params={"type": kind, "limit": 1000}, headers=admin)
        assert page.status_code == 200, page.text
        return page.json()["events"]

    plans = events("ImprovementPlanSet")
    now = datetime.fromisoformat(NOW)
    due = {e["data"]["improvement_plan_id"] for e in plans if datetime.fromisoformat(e["data"]["review_by"]) <= now}
    assert due, "the demo has plans due before now"
    reviewed = events("ImprovementPlanReviewed")
    assert {e["data"]["improvement_plan_id"] for e in reviewed} == due
    assert {e["data"]["outcome"] for e in reviewed} <= {"met", "missed"}
    for rep_id in sorted({e["data"]["rep_id"] for e in plans}):
        coaching = client.get(f"/reps/{rep_id}/coaching", params={"as_of": NOW}, headers=admin)
        assert coaching.status_code == 200, coaching.text
        assert coaching.json()["overdue_reviews"] == [], rep_id
