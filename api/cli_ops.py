"""`perfledger rebuild`, `perfledger audit` and `perfledger close`: the operator's and the
auditor's commands (the projections from zero, a scratch rebuild compared with the live one,
and closing a period)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api import cli_render
from api.cli_common import (
    actor,
    fail,
    load_settings,
    open_ledger,
    open_store,
    out,
    parse_period_option,
    parse_time,
    position_bar,
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
        typer.Option("--known-at", help="Rebuild what the ledger knew then (ISO 8601 with a zone; default: now)."),
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
    period: Annotated[str, typer.Argument(help="The period to close: 2026-03, 2026-Q1 or 2026.")],
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
