"""The report and operator commands through Typer's runner: kpi, payout explain|approve, replay,
rebuild, audit, close, verify and serve, each on a small department, each failing with a hint
and a non-zero exit code when asked for something it cannot do."""

from __future__ import annotations

import json

import orjson
import pytest
from api_client import FAR, MATE, OWN, department
from builders import correct

from ledger.store import Ledger


@pytest.fixture
def seeded_ledger(sqlite_ledger) -> Ledger:
    """The CLI's store with the small department recorded."""
    sqlite_ledger.record(department(), "seed")
    return sqlite_ledger


@pytest.fixture
def run(cli, seeded_ledger):
    """`cli` on the department's store; the test fails on any other exit code than `code`."""

    def invoke(*args: str, code: int = 0):
        result = cli(*args)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_kpi_prints_every_figure_of_a_scope(run):
    output = run("kpi", "--scope", f"rep:{OWN}", "--period", "2026-Q1").stdout
    assert "130000.00" in output and "1.3000 / 1.3000" in output and "KPIs of rep:R-ann for 2026-Q1" in output


def test_kpi_answers_as_json_at_a_knowledge_time(run, seeded_ledger):
    known = seeded_ledger.head()
    before = next(iter(seeded_ledger.read_log(known.position - 1, 1))).recorded_at_time.isoformat()
    seeded_ledger.record([correct("D-1", "110000.00", when="2026-04-05T00:00:00+00:00")], "crm")
    then = json.loads(run("kpi", "--scope", f"rep:{OWN}", "--period", "2026-Q1", "--known-at", before, "--json").stdout)
    now = json.loads(run("kpi", "--scope", f"rep:{OWN}", "--period", "2026-Q1", "--json").stdout)
    assert (then["kpis"]["revenue"], now["kpis"]["revenue"]) == ("130000.00", "110000.00")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "2026-Q5"], "is not a period"),
        (["--period", "2026-Q1", "--scope", "department:1"], "is not a scope"),
        (["--period", "2026-Q1", "--known-at", "2026-04-01T00:00:00"], "no time zone"),
        (["--period", "2026-Q1", "--as-of", "april"], "not an ISO 8601 time"),
    ],
)
def test_kpi_refuses_a_malformed_option_saying_what_to_write(run, args, says):
    result = run("kpi", *args, code=2)
    assert says in result.output and "→" in result.output


@pytest.mark.parametrize("scope", ["rep:R-NOPE", "team:T-NOPE", "region:Atlantis"])
def test_kpi_of_a_scope_nobody_is_in_is_a_clear_error_not_zeros(run, scope):
    result = run("--locale", "en", "kpi", "--scope", scope, "--period", "2026-Q1", code=2)
    assert f"scope {scope} not found" in result.output and "→" in result.output
    assert "0.00" not in result.output


def test_a_plain_date_as_of_means_the_end_of_that_day_in_the_ledgers_zone(run, monkeypatch):
    monkeypatch.setenv("PERFLEDGER_TZ", "Asia/Shanghai")  # D-1 was won at 17:00 there on 10 February

    def at(day: str) -> dict:
        return json.loads(run("kpi", "--scope", f"rep:{OWN}", "--period", "2026-Q1", "--as-of", day, "--json").stdout)

    that_day, day_before = at("2026-02-10"), at("2026-02-09")
    assert that_day["as_of"].startswith("2026-02-10T15:59:59.999999")  # 23:59:59.999999+08:00, in UTC
    assert (that_day["kpis"]["revenue"], day_before["kpis"]["revenue"]) == ("130000.00", "0.00")


@pytest.mark.parametrize("written", ["2026-04-01T00:00:00", "2026-04-01T08:30", "2026-11-15+08:00"])
def test_the_hint_for_a_time_without_a_zone_is_a_value_that_is_then_accepted(run, monkeypatch, written):
    monkeypatch.setenv("PERFLEDGER_TZ", "Asia/Shanghai")
    refused = run("kpi", "--period", "2026-Q1", "--as-of", written, code=2).output
    proposed = refused.split("add one: --as-of ")[1].split()[0]
    assert proposed.endswith("+08:00") and proposed.count("+") == 1
    run("kpi", "--period", "2026-Q1", "--as-of", proposed)


def test_the_kpi_help_says_what_a_plain_date_means(run):
    assert "a date: 2026-11-15 means that whole day" in run("kpi", "--help").output


def test_payout_explain_prints_the_tree_down_to_the_events(run):
    output = run("payout", "explain", OWN, "2026-Q1").stdout
    assert "R-ann · 2026-Q1 · total 9800.00" in output
    assert "commission (commission) 4800.00" in output and "target-bonus (bonus) 5000.00" in output
    assert "DealWon" in output and "TargetSet" in output and "amount=130000.00" in output


def test_payout_approve_records_once_and_explain_then_reproduces_it(run):
    assert "9800.00" in run("payout", "approve", OWN, "2026-Q1").stdout
    assert "already approved" in run("payout", "approve", OWN, "2026-Q1", code=1).output
    assert "reproduced ✓" in run("payout", "explain", OWN, "2026-Q1").stdout


def test_payout_explain_as_json_is_what_the_api_writes(run):
    answer = orjson.loads(run("payout", "explain", MATE, "2026-Q1", "--json").stdout)
    assert answer["total"] == "2400.00" and answer["approved"] is None


def test_replay_shows_the_diff_and_records_nothing_without_record(run, seeded_ledger):
    head = seeded_ledger.head().position
    output = run("replay", "2026-Q1", "--plan-id", "std", "--version", "2").stdout
    assert "Replay of 2026-Q1 under std v2" in output and "+400.00" in output and "+777.78" in output
    assert "Nothing was recorded" in output and seeded_ledger.head().position == head


def test_replay_record_writes_the_differences_of_approved_payouts_as_adjustments(run, seeded_ledger):
    run("payout", "approve", OWN, "2026-Q1")
    run("payout", "approve", MATE, "2026-Q1")
    assert (
        "Recorded 2 adjustment(s)" in run("replay", "2026-Q1", "--plan-id", "std", "--version", "2", "--record").stdout
    )
    adjusted = {r.data["rep_id"]: r.data["amount"] for r in seeded_ledger.read_log(0, 1000, types=["PayoutAdjusted"])}
    assert {rep: str(amount) for rep, amount in adjusted.items()} == {OWN: "400.00", MATE: "800.00"}


def test_replay_under_draft_rules_from_a_file(run, tmp_path):
    rules = {
        "components": [
            {
                "id": "commission",
                "kind": "commission",
                "base": "revenue",
                "mode": "flat",
                "tiers": [{"from_attainment": "0", "rate": "0.05"}],
            }
        ]
    }
    path = tmp_path / "draft.json"
    path.write_text(json.dumps(rules))
    output = run("replay", "2026-Q1", "--rules", str(path)).stdout
    assert "under draft rules" in output and "6500.00" in output and FAR in output


@pytest.mark.parametrize(
    ("args", "says", "code"),
    [
        ([], "name the plan", 2),
        (["--plan-id", "std", "--version", "9"], "not published", 1),
        (["--plan-id", "std"], "name the plan", 2),
    ],
)
def test_replay_refuses_a_plan_it_cannot_use(run, args, says, code):
    assert says in run("replay", "2026-Q1", *args, code=code).output


def test_replay_refuses_rules_that_are_not_json_or_do_not_parse(run, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{components: [")
    assert "not valid JSON" in run("replay", "2026-Q1", "--rules", str(broken), code=2).output
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"components": [{"id": "x", "kind": "bonus"}]}))
    assert "rules." in run("replay", "2026-Q1", "--rules", str(wrong), code=1).output


def test_rebuild_replays_the_log_into_the_projections(run, seeded_ledger):
    assert f"up to position {seeded_ledger.head().position}" in run("rebuild").stdout
    assert "130000.00" in run("kpi", "--scope", f"rep:{OWN}", "--period", "2026-Q1").stdout


def test_audit_finds_the_live_projections_equal_to_a_rebuild(run):
    run("kpi", "--period", "2026-Q1")  # the live projections exist
    output = run("audit", "--period", "2026-Q1").stdout
    assert "the live projections match the rebuild" in output and "2026-Q1" in output


def test_close_seals_the_head_once_and_verify_checks_the_seal(run):
    assert "Closed 2026-Q1" in run("close", "2026-Q1").stdout
    assert "already closed" in run("close", "2026-Q1", code=1).output
    output = run("verify").stdout
    assert "intact" in output and "Seals of closed periods" in output and "2026-Q1" in output


def test_serve_runs_the_app_on_the_host_and_port_given(run, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    run("serve", "--host", "0.0.0.0", "--port", "8123")
    assert calls and (calls[0]["host"], calls[0]["port"]) == ("0.0.0.0", 8123)
