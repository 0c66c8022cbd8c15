"""`perfledger coaching REP` (a rep's coaching) and `perfledger coaching --team T` (what is
overdue across a team), in the terminal or as JSON: the same reads as GET /reps/{id}/coaching
and GET /teams/{id}/coaching. The commands that record coaching are typed commands:
`perfledger improvement set|review`, `perfledger training assign|complete`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_common import (
    EXIT_CONFIG,
    catch_up_with_progress,
    fail,
    load_settings,
    open_store,
    out,
    parse_time,
    speaker,
)
from api.cli_reports import AsOfOption, JsonOption, KnownAtOption, known_or_fail, print_json
from api.i18n import N_


def coaching(
    rep: Annotated[str | None, typer.Argument(help="The rep, e.g. R-0001 (or give --team).")] = None,
    team: Annotated[str | None, typer.Option("--team", help="A team: what is overdue across its reps.")] = None,
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """A rep's coaching: open plans, overdue reviews, trainings pending and overdue, progress per
    score since the previous evaluation, the latest feedback. With --team: what is overdue across
    the team's reps. At any business time (--as-of, default now) and knowledge time (--known-at)."""
    from projections.queries.coaching import rep_coaching, team_coaching

    if (rep is None) == (team is None):
        say = speaker()
        fail(
            say._("give a rep, or --team T, not both"),
            say._("for example: perfledger coaching R-0001, or perfledger coaching --team T-01"),
            EXIT_CONFIG,
        )
    settings = load_settings()
    now = settings.now().astimezone(settings.tz)
    as_of_time = parse_time(as_of, "--as-of") or now
    known_time = parse_time(known_at, "--known-at") or now
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        if team is not None:
            known_or_fail(engine, f"team:{team}")
            answer = team_coaching(engine, settings, team, as_of_time, known_time)
        else:
            assert rep is not None
            known_or_fail(engine, f"rep:{rep}")
            answer = rep_coaching(engine, settings, rep, as_of_time, known_time)
    answer = {**answer, "as_of": as_of_time, "known_at": known_time}
    if as_json:
        print_json(answer)
    elif team is not None:
        _print_team(answer, settings.tz)
    else:
        _print_rep(answer, settings.tz)


STATUSES = {"open": N_("open"), "met": N_("met"), "missed": N_("missed")}


def _day(moment: datetime | None, tz: Any) -> str:
    return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d")


def _heading(what: str, answer: dict[str, Any], tz: Any) -> None:
    when = speaker()._(
        "as of {as_of}, known at {known_at}",
        as_of=f"{answer['as_of'].astimezone(tz):%Y-%m-%d %H:%M}",
        known_at=f"{answer['known_at'].astimezone(tz):%Y-%m-%d %H:%M}",
    )
    out.print(f"[bold]{what}[/bold] {when}")


def _plans(title: str, plans: list[dict[str, Any]], tz: Any, with_rep: bool = False) -> Table:
    say = speaker()
    table = Table(title=title, title_justify="left")
    columns = [N_("plan"), N_("set"), N_("review by"), N_("status"), N_("gaps"), N_("goals")]
    for column in ([N_("rep")] if with_rep else []) + columns:
        table.add_column(say._(column))
    for plan in plans:
        status = say._("OVERDUE") if plan["overdue"] else say._(STATUSES[plan["status"]])
        row = [plan["improvement_plan_id"], _day(plan["set_at"], tz), _day(plan["review_by"], tz), status]
        row += [", ".join(plan["gaps"]), "; ".join(plan["goals"])]
        table.add_row(*([plan["rep_id"]] if with_rep else []), *row)
    return table


def _trainings(title: str, trainings: list[dict[str, Any]], tz: Any, with_rep: bool = False) -> Table:
    say = speaker()
    table = Table(title=title, title_justify="left")
    columns = [N_("training"), N_("what"), N_("gap"), N_("assigned"), N_("due"), N_("status")]
    for column in ([N_("rep")] if with_rep else []) + columns:
        table.add_column(say._(column))
    for training in trainings:
        done = training["completed_at"]
        if done:
            status = say._("done {day}", day=_day(done, tz))
        else:
            status = say._("OVERDUE") if training["overdue"] else say._("pending")
        row = [training["training_id"], training["training"], training["gap"]]
        row += [_day(training["assigned_at"], tz), _day(training["due_by"], tz), status]
        table.add_row(*([training["rep_id"]] if with_rep else []), *row)
    return table


def _print_rep(answer: dict[str, Any], tz: Any) -> None:
    say = speaker()
    _heading(say._("Coaching of {rep}", rep=answer["rep_id"]), answer, tz)
    out.print(_plans(say._("Open improvement plans"), answer["open_plans"], tz))
    if answer["closed_plans"]:
        out.print(_plans(say._("Reviewed plans"), answer["closed_plans"], tz))
    out.print(_trainings(say._("Trainings pending"), answer["trainings_pending"], tz))
    progress = answer["progress"]
    if progress["latest"] is None:
        out.print(say._("No evaluation yet."))
    else:
        latest, before = progress["latest"], progress["previous"]
        if before:
            title = say._(
                "Progress: {latest} ({period}) against {previous} ({previous_period})",
                latest=latest["evaluation_id"],
                period=latest["period"],
                previous=before["evaluation_id"],
                previous_period=before["period"],
            )
        else:
            title = say._(
                "Progress: {latest} ({period}), the first evaluation",
                latest=latest["evaluation_id"],
                period=latest["period"],
            )
        table = Table(title=title, title_justify="left")
        for column in (N_("score"), N_("previous"), N_("latest"), N_("change")):
            table.add_column(say._(column), justify="left" if column == "score" else "right")
        for score in progress["scores"]:
            delta = score["delta"]
            change = "" if delta is None else f"{delta:+d}"
            table.add_row(score["score"], _number(score["previous"]), _number(score["latest"]), change)
        out.print(table)
    feedback = answer["latest_feedback"]
    if feedback is not None:
        out.print(
            say._(
                "Latest feedback ({kind}, {day}): {text}",
                kind=feedback["kind"],
                day=_day(feedback["occurred_at"], tz),
                text=feedback["text"],
            )
        )


def _print_team(answer: dict[str, Any], tz: Any) -> None:
    say = speaker()
    _heading(say._("Overdue in team {team}", team=answer["team_id"]), answer, tz)
    out.print(_plans(say._("Reviews overdue"), answer["overdue_reviews"], tz, with_rep=True))
    out.print(_trainings(say._("Trainings overdue"), answer["overdue_trainings"], tz, with_rep=True))
    table = Table(title=say._("By rep"), title_justify="left")
    columns = (N_("rep"), N_("open plans"), N_("reviews overdue"), N_("trainings pending"), N_("trainings overdue"))
    for column in columns:
        table.add_column(say._(column), justify="left" if column == "rep" else "right")
    for rep in answer["reps"]:
        table.add_row(
            rep["rep_id"],
            *(str(rep[k]) for k in ("open_plans", "overdue_reviews", "trainings_pending", "trainings_overdue")),
        )
    out.print(table)


def _number(value: int | None) -> str:
    return "—" if value is None else str(value)
