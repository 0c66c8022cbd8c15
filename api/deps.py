"""What a handler asks for, as `Annotated` aliases: `def handler(user: CurrentUser, ledger: LedgerDep)`."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from ledger.config import Settings
from ledger.store import Ledger

from .auth import authenticate
from .errors import BadRequest, problem
from .log_queries import LogReader
from .policy import CAPABILITIES, OrgView, User


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _ledger(request: Request) -> Ledger:
    return request.app.state.ledger


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _log(request: Request) -> LogReader:
    return request.app.state.log


def _org(request: Request) -> OrgView:
    # app.state.org is anything with view() -> OrgView: the cache, a projection, a test double.
    return request.app.state.org.view()


SettingsDep = Annotated[Settings, Depends(_settings)]
LedgerDep = Annotated[Ledger, Depends(_ledger)]
EngineDep = Annotated[Engine, Depends(_engine)]
LogDep = Annotated[LogReader, Depends(_log)]
OrgDep = Annotated[OrgView, Depends(_org)]

# The scheme is declared so /docs shows the lock and an "Authorize" box; errors are ours
# (auto_error=False) so that every 401 carries WWW-Authenticate and the same wording.
bearer = HTTPBearer(auto_error=False, description="A token from `perfledger token create --role ROLE`.")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def _current_user(engine: EngineDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    if credentials is None:
        raise _unauthorized("no bearer token: send 'Authorization: Bearer <token>' "
                            "(an admin creates one with `perfledger token create`)")
    user = authenticate(engine, credentials.credentials)
    if user is None:
        raise _unauthorized("unknown or revoked token: ask an admin for a new one")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


def require_roles(*roles: str) -> Any:
    """`user: Annotated[User, require_roles("admin", "finance")]`, or in `dependencies=[...]`."""
    allowed_roles = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed_roles:
            raise HTTPException(403, f"a {user.role} token may not do this; it needs one of: {', '.join(sorted(allowed_roles))}")
        return user

    return Depends(check)


def allowed(capability: str) -> Any:
    """require_roles for a named capability of policy.CAPABILITIES, so the table stays the one truth."""
    return require_roles(*CAPABILITIES[capability])


async def _json_body(request: Request) -> Any:
    # Read here, after authentication (FastAPI would parse a declared body before any
    # dependency runs), with orjson; a number stays a number for the ledger to refuse as money.
    raw = await request.body()
    if not raw.strip():
        raise BadRequest(problem("body", "the request body is empty: send a JSON event or {\"events\": [...]}"))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(problem("body", f"not valid JSON: {error}")) from None


JsonBody = Annotated[Any, Depends(_json_body)]
