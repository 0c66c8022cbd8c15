"""Files into the ledger: JSON lines of envelopes, or a sheet (CSV, .xlsx) mapped to events
(services/sheets.py: encodings, the mapping file, cells as Chinese data arrives).

An import is checked whole before anything is written: every line is read, mapped, validated
against the event schemas and then dry-run against the ledger's rules (unknown rep, deal won
twice, …), so a file with errors is refused with every bad line listed and nothing written.
With `skip_invalid`, the bad lines are set aside (with their errors) and the rest is recorded.
Lines are recorded in atomic batches; the CLI (api/cli.py) only draws progress and tables, in the
reader's language (every message here is a Msg: a code and an English template to translate).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from ledger.errors import ConflictError, InvalidBatch
from ledger.messages import Msg, code_of
from ledger.schemas import Problem, parse_envelope
from ledger.store import Ledger
from services import sheets
from services.sheets import ImportFileError

__all__ = ["IMPORT_HELP", "ImportFileError", "Outcome", "SourceLine", "read_source", "record_lines"]

IMPORT_HELP = """Import events from FILE: JSON lines (.jsonl), a CSV (.csv) or an Excel workbook (.xlsx).

**JSON lines**: one envelope per line (docs/design.md, "Events"):
`{"type": "DealWon", "event_id": "crm-88121-won", "occurred_at": "2026-03-05T10:00:00+08:00", "data": {...}}`

**A sheet (CSV or .xlsx) with your own headers**: `--mapping FILE` (JSON or TOML) says which event each
row becomes and which column feeds which field, e.g. for a sheet of won deals:

```
type = "DealWon"
[columns]
event_id = "单号"
occurred_at = "成交日期"
deal_id = "商机编号"
amount = "成交金额"
```

`--preview` shows how the first rows map and every row that would be refused, and writes nothing.
Every event type can be imported this way (reps, targets, leads, activities, follow-ups, deals,
refunds, splits, evaluations, feedback…); `docs/import.md` describes the mapping file whole.
A CSV may be UTF-8 (with or without BOM) or GB18030/GBK (what Excel writes on Chinese Windows):
it is detected, or give `--encoding`. Cells may read `¥12,345.50`, `2026/11/28 16:00`,
`2026年11月28日`, 电话/拜访/邮件/会议, 是/否; a time without a zone is read in PERFLEDGER_TZ.

**A CRM export without a mapping**: one row per record, with a header row. Column names are
matched ignoring case, spaces and hyphens ("Record Type" is record_type); other columns are
ignored; empty cells are left out.

```
record_type  deal_opened | deal_won | deal_lost | activity
             (CRM spellings too: opportunity_created, "Closed Won", 成交, …)
external_id  the CRM's row id → event_id (re-importing is safe);
             an activity's activity_id too
date         2026-03-05T10:00:00+08:00, or without a zone (read in PERFLEDGER_TZ)
rep          rep id                   deal_opened, activity
customer     customer id              deal_opened (activity: optional)
deal         deal id                  deal rows (activity: optional)
amount       decimal, e.g. 18000.00   deal_won; deal_opened: expected
currency     optional, must be the ledger's currency
lead         lead id, optional        deal_opened, activity
kind         call|visit|email|meeting|demo|other (phone → call, 电话 → call) activity
replied      yes/no, optional         activity (emails)
reason       optional                 deal_lost
notes        optional                 activity

record_type,external_id,date,rep,customer,deal,amount,kind,notes
deal_opened,O7-open,2026-03-01T09:00+08:00,R-1,C-17,O7,25000.00,,
activity,A31,2026-03-02T10:00+08:00,R-1,C-17,O7,,call,discovery
deal_won,O7-won,2026-03-20T16:00+08:00,,,O7,24000.00,,
```

The whole file is checked first, against the schemas and the ledger's rules. If any line is
bad, every bad line is listed (row, column, problem, in your language) and nothing is written;
with `--skip-invalid` the valid lines are imported in atomic batches and the bad ones written to
the rejects file with their errors. Exit code 1 when the file is refused.
"""


@dataclass
class SourceLine:
    """One line (JSONL) or row (sheet) of the file, what it became, and what is wrong with it."""

    line: int
    record: Any  # the parsed object or the row's cells; the raw text if it could not be parsed
    envelope: dict[str, Any] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field or column, message)
    columns: dict[str, str] = field(default_factory=dict)  # envelope field → the sheet's column, for messages

    def add(self, problem_field: str, message: str) -> None:
        self.errors.append((self.column_of(problem_field), message))

    def column_of(self, problem_field: str) -> str:
        """The column a problem of an envelope field is about (`data.scope` → the column of data.scope.rep)."""
        if problem_field in self.columns:
            return self.columns[problem_field]
        inside = [column for name, column in self.columns.items() if name.startswith(problem_field + ".")]
        return inside[0] if len(inside) == 1 else problem_field

    def reject(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "record": self.record,
            "errors": [{"field": f, "code": code_of(m), "message": m} for f, m in self.errors],
        }


# ---------------------------------------------------------------- reading


def read_source(
    path: Path,
    on_progress: Callable[[int], None] = lambda n: None,
    *,
    mapping: sheets.Mapping_ | None = None,
    encoding: str | None = None,
    zone: tzinfo = UTC,
) -> list[SourceLine]:
    """Every line of a JSON-lines file, or every row of a sheet mapped to an envelope."""
    if path.suffix.lower() not in sheets.SHEET_SUFFIXES:
        if mapping is not None:
            raise ImportFileError(
                Msg(
                    "mapping.jsonl", "--mapping applies to a sheet (.csv, .xlsx); a .jsonl file holds envelopes already"
                )
            )
        with path.open("rb") as raw:
            return list(read_jsonl(io.TextIOWrapper(raw, encoding=encoding or "utf-8-sig", newline=""), on_progress))
    chosen = mapping or sheets.Mapping_.parse(sheets.CRM_MAPPING, "CRM")
    headers, rows = sheets.read_rows(path, encoding=encoding, sheet=chosen.sheet, on_progress=on_progress)
    missing = [name for name in chosen.headers_needed() + list(chosen.columns.values()) if name not in headers]
    required = [name for name in chosen.headers_needed() if name in missing]
    if required or (mapping is not None and missing):
        raise ImportFileError(
            Msg(
                "sheet.columns",
                "the header lacks column(s) {columns}; see `perfledger import --help` for the expected columns",
                columns=", ".join(dict.fromkeys(required or missing)),
            )
        )
    return [sheet_line(row, chosen, zone) for row in rows]


def size_of(path: Path) -> int:
    """What a progress bar counts to: the lines of a text file, the rows of a workbook."""
    rows = (
        sheets.count_rows(path)
        if path.suffix.lower() != ".csv" and path.suffix.lower() in sheets.SHEET_SUFFIXES
        else None
    )
    if rows is not None:
        return rows
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) + 1


def read_jsonl(text: io.TextIOBase, on_progress: Callable[[int], None]) -> Iterator[SourceLine]:
    for number, line in enumerate(text, start=1):
        on_progress(1)
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield SourceLine(
                number, line.rstrip("\r\n"), errors=[("", Msg("line.json", "not valid JSON: {error}", error=error))]
            )
            continue
        if not isinstance(record, dict):
            yield SourceLine(
                number, record, errors=[("", Msg("line.not_object", "each line must be one JSON event object"))]
            )
            continue
        yield SourceLine(number, record, envelope=record)


def sheet_line(row: sheets.Row, mapping: sheets.Mapping_, zone: tzinfo) -> SourceLine:
    """One row as an envelope (or its problems), remembering which column fed which field."""
    mapped = sheets.map_row(row, mapping, zone)
    record = {
        row.headers.get(key, key): _plain(value) for key, value in row.cells.items() if not key.startswith("\x00")
    }
    line = SourceLine(row.number, record, envelope=mapped.envelope, columns=mapped.columns)
    line.errors.extend(mapped.errors)
    return line


def _plain(cell: Any) -> Any:
    return cell.isoformat() if isinstance(cell, (datetime, date)) else cell


# ---------------------------------------------------------------- checking


def check_schemas(lines: list[SourceLine], currency: str) -> None:
    """Record every schema problem of every mapped line on the line itself."""
    for line in lines:
        if line.envelope is None or line.errors:
            continue
        parsed = parse_envelope(0, line.envelope, currency=currency)
        if isinstance(parsed, list):
            for problem in parsed:
                line.add(problem.field, problem.message)


def check_rules(ledger: Ledger, lines: list[SourceLine], *, until_clean: bool) -> None:
    """Dry-run the valid lines against the ledger's rules, as one batch, writing nothing.

    With `until_clean` (skip-invalid), repeat without the lines found bad: a rejected DealOpened
    makes its DealWon bad too, and that is only seen on the next pass.
    """
    while True:
        good = valid(lines)
        if not good:
            return
        problems = dry_run(ledger, [line.envelope for line in good])
        for problem in problems:
            good[problem.index].add(problem.field, problem.message)
        if not problems or not until_clean:
            return


def dry_run(ledger: Ledger, envelopes: list[Any]) -> list[Problem]:
    """The problems `ledger.record(envelopes)` would raise, without recording anything."""
    return ledger.check(envelopes)


def valid(lines: list[SourceLine]) -> list[SourceLine]:
    return [line for line in lines if line.envelope is not None and not line.errors]


def invalid(lines: list[SourceLine]) -> list[SourceLine]:
    return [line for line in lines if line.envelope is None or line.errors]


# ---------------------------------------------------------------- recording


@dataclass
class Outcome:
    recorded: int = 0  # new events appended
    duplicates: int = 0  # lines already in the ledger (same event_id, same content)
    last_position: int | None = None


def record_lines(
    ledger: Ledger,
    lines: list[SourceLine],
    *,
    batch: int,
    actor: str,
    skip_invalid: bool,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Outcome:
    """Record valid lines in atomic batches of `batch`.

    A batch can still fail if another writer changed the ledger since the dry run. Strict: the
    error propagates (earlier batches stay recorded; the CLI says which lines). Skip-invalid:
    the named lines join the rejects and the rest of that batch is retried.
    """
    outcome = Outcome()
    for start in range(0, len(lines), batch):
        pending = lines[start : start + batch]
        while pending:
            try:
                result = ledger.record([line.envelope for line in pending], actor)
            except (InvalidBatch, ConflictError) as error:
                if not skip_invalid or not error.problems:
                    raise
                for problem in error.problems:
                    pending[problem.index].add(problem.field, problem.message)
                pending = valid(pending)
                continue
            outcome.recorded += len(pending) - len(result.duplicates)
            outcome.duplicates += len(result.duplicates)
            outcome.last_position = max(result.positions + [outcome.last_position or 0])
            break
        on_batch(len(lines[start : start + batch]))
    return outcome
