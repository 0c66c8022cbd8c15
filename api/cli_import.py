"""What `perfledger import` shows: the preview of a mapping, the bad lines (row, column, problem),
the rejects file and the summary, in the reader's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from api.cli_common import err, out
from api.i18n import Lang
from ledger.messages import code_of
from services import importing
from services.sheets import PREVIEW_ROWS


def show_preview(lines: list[importing.SourceLine], file: Path, say: Lang) -> None:
    table = Table(
        say._("row"),
        say._("event"),
        "event_id",
        say._("occurred at"),
        say._("fields"),
        say._("problems"),
        title=say._("How the first {count} rows of {file} map", count=min(PREVIEW_ROWS, len(lines)), file=file.name),
    )
    for line in lines[:PREVIEW_ROWS]:
        envelope = line.envelope or {}
        data = envelope.get("data") or {}
        table.add_row(
            str(line.line),
            str(envelope.get("type") or "–"),
            str(envelope.get("event_id") or "–"),
            str(envelope.get("occurred_at") or "–"),
            ", ".join(
                f"{key}={orjson.dumps(value).decode() if not isinstance(value, str) else value}"
                for key, value in data.items()
            ),
            "; ".join(f"{column}: {say.text(message)}" for column, message in line.errors) or "✓",
        )
    out.print(table)


def show_bad_lines(bad: list[importing.SourceLine], file: Path, say: Lang) -> None:
    table = Table(
        say._("row"), say._("column"), say._("problem"), title=say._("Invalid lines in {file}", file=file.name)
    )
    for line in bad:
        for column, message in line.errors or [("", say._("could not be read"))]:
            table.add_row(str(line.line), column, say.text(message))
    err.print(table)


def write_rejects(path: Path, bad: list[importing.SourceLine], say: Lang) -> None:
    with path.open("wb") as handle:
        for line in bad:
            reject = line.reject()
            reject["errors"] = [
                {"field": column, "code": code_of(message), "message": say.text(message)}
                for column, message in line.errors
            ]
            handle.write(orjson.dumps(reject, default=str) + b"\n")


def show_summary(
    file: Path, total: int, outcome: importing.Outcome, rejected: int, rejects: Path | None, say: Lang
) -> None:
    table = Table(title=say._("Imported {file}", file=file.name), show_header=False)
    table.add_row(say._("lines read"), say.number(total))
    table.add_row(say._("events recorded"), say.number(outcome.recorded))
    table.add_row(say._("already in the ledger"), say.number(outcome.duplicates))
    table.add_row(say._("rejected"), say.number(rejected))
    if outcome.last_position is not None:
        table.add_row(say._("last position"), str(outcome.last_position))
    out.print(table)
    if rejects is not None:
        out.print(
            say._(
                "{count} bad line(s) written to {file}, each with its line number and errors: fix them "
                "in the source and import it again (lines with an event_id are never recorded twice).",
                count=rejected,
                file=rejects,
            ),
            highlight=False,
        )


def describe(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
