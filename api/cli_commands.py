"""The typed commands on the command line: `perfledger GROUP ACTION`, one per task of
services/commands.py (`perfledger deal won D-1 --amount 18000.00`), made from the registry.

Each has the path's ids as arguments and the body's fields as options (`--amount`, `--rep-id`);
a list is given by repeating its option (`--goal … --goal …`), an object as JSON
(`--process-scores '{"discovery": 75}'`), a scope also as `rep:R-1`, `team:T-1`, `region:East` or
`company`. It writes to the store as the operator (`cli:USER`), like every command of the CLI;
`--by` names the person of an evaluation, feedback or comment (default: `cli:USER`). Output: a
readable line per event, or with `--json` the answer `POST` gives over HTTP.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime, time
from typing import Annotated, Any

import orjson
import typer

from api.cli_common import EXIT_CONFIG, actor, err, fail, load_settings, open_engine, open_ledger, out, speaker
from api.openapi_events import body_schema
from ledger.errors import ConflictError, InvalidBatch
from services import commands
from services.bounds import OverLimit
from services.commands import CommandSpec, Request
from services.recording import Refused

_GROUP_HELP = {
    "rep": "Reps: onboard, transfer, offboard, level.",
    "region": "Regions: create.",
    "team": "Teams: create.",
    "target": "Targets: set, revise, allocate.",
    "activity": "Activities: log a call, visit, email, meeting or demo.",
    "followup": "Follow-ups: schedule and complete.",
    "lead": "Leads: record one.",
    "deal": "Deals: open, won, lost, correct, refund, split.",
    "evaluation": "Evaluations: record one (scores, SWOT).",
    "feedback": "Feedback: give it.",
    "improvement": "Improvement plans: set one.",
    "training": "Trainings: record one completed.",
    "plan": "Incentive plans: publish, assign, acknowledge.",
    "award": "Awards: grant one.",
    "dispute": "Disputes: open, comment, show.",
}


def install(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add every registered command to `app`, in its group (an existing group of the CLI, such as
    `dispute`, gains the commands of its name)."""
    for spec in commands.SPECS:
        group = groups.get(spec.group)
        if group is None:
            group = groups[spec.group] = typer.Typer(no_args_is_help=True, help=_GROUP_HELP.get(spec.group, ""))
            app.add_typer(group, name=spec.group)
        group.command(spec.action, help=_help(spec))(_command(spec))


def _help(spec: CommandSpec) -> str:
    example = " ".join(f"--{_option(k)} {_shown(v)}" for k, v in spec.example.items())
    ids = " ".join(f"{name.upper()}" for name in spec.path_fields)
    return (
        f"{spec.summary}. Records {spec.event_type}.\n\n"
        f"Example: `perfledger {spec.group} {spec.action} {ids} {example}`".replace("  ", " ")
    )


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(map(repr, value))
    return "'" + orjson.dumps(value).decode() + "'"


def _option(name: str) -> str:
    return name.replace("_", "-")


def _kind(schema: dict[str, Any]) -> str:
    """integer, boolean, texts (a list of strings), json (an object or a list of objects) or text."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    first = branches[0] if len(branches) == 1 else {}
    if first.get("type") == "integer":
        return "integer"
    if first.get("type") == "boolean":
        return "boolean"
    if first.get("type") == "array" and first.get("items", {}).get("type") == "string":
        return "texts"
    if first.get("type") in ("object", "array") or "$ref" in first or "oneOf" in first or not first:
        return "json"
    return "text"


def _examples(schema: dict[str, Any]) -> list[Any]:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("examples"):
            return list(branch["examples"])
    return list(schema.get("examples", []))


def _choices(schema: dict[str, Any]) -> list[Any]:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("enum"):
            return list(branch["enum"])
    return []


def _parameters(spec: CommandSpec) -> tuple[list[inspect.Parameter], dict[str, str]]:
    schema = body_schema(spec)["properties"]
    kinds: dict[str, str] = {}
    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str,
                typer.Argument(help=f"The {name.removesuffix('_id')}'s id.", metavar=name.upper(), show_default=False),
            ],
        )
        for name in spec.path_fields
    ]
    for name, info in spec.fields().items():
        kind = kinds[name] = _kind(schema[name])
        required = spec.is_required(name)
        text = " ".join((info.description or "").split())
        examples = _examples(schema[name])
        if examples and kind != "json":
            text += f" E.g. {examples[0]}."
        if _choices(schema[name]):
            text += " One of: " + ", ".join(map(str, _choices(schema[name]))) + "."
        if kind == "json":
            text += " As JSON" + (", or rep:ID, team:ID, region:NAME, company." if name == "scope" else ".")
        if kind == "texts":
            text += " Repeat the option for each item."
        if name == spec.generated:
            text += " Made up when left out."
        python_type: Any = {"integer": int, "boolean": bool, "texts": list[str]}.get(kind, str)
        option = typer.Option(f"--{_option(name)}", help=text.strip() or name, show_default=False)
        annotation: Any = Annotated[python_type if required else python_type | None, option]
        default = inspect.Parameter.empty if required else None
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
    parameters += [
        inspect.Parameter(
            "event_id",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str | None,
                typer.Option("--event-id", help="Your id for it: running the command again records nothing."),
            ],
            default=None,
        ),
        inspect.Parameter(
            "occurred_at",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str | None,
                typer.Option(
                    "--occurred-at",
                    help="When it happened: ISO 8601 with a zone, or a date (its start in PERFLEDGER_TZ). "
                    "Default: now.",
                ),
            ],
            default=None,
        ),
    ]
    if spec.people_field is not None:
        parameters.append(
            inspect.Parameter(
                "by",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    str | None, typer.Option("--by", help=f"Who ({spec.people_field}); default: cli:USER.")
                ],
                default=None,
            )
        )
    parameters.append(
        inspect.Parameter(
            "as_json",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")],
            default=False,
        )
    )
    return parameters, kinds


def _command(spec: CommandSpec) -> Callable[..., None]:
    parameters, kinds = _parameters(spec)

    def run(**given: Any) -> None:
        as_json = given.pop("as_json")
        by = given.pop("by", None)
        path = {name: given.pop(name) for name in spec.path_fields}
        body = {
            name: _value(name, kinds.get(name, "text"), value) for name, value in given.items() if value is not None
        }
        execute(spec, Request(body, path), by, as_json)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__name__ = spec.name.replace(".", "_")
    return run


def _value(name: str, kind: str, value: Any) -> Any:
    if name == "occurred_at":
        return _moment(value)
    if kind != "json":
        return value
    if name == "scope" and not value.lstrip().startswith("{"):
        kind_, _, key = value.partition(":")
        return {"company": True} if value == "company" else {kind_: key}
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        fail(
            speaker()._("--{option} is not valid JSON: {value}", option=_option(name), value=value[:80]),
            speaker()._("see `--help`: it shows an example"),
            EXIT_CONFIG,
        )


def _moment(value: str) -> str:
    """An ISO time as given (the ledger checks its zone), or a date: its start in the ledger's zone."""
    try:
        day = date.fromisoformat(value) if len(value) == len("2026-04-15") else None
    except ValueError:
        day = None
    if day is None:
        return value
    return datetime.combine(day, time.min, tzinfo=load_settings().tz).isoformat()


def execute(spec: CommandSpec, request: Request, by: str | None, as_json: bool) -> None:
    settings = load_settings()
    say = speaker(settings)
    writer = actor("cli")
    with open_ledger(settings) as ledger, open_engine(settings) if spec.facts else nullcontext() as engine:
        try:
            outcome = commands.run_as_operator(ledger, spec, request, writer, by or writer, engine, settings)
        except (InvalidBatch, Refused, ConflictError, OverLimit) as refused:
            for problem in getattr(refused, "problems", []):
                err.print(f"  {_where(spec, problem.field)}: {say.text(problem.message)}", highlight=False)
            fail(
                say._("{command}: nothing was recorded", command=f"{spec.group} {spec.action}"),
                say._("fix what is listed above and run the command again"),
            )
    if as_json:
        out.print_json(orjson.dumps(outcome.as_dict()).decode())
        return
    out.print(say.text(spec.summary), highlight=False)
    for event in outcome.events:
        if event.duplicate:
            line = say._(
                "{type} was already recorded at position {position}: nothing new",
                type=event.type,
                position=event.position,
            )
        else:
            line = say._("recorded {type} at position {position}", type=event.type, position=event.position)
        out.print(f"  {line}", highlight=False)
    if outcome.id is not None:
        out.print(f"  {say._('id')}: {outcome.id}", highlight=False)


def _where(spec: CommandSpec, field: str) -> str:
    """A problem's field as the command line names it: `body.amount` → `--amount`, `path.deal_id` → DEAL_ID."""
    head, _, rest = field.partition(".")
    if head == "body" and rest:
        top = rest.split(".")[0].split("[")[0]
        inner = rest[len(top) :].lstrip(".")
        return f"--{_option(top)}" + (f" ({inner})" if inner else "")
    if head == "path":
        return rest.upper()
    return field
