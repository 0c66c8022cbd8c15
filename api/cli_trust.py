"""`perfledger statement`, `perfledger dispute show` and `perfledger unsigned`: what a rep is shown
and what finance chases. Disputes and sign-offs are recorded with `perfledger import`
or POST /events like every other fact."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli_common import catch_up_with_progress, fail, load_settings, open_store, out, parse_period_option, parse_time
from api.cli_reports import JsonOption, KnownAtOption, print_json

dispute_app = typer.Typer(
    help="Disputes: a rep's inquiry on a payout line, and how it was settled.", no_args_is_help=True
)


def statement(
    rep_id: Annotated[str, typer.Argument(help="The rep, e.g. R-0001.")],
    period: Annotated[str, typer.Argument(help="2026-Q1, 2026-03 or 2026.")],
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """A rep's statement: lines, the deals behind them, approved vs current, sign-off, disputes."""
    from replay.statements import statement as build

    period = parse_period_option(period)
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        answer = build(ledger, engine, settings, rep_id, period, parse_time(known_at, "--known-at"))
    if as_json:
        print_json(answer)
        return
    table = Table(title=f"Statement {rep_id} {answer['period']} — total {answer['total']} {settings.currency}")
    for column in ("component", "kind", "amount", "events"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for line in answer["lines"]:
        table.add_row(line["component"], line["kind"], str(line["amount"]), " ".join(map(str, line["events"])))
    out.print(table)
    approved = answer["approved"]
    out.print(
        "not approved"
        if approved is None
        else f"approved {approved['amount']}, owed now {approved['current']}, reproduced: {answer['reproduced']}"
    )
    out.print("plan acknowledged" if answer["plan_acknowledged"] else "plan NOT acknowledged by the rep")
    for deal in answer["deals"]:
        out.print(
            f"deal {deal['deal_id']} ({', '.join(deal['lines'])}): "
            + ", ".join(f"#{e['position']} {e['type']}" for e in deal["events"])
        )


def show(dispute_id: Annotated[str, typer.Argument(help="The dispute's id.")], as_json: JsonOption = False) -> None:
    """A dispute's timeline and its effect on the payout."""
    from replay.statements import DisputeNotFound, dispute

    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            answer = dispute(ledger, engine, settings, dispute_id)
        except DisputeNotFound as missing:
            fail(str(missing), "list them with: perfledger statement REP PERIOD")
    if as_json:
        print_json(answer)
        return
    out.print(
        f"dispute {dispute_id} of {answer['rep_id']} for {answer['period']}: "
        f"{answer['status']} {answer['outcome'] or ''}"
    )
    for step in answer["timeline"]:
        out.print(
            f"  #{step['position']} {step['kind']:<10} {step['recorded_at']}  "
            f"{step.get('text') or step.get('reason') or ''}"
        )
    if answer["effect"]:
        effect = answer["effect"]
        out.print(f"payout {effect['before']} → {effect['after']} ({effect['delta']:+})")


dispute_app.command("show")(show)


def unsigned(
    period: Annotated[str, typer.Argument(help="2026-Q1, 2026-03 or 2026.")], as_json: JsonOption = False
) -> None:
    """Reps who have not acknowledged the plan version they are paid under."""
    from replay.statements import unacknowledged

    period = parse_period_option(period)
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        reps = unacknowledged(engine, settings, period)
    if as_json:
        print_json({"period": period, "reps": reps})
        return
    table = Table(title=f"Not acknowledged — {period}")
    for column in ("rep", "plan", "version"):
        table.add_column(column)
    for row in reps:
        table.add_row(row["rep_id"], row["plan_id"], str(row["version"]))
    out.print(table)
