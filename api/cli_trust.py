"""`perfledger statement`, `perfledger dispute show` and `perfledger unsigned`: what a rep is shown
and what finance chases. Disputes and sign-offs are recorded with `perfledger import`
or POST /events like every other fact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli_common import (
    catch_up_with_progress,
    fail,
    load_settings,
    open_store,
    out,
    parse_period_option,
    parse_time,
    speaker,
)
from api.cli_reports import JsonOption, KnownAtOption, print_json
from api.exports import component_kind
from api.statement_render import recognition_text

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
    say = speaker(settings)
    money = lambda value: say.money(value, settings.currency)  # noqa: E731
    table = Table(
        title=say._("Statement of {rep} for {period}", rep=rep_id, period=answer["period"])
        + f" — {say._('Total')} {money(answer['total'])}",
        caption=say.zone_note(settings.tz_name),
    )
    for column, justify in (("Component", "left"), ("Kind", "left"), ("Amount", "right"), ("Events", "left")):
        table.add_column(say._(column), justify=justify)  # type: ignore[arg-type]
    for line in answer["lines"]:
        table.add_row(
            line["component"],
            component_kind(say, line["kind"]),
            f"{money(line['amount'])} ({line['amount']})",
            " ".join(map(str, line["events"])),
        )
    out.print(table)
    approved = answer["approved"]
    out.print(
        say._("Not approved yet.")
        if approved is None
        else say._(
            "Approved {amount} on {when}; owed now {owed}; the approval's digest {reproduced}.",
            amount=money(approved["amount"]),
            when=say.datetime(approved["recorded_at"], settings.tz) if approved.get("recorded_at") else "—",
            owed=money(approved["current"]),
            reproduced=say._("reproduces") if answer["reproduced"] else say._("does NOT reproduce"),
        ),
        highlight=False,
    )
    out.print(
        say._("acknowledged by the rep") if answer["plan_acknowledged"] else say._("NOT acknowledged by the rep"),
        highlight=False,
    )
    for deal in answer["deals"]:
        out.print(
            f"{deal['deal_id']} ({', '.join(deal['lines'])}): "
            + ", ".join(f"#{e['position']} {e['type']}" for e in deal["events"]),
            highlight=False,
        )
    for recognition in answer["recognitions"]:
        out.print(f"{say._('Recognitions')}: {recognition_text(recognition)}", highlight=False)


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


@dispute_app.command("resolve")
def resolve_command(
    dispute_id: Annotated[str, typer.Argument(help="The dispute's id.")],
    outcome: Annotated[str, typer.Option(help="accepted or rejected.")],
    reason: Annotated[str, typer.Option(help="Why, in a sentence the rep will read.")],
    corrections: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A JSON file: a list of the correcting events (envelopes, as POST /events takes them), "
            "recorded just before the resolution and linked to it.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a dispute (as an operator: the resolver is `admin`): its corrections and the
    DisputeResolved in one batch, linked automatically, then the payout before and after."""
    import orjson

    from api.cli_common import actor
    from api.log_queries import LogReader
    from api.org_view import ProjectedOrg
    from ledger.errors import InvalidBatch
    from services.disputes import ResolutionRefused, resolve
    from services.policy import NotVisible, User

    if outcome not in ("accepted", "rejected"):
        fail(f"--outcome: {outcome!r} is neither accepted nor rejected", "use --outcome accepted or --outcome rejected")
    fixes = orjson.loads(corrections.read_bytes()) if corrections is not None else []
    if not isinstance(fixes, list):
        fail("--corrections: the file must hold a JSON list of events", "see POST /events in /docs for their shape")
    settings = load_settings()
    operator = User("admin", token_id=actor("cli"))
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            answer = resolve(
                ledger,
                engine,
                settings,
                operator,
                ProjectedOrg(LogReader(ledger), engine).view(),
                dispute_id,
                outcome,
                reason,
                fixes,
            )
        except NotVisible:
            fail(f"no dispute {dispute_id}", "list them with: perfledger statement REP PERIOD")
        except ResolutionRefused as error:
            fail(f"--corrections: {error}")
        except InvalidBatch as error:
            fail("; ".join(f"{p.field}: {p.message}" for p in error.problems))
    if as_json:
        print_json(answer)
        return
    effect = answer["effect"]
    out.print(
        f"dispute {dispute_id} {answer['outcome']}: {len(answer['corrections'])} correction(s) at "
        f"{', '.join(map(str, answer['positions']))}; payout {effect['before']} → {effect['after']} "
        f"({effect['delta']:+})"
    )


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
