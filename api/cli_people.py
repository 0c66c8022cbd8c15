"""`perfledger person erase|export` and `perfledger retention`: a person's data under PIPL and
the GDPR — erase it (irreversibly), give them everything the ledger holds about them, and erase
what the retention policy says is due."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from api.cli_common import actor, fail, load_settings, open_store, out, parse_time, speaker
from ledger.personal import CATEGORIES
from ledger.retention import parse_policy, policy_text
from ledger.schemas import ERASURE_GROUNDS

person_app = typer.Typer(help="A person's data: erase it, or export everything held about them.", no_args_is_help=True)

YesOption = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (scripts).")]


def erase(
    rep_id: Annotated[str, typer.Argument(help="The rep whose personal data is erased, e.g. R-0001.")],
    requested_by: Annotated[str, typer.Option("--requested-by", help="Who asked: the rep, HR, … (an id).")],
    ground: Annotated[
        str, typer.Option("--ground", help=f"Why: {', '.join(ERASURE_GROUNDS)}.", show_default=True)
    ] = "request",
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help=f"Only this kind of data ({', '.join(CATEGORIES)}); repeatable. Default: all."),
    ] = None,
    yes: YesOption = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who the ledger records as erasing (default: cli:USER).")
    ] = None,
) -> None:
    """Erase a rep's personal data: destroy their key and record PersonalDataErased. IRREVERSIBLE:
    their name and the texts about them read as [erased] everywhere from then on; their figures,
    payouts and the hash chain do not change."""
    from services.erasure import ErasureRefused, erase_person

    settings = load_settings()
    say = speaker(settings)
    if ground not in ERASURE_GROUNDS:
        fail(
            say._("unknown ground {ground!r}; use one of: {grounds}", ground=ground, grounds=", ".join(ERASURE_GROUNDS))
        )
    warning = say._(
        "Erasing the personal data of {rep} cannot be undone: their name, evaluations, feedback, "
        "improvement plans and dispute texts will read as [erased] for good (backups taken before "
        "keep them until they are destroyed). Their figures and payouts stay.",
        rep=rep_id,
    )
    out.print(warning, highlight=False)
    if not yes and not typer.confirm(say._("Erase {rep} now?", rep=rep_id), default=False):
        fail(say._("nothing was erased"))
    with open_store(settings) as (ledger, engine):
        try:
            done = erase_person(
                ledger,
                engine,
                rep_id,
                requested_by=requested_by,
                ground=ground,
                actor=by or actor("cli"),
                categories=category or None,
            )
        except ErasureRefused as refused:
            fail(str(refused))
    out.print(
        say._(
            "Erased the personal data of {rep}: {kinds} (position {position}).",
            rep=done.rep_id,
            kinds=", ".join(done.categories),
            position=done.position,
        ),
        highlight=False,
    )


person_app.command("erase")(erase)


def export(
    rep_id: Annotated[str, typer.Argument(help="The person (a rep id), e.g. R-0001.")],
    format: Annotated[str, typer.Option("--format", help="json or html (in --locale's language).")] = "json",
    output: Annotated[Path | None, typer.Option("--output", help="Write to this file instead of the screen.")] = None,
) -> None:
    """Everything the ledger holds about a person, readable (subject access: PIPL art. 45)."""
    from api.subject_render import render_subject_html
    from replay.subject import SubjectUnknown, subject_access

    settings = load_settings()
    say = speaker(settings)
    if format not in ("json", "html"):
        fail(say._("unknown format {format!r}: use json or html", format=format))
    with open_store(settings) as (ledger, _):
        try:
            document = subject_access(ledger, rep_id)
        except SubjectUnknown:
            fail(say._("the ledger holds nothing about {rep}", rep=rep_id))
    if format == "html":
        body = render_subject_html(document, say, settings.tz_name, settings.tz).encode()
    else:
        body = orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2)
    if output is None:
        sys.stdout.buffer.write(body + b"\n")
        return
    output.write_bytes(body)
    out.print(say._("Wrote {file}.", file=str(output)), highlight=False)


person_app.command("export")(export)


def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; erase nothing.")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Judge what is due at this time (default: now).")] = None,
    yes: YesOption = False,
) -> None:
    """The retention policy (PERFLEDGER_RETENTION): list each leaver's kinds of personal data whose
    period ran out, and (without --dry-run, after a confirmation) erase them, IRREVERSIBLY."""
    from replay.retention import retention_due
    from services.retention import apply_retention

    settings = load_settings()
    say = speaker(settings)
    now = parse_time(at, "--at") or datetime.now(UTC)
    with open_store(settings) as (ledger, engine):
        due = retention_due(ledger, now)
        out.print(
            say._("Retention policy: {policy}", policy=policy_text(parse_policy(settings.retention))), highlight=False
        )
        if not due:
            out.print(say._("Nothing is due."), highlight=False)
            return
        table = Table(title=say._("Due for erasure at {when}", when=say.datetime(now, settings.tz)))
        for column in (say._("Rep"), say._("Kind of data"), say._("Left"), say._("Kept for"), say._("Due since")):
            table.add_column(column)
        for item in due:
            table.add_row(
                item.rep_id,
                item.category,
                say.datetime(item.left_at, settings.tz),
                item.keep,
                say.datetime(item.due_at, settings.tz),
            )
        out.print(table)
        if dry_run:
            return
        out.print(say._("Erasing them cannot be undone."), highlight=False)
        if not yes and not typer.confirm(say._("Erase these now?"), default=False):
            fail(say._("nothing was erased"))
        done = apply_retention(ledger, engine, now, actor("cli"))
    out.print(say._("Erased {count} rep(s)' data as the policy says.", count=len(done)), highlight=False)


def seal_history(yes: YesOption = False) -> None:
    """The one-off step for a store recorded before personal fields were sealed: seal its old
    events' clear personal fields in place under the reps' keys. The chain's links stay; each
    resealed event is attested in the chain by PersonalDataResealed (docs/design.md)."""
    from services.resealing import ResealRefused, reseal_history

    settings = load_settings()
    say = speaker(settings)
    out.print(
        say._(
            "This replaces the stored bytes of every event that still holds personal fields in clear. "
            "Take a backup first; verify will check those events against the attestation from then on."
        ),
        highlight=False,
    )
    if not yes and not typer.confirm(say._("Reseal now?"), default=False):
        fail(say._("nothing was resealed"))
    with open_store(settings) as (ledger, _):
        try:
            done = reseal_history(ledger, actor("cli"))
        except ResealRefused as refused:
            fail(str(refused), "perfledger verify names the first bad position")
    if done.run is None:
        out.print(say._("Nothing was in clear."), highlight=False)
        return
    out.print(
        say._(
            "Resealed {count} event(s) (run {run}), attested at position {position}.",
            count=done.count,
            run=done.run,
            position=done.position,
        ),
        highlight=False,
    )


person_app.command("seal-history")(seal_history)
