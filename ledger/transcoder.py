"""orjson transcoding for the event store, exact for Decimal, datetime, date and UUID.

The stored form is the same tagged JSON as the library's own JSONTranscoder
(`{"_type_": "decimal_str", "_data_": "1.50"}`), so a stored event stays readable by the
library's default tooling; only the speed differs (orjson instead of the json module).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder

_TYPE, _DATA = "_type_", "_data_"


def _tag(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _tag(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_tag(item) for item in value]
    if kind is Decimal:
        return {_TYPE: "decimal_str", _DATA: str(value)}
    if kind is datetime:
        return {_TYPE: "datetime_iso", _DATA: value.isoformat()}
    if kind is date:
        return {_TYPE: "date_iso", _DATA: value.isoformat()}
    if kind is UUID:
        return {_TYPE: "uuid_hex", _DATA: value.hex}
    return value


_DECODERS = {
    "decimal_str": Decimal,
    "datetime_iso": datetime.fromisoformat,
    "date_iso": date.fromisoformat,
    "uuid_hex": UUID,
}


def _untag(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and _TYPE in value and _DATA in value:
            return _DECODERS[value[_TYPE]](value[_DATA])
        return {key: _untag(item) for key, item in value.items()}
    if kind is list:
        return [_untag(item) for item in value]
    return value


def encode(obj: Any) -> bytes:
    return orjson.dumps(_tag(obj))


def decode(data: bytes) -> Any:
    return _untag(orjson.loads(data))


class OrjsonTranscoder(Transcoder):
    """Plugged into the application by TRANSCODER_TOPIC-free construction (see store.py)."""

    def encode(self, obj: Any) -> bytes:
        return encode(obj)

    def decode(self, data: bytes) -> Any:
        return decode(data)


def canonical(obj: Any) -> bytes:
    """Canonical bytes for hashing: sorted keys, tagged types, no whitespace."""
    return orjson.dumps(_tag(obj), option=orjson.OPT_SORT_KEYS)
