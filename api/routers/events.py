"""The log: record events (POST /events) and read them back by position (GET /events)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, WithJsonSchema

from api.deps import MAX_POSITION, CurrentUser, EngineDep, JsonBody, LedgerDep, LogDep, OrgDep, SettingsDep, allowed
from api.errors import BadRequest, problem
from api.openapi_events import recorded_data
from ledger.decoding import LogRecord
from ledger.schemas import DATA_MODELS
from services import recording
from services.policy import User, readable_reps, visible_actor

router = APIRouter(prefix="/events", tags=["events"])

MAX_EVENTS_PER_REQUEST = 1000
MAX_PAGE = 1000
MAX_PAGE_BYTES = 4 * 1024 * 1024  # a page ends early (next_after says where to go on) past this many stored bytes
if TYPE_CHECKING:
    EventType = str
else:  # the known types, so a typo is refused by name and the schema lists them
    EventType = Literal[tuple(sorted(DATA_MODELS))]


class RecordedOut(BaseModel):
    positions: list[int]
    duplicates: list[int]  # indexes in the batch answered from an earlier append (idempotent repeat)


class LogItem(BaseModel):
    position: int
    type: str
    event_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    rep_id: str | None
    data: Annotated[dict[str, Any], WithJsonSchema(recorded_data())]


class EventsPage(BaseModel):
    events: list[LogItem]
    next_after: int | None  # pass as `after` for the next page; null: this was the last page


_ENVELOPE_EXAMPLE = {
    "type": "DealWon",
    "event_id": "crm-88121-won",
    "occurred_at": "2026-03-05T10:00:00+08:00",
    "data": {"deal_id": "D-88121", "amount": "18000.00"},
}
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Event"},
                        {
                            "type": "object",
                            "title": "Batch",
                            "required": ["events"],
                            "additionalProperties": False,
                            "properties": {
                                "events": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_EVENTS_PER_REQUEST,
                                    "items": {"$ref": "#/components/schemas/Event"},
                                }
                            },
                        },
                    ]
                },
                "examples": {"one": {"value": _ENVELOPE_EXAMPLE}, "batch": {"value": {"events": [_ENVELOPE_EXAMPLE]}}},
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    openapi_extra=_BODY_DOC,
    summary="Record one event or an atomic batch",
    description="For integrations: any client event type, its `data` as the type's schema says (`<Type>Data`). "
    "A person at work uses the typed commands instead (`POST /deals/{deal_id}/won`, …), each naming its fields.",
    responses={
        403: {"description": "an event is beyond this token's reach"},
        409: {"description": "an event_id was reused with other content"},
        422: {"description": "every problem, with the index of its event"},
    },
)
def record_events(
    user: Annotated[User, allowed("events.record")],
    body: JsonBody,
    ledger: LedgerDep,
    settings: SettingsDep,
    org: OrgDep,
    engine: EngineDep,
) -> RecordedOut:
    recorded = recording.record_events(ledger, envelopes_of(body), user, org, engine, settings)
    return RecordedOut(positions=recorded.positions, duplicates=recorded.duplicates)


@router.get("", summary="The log, paged by position, filtered by type and rep")
def read_events(
    user: CurrentUser,
    log: LogDep,
    org: OrgDep,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="return events after this position")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    event_types: Annotated[list[EventType] | None, Query(alias="type", max_length=30)] = None,
    reps: Annotated[list[str] | None, Query(alias="rep", max_length=100)] = None,
) -> EventsPage:
    visible = readable_reps(user, reps, org)  # reps: themselves; managers: their team now
    records, more = log.page_within(after, limit, MAX_PAGE_BYTES, types=event_types, reps=visible)
    return page_of(records, more, user)


def envelopes_of(body: Any) -> list[Any]:
    """One envelope, or {"events": [...]}: the events of a request, at most 1000."""
    if not isinstance(body, dict):
        raise BadRequest(problem("body", 'send one event object, or {"events": [...]}'))
    if "events" not in body:
        return [body]
    extra = sorted(set(body) - {"events"})
    if extra:
        raise BadRequest(*(problem(key, 'unknown field: a batch is {"events": [...]} alone') for key in extra))
    events = body["events"]
    if not isinstance(events, list) or not events:
        raise BadRequest(problem("events", "must be a non-empty list of events"))
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise BadRequest(
            problem(
                "events",
                f"{len(events)} events: at most {MAX_EVENTS_PER_REQUEST} per request; "
                "split the batch (or use `perfledger import` for files)",
            )
        )
    return events


def page_of(records: list[LogRecord], more: bool, reader: User) -> EventsPage:
    """A page, and where the next one starts when more follow."""
    items = [
        LogItem(
            position=r.position,
            type=r.type,
            event_id=r.event_id,
            occurred_at=r.occurred,
            recorded_at=r.recorded_at_time,
            actor=visible_actor(reader, r.actor),
            rep_id=r.rep_id,
            data=r.data,
        )
        for r in records
    ]
    return EventsPage(events=items, next_after=records[-1].position if more and records else None)
