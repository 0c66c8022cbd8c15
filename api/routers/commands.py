"""The typed commands over HTTP: one `POST` operation per task of services/commands.py's registry,
at resource-style paths (`POST /deals/{deal_id}/won`, `POST /reps/{rep_id}/transfer`): each has
its own request schema (its event's fields, without the people the token names or the ids of its
path), a summary, the event it records in its description, and an example. Answered exactly as
`POST /events` answers the same event: 201 with the positions, 422 naming each field, 403 beyond
the token's reach, 409 an event_id reused with other content, 429 over the activity limits.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import ID_PATTERN, EngineDep, JsonBody, LedgerDep, OrgDep, SettingsDep, allowed
from api.openapi_events import request_schema
from api.routers.common import Refusal
from ledger.schemas import DATA_MODELS
from services import commands
from services.commands import CommandSpec, Request
from services.policy import User

router = APIRouter(tags=["commands"])


class RecordedEventOut(BaseModel):
    type: str
    event_id: str | None  # the idempotency key sent (or made from it), null when none was
    position: int
    duplicate: bool  # answered from an earlier recording of the same event_id: nothing new was written


class CommandOut(BaseModel):
    command: str  # the command's name, as the CLI spells it with a space: `deal.won` → `perfledger deal won`
    id: str | None  # what the command created or acted on (a deal id, a made-up activity id, …)
    events: list[RecordedEventOut]


RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": Refusal, "description": "beyond this token's reach: another team's rep, or a role that may not"},
    409: {"model": Refusal, "description": "the event_id was used before with other content"},
    429: {"model": Refusal, "description": "a rep's self-reported activities over the limits"},
}


def _description(spec: CommandSpec) -> str:
    model = DATA_MODELS[spec.event_type]
    people = f" `{spec.people_field}` is taken from your token." if spec.people_field else ""
    made = f" `{spec.generated}` is made up when left out (the answer's `id`)." if spec.generated else ""
    made += " A rep's token may leave out `rep_id`: their own." if spec.own_rep else ""
    return (
        f"Records **{spec.event_type}**: {inspect.getdoc(model) or ''}{people}{made}\n\n"
        f"Command line: `perfledger {spec.group} {spec.action}`. The same checks and answers as "
        f"`POST /events` with a {spec.event_type}."
    )


def _handler(spec: CommandSpec) -> Any:
    def record(
        user: Annotated[User, allowed("events.record")],
        body: JsonBody,
        ledger: LedgerDep,
        org: OrgDep,
        engine: EngineDep,
        settings: SettingsDep,
        **path: str,
    ) -> CommandOut:
        outcome = commands.run(ledger, spec, Request(body, path), user, org, engine, settings)
        return CommandOut.model_validate(outcome.as_dict())

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        for name, annotation in (
            ("user", Annotated[User, allowed("events.record")]),
            ("body", JsonBody),
            ("ledger", LedgerDep),
            ("org", OrgDep),
            ("engine", EngineDep),
            ("settings", SettingsDep),
        )
    ]
    parameters += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str,
                Path(min_length=1, max_length=64, pattern=ID_PATTERN, description=f"the {name.removesuffix('_id')}"),
            ],
        )
        for name in spec.path_fields
    ]
    record.__signature__ = inspect.Signature(parameters, return_annotation=CommandOut)  # type: ignore[attr-defined]
    record.__name__ = f"command_{spec.name.replace('.', '_')}"
    return record


def _add(spec: CommandSpec) -> None:
    router.add_api_route(
        spec.path,
        _handler(spec),
        methods=["POST"],
        status_code=201,
        response_model=CommandOut,
        summary=str(spec.summary),
        description=_description(spec),
        operation_id=f"command_{spec.name.replace('.', '_')}",
        responses=RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema(spec), "example": dict(spec.example)}},
            }
        },
    )


for _spec in commands.SPECS:
    _add(_spec)
