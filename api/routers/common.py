"""The error answers every route may give, documented once (so /docs and schemathesis know their
shapes): a 422 lists every problem with its field (`query.period`, `body.plan.version`) and, for
a batch of events, the index of its event; the other refusals say what to do in `detail`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query
from pydantic import BaseModel
from starlette.responses import Response


class Problem(BaseModel):
    index: int | None  # the event of a batch it concerns, if any
    field: str
    code: str  # stable, for programs: `rep.unknown`, `money.cents`, `pydantic.missing`…
    message: str  # in the reader's language (Accept-Language)
    command: str | None = None  # a typed command's refusal: the command (`deal.won`)…
    event: str | None = None  # …and the event of it the problem is in (`DealWon`)


class Problems(BaseModel):
    detail: list[Problem]


class Refusal(BaseModel):
    detail: str  # in the reader's language (Accept-Language)
    code: str  # stable, for programs: `unauthorized`, `not_found`, `store_busy`…
    problems: list[Problem] | None = None  # 403 / 409 for a batch: each refused event with its index


def _refusal(description: str) -> dict[str, Any]:
    return {"model": Refusal, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _refusal("no token, or an unknown or revoked one"),
    403: _refusal("this token's role may not do this"),
    413: _refusal("the request body is too large"),
    422: {"model": Problems, "description": "every problem with the request, each naming its field"},
    503: _refusal("the store is busy, or the projections have not reached `after` yet: retry (Retry-After)"),
}


def download(body: bytes, media_type: str, name: str) -> Response:
    """A file to save (an export, a PDF), named for the browser's download: an ASCII name for old
    clients and the real one (a rep id may be 张伟) percent-encoded as RFC 6266 says."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    disposition = f'attachment; filename="{plain}"'
    if plain != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def sheet_response(sheet: Any, form: str, lang: Any, settings: Any) -> Response:
    """An export (api/exports.py) as the file its `?format=` asked for."""
    from api import exports

    body = exports.render(sheet, form, lang, settings.currency, settings.tz)
    return download(body, exports.MEDIA_TYPES[form], exports.filename(sheet, form))


ExportFormat = Annotated[
    str,
    Query(
        pattern="^(json|csv|xlsx)$",
        description="json (default), or a file for a spreadsheet: csv (UTF-8 with BOM) or xlsx",
    ),
]
