"""`perfledger rebuild`, `audit`, `close`, `backup` and `restore`: the operator's and the auditor's
commands (the projections from zero, a scratch rebuild compared with the live one, closing a
period, and copies of the store proven by their chain's head)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import cli_render
from api.cli_common import (
    TIME_HELP,
    actor,
    bar,
    fail,
    load_settings,
    open_ledger,
    open_store,
    out,
    parse_period_option,
    parse_time,
    position_bar,
    spinner,
)


def rebuild() -> None:
    """Throw the projections away and rebuild them from the raw log (the log is not touched)."""
    from projections.runner import rebuild as run

    settings = load_settings()
    with open_store(settings) as (ledger, engine), position_bar("rebuilding the projections") as advance:
        reached = run(ledger, engine, progress=advance)
    out.print(f"Projections rebuilt from the log up to position {reached}.", highlight=False)


def audit(
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", help=f"Rebuild what the ledger knew then ({TIME_HELP}; default: now)."),
    ] = None,
    period: Annotated[
        list[str] | None,
        typer.Option("--period", help="Also compare the KPIs and payouts of this period (repeatable)."),
    ] = None,
) -> None:
    """Rebuild the projections from the raw log into a scratch store and compare them with the live
    ones, table by table (and, for each --period, figure by figure); every difference is listed."""
    from replay.audit import audit as run

    settings = load_settings()
    periods = [parse_period_option(p) for p in period or []]
    moment = parse_time(known_at, "--known-at")
    with open_store(settings) as (ledger, engine), position_bar("rebuilding into a scratch store") as advance:
        report = run(ledger, engine, settings, moment, periods, progress=advance)
    out.print(audit_table(report))
    if report["differences"]:
        out.print(differences_table(report["differences"]))
    if not report["ok"]:
        fail(
            f"{report['difference_count']} difference(s) between the live projections and the rebuild",
            "run `perfledger rebuild` to replace the live projections with the rebuild, and report the rows above",
        )


def audit_table(report: dict) -> Table:
    table = Table(title="Audit rebuild", show_header=False)
    table.add_row(
        "result", "[green]the live projections match the rebuild[/]" if report["ok"] else "[bold red]DIFFERENCES[/]"
    )
    table.add_row("known at", cli_render.fmt(report["known_at"]))
    table.add_row("events replayed", str(report["events_replayed"]))
    table.add_row("tables compared", str(report["compared"]["tables"]))
    table.add_row("periods compared", ", ".join(report["compared"]["periods"]) or "–")
    table.add_row("differences", str(report["difference_count"]))
    return table


def differences_table(differences: list[dict]) -> Table:
    table = Table("where", "what", "live", "rebuild", title="Differences (first 50)")
    for item in differences[:50]:
        if "table" in item:
            table.add_row(item["table"], item["problem"], str(item["row"])[:90], "")
        else:
            table.add_row(
                f"{item['scope']} {item['period']}",
                item["figure"],
                cli_render.fmt(item["live"]),
                cli_render.fmt(item["rebuild"]),
            )
    return table


def close(
    period: Annotated[str, typer.Argument(help="The period to close: 2026-03, 2026-Q1, 2026-W48 or 2026.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who the ledger records as closing (default: cli:USER).")
    ] = None,
) -> None:
    """Close a period: it takes no new approvals (replay it and record adjustments instead), and the
    log's head is sealed into the close (`perfledger verify` checks the seal still holds)."""
    from services.closing import CloseRefused, close_period

    period = parse_period_option(period)
    with open_ledger(load_settings()) as ledger:
        try:
            closed = close_period(ledger, period, by or actor("cli"))
        except CloseRefused as error:
            fail(str(error), "`perfledger verify` lists the closed periods and their seals")
    out.print(
        f"Closed {closed['period']} at position {closed['position']}; sealed head {closed['head']} "
        f"(position {closed['head_position']}).",
        highlight=False,
    )


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a new file); FILE.head.json goes beside it.")],
) -> None:
    """Copy the store (SQLite's online backup; pg_dump on PostgreSQL) while it keeps recording, verify the
    copy's hash chain, and write its head beside it: `perfledger restore` accepts the copy only against it."""
    from ledger.backup import BackupError, manifest_path
    from ledger.backup import backup as run

    settings = load_settings()
    try:
        with bar() as progress:
            task = progress.add_task("copying the store", total=None)
            manifest = run(settings, file, lambda done, total: progress.update(task, completed=done, total=total))
    except BackupError as error:
        fail(str(error), "nothing was written")
    out.print(
        f"Backed up {manifest.events} events to {file}; head {manifest.head} at position {manifest.position} "
        f"(written to {manifest_path(file)}; keep both together).",
        highlight=False,
    )


def restore(
    file: Annotated[Path, typer.Argument(help="A copy made by `perfledger backup` (its FILE.head.json beside it).")],
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="The empty store to restore into (default: PERFLEDGER_DATABASE_URL)."),
    ] = None,
) -> None:
    """Restore a backup into an empty store, accepting it only if its bytes are those of the backup and its
    hash chain verifies and ends at the head written beside it; then rebuild the projections."""
    from ledger.backup import BackupError
    from ledger.backup import restore as run

    settings = load_settings(database_url)
    try:
        with spinner(f"restoring {file} and verifying its chain"):
            restored = run(file, settings)
    except BackupError as error:
        fail(str(error), "the target store was left as it was")
    out.print(
        f"Restored {restored.events_checked} events into {restored.database_url}; the chain verifies and ends at "
        f"{restored.manifest.head} (position {restored.manifest.position}). "
        "Next: `perfledger rebuild` to rebuild the projections from the restored log.",
        highlight=False,
    )
