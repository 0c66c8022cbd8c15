"""`perfledger kpi`, `perfledger payout explain|approve` and `perfledger replay`: the reports a
manager, a rep's statement and finance read, in the terminal. Each brings the projections up to
date first (with a progress bar when there is much to apply), then calls one function of the
layers below, as the API does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from sqlalchemy import Engine

from api import cli_render
from api.cli_common import (
    EXIT_CONFIG,
    TIME_HELP,
    actor,
    catch_up_with_progress,
    fail,
    load_settings,
    open_store,
    out,
    parse_period_option,
    parse_time,
    speaker,
    spinner,
)
from api.responses import dumps
from ledger.errors import ConflictError, InvalidBatch
from ledger.messages import Msg

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help=f"Business-time cut-off: {TIME_HELP} (default: the earlier of the end of the period and now).",
    ),
]
KnownAtOption = Annotated[
    str | None, typer.Option("--known-at", help=f"Knowledge-time cut-off: {TIME_HELP} (default: now).")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the answer as JSON (as the API writes it) instead of a table.")
]


def print_json(payload: Any) -> None:
    typer.echo(dumps(payload).decode())


# ---------------------------------------------------------------- kpi


def kpi(
    period: Annotated[str, typer.Option(help="2026-03, 2026-Q1, 2026-W48 or 2026.")],
    scope: Annotated[str, typer.Option(help="rep:ID, team:ID, region:NAME or company.")] = "company",
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """The KPIs of a scope for a period, at any business and knowledge time."""
    from projections.queries.kpis import kpis

    scope, period, settings, cut = _read_args(scope, period, as_of, known_at)
    as_of_time, known_time = _times(cut)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        known_or_fail(engine, scope)
        figures = kpis(engine, settings, scope, period, as_of_time, known_time)
    if as_json:
        named = {"as_of": as_of_time, "known_at": known_time, "period_status": cut.status}
        print_json({"scope": scope, "period": period, **named, "kpis": figures})
        return
    out.print(cli_render.kpi_detail(scope, period, as_of_time, known_time, figures, cut.status))


# ---------------------------------------------------------------- forecast | off-track


def forecast(
    period: Annotated[str, typer.Option(help="2026-Q4, 2026-12, 2026-W48 or 2026.")],
    scope: Annotated[str, typer.Option(help="rep:ID, team:ID, region:NAME or company.")] = "company",
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Where a scope will land in a period: the run-rate and pipeline forecasts and their
    attainment; a rep's payout if they land."""
    from projections.queries.forecast import forecast as scope_forecast

    scope, period, settings, cut = _read_args(scope, period, as_of, known_at)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        known_or_fail(engine, scope)
        answer = {
            **_named(scope, period, cut, settings),
            **scope_forecast(engine, settings, scope, period, *_times(cut)),
        }
    if as_json:
        print_json(answer)
        return
    say = speaker()
    out.print(cli_render.forecast_table(say._("Forecast of {scope} for {period}", scope=scope, period=period), answer))
    for line in cli_render.pipeline_lines(answer):
        out.print(line, highlight=False)


def off_track(
    period: Annotated[str, typer.Option(help="2026-Q4, 2026-12, 2026-W48 or 2026.")],
    scope: Annotated[str, typer.Option(help="team:ID, region:NAME or company.")] = "company",
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """The reps of a scope off track, worst first: behind pace, or forecast short of a target, and why."""
    from projections.queries.forecast import off_track as listed

    scope, period, settings, cut = _read_args(scope, period, as_of, known_at)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        known_or_fail(engine, scope)
        answer = listed(engine, settings, scope, period, *_times(cut))
    answer = {**_named(scope, period, cut, settings), **answer}
    if as_json:
        print_json(answer)
        return
    out.print(cli_render.off_track_table(answer))


def known_or_fail(engine: Engine, scope: str) -> None:
    """A clear exit for a rep, team or region the ledger has never heard of, rather than zeros
    (the API's 404, in the same words)."""
    from projections.queries.membership import known_scope

    if not known_scope(engine, scope):
        fail(
            speaker().text(Msg("not_found", "{what} not found", what=f"scope {scope}")),
            "check the id: a rep counts once onboarded (RepOnboarded), a team or region once a rep is in it",
            EXIT_CONFIG,
        )


def _read_args(scope: str, period: str, as_of: str | None, known_at: str | None) -> tuple[str, str, Any, Any]:
    """The scope, the period, the settings and the cut-offs of a read, or a clear exit."""
    from projections.queries.cutoffs import cutoffs
    from projections.queries.membership import parse_scope

    try:
        scope = str(parse_scope(scope))
    except ValueError as error:
        fail(
            str(error),
            "for example --scope rep:R-0001, --scope team:T-01, --scope region:East or --scope company",
            EXIT_CONFIG,
        )
    period = parse_period_option(period)
    settings = load_settings()
    return (
        scope,
        period,
        settings,
        cutoffs(settings, period, parse_time(as_of, "--as-of"), parse_time(known_at, "--known-at")),
    )


def _times(cut: Any) -> tuple[Any, Any]:
    from projections.units import micros_to_time

    return micros_to_time(cut.as_of_us), micros_to_time(cut.known_us)


def _named(scope: str, period: str, cut: Any, settings: Any) -> dict[str, Any]:
    as_of, known_at = _times(cut)
    return {
        "scope": scope,
        "period": period,
        "as_of": as_of.astimezone(settings.tz),
        "known_at": known_at.astimezone(settings.tz),
        "period_status": cut.status,
    }


# ---------------------------------------------------------------- payout explain | approve

payout_app = typer.Typer(no_args_is_help=True, help="A rep's payout: explain it down to its events, or approve it.")


@payout_app.command("explain")
def payout_explain(
    rep: Annotated[str, typer.Argument(help="The rep's id, e.g. R-0001.")],
    period: Annotated[str, typer.Argument(help="2026-03, 2026-Q1, 2026-W48 or 2026.")],
    known_at: KnownAtOption = None,
    all_events: Annotated[bool, typer.Option("--all-events", help="List every event of each line.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Explain a payout: total → lines → inputs → events. An approved payout is recomputed as it was
    approved (its knowledge time, its plan version) and checked against its digest."""
    from projections.payouts.assembly import PlanError
    from replay.explain import explain

    period = parse_period_option(period)
    settings = load_settings()
    moment = parse_time(known_at, "--known-at")
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            answer = explain(ledger, engine, settings, rep, period, moment)
        except PlanError as error:
            fail(str(error), "check the plan's IncentivePlanPublished events with `perfledger verify` and GET /events")
    if as_json:
        print_json(answer)
        return
    out.print(cli_render.payout_tree(answer, all_events))
    if answer["approved"] is not None and not answer["reproduced"]:
        fail("the approved payout does not reproduce its digest", "run `perfledger audit` and `perfledger verify`")


@payout_app.command("approve")
def payout_approve(
    rep: Annotated[str, typer.Argument(help="The rep's id, e.g. R-0001.")],
    period: Annotated[str, typer.Argument(help="2026-03, 2026-Q1, 2026-W48 or 2026.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who the ledger records as approving (default: cli:USER).")
    ] = None,
) -> None:
    """Approve a payout as computed now: records PayoutApproved with its digest (approved before and
    changed since: the difference, as PayoutAdjusted)."""
    from services.approvals import ApprovalRefused, approve

    period = parse_period_option(period)
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            result = approve(ledger, engine, settings, rep, period, by or actor("cli"))
        except ApprovalRefused as error:
            fail(str(error), f"`perfledger payout explain {rep} {period}` shows the payout as computed now")
    out.print(cli_render.approval_table(result.to_json()))


@payout_app.command("approve-scope")
def payout_approve_scope(
    period: Annotated[str, typer.Argument(help="2026-03, 2026-Q1, 2026-W48 or 2026.")],
    scope: Annotated[str, typer.Option(help="company, region:NAME or team:ID.")] = "company",
    by: Annotated[
        str | None, typer.Option("--by", help="Who the ledger records as approving (default: cli:USER).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Approve every payout of a scope for a period in one batch (all or nothing), at most
    500 reps, and print the summary: approved, unchanged, adjusted (what to do),
    refused (why)."""
    from services.approvals import ApprovalRefused, BulkScopeError, ScopeUnknown, approve_scope

    period = parse_period_option(period)
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            result = approve_scope(ledger, engine, settings, scope, period, by or actor("cli"))
        except (BulkScopeError, ScopeUnknown) as error:
            fail(f"--scope: {error}", "use company, region:NAME or team:ID; split a large company by region")
        except ApprovalRefused as error:
            fail(str(error), "`perfledger payout explain REP PERIOD` shows a payout as computed now")
    if as_json:
        print_json(result.to_json())
        return
    out.print(cli_render.bulk_approval_table(result.to_json()))


# ---------------------------------------------------------------- replay


def replay(
    period: Annotated[str, typer.Argument(help="The period to replay: 2026-03, 2026-Q1, 2026-W48 or 2026.")],
    plan_id: Annotated[str | None, typer.Option("--plan-id", help="A published plan's id (with --version).")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="The published plan version to replay under.")] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help='A JSON file of draft rules (docs/design.md, "Incentive plans"), instead of --plan-id/--version.',
        ),
    ] = None,
    known_at: KnownAtOption = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record the differences as PayoutAdjusted events (finance).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="The reason recorded with --record.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every rep's payout for a period under another plan and show the difference from
    what was approved, rep by rep; with --record, record the differences as adjustments."""
    from projections.db import ReadInterrupted
    from projections.payouts.assembly import PlanError
    from replay.replays import replay as run
    from services.adjustments import record_adjustments

    period = parse_period_option(period)
    request = plan_request(plan_id, version, rules)
    moment = parse_time(known_at, "--known-at")
    if record and moment is not None and moment > load_settings().now():
        fail(
            "--record needs a --known-at that has passed",
            "the same replay must record the same differences: "
            "leave --known-at out (now), or give the known_at of the replay you reviewed",
            EXIT_CONFIG,
        )
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            with spinner(f"replaying {period}"):
                result = run(ledger, engine, settings, period, request, moment)
        except PlanError as error:
            fail(str(error), "`perfledger replay --help` shows how to name a plan")
        except ReadInterrupted as error:
            fail(str(error), "the replay reads on one connection from start to end: run the same command again")
        if as_json:
            print_json(result)
        else:
            out.print(cli_render.diff_table(result))
        if not record:
            changed = sum(1 for row in result["diff"] if row["delta"])
            if changed and not as_json:
                out.print(
                    f"{changed} rep(s) would change. Nothing was recorded: add --record --known-at "
                    f"{result['known_at'].isoformat()} to record these differences as adjustments.",
                    highlight=False,
                )
            return
        try:
            recorded = record_adjustments(
                ledger, engine, settings, period, request, result["known_at"], actor("cli"), reason
            )
        except (InvalidBatch, ConflictError) as error:
            fail(
                f"the adjustments were refused: {error}", "nothing was recorded; fix the cause and run the replay again"
            )
    if not as_json:
        out.print(
            f"Recorded {len(recorded['positions']) - len(recorded['duplicates'])} adjustment(s) of replay "
            f"{recorded['replay_id']} ({len(recorded['duplicates'])} already recorded).",
            highlight=False,
        )


def plan_request(plan_id: str | None, version: int | None, rules: Path | None) -> Any:
    """The plan a replay runs under, from --plan-id/--version or --rules FILE (exactly one of them)."""
    from replay.replays import PlanRequest

    if rules is not None:
        if version is not None:
            fail("give either --rules FILE or --plan-id ID --version N, not both", code=EXIT_CONFIG)
        return PlanRequest(plan_id=plan_id or "draft", rules=read_rules(rules))
    if plan_id is None or version is None:
        fail(
            "name the plan to replay under", "--plan-id std --version 2, or --rules FILE with draft rules", EXIT_CONFIG
        )
    return PlanRequest(plan_id=plan_id, version=version)


def read_rules(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        fail(
            f"{path} is not valid JSON: {error}",
            'the file holds the rules document: {"components": [...]}',
            EXIT_CONFIG,
        )
    if isinstance(document, dict) and "rules" in document:  # a whole IncentivePlanPublished data block
        document = document["rules"]
    if not isinstance(document, dict):
        fail(f"{path} does not hold a rules document", 'write {"components": [...]} as in docs/design.md', EXIT_CONFIG)
    return document
