"""The `perfledger` command line: the app, tokens, imports and verification here; the other
commands in api/cli_*.py (demo, kpi, payout, replay, rebuild, audit, close, project, serve),
registered in COMMANDS and GROUPS at the bottom.

Output: tables and progress go to the terminal through Rich; a value meant for scripts (a new
token) is the last line of stdout, alone. Exit codes: 0 done, 1 refused (bad input, a broken
chain), 2 misconfigured (environment, arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api import (
    cli_coaching,
    cli_commands,
    cli_demo,
    cli_export,
    cli_import,
    cli_ops,
    cli_people,
    cli_render,
    cli_reports,
    cli_targets,
    cli_trust,
    cli_worker,
)
from api.auth import TokenError, create_token, ensure_tables, list_tokens, revoke_token
from api.cli_common import (
    EXIT_CONFIG,
    URL_HINT,
    ask_locale,
    bar,
    err,
    fail,
    load_settings,
    open_ledger,
    out,
    speaker,
    spinner,
)
from api.cli_common import actor as actor_of
from api.i18n import supported
from ledger.config import SUPPORTED_LOCALES
from ledger.errors import ConflictError, InvalidBatch
from ledger.messages import message_of
from ledger.store import Ledger
from services import importing
from services.policy import ROLES

app = typer.Typer(
    name="perfledger",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    help="An event-sourced ledger of sales performance: targets, deals, KPIs and payouts.\n\n"
    "Configured by environment: PERFLEDGER_DATABASE_URL (default sqlite:///perfledger.db), "
    "PERFLEDGER_TZ, PERFLEDGER_CURRENCY, PERFLEDGER_LOCALE.",
)
token_app = typer.Typer(no_args_is_help=True, help="API bearer tokens: create, list, revoke.")
app.add_typer(token_app, name="token")


@app.callback()
def choose_locale(
    locale: Annotated[
        str | None,
        typer.Option(
            "--locale",
            help="The language of the output: zh-CN or en (default: PERFLEDGER_LOCALE, else zh-CN).",
        ),
    ] = None,
) -> None:
    if locale is not None and supported(locale) is None:
        fail(f"--locale {locale} is not supported", f"use one of {', '.join(SUPPORTED_LOCALES)}", EXIT_CONFIG)
    ask_locale(locale)


def token_engine(settings: Any) -> Any:
    from projections.db import engine_for  # the read side's engine helper: same database, same rules

    try:
        engine = engine_for(settings)
    except ValueError as error:
        fail(str(error), URL_HINT, EXIT_CONFIG)
    ensure_tables(engine)
    return engine


# ---------------------------------------------------------------- token


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    rep: Annotated[str | None, typer.Option(help="The rep a rep token belongs to.")] = None,
    team: Annotated[str | None, typer.Option(help="The team a manager token manages.")] = None,
    region: Annotated[str | None, typer.Option(help="The region a director token directs (as reps name it).")] = None,
    label: Annotated[str | None, typer.Option(help="A note for `token list`, e.g. who holds it.")] = None,
) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only as a hash."""
    settings = load_settings()
    if rep is not None:
        with open_ledger(settings) as ledger:
            if not ledger.read_log(0, 1, types=["RepOnboarded"], rep_ids=[rep]):
                fail(f"no rep {rep} is onboarded", "record their RepOnboarded first, then create their token")
    engine = token_engine(settings)
    try:
        secret, info = create_token(engine, role, rep_id=rep, team_id=team, label=label, region=region)
    except TokenError as error:
        fail(str(error), "see `perfledger token create --help`", EXIT_CONFIG)
    finally:
        engine.dispose()
    bound = (
        f" for rep {info.rep_id}"
        if info.rep_id
        else f" for team {info.team_id}"
        if info.team_id
        else f" for region {info.region}"
        if info.region
        else ""
    )
    err.print(
        f"Created {info.role} token [bold]{info.token_id}[/]{bound}. Keep it now: it cannot be shown again; "
        f"revoke it with `perfledger token revoke {info.token_id}`.",
        highlight=False,
    )
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """Every token ever created (never the secrets)."""
    engine = token_engine(load_settings())
    try:
        infos = list_tokens(engine)
    finally:
        engine.dispose()
    table = Table("token_id", "role", "rep", "team", "region", "label", "created", "revoked", title="Tokens")
    for t in infos:
        table.add_row(
            t.token_id,
            t.role,
            t.rep_id or "",
            t.team_id or "",
            t.region or "",
            t.label or "",
            t.created_at.isoformat(timespec="seconds"),
            "yes" if t.revoked else "",
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token_id shown by `token create`/`token list`.")],
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    engine = token_engine(load_settings())
    try:
        found = revoke_token(engine, token_id)
    finally:
        engine.dispose()
    if not found:
        fail(f"no token {token_id}", "`perfledger token list` shows the token ids")
    out.print(f"Revoked {token_id}.")


# ---------------------------------------------------------------- import


@app.command("import", help=importing.IMPORT_HELP)
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A .jsonl, .csv or .xlsx file.")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A mapping file (JSON or TOML): your headers → event fields.",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="The CSV's encoding (default: detected: UTF-8 with or without BOM, else GB18030)."),
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show how the first rows map and what would be refused; record nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid lines; write the bad ones to --rejects.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Where --skip-invalid writes the bad lines, as JSON lines with their errors"
                " (default: FILE.rejects.jsonl)."
            )
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Events per atomic batch.")] = 1000,
    actor: Annotated[
        str | None, typer.Option(help="Who the ledger records as the author (default: import:USER).")
    ] = None,
) -> None:
    settings = load_settings()
    say = speaker(settings)
    lines = _read_with_progress(file, _mapping(mapping), encoding, settings, say)
    with open_ledger(settings) as ledger:
        with spinner(say._("checking every line against the schemas and the ledger's rules")):
            importing.check_schemas(lines, settings.currency)
            importing.check_rules(ledger, lines, until_clean=skip_invalid)
        bad = importing.invalid(lines)
        if preview:
            cli_import.show_preview(lines, file, say)
            if bad:
                cli_import.show_bad_lines(bad, file, say)
            out.print(say._("Preview only: nothing was recorded."), highlight=False)
            return
        if bad and not skip_invalid:
            cli_import.show_bad_lines(bad, file, say)
            fail(
                say._(
                    "{bad} of {total} line(s) of {file} are invalid; nothing was imported",
                    bad=len(bad),
                    total=len(lines),
                    file=file,
                ),
                say._(
                    "fix the lines listed above and run the import again, or add --skip-invalid to import the "
                    "valid lines and set the others aside"
                ),
            )
        good = importing.valid(lines)
        outcome = _record_with_progress(ledger, good, batch, actor or actor_of("import"), skip_invalid, say)
    bad = importing.invalid(lines)  # recording may have set more aside (a concurrent writer)
    if bad:
        rejects = rejects or file.with_name(file.name + ".rejects.jsonl")
        cli_import.write_rejects(rejects, bad, say)
    cli_import.show_summary(file, len(lines), outcome, len(bad), rejects if bad else None, say)


def _mapping(path: Path | None) -> importing.sheets.Mapping_ | None:
    if path is None:
        return None
    try:
        return importing.sheets.Mapping_.load(path)
    except importing.ImportFileError as error:
        fail(
            speaker().text(message_of(error)),
            speaker()._("see `perfledger import --help` and docs/import.md"),
            EXIT_CONFIG,
        )


def _read_with_progress(
    file: Path, mapping: Any, encoding: str | None, settings: Any, say: Any
) -> list[importing.SourceLine]:
    with bar() as progress:
        task = progress.add_task(say._("reading {file}", file=file.name), total=importing.size_of(file))
        try:
            return importing.read_source(
                file, lambda n: progress.advance(task, n), mapping=mapping, encoding=encoding, zone=settings.tz
            )
        except importing.ImportFileError as error:
            fail(say.text(message_of(error)))
        except UnicodeDecodeError:
            fail(
                say._("{file} is not UTF-8 text", file=file),
                say._("export it from the CRM as UTF-8 (CSV UTF-8) and try again"),
            )


def _record_with_progress(
    ledger: Ledger, good: list[importing.SourceLine], batch: int, actor: str, skip_invalid: bool, say: Any
) -> importing.Outcome:
    with bar() as progress:
        task = progress.add_task(say._("recording"), total=len(good) or 1)
        try:
            return importing.record_lines(
                ledger,
                good,
                batch=batch,
                actor=actor,
                skip_invalid=skip_invalid,
                on_batch=lambda n: progress.advance(task, n),
            )
        except (InvalidBatch, ConflictError) as error:
            done = int(progress.tasks[0].completed)
            first = good[done].line if done < len(good) else None
            fail(
                say._("the ledger changed while importing and refused a batch: {error}", error=error),
                say._(
                    "lines before line {first} were recorded; run the same import again once the conflict is "
                    "resolved (lines with an event_id are never recorded twice)",
                    first=first,
                ),
            )


# ---------------------------------------------------------------- verify


@app.command()
def verify(
    digest: Annotated[
        str | None, typer.Option(help="A head written down earlier: check the log still extends it.")
    ] = None,
) -> None:
    """Recompute the hash chain from the first event and check the seal of every closed period;
    name the first position that does not match."""
    from replay.sealing import verify as verify_log

    with open_ledger(load_settings()) as ledger, spinner("recomputing the hash chain and the seals"):
        report = verify_log(ledger, digest)
    out.print(cli_render.verify_table(report, digest is not None))
    if report["seals"]:
        out.print(cli_render.seals_table(report["seals"]))
    if not report["ok"]:
        fail(
            "the ledger does not verify",
            "keep the database as it is (do not repair it) and hand the position "
            "above to an auditor; restore from a backup taken before it",
        )


# ---------------------------------------------------------------- the other commands
# One line each, here and nowhere else: a command is a function in its own module; a group
# (`perfledger payout explain`) is a typer.Typer.
COMMANDS: list[tuple[str, Callable[..., Any]]] = [
    ("demo", cli_demo.demo),
    ("kpi", cli_reports.kpi),
    ("replay", cli_reports.replay),
    ("rebuild", cli_ops.rebuild),
    ("audit", cli_ops.audit),
    ("close", cli_ops.close),
    ("backup", cli_ops.backup),  # perfledger backup FILE: a copy with its head beside it
    ("restore", cli_ops.restore),  # perfledger restore FILE: only if its chain ends at that head
    ("project", cli_worker.project),  # perfledger project [--follow]: the projection worker
    ("serve", cli_worker.serve),  # the HTTP API: --host --port --workers N --projections MODE
    ("statement", cli_trust.statement),  # perfledger statement REP PERIOD: what the rep is shown
    ("forecast", cli_reports.forecast),  # perfledger forecast --period P --scope S: where it will land
    ("off-track", cli_reports.off_track),  # perfledger off-track --period P --scope S: who is behind, and why
    ("unsigned", cli_trust.unsigned),  # perfledger unsigned PERIOD: who has not acknowledged their plan
    ("retention", cli_people.retention),  # perfledger retention [--dry-run]: erase what the policy says is due
    ("coaching", cli_coaching.coaching),  # perfledger coaching REP | --team T: plans, trainings, progress
]
GROUPS: list[tuple[str, typer.Typer]] = [
    ("payout", cli_reports.payout_app),  # perfledger payout explain|approve REP PERIOD
    ("dispute", cli_trust.dispute_app),  # perfledger dispute show ID
    ("export", cli_export.export_app),  # perfledger export kpis|payouts|statement --format xlsx|csv|pdf
    ("person", cli_people.person_app),  # perfledger person erase REP: irreversible
    ("target", cli_targets.target_app),  # perfledger target allocate|set|revise
]

for _name, _command in COMMANDS:
    app.command(_name)(_command)
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)
# The typed commands (`perfledger deal won D-1 --amount …`), from services/commands.py's registry.
cli_commands.install(app, dict(GROUPS))


def main() -> None:
    app()
