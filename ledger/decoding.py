"""The log's events as the read side sees them: `LogRecord`s decoded from the stored bytes.

The decoder is the hot path of every rebuild: it drops what a record does not keep, decodes the
business time, and walks the stored JSON for tagged values (a Decimal, a date) only when the event's
class can hold them; an event stored at an older class version is upcast as the library's mapper
would (`upcast_vN_vN+1` on the class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import orjson
from eventsourcing.utils import resolve_topic

from ledger.aggregates import Created, Happened, public_type
from ledger.idempotency import client_event_id
from ledger.transcoder import untag


@dataclass(slots=True)
class LogRecord:
    """One event as the read side sees it: entry metadata plus the decoded fact.

    Read-only by convention, not `frozen`: a frozen dataclass's __init__ is several times
    slower, paid once per event on every rebuild (docs/performance.md), and its `data` dict could
    be mutated anyway. Nothing writes to a record after `to_log_record` made it.
    """

    position: int
    recorded_at: int  # microseconds since the epoch, UTC
    type: str
    rep_id: str | None
    actor: str
    event_id: str | None
    occurred_at: datetime | None  # None only for an entry whose event is missing (`verify` names it)
    data: dict[str, Any]

    @property
    def occurred(self) -> datetime:
        """When the event occurred, for a record whose event is present: every record a reader is
        given but an entry `verify` names as missing its event."""
        assert self.occurred_at is not None
        return self.occurred_at

    @property
    def recorded_at_time(self) -> datetime:
        return micros_to_time(self.recorded_at)


def micros_to_time(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def time_to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a naive time has no place in the ledger: give a zone")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=256)
def _event_class(topic: str) -> type:
    return resolve_topic(topic)


@dataclass(frozen=True)
class _Reading:
    """How to read a topic's stored events: its class, current class_version and public type
    name, and whether its fields can hold tagged values (a Decimal, date, datetime or UUID)."""

    cls: type
    version: int
    public: str
    tagged: bool


_READINGS: dict[str, _Reading] = {}


def _reading_of(topic: str) -> _Reading:
    reading = _READINGS.get(topic)
    if reading is None:
        cls = _event_class(topic)
        reading = _READINGS[topic] = _Reading(
            cls, getattr(cls, "class_version", 1), public_type(cls), not _plain_fields(cls)
        )
    return reading


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


_BASE_FIELDS = frozenset(
    name for base in (Created, Happened) for name in get_type_hints(base)
)  # the library's and occurred_at


def _plain_fields(cls: type) -> bool:
    """Are all of the event's own fields plain JSON values (str, int, float, bool, None, or a
    union of them)? Then its stored form holds no tag but the library's two times. Unsure
    (no annotations to read): False, and its events are walked for tags."""
    try:
        hints = get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: walk its events
        return False
    own = [hint for name, hint in hints.items() if name not in _BASE_FIELDS and get_origin(hint) is not ClassVar]
    return bool(own) and all(_plain(hint) for hint in own)


def _plain(hint: Any) -> bool:
    if get_origin(hint) in (Union, UnionType):
        return all(_plain(arg) for arg in get_args(hint))
    return hint in _PLAIN_TYPES


_NOT_DATA = ("originator_topic", "timestamp", "occurred_at", "class_version")


_DROPPED = ("originator_topic", "timestamp", "class_version")  # _NOT_DATA but occurred_at


# An event as `read_stored` gives it: position, recorded_at, type, rep_id, actor, event_id, topic
# and the stored bytes (topic and bytes None for an entry whose event is missing: see `verify`).
StoredEvent = tuple[int, int, str, "str | None", str, "str | None", "str | None", "bytes | None"]


def decoded(stored: Sequence[StoredEvent]) -> list[LogRecord]:
    """`read_stored`'s events as LogRecords (an entry whose event is missing: `occurred_at` None,
    `data` empty)."""
    return [
        to_log_record(position, at, type_, rep_id, actor, event_id, topic, state)
        if topic is not None and state is not None
        else LogRecord(position, at, type_, rep_id, actor, client_event_id(event_id), None, {})
        for position, at, type_, rep_id, actor, event_id, topic, state in stored
    ]


def to_log_record(
    position: int,
    recorded_at: int,
    type_: str,
    rep_id: str | None,
    actor: str,
    event_id: str | None,
    topic: str,
    state: bytes,
) -> LogRecord:
    """Decode a stored event for the read side, upcasting old versions as the mapper would."""
    event_id = client_event_id(event_id)  # the client's id, without its writer's key scope
    reading = _READINGS.get(topic) or _reading_of(topic)
    values = orjson.loads(state)
    version = values.get("class_version", 1)
    if version < reading.version:  # an old version: decoded whole, then upcast as the mapper would
        values = untag(values)
        while version < reading.version:
            getattr(reading.cls, f"upcast_v{version}_v{version + 1}")(values)
            version += 1
        occurred_at = values["occurred_at"]
        data = {k: v for k, v in values.items() if k not in _NOT_DATA}
        return LogRecord(position, recorded_at, type_ or reading.public, rep_id, actor, event_id, occurred_at, data)
    # The current version (nearly every event): drop what the record does not keep (the
    # library's timestamp, the topic), decode occurred_at, and walk the rest for tagged values
    # only when the class's fields can hold them and the bytes hold more tags than those two
    # times (an activity's fields are all plain: it is never walked).
    for key in _DROPPED:
        values.pop(key, None)
    occurred_at = _decode_time(values.pop("occurred_at")[_DATA])
    if reading.tagged and state.count(_TAG) > 2:
        untag(values)
    return LogRecord(position, recorded_at, type_ or reading.public, rep_id, actor, event_id, occurred_at, values)


_TAG = b'"_type_"'


_DATA = "_data_"


_decode_time = datetime.fromisoformat
