"""Every refusal as JSON a client can act on; malformed input is a 4xx, never a 500.

Shapes (docs/design.md, "Interfaces"):
- 422 `{"detail": [{"index": 0 | null, "field": "data.amount", "message": "…"}]}` — every problem,
  whether the ledger found it (InvalidBatch), FastAPI did (query parameters), or the API did
  (the body's shape);
- 409 `{"detail": "…", "problems": [...]}` — an event_id reused with other content, a race;
- 503 `{"detail": "…"}` + Retry-After — the store is busy or unreachable for a moment (lock or pool
  time-out, a lost connection): retry;
- 403 `{"detail": "…", "problems": [...]}` — events this token may not record, each with its index;
- 401 / 404 / 413 `{"detail": "…"}`.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from api.responses import OrjsonResponse
from ledger.errors import ConflictError, InvalidBatch
from services.policy import NotVisible
from services.recording import Refused

log = logging.getLogger("perfledger.api")

STORE_BUSY = (
    "the database is busy or unreachable for a moment: retry shortly (a batch sent with event_ids "
    "is never recorded twice, so the retry is safe even if this one was recorded)"
)
# Contention or a lost connection (a lock or pool time-out, "database is locked", a restart),
# as eventsourcing wraps the drivers' errors and as SQLAlchemy does: a 503 with Retry-After.
TRANSIENT_STORE_ERRORS: tuple[type[Exception], ...] = (StoreOperationalError, StoreInterfaceError, SqlOperationalError)


class BadRequest(Exception):
    """The request itself is malformed (not one of its events): a 422 listing the problems."""

    def __init__(self, *problems: dict[str, Any]):
        self.problems = list(problems)
        super().__init__("; ".join(p["message"] for p in problems))


def problem(field: str, message: str, index: int | None = None) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


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
        message = str(item.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append(problem(field, message, index))
    return problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidBatch)
    async def invalid_batch(_: Request, exc: InvalidBatch) -> OrjsonResponse:
        return OrjsonResponse({"detail": [p.as_dict() for p in exc.problems]}, status_code=422)

    @app.exception_handler(ConflictError)
    async def conflict(_: Request, exc: ConflictError) -> OrjsonResponse:
        return OrjsonResponse({"detail": str(exc), "problems": [p.as_dict() for p in exc.problems]}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> OrjsonResponse:
        return OrjsonResponse({"detail": _validation_problems(exc)}, status_code=422)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> OrjsonResponse:
        return OrjsonResponse({"detail": exc.problems}, status_code=422)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> OrjsonResponse:
        return OrjsonResponse({"detail": str(exc), "problems": [p.as_dict() for p in exc.problems]}, status_code=403)

    @app.exception_handler(NotVisible)
    async def not_visible(_: Request, exc: NotVisible) -> OrjsonResponse:
        return OrjsonResponse({"detail": str(exc)}, status_code=404)

    async def store_busy(request: Request, exc: Exception) -> OrjsonResponse:
        log.warning("store busy or unreachable on %s %s: %r", request.method, request.url.path, exc)
        return OrjsonResponse({"detail": STORE_BUSY}, status_code=503, headers={"Retry-After": "1"})

    for transient in TRANSIENT_STORE_ERRORS:
        app.add_exception_handler(transient, store_busy)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        # A bug, not the client's fault: log it whole, answer without internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return OrjsonResponse(
            {
                "detail": "internal error; the server log has the details. A batch sent with "
                "event_ids can be retried safely: it is never recorded twice"
            },
            status_code=500,
        )
