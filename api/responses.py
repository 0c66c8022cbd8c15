"""JSON out: orjson, with the ledger's conventions (money as decimal strings, times in ISO 8601).

FastAPI (0.165 here) deprecates its own `ORJSONResponse` (it now serialises response models straight
to bytes with Pydantic), and that class could not write a Decimal anyway. This small class is
ours: every error body and every handler that returns one directly goes through `dumps`.

How a handler's return value reaches the wire (see "Adding a router" in api/app.py):
- it declares its return type (a Pydantic model, or `dict[str, Any]`): FastAPI validates it and
  dumps it in JSON mode (Decimal → "1234.50", datetime → ISO 8601), then `OrjsonResponse` encodes;
- or it returns `OrjsonResponse(payload)` itself (large payloads: no validation pass at all);
- or, on a hot read, it builds its model and returns `model_response(model)` with the model named
  in the decorator (`response_model=KpisOut`, for /docs): the same JSON as the first way (pydantic's
  JSON mode, straight to bytes), without FastAPI's second validation of a model just validated —
  which for a plain-`def` handler is one more trip through the thread pool.
A handler with neither would go through FastAPI's `jsonable_encoder`, which turns a Decimal into
a float and loses cents; tests/test_api_events.py fails on any such route.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response


def _default(value: Any) -> Any:
    """What orjson cannot write by itself."""
    if isinstance(value, Decimal):
        return str(value)  # never a float: money keeps its cents
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def dumps(content: Any) -> bytes:
    # orjson writes datetimes, dates, UUIDs and dataclasses natively (RFC 3339 / ISO 8601).
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """A validated model as its JSON response: Decimal → "1234.50", datetime → ISO 8601, as when
    FastAPI serialises a declared return type (by alias, nothing excluded)."""
    return Response(
        model.__pydantic_serializer__.to_json(model, by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
