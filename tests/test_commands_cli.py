"""The typed commands on the command line (api/cli_commands.py): the same registry as over HTTP,
path ids as arguments, fields as options, a readable answer or `--json`, and a refusal that names
the option and writes nothing. On the CLI's SQLite store, with api_client's department (R-ann won
130000 in Q1)."""

from __future__ import annotations

import orjson
import pytest
from api_client import OWN, department

from ledger.store import Ledger


@pytest.fixture
def run(cli, sqlite_ledger):
    sqlite_ledger.record(department(), "seed")

    def invoke(*args: str, code: int = 0):
        result = cli(*args)
        assert result.exit_code == code, result.output
        return result

    return invoke


def kpis(run, scope: str, period: str) -> dict:
    return orjson.loads(run("kpi", "--scope", scope, "--period", period, "--json").stdout)["kpis"]


def test_a_deal_opened_and_won_on_the_command_line_counts_in_the_reps_revenue(run):
    opened = run(
        "deal", "open", "--deal-id", "D-cli", "--rep-id", OWN, "--customer-id", "C-cli", "--occurred-at", "2026-03-02"
    )
    assert "recorded DealOpened at position" in opened.stdout and "D-cli" in opened.stdout
    answer = orjson.loads(
        run(
            "deal",
            "won",
            "D-cli",
            "--amount",
            "1500.00",
            "--occurred-at",
            "2026-03-03",
            "--event-id",
            "w-cli",
            "--json",
        ).stdout
    )
    assert answer["command"] == "deal.won" and answer["id"] == "D-cli"
    assert [(e["type"], e["event_id"], e["duplicate"]) for e in answer["events"]] == [("DealWon", "w-cli", False)]
    assert kpis(run, f"rep:{OWN}", "2026-Q1")["revenue"] == "131500.00"  # 130000 + 1500
    again = run("deal", "won", "D-cli", "--amount", "1500.00", "--occurred-at", "2026-03-03", "--event-id", "w-cli")
    assert "already recorded" in again.stdout
    assert kpis(run, f"rep:{OWN}", "2026-Q1")["revenue"] == "131500.00"


def test_an_evaluation_on_the_command_line_takes_scores_as_json_lists_by_repeating_and_the_person_from_by(
    run, sqlite_ledger
):
    run(
        "evaluation",
        "record",
        "--rep-id",
        OWN,
        "--period",
        "2026-Q1",
        "--result-score",
        "77",
        "--process-scores",
        '{"discovery": 70, "closing": 80}',
        "--swot",
        '{"strengths": ["closing"]}',
        "--by",
        "M-7",
        "--occurred-at",
        "2026-03-31T12:00:00+00:00",
    )
    run(
        "improvement",
        "set",
        "--rep-id",
        OWN,
        "--goals",
        "weekly forecast",
        "--goals",
        "two demos a week",
        "--trainings",
        "forecasting",
        "--review-by",
        "2026-06-30T18:00:00+08:00",
        "--occurred-at",
        "2026-04-01T12:00:00+00:00",
    )
    run("target", "set", "--scope", f"rep:{OWN}", "--metric", "orders", "--period", "2026-Q2", "--value", "3")
    (evaluation,) = sqlite_ledger.read_log(0, 100, types=["EvaluationRecorded"], rep_ids=[OWN])[-1:]
    assert (evaluation.data["evaluator_id"], evaluation.data["result_score"]) == ("M-7", 77)
    assert evaluation.data["process_scores"] == {"discovery": 70, "closing": 80}
    (plan,) = sqlite_ledger.read_log(0, 100, types=["ImprovementPlanSet"])
    assert plan.data["goals"] == ["weekly forecast", "two demos a week"]
    (target,) = sqlite_ledger.read_log(0, 100, types=["TargetSet"])[-1:]
    assert target.data["scope"] == {"rep": OWN} and target.data["metric"] == "orders"


def test_a_bad_amount_on_the_command_line_names_the_option_and_records_nothing(run, sqlite_ledger: Ledger):
    before = sqlite_ledger.head()
    refused = run("deal", "won", "D-1", "--amount", "12.345", code=1)
    assert "--amount: has more than two decimal places (cents)" in refused.stderr
    assert "deal won: nothing was recorded" in refused.stderr
    unknown = run("followup", "complete", "FU-none", code=1)
    assert "FOLLOWUP_ID: unknown follow-up FU-none" in unknown.stderr
    assert sqlite_ledger.head() == before


def test_a_command_speaks_chinese_when_asked(run):
    result = run("--locale", "zh-CN", "activity", "log", "--rep-id", OWN, "--kind", "call")
    assert "记录电话、拜访、邮件、会议或演示" in result.stdout and "已在位置" in result.stdout


@pytest.mark.parametrize(
    ("words", "fields"),
    [
        (("deal", "won"), ("DEAL_ID", "--amount", "--event-id", "--occurred-at", "--json", "DealWon")),
        (("evaluation", "record"), ("--rep-id", "--result-score", "--process-scores", "--swot", "--by")),
        (("dispute", "comment"), ("DISPUTE_ID", "--text", "--by", "DisputeCommented")),
    ],
)
def test_each_commands_help_names_its_fields(cli, words, fields):
    result = cli(*words, "--help")
    assert result.exit_code == 0, result.output
    assert all(field in result.stdout for field in fields), result.stdout


def test_the_existing_dispute_group_keeps_show_beside_open_and_comment(cli):
    output = cli("dispute", "--help").stdout
    assert all(word in output for word in ("show", "open", "comment"))


def test_revising_a_target_never_set_on_the_command_line_names_the_option_and_writes_nothing(run, sqlite_ledger):
    # R-ann's Q1 target is of revenue (100000): an orders target of Q1 was never set
    head = sqlite_ledger.head()
    refused = run(
        "target", "revise", "--scope", f"rep:{OWN}", "--metric", "orders", "--period", "2026-Q1",
        "--value", "5", "--reason", "r", code=1,
    )  # fmt: skip
    assert "--metric: rep:R-ann has no orders target for 2026-Q1 to revise" in refused.stderr
    assert "target revise: nothing was recorded" in refused.stderr
    assert sqlite_ledger.head() == head
    run(
        "target", "revise", "--scope", f"rep:{OWN}", "--metric", "revenue", "--period", "2026-Q1",
        "--value", "90000", "--reason", "territory split",
    )  # fmt: skip
