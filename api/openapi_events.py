"""The events and commands in the OpenAPI document: every event's `data` typed by its model.

Components (shared, so /docs shows each once):
- `<Type>Data`: an event's data, from its pydantic model in ledger/schemas.py (its nested objects
  as `SwotData`, `SplitData`);
- `<Type>Event`: an envelope of that type (`type` fixed to it, `event_id`, `occurred_at`, `data`),
  for every event type a client may record;
- `Event`: one of them, discriminated by `type` (the body of `POST /events`, or each item of a
  batch); `RecordedData`: any event's data as `GET /events` returns it.

`install(app)` adds these to the app's document; `request_schema(spec)` is a command's body
(services/commands.py), derived from its event's data schema.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.deps import inline_schema
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES
from services.commands import ENVELOPE_FIELDS, CommandSpec

REF = "#/components/schemas/"
CLIENT_TYPES = [name for name in DATA_MODELS if name not in SYSTEM_TYPES]
EVENT_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "pattern": r"^[^\s\x00-\x1f]+$",
    "description": "Your own id for this event (the idempotency key): sending it again answers the first "
    "recording and records nothing.",
    "examples": ["crm-88121-won"],
}
OCCURRED_AT_TEXT = "When it happened (business time), ISO 8601 with a zone."
OCCURRED_AT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "description": OCCURRED_AT_TEXT,
    "examples": ["2026-03-05T10:00:00+08:00"],
}


def data_ref(event_type: str) -> dict[str, str]:
    return {"$ref": f"{REF}{event_type}Data"}


@cache
def _data_schemas() -> dict[str, dict[str, Any]]:
    """`<Type>Data` for every event type, and the objects nested in them."""
    components: dict[str, dict[str, Any]] = {}
    for name, model in DATA_MODELS.items():
        schema = model.model_json_schema(ref_template=REF + "{model}Data")
        for nested, nested_schema in schema.pop("$defs", {}).items():
            components[f"{nested}Data"] = nested_schema
        components[f"{name}Data"] = schema
    return components


def data_schemas() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(_data_schemas())


def envelope_schema(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": f"{event_type}Event",
        "description": DATA_MODELS[event_type].__doc__ or event_type,
        "required": ["type", "occurred_at", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "const": event_type},
            "event_id": EVENT_ID_SCHEMA,
            "occurred_at": OCCURRED_AT_SCHEMA,
            "data": data_ref(event_type),
        },
    }


def event_union() -> dict[str, Any]:
    """Any event a client may record, by its `type`."""
    return {
        "oneOf": [{"$ref": f"{REF}{name}Event"} for name in CLIENT_TYPES],
        "discriminator": {"propertyName": "type", "mapping": {name: f"{REF}{name}Event" for name in CLIENT_TYPES}},
    }


def recorded_data() -> dict[str, Any]:
    """Any event's data as the log returns it: the schema of its `type`."""
    return {
        "description": "The event's data: the fields of its type (the `<type>Data` schemas), personal "
        'texts reading "[erased]" once erased.',
        "anyOf": [data_ref(name) for name in DATA_MODELS],
    }


def components() -> dict[str, dict[str, Any]]:
    schemas = data_schemas()
    schemas.update({f"{name}Event": envelope_schema(name) for name in CLIENT_TYPES})
    schemas["Event"] = event_union()
    return schemas


def body_schema(spec: CommandSpec) -> dict[str, Any]:
    """The schema the command's fields come from: its own body model's, else its event's data."""
    if spec.body_model is not None:
        return inline_schema(spec.body_model.model_json_schema())
    return data_schemas()[f"{spec.event_type}Data"]


def request_schema(spec: CommandSpec) -> dict[str, Any]:
    """A command's body: its event's data, minus the token's people and the path's ids, plus
    `event_id` and `occurred_at`."""
    data = body_schema(spec)
    fields = spec.fields()
    properties = {name: schema for name, schema in data["properties"].items() if name in fields}
    properties["event_id"] = EVENT_ID_SCHEMA
    properties["occurred_at"] = {
        **OCCURRED_AT_SCHEMA,
        "description": OCCURRED_AT_TEXT + " Default: now.",
    }
    required = [name for name in fields if spec.is_required(name)]
    if spec.own_rep:
        properties["rep_id"] = {**properties["rep_id"], "description": "Left out by a rep's token: their own."}
    for name in spec.required:
        properties[name] = _not_null(properties[name])
    return {
        "type": "object",
        "title": _camel(spec.name) + "Request",
        "description": f"{spec.summary}. Records {spec.event_type}: {DATA_MODELS[spec.event_type].__doc__ or ''}",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field a task requires: its schema without the `null` branch."""
    branches = [branch for branch in schema.get("anyOf", ()) if branch.get("type") != "null"]
    if len(branches) == 1:
        rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
        return {**rest, **branches[0]}
    return schema


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", ".").split("."))


def install(app: FastAPI) -> None:
    """The app's OpenAPI document with the events' components added (built once, on first ask)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(components())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["ENVELOPE_FIELDS", "components", "install", "request_schema"]
