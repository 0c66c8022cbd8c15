"""`perfledger export kpis|payouts|statement`: the tables finance keeps, as .xlsx or CSV (UTF-8 with
BOM), and a rep's statement as a printable PDF or HTML page too, in the reader's language
(`perfledger --locale zh-CN export …`). The same figures as the API's (`?format=xlsx|csv|pdf`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import exports
from api.cli_common import (
    EXIT_CONFIG,
    catch_up_with_progress,
    err,
    fail,
    load_settings,
    open_store,
    parse_period_option,
    parse_time,
    speaker,
)
from api.cli_reports import AsOfOption, KnownAtOption

export_app = typer.Typer(no_args_is_help=True, help="Tables for finance as .xlsx or CSV; a statement as PDF too.")

FormatOption = Annotated[str, typer.Option("--format", help="xlsx or csv (UTF-8 with BOM, for Excel).")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", dir_okay=False, help="Where to write it (default: NAME.FORMAT here).")
]


def _form(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        fail(f"--format {value} is not one of {', '.join(allowed)}", code=EXIT_CONFIG)
    return value


def _write(body: bytes, output: Path | None, name: str) -> None:
    target = output or Path(name)
    target.write_bytes(body)
    err.print(speaker()._("Wrote {file} ({size} bytes).", file=target, size=f"{len(body):,}"), highlight=False)


@export_app.command("kpis")
def export_kpis(
    period: Annotated[list[str], typer.Option(help="2026-03, 2026-Q1, 2026-W48 or 2026 (repeatable).")],
    scope: Annotated[
        list[str] | None, typer.Option(help="rep:ID, team:ID, region:NAME or company (repeatable; default company).")
    ] = None,
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    form: FormatOption = "xlsx",
    output: OutputOption = None,
) -> None:
    """The KPIs of each scope for each period, one row each, at one business and knowledge time."""
    from projections.queries.cutoffs import cutoffs
    from projections.queries.kpis import kpis
    from projections.queries.membership import parse_scope
    from projections.units import micros_to_time

    form = _form(form, exports.FORMATS)
    periods = [parse_period_option(p) for p in period]
    try:
        scopes = [str(parse_scope(s)) for s in scope or ["company"]]
    except ValueError as error:
        fail(str(error), "for example --scope rep:R-0001 --scope team:T-01 --scope company", EXIT_CONFIG)
    settings = load_settings()
    say = speaker(settings)
    as_of_time, known_time = parse_time(as_of, "--as-of"), parse_time(known_at, "--known-at")
    cut = cutoffs(settings, periods[0], as_of_time, known_time)
    known = micros_to_time(cut.known_us)  # one knowledge time for every row
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        rows = [(s, p, kpis(engine, settings, s, p, as_of_time, known)) for s in scopes for p in periods]
    shown_as_of = as_of_time or micros_to_time(cut.as_of_us)
    sheet = exports.kpi_sheet(say, rows, shown_as_of, known, settings.tz_name, settings.tz)
    _write(exports.render(sheet, form, say, settings.currency, settings.tz), output, exports.filename(sheet, form))


@export_app.command("payouts")
def export_payouts(
    period: Annotated[str, typer.Argument(help="2026-03, 2026-Q1, 2026-W48 or 2026.")],
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    form: FormatOption = "xlsx",
    output: OutputOption = None,
) -> None:
    """Every active rep's payout for a period, beside what was approved, adjusted and is owed now."""
    from projections.db import reading
    from projections.payouts.assembly import active_reps, approval_states, period_payouts
    from projections.queries.cutoffs import cutoffs
    from projections.units import micros_to_time

    form = _form(form, exports.FORMATS)
    period = parse_period_option(period)
    settings = load_settings()
    say = speaker(settings)
    cut = cutoffs(settings, period, parse_time(as_of, "--as-of"), parse_time(known_at, "--known-at"))
    as_of_time, known = micros_to_time(cut.as_of_us), micros_to_time(cut.known_us)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        with reading(engine) as conn:
            reps = active_reps(conn, cut)
        payouts = [p.to_json() for p in period_payouts(engine, settings, period, as_of_time, known, rep_ids=reps)]
        states = approval_states(engine, period, cut.known_us, reps)
    sheet = exports.payouts_sheet(say, period, payouts, states, as_of_time, known, settings.tz_name, settings.tz)
    _write(exports.render(sheet, form, say, settings.currency, settings.tz), output, exports.filename(sheet, form))


@export_app.command("statement")
def export_statement(
    rep_id: Annotated[str, typer.Argument(help="The rep, e.g. R-0001.")],
    period: Annotated[str, typer.Argument(help="2026-Q1, 2026-03 or 2026.")],
    known_at: KnownAtOption = None,
    form: Annotated[str, typer.Option("--format", help="pdf, html, xlsx or csv.")] = "pdf",
    output: OutputOption = None,
) -> None:
    """A rep's statement as a printable PDF or HTML page, or its lines as .xlsx or CSV."""
    from api.statement_render import render_html, render_pdf
    from replay.statements import statement as build

    form = _form(form, ("pdf", "html", *exports.FORMATS))
    period = parse_period_option(period)
    settings = load_settings()
    say = speaker(settings)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        answer = build(ledger, engine, settings, rep_id, period, parse_time(known_at, "--known-at"))
    name = f"statement-{rep_id}-{period}.{form}"
    if form == "pdf":
        body = render_pdf(answer, say, settings.currency, settings.tz_name, settings.tz)
    elif form == "html":
        body = render_html(answer, say, settings.currency, settings.tz_name, settings.tz).encode()
    else:
        sheet = exports.statement_sheet(say, answer, settings.tz_name, settings.tz)
        body = exports.render(sheet, form, say, settings.currency, settings.tz)
    _write(body, output, name)
