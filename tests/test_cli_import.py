"""The `perfledger` command line: tokens, JSON-lines and CSV imports, verification."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from builders import ev, onboard, open_deal, win

from api.auth import authenticate
from projections.db import engine_for


def jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_token_create_prints_the_new_token_alone_on_its_last_line(cli, sqlite_settings, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "cli:test")  # a rep token is made only for a known rep
    result = cli("token", "create", "--role", "rep", "--rep", "R-1")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert result.stdout.strip() == secret and " " not in secret and len(secret) >= 40
    engine = engine_for(sqlite_settings)
    assert authenticate(engine, secret).rep_id == "R-1"
    engine.dispose()


def test_token_create_refuses_a_rep_token_without_a_rep_and_says_what_to_pass(cli):
    result = cli("token", "create", "--role", "rep")
    assert result.exit_code != 0
    assert "--rep" in result.output


def test_a_good_json_lines_file_is_imported_whole(cli, tmp_path, sqlite_ledger):
    file = jsonl(tmp_path / "good.jsonl", [onboard("R-1"), open_deal("D-1", "R-1"), "", win("D-1", "18000.00")])
    result = cli("import", str(file))
    assert result.exit_code == 0, result.output
    assert "events recorded" in result.output
    assert [r.type for r in sqlite_ledger.read_log()] == ["RepOnboarded", "DealOpened", "DealWon"]
    assert sqlite_ledger.read_log()[0].actor.startswith("import:")


def test_a_file_with_bad_lines_lists_every_one_and_writes_nothing(cli, tmp_path, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "seed")
    before = sqlite_ledger.head()
    file = jsonl(
        tmp_path / "bad.jsonl",
        [
            open_deal("D-1", "R-1"),  # 1 good
            ev("DealWon", "2026-02-10T09:00:00", deal_id="D-1", amount="5.00"),  # 2 naive time
            "{not json",  # 3
            win("D-404", "1.00"),  # 4 unknown deal (a rule)
            open_deal("D-2", "R-404"),  # 5 unknown rep (a rule)
            win("D-1", "10.00"),  # 6 good
        ],
    )
    result = cli("import", str(file))
    assert result.exit_code == 1
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert sorted({int(row.split("│")[1]) for row in rows}) == [2, 3, 4, 5]
    assert "occurred_at" in result.output and "data.deal_id" in result.output and "data.rep_id" in result.output
    assert "nothing was imported" in result.output
    assert sqlite_ledger.head() == before


def test_skip_invalid_imports_the_good_lines_and_writes_the_rejects_with_their_errors(cli, tmp_path, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "seed")
    file = jsonl(
        tmp_path / "mixed.jsonl",
        [
            open_deal("D-1", "R-1"),
            "{not json",
            open_deal("D-2", "R-404"),
            win("D-2", "3.00"),
            win("D-1", "10.00"),
        ],
    )
    rejects = tmp_path / "rejects.jsonl"
    result = cli("import", str(file), "--skip-invalid", "--rejects", str(rejects), "--batch", "1")
    assert result.exit_code == 0, result.output
    assert [(r.type, r.data["deal_id"]) for r in sqlite_ledger.read_log()[1:]] == [
        ("DealOpened", "D-1"),
        ("DealWon", "D-1"),
    ]
    rejected = [orjson.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["line"] for r in rejected] == [2, 3, 4]  # D-2 is won only once it is opened: rejected too
    assert rejected[1]["record"]["data"]["rep_id"] == "R-404"
    assert all(r["errors"] and r["errors"][0]["message"] for r in rejected)


CRM_EXPORT = """\
Record Type,External ID,Date,Rep,Customer,Deal,Amount,Currency,Kind,Replied,Reason,Notes,Owner Email
Opportunity Created,O7-open,2026-03-01T09:00+08:00,R-1,C-17,O7,25000.00,CNY,,,,,ann@example.com
activity,A31,2026-03-02T10:00+08:00,R-1,C-17,O7,,,Email,yes,,"discovery, first call",ann@example.com
Closed Won,O7-won,2026-03-20T16:00+08:00,,,O7,24000.00,,,,,,
deal_opened,O8-open,2026-03-03T09:00+08:00,R-1,C-18,O8,,,,,,,
closed_lost,O8-lost,2026-03-21T16:00+08:00,,,O8,,,,,budget cut,,
"""


def test_a_crm_csv_export_is_mapped_to_deal_and_activity_events(cli, tmp_path, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "seed")
    file = tmp_path / "crm.csv"
    file.write_text(CRM_EXPORT)
    result = cli("import", str(file))
    assert result.exit_code == 0, result.output
    log = sqlite_ledger.read_log()[1:]
    assert [(r.type, r.event_id) for r in log] == [
        ("DealOpened", "O7-open"),
        ("ActivityLogged", "A31"),
        ("DealWon", "O7-won"),
        ("DealOpened", "O8-open"),
        ("DealLost", "O8-lost"),
    ]
    activity = log[1].data
    assert (activity["kind"], activity["replied"], activity["notes"], activity["deal_id"]) == (
        "email",
        True,
        "discovery, first call",
        "O7",
    )
    assert str(log[2].data["amount"]) == "24000.00"
    assert log[4].data["reason"] == "budget cut"


def test_reimporting_the_same_export_records_nothing_twice(cli, tmp_path, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "seed")
    file = tmp_path / "crm.csv"
    file.write_text(CRM_EXPORT)
    assert cli("import", str(file)).exit_code == 0
    head = sqlite_ledger.head()
    again = cli("import", str(file))
    assert again.exit_code == 0, again.output
    assert sqlite_ledger.head() == head


def test_a_bad_csv_row_is_reported_by_its_line_and_column(cli, tmp_path, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1")], "seed")
    file = tmp_path / "crm.csv"
    file.write_text(
        "record_type,external_id,date,rep,deal,amount,kind\n"
        "activity,A1,2026-03-02T10:00+08:00,R-1,,,carrier pigeon\n"
        "deal_won,W1,2026-02-30,,O1,1.00,\n"
    )
    result = cli("import", str(file))
    assert result.exit_code == 1
    assert "kind" in result.output and "date" in result.output
    assert sqlite_ledger.head().position == 1


def test_a_csv_without_the_required_columns_is_refused_with_the_ones_missing(cli, tmp_path):
    file = tmp_path / "crm.csv"
    file.write_text("type,id\nactivity,A1\n")
    result = cli("import", str(file))
    assert result.exit_code == 1
    assert "record_type" in result.output and "external_id" in result.output


def test_verify_reports_an_intact_chain_and_its_head(cli, sqlite_ledger):
    sqlite_ledger.record([onboard("R-1"), onboard("R-2")], "seed")
    result = cli("verify")
    assert result.exit_code == 0, result.output
    unwrapped = result.output.replace("│", "").replace(" ", "").replace("\n", "")
    assert "intact" in result.output and sqlite_ledger.head().link in unwrapped
