"""orjson transcoding for the event store, exact for Decimal, datetime, date and UUID.

The stored form is the same tagged JSON as the library's own JSONTranscoder
(`{"_type_": "decimal_str", "_data_": "1.50"}`), so a stored event stays readable by the
library's default tooling; only the speed differs (orjson instead of the json module).
"""

from __future__ import annotations

from collections.abc import Callable
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
        # Plain values (most of an event) are kept without a call; only the rest is walked.
        return {key: item if type(item) in _PLAIN else _tag(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [item if type(item) in _PLAIN else _tag(item) for item in value]
    if kind is Decimal:
        return {_TYPE: "decimal_str", _DATA: str(value)}
    if kind is datetime:
        return {_TYPE: "datetime_iso", _DATA: value.isoformat()}
    if kind is date:
        return {_TYPE: "date_iso", _DATA: value.isoformat()}
    if kind is UUID:
        return {_TYPE: "uuid_hex", _DATA: value.hex}
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})  # what _tag returns as it is

_DECODERS: dict[str, Callable[[Any], Any]] = {
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
        # The dict is orjson's fresh output, ours alone: replace tagged values in place (same
        # keys, same order) rather than copy every dict and call once per plain value.
        for key, item in value.items():
            nested = type(item)
            if nested is dict:
                if len(item) == 2 and _TYPE in item and _DATA in item:  # a tagged value: decode it here
                    value[key] = _DECODERS[item[_TYPE]](item[_DATA])
                else:
                    value[key] = _untag(item)
            elif nested is list:
                value[key] = _untag(item)
        return value
    if kind is list:
        for i, item in enumerate(value):
            if type(item) in _NESTED:
                value[i] = _untag(item)
        return value
    return value


def untag(value: Any) -> Any:
    """Restore Decimal, datetime, date and UUID in a value fresh from `orjson.loads` (in place)."""
    return _untag(value)


_NESTED = frozenset({dict, list})


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
