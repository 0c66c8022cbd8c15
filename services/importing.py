"""Files into the ledger: JSON lines of envelopes, or a CRM's CSV export mapped to events.

An import is checked whole before anything is written: every line is read, mapped, validated
against the event schemas and then dry-run against the ledger's rules (unknown rep, deal won
twice, …), so a file with errors is refused with every bad line listed and nothing written.
With `skip_invalid`, the bad lines are set aside (with their errors) and the rest is recorded.
Lines are recorded in atomic batches; the CLI (api/cli.py) only draws progress and tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.errors import ConflictError, InvalidBatch
from ledger.schemas import Problem, parse_envelope
from ledger.store import Ledger

IMPORT_HELP = """Import events from FILE: JSON lines, or a CRM export if FILE ends in `.csv`.

**JSON lines**: one envelope per line (docs/design.md, "Events"):
`{"type": "DealWon", "event_id": "crm-88121-won", "occurred_at": "2026-03-05T10:00:00+08:00", "data": {...}}`

**CSV**: a CRM export, one row per record, with a header row. Column names are matched
ignoring case, spaces and hyphens ("Record Type" is record_type); other columns are ignored;
empty cells are left out.

```
record_type  deal_opened | deal_won | deal_lost | activity
             (CRM spellings too: opportunity_created, "Closed Won", …)
external_id  the CRM's row id → event_id (re-importing is safe);
             an activity's activity_id too
date         ISO 8601 with an offset: 2026-03-05T10:00:00+08:00
rep          rep id                   deal_opened, activity
customer     customer id              deal_opened (activity: optional)
deal         deal id                  deal rows (activity: optional)
amount       decimal, e.g. 18000.00   deal_won; deal_opened: expected
currency     optional, must be the ledger's currency
lead         lead id, optional        deal_opened, activity
kind         call|visit|email|meeting|demo|other (phone → call) activity
replied      yes/no, optional         activity (emails)
reason       optional                 deal_lost
notes        optional                 activity

deal_opened → DealOpened   deal_won → DealWon   deal_lost → DealLost
activity → ActivityLogged

record_type,external_id,date,rep,customer,deal,amount,kind,notes
deal_opened,O7-open,2026-03-01T09:00+08:00,R-1,C-17,O7,25000.00,,
activity,A31,2026-03-02T10:00+08:00,R-1,C-17,O7,,call,discovery
deal_won,O7-won,2026-03-20T16:00+08:00,,,O7,24000.00,,
```

The whole file is checked first, against the schemas and the ledger's rules. If any line is
bad, every bad line is listed (line, field, problem) and nothing is written; with
`--skip-invalid` the valid lines are imported in atomic batches and the bad ones written to
the rejects file with their errors. Exit code 1 when the file is refused.
"""

RECORD_TYPES = {
    "deal_opened": "DealOpened",
    "opportunity_created": "DealOpened",
    "deal_created": "DealOpened",
    "deal_won": "DealWon",
    "closed_won": "DealWon",
    "won": "DealWon",
    "deal_lost": "DealLost",
    "closed_lost": "DealLost",
    "lost": "DealLost",
    "activity": "ActivityLogged",
    "activity_logged": "ActivityLogged",
}
# For each event type: data field ← CSV column (optional ones are simply left out when empty).
CSV_FIELDS: dict[str, dict[str, str]] = {
    "DealOpened": {
        "deal_id": "deal",
        "rep_id": "rep",
        "customer_id": "customer",
        "lead_id": "lead",
        "expected_amount": "amount",
        "currency": "currency",
    },
    "DealWon": {"deal_id": "deal", "amount": "amount", "currency": "currency"},
    "DealLost": {"deal_id": "deal", "reason": "reason"},
    "ActivityLogged": {
        "activity_id": "external_id",
        "rep_id": "rep",
        "kind": "kind",
        "customer_id": "customer",
        "lead_id": "lead",
        "deal_id": "deal",
        "replied": "replied",
        "notes": "notes",
    },
}
KIND_ALIASES = {
    "phone": "call",
    "phone_call": "call",
    "e-mail": "email",
    "mail": "email",
    "visit": "visit",
    "onsite": "visit",
    "meeting": "meeting",
    "video_call": "meeting",
    "presentation": "demo",
}
REQUIRED_COLUMNS = ("record_type", "external_id", "date")
_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


@dataclass
class SourceLine:
    """One line (JSONL) or row (CSV) of the file, what it became, and what is wrong with it."""

    line: int
    record: Any  # the parsed object or CSV row as read; the raw text if it could not be parsed
    envelope: dict[str, Any] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, message)
    columns: dict[str, str] = field(default_factory=dict)  # envelope field → CSV column, for messages

    def add(self, problem_field: str, message: str) -> None:
        self.errors.append((self.columns.get(problem_field, problem_field), message))

    def reject(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "record": self.record,
            "errors": [{"field": f, "message": m} for f, m in self.errors],
        }


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (missing columns, unreadable)."""


# ---------------------------------------------------------------- reading


def read_source(path: Path, on_bytes: Callable[[int], None] = lambda n: None) -> list[SourceLine]:
    """Every line of a .csv (CRM export) or a JSON-lines file, mapped to envelopes."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = read_csv if path.suffix.lower() == ".csv" else read_jsonl
        return list(reader(text, on_bytes))


def read_jsonl(text: io.TextIOBase, on_bytes: Callable[[int], None]) -> Iterator[SourceLine]:
    for number, line in enumerate(text, start=1):
        on_bytes(len(line))
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield SourceLine(number, line.rstrip("\r\n"), errors=[("", f"not valid JSON: {error}")])
            continue
        if not isinstance(record, dict):
            yield SourceLine(number, record, errors=[("", "each line must be one JSON event object")])
            continue
        yield SourceLine(number, record, envelope=record)


def read_csv(text: io.TextIOBase, on_bytes: Callable[[int], None]) -> Iterator[SourceLine]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        raise ImportFileError("the CSV file is empty: it needs a header row (see `perfledger import --help`)")
    names = [_column_name(name) for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            f"the CSV header lacks column(s) {', '.join(missing)}; "
            "see `perfledger import --help` for the expected columns"
        )
    last_line = reader.line_num
    for cells in reader:
        start, last_line = last_line + 1, reader.line_num  # a quoted cell may span lines
        on_bytes(sum(len(c) + 1 for c in cells))
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if name}
        if len(cells) > len(names):
            yield SourceLine(
                start,
                row,
                errors=[("", f"{len(cells)} cells but {len(names)} columns: a comma inside a value must be quoted")],
            )
            continue
        yield csv_line(start, row)


def _column_name(header: str) -> str:
    """ "Record Type", "record-type" and "record_type" are the same column."""
    return "_".join(header.strip().lower().replace("-", " ").split())


def csv_line(number: int, row: dict[str, str]) -> SourceLine:
    """One CSV row as an envelope, per IMPORT_HELP."""
    kind = row.get("record_type", "").lower().replace(" ", "_").replace("-", "_")
    event_type = RECORD_TYPES.get(kind)
    line = SourceLine(number, row, columns={"type": "record_type", "event_id": "external_id", "occurred_at": "date"})
    if event_type is None:
        known = ", ".join(sorted({"deal_opened", "deal_won", "deal_lost", "activity"}))
        line.add("type", f"unknown record_type {row.get('record_type')!r}; use one of {known}")
        return line
    data: dict[str, Any] = {}
    for name, column in CSV_FIELDS[event_type].items():
        line.columns[f"data.{name}"] = column
        value = row.get(column, "")
        if value:
            data[name] = _csv_value(name, value, line)
    line.envelope = {"type": event_type, "occurred_at": row.get("date") or None, "data": data}
    if row.get("external_id"):
        line.envelope["event_id"] = row["external_id"]
    return line


def _csv_value(name: str, value: str, line: SourceLine) -> Any:
    if name == "kind":
        kind = value.lower().replace(" ", "_")
        return KIND_ALIASES.get(kind, kind)
    if name != "replied":
        return value
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    line.add("data.replied", f"{value!r} is not yes or no")
    return value


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
