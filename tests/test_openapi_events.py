"""The OpenAPI document types every event's data: no `data` of an event, in a request or an
answer, is a bare object (`{"type": "object"}` with nothing said of its fields), and every event
type a client may record has its envelope in the union `POST /events` takes."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from ledger.config import Settings
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES

TYPED_KEYS = ("properties", "$ref", "oneOf", "anyOf", "allOf", "additionalProperties", "patternProperties")


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(database_url=f"sqlite:///{folder}/l.db")).openapi()


def bare_objects(node: Any, where: str = "") -> list[str]:
    """Where, under `node`, a schema is an object that says nothing of what it holds."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and not any(key in node for key in TYPED_KEYS):
            found.append(where or "/")
        if node.get("additionalProperties") is True and "properties" not in node:
            found.append(where or "/")
        for key, value in node.items():
            found += bare_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += bare_objects(value, f"{where}/{index}")
    return found


def event_data_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Every `data` property of a schema, in the paths and the components, by where it is."""
    found: dict[str, Any] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and "data" in properties:
                found[f"{where}/properties/data"] = properties["data"]
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(document, "")
    return found


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    return document["components"]["schemas"][name]


def test_no_event_data_in_the_openapi_document_is_a_bare_object(document):
    datas = event_data_schemas(document)
    assert "/components/schemas/LogItem/properties/data" in datas  # GET /events' items
    assert len(datas) >= len(DATA_MODELS) - len(SYSTEM_TYPES) + 1
    bare = {where: schema for where, schema in datas.items() if bare_objects(resolved(document, schema))}
    assert bare == {}


def test_no_data_schema_of_an_event_holds_a_bare_object_anywhere_inside(document):
    schemas = document["components"]["schemas"]
    inside = {name: bare_objects(schema) for name, schema in schemas.items() if name.endswith("Data")}
    assert {name: where for name, where in inside.items() if where} == {}


def test_post_events_takes_one_envelope_per_client_event_type_discriminated_by_type(document):
    schemas = document["components"]["schemas"]
    union = schemas["Event"]
    client_types = sorted(set(DATA_MODELS) - SYSTEM_TYPES)
    assert sorted(union["discriminator"]["mapping"]) == client_types
    assert "PayoutApproved" not in union["discriminator"]["mapping"]
    won = schemas["DealWonEvent"]
    assert won["properties"]["type"]["const"] == "DealWon"
    assert won["properties"]["data"] == {"$ref": "#/components/schemas/DealWonData"}
    data = schemas["DealWonData"]
    assert data["required"] == ["deal_id", "amount"]
    assert data["properties"]["amount"]["type"] == "string"  # money is a string on the wire
    body = document["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Event"} in body["oneOf"]


def test_the_walk_finds_a_bare_object_where_there_is_one():
    assert bare_objects({"properties": {"data": {"type": "object"}}}) == ["/properties/data"]
    assert bare_objects({"type": "object", "additionalProperties": True}) == ["/"]
    assert bare_objects({"type": "object", "properties": {"a": {"type": "string"}}}) == []


def test_the_log_shows_a_reps_name_opened_as_its_schema_says_not_the_sealed_envelope(api):
    page = api.get("/events", type="RepOnboarded", rep="R-ann").json()["events"]
    assert [event["data"]["name"] for event in page] == ["Rep R-ann"]  # as builders.onboard names them


def test_each_command_has_its_own_operation_naming_its_event_with_an_example_and_no_people_fields(document):
    from services.commands import SPECS

    for spec in SPECS:
        operation = document["paths"][spec.path]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        properties = body["schema"]["properties"]
        assert operation["summary"] == str(spec.summary)
        assert spec.event_type in operation["description"], spec.name
        assert set(body["example"]) <= set(properties), spec.name
        assert {"event_id", "occurred_at"} <= set(properties)
        assert not {"author_id", "evaluator_id", "resolver_id", "approver_id"} & set(properties), spec.name
        assert not set(spec.path_fields) & set(properties), spec.name
        assert [p["name"] for p in operation.get("parameters", [])] == list(spec.path_fields)
    won = document["paths"]["/deals/{deal_id}/won"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert won["required"] == ["amount"] and won["additionalProperties"] is False
    revise = document["paths"]["/targets/revisions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "reason" in revise["required"]  # optional in TargetSet, required to revise
