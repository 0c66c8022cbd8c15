"""Every refusal as JSON a client can act on; malformed input is a 4xx, never a 500.

Every text is in the reader's language (Accept-Language, else PERFLEDGER_LOCALE: api/i18n.py), and
beside each is a stable machine `code` (`rep.unknown`, `money.cents`, `not_found`…) a client can act on.

Shapes (docs/design.md, "Interfaces"):
- 422 `{"detail": [{"index": 0 | null, "field": "data.amount", "code": "…", "message": "…"}]}` — every problem,
  whether the ledger found it (InvalidBatch), FastAPI did (query parameters), or the API did
  (the body's shape);
- 409 `{"detail": "…", "code": "…", "problems": [...]}` — an event_id reused with other content, a race;
- 503 `{"detail": "…", "code": "store_busy"}` + Retry-After — the store is busy or unreachable for a
  moment (lock or pool time-out, a lost connection): retry;
- 403 `{"detail": "…", "code": "…", "problems": [...]}` — events this token may not record, each with its index;
- 401 / 404 / 413 `{"detail": "…", "code": "…"}`.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from api.i18n import Lang, choose, from_accept_language, lang, supported
from api.responses import OrjsonResponse
from ledger.errors import ConflictError, InvalidBatch
from ledger.messages import Msg, code_of, message_of
from ledger.schemas import pydantic_message
from projections.db import ReadInterrupted
from services.bounds import OverLimit
from services.policy import NotVisible
from services.recording import Refused

log = logging.getLogger("perfledger.api")

STORE_BUSY = Msg(
    "store_busy",
    "the database is busy or unreachable for a moment: retry shortly (a batch sent with event_ids "
    "is never recorded twice, so the retry is safe even if this one was recorded)",
)
INTERNAL = Msg(
    "internal",
    "internal error; the server log has the details. A batch sent with "
    "event_ids can be retried safely: it is never recorded twice",
)
# The code of a refusal whose text carries none (FastAPI's own, or an unmarked text).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many",
    503: "unavailable",
}
# Contention or a lost connection (a lock or pool time-out, "database is locked", a restart),
# as eventsourcing wraps the drivers' errors and as SQLAlchemy does, or a long read's held
# connection lost mid-way (`ReadInterrupted`: a replay): a 503 with Retry-After.
TRANSIENT_STORE_ERRORS: tuple[type[Exception], ...] = (
    StoreOperationalError,
    StoreInterfaceError,
    SqlOperationalError,
    PoolTimeout,  # every connection of the read pool busy for its whole `pool_timeout`
    ReadInterrupted,
)


class BadRequest(Exception):
    """The request itself is malformed (not one of its events): a 422 listing the problems."""

    def __init__(self, *problems: dict[str, Any]):
        self.problems = list(problems)
        super().__init__("; ".join(p["message"] for p in problems))


def problem(field: str, message: str, index: int | None = None) -> dict[str, Any]:
    return {"index": index, "field": field, "code": code_of(message), "message": message}


def request_lang(request: Request) -> Lang:
    """The reader's language: a supported `?lang=` (the dashboard's download links carry the
    page's language, which a plain link cannot send as a header), else the request's
    Accept-Language, else the configured locale."""
    return lang(
        choose(
            supported(request.query_params.get("lang")),
            from_accept_language(request.headers.get("accept-language")),
            request.app.state.settings.locale,
        )
    )


def spoken(problems: list[dict[str, Any]], speaker: Lang) -> list[dict[str, Any]]:
    return [
        {**p, "code": p.get("code") or code_of(p["message"]), "message": speaker.text(p["message"])} for p in problems
    ]


def refusal(request: Request, text: str, status: int, **extra: Any) -> OrjsonResponse:
    """`{"detail": text, "code": …}` in the reader's language (a 4xx or 5xx without problems)."""
    code = text.code if isinstance(text, Msg) else STATUS_CODES.get(status, "error")
    body = {"detail": request_lang(request).text(text), "code": code}
    headers = extra.pop("headers", None)
    return OrjsonResponse({**body, **extra}, status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """FastAPI's ("query", "limit") → (None, "query.limit"); ("body", "events", 3, "type") → (3, …)."""
    index = None
    if len(loc) > 2 and loc[:2] == ("body", "events") and isinstance(loc[2], int):
        index = loc[2]
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return index, text


def _validation_problems(error: RequestValidationError) -> list[dict[str, Any]]:
    problems = []
    for item in error.errors():
        index, field = _location(tuple(item.get("loc", ())))
        problems.append(problem(field, pydantic_message(item), index))
    return problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidBatch)
    async def invalid_batch(request: Request, exc: InvalidBatch) -> OrjsonResponse:
        return OrjsonResponse({"detail": spoken([p.as_dict() for p in exc.problems], request_lang(request))}, 422)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> OrjsonResponse:
        problems = spoken([p.as_dict() for p in exc.problems], request_lang(request))
        return refusal(request, message_of(exc), 409, problems=problems)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        return OrjsonResponse({"detail": spoken(_validation_problems(exc), request_lang(request))}, 422)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> OrjsonResponse:
        return OrjsonResponse({"detail": spoken(exc.problems, request_lang(request))}, 422)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> OrjsonResponse:
        problems = spoken([p.as_dict() for p in exc.problems], request_lang(request))
        return refusal(request, message_of(exc), 403, problems=problems)

    @app.exception_handler(OverLimit)
    async def over_limit(request: Request, exc: OverLimit) -> OrjsonResponse:
        problems = spoken([p.as_dict() for p in exc.problems], request_lang(request))
        return refusal(request, message_of(exc), 429, problems=problems)

    @app.exception_handler(NotVisible)
    async def not_visible(request: Request, exc: NotVisible) -> OrjsonResponse:
        return refusal(request, Msg("not_found", "{what} not found", what=exc.what), 404)

    @app.exception_handler(HTTPException)
    async def http_refusal(request: Request, exc: HTTPException) -> OrjsonResponse:
        return refusal(request, exc.detail, exc.status_code, headers=exc.headers)

    async def store_busy(request: Request, exc: Exception) -> OrjsonResponse:
        log.warning("store busy or unreachable on %s %s: %r", request.method, request.url.path, exc)
        return refusal(request, STORE_BUSY, 503, headers={"Retry-After": "1"})

    for transient in TRANSIENT_STORE_ERRORS:
        app.add_exception_handler(transient, store_busy)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        # A bug, not the client's fault: log it whole, answer without internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return refusal(request, INTERNAL, 500)
