"""What a handler asks for, as `Annotated` aliases: `def handler(user: CurrentUser, ledger: LedgerDep)`.

- who: `CurrentUser`, `allowed("payouts.approve")` (403 for other roles), `VisibleScope` /
  `VisibleRep` (a scope or rep out of the caller's reach: 404; a region for a rep: 403),
  `PayoutReps` (the reps whose payouts the caller sees);
- what: `Period`, `PeriodPath`, `AsOf`, `KnownAt`, `RepId` — validated parameters whose refusals
  name the parameter (`query.period`) and say what to send;
- fresh reads: `FreshProjections` (catch up before reading; `after=` waits for a position; with a
  projection worker, `worker_reached`), `FiguresAtHead`, or both with the settings and the read
  engine as one dependency, `FreshReadDep` (the hottest reads);
- bodies: `JsonBody` + `parse_body(Model, body)` + `body_doc(Model, example)` for /docs;
- the layers' refusals: `with refused_as(409, ApprovalRefused)`, `with invalid_as("body.plan", PlanError)`.

Every dependency here is `async def` and answers from memory in the common case: FastAPI runs a
plain-`def` dependency in the thread pool, and under load each such hop queued behind the
handlers for the GIL (a read made eight). What they must learn from the store per request (log
head, projected position, revoked-token count) is one cheap query (`Glance`, api/probe.py);
anything that blocks for longer (a token not seen lately, a catch-up, an org fold, an org view
that is not the in-process cache) still runs in the thread pool.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from weakref import WeakKeyDictionary

import orjson
from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api import auth
from api.errors import BadRequest, problem
from api.figures_memo import MemoAtHead
from api.log_queries import LogReader
from api.org_cache import OrgCache
from api.org_view import ProjectedOrg
from api.probe import Glance
from ledger.config import Settings
from ledger.messages import Msg, message_of
from ledger.periods import parse_period
from ledger.schemas import pydantic_message
from ledger.store import Ledger
from projections.db import is_sqlite
from projections.queries.membership import parse_scope
from projections.runner import catch_up, projected_position, wait_for
from services.policy import CAPABILITIES, OrgView, OutOfRole, User, check_rep, check_scope, readable_reps

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _ledger(request: Request) -> Ledger:
    return request.app.state.ledger


async def _engine(request: Request) -> Engine:
    """The read side's engine: a GET's (or HEAD's) is the replica's where reads go to one
    (`app.state.read_engine`, PERFLEDGER_READ_DATABASE_URL); every other request's the primary's."""
    state = request.app.state
    if request.method in ("GET", "HEAD"):
        return getattr(state, "read_engine", state.engine)
    return state.engine


async def _log(request: Request) -> LogReader:
    return request.app.state.log


async def glance(request: Request) -> Glance:
    """The store as this request finds it: read once, when first asked (by authentication, before
    anything else), and kept on the request. Not a dependency of its own: FastAPI re-solves a
    shared sub-dependency's tree for each dependant that names it, and this is asked for thrice."""
    seen = getattr(request.state, "glance", None)
    if seen is None:
        seen = request.state.glance = await request.app.state.probe.glance()
    return seen


async def _org(request: Request) -> OrgView:
    # app.state.org is anything with view() -> OrgView: the cache, a projection, a test double.
    org = request.app.state.org
    if isinstance(org, ProjectedOrg):
        return org.view()  # reads nothing until asked (in the thread pool: `_policy`)
    if isinstance(org, OrgCache) and org.covers((await glance(request)).head):
        return org  # nothing recorded since its last fold: view() would be a no-op
    return await run_in_threadpool(org.view)


SettingsDep = Annotated[Settings, Depends(_settings)]
LedgerDep = Annotated[Ledger, Depends(_ledger)]
EngineDep = Annotated[Engine, Depends(_engine)]
LogDep = Annotated[LogReader, Depends(_log)]
OrgDep = Annotated[OrgView, Depends(_org)]


async def _policy(org: OrgView, check: Any, *args: Any) -> Any:
    """A policy question, answered in the event loop when the org view is the in-process cache
    (pure memory), in the thread pool otherwise (a projection's org query reads the database)."""
    if isinstance(org, OrgCache):
        return check(*args)
    return await run_in_threadpool(check, *args)


# The scheme is declared so /docs shows the lock and an "Authorize" box; errors are ours
# (auto_error=False) so that every 401 carries WWW-Authenticate and the same wording.
bearer = HTTPBearer(auto_error=False, description="A token from `perfledger token create --role ROLE`.")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


# The dashboard's session: the token in an HttpOnly, SameSite=Strict cookie set by
# POST /web/sign-in (api/routers/web.py), so the page's script never holds it and a form
# submitted before any script ran never puts it in a URL. A bearer token, when sent, wins.
SESSION_COOKIE = "perfledger_session"
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The dashboard's session, set by POST /web/sign-in (HttpOnly, SameSite=Strict).",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-Requested-With"


def same_origin(request: Request) -> bool:
    """The request says it comes from a page of this server: the browser's own Sec-Fetch-Site
    (a page cannot set it), else an Origin (or, without one, a Referer) naming this server's
    scheme, host and port. (The dashboard sends no referrer, so a form's Origin is "null".)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    return referer is not None and (referer == own or referer.startswith(own + "/"))


def _cookie_write_allowed(request: Request) -> bool:
    """A write signed in by the cookie alone must show it is the page's own: the browser only
    lets a script of this origin add a custom header (SameSite=Strict already keeps the cookie
    off other sites' requests; this holds even where a browser ignores SameSite)."""
    return request.method in SAFE_METHODS or CSRF_HEADER.lower() in request.headers or same_origin(request)


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> User:
    if credentials is not None:
        token = credentials.credentials
    elif cookie:
        if not _cookie_write_allowed(request):
            raise HTTPException(
                403,
                Msg(
                    "session.csrf",
                    "a write signed in by the dashboard's session cookie must come from the dashboard: "
                    "send the header 'X-Requested-With: perfledger' (or an Origin of this server), "
                    "or authenticate with 'Authorization: Bearer <token>'",
                ),
            )
        token = cookie
    else:
        raise _unauthorized(
            Msg(
                "token.missing",
                "no bearer token: send 'Authorization: Bearer <token>' "
                "(an admin creates one with `perfledger token create`)",
            )
        )
    user = None
    if auth.acceptable(token):
        revoked = (await glance(request)).revoked
        # A token verified a moment ago, with no revocation since (the count was read before this
        # lookup, so a revocation racing it changes the count and ends the entry), is not re-read.
        principals: auth.Principals = request.app.state.principals
        token_hash = auth.hash_token(token)
        user = principals.get(token_hash, revoked)
        if user is None:
            user = await run_in_threadpool(auth.authenticate_hashed, request.app.state.engine, token_hash)
            if user is not None:
                principals.put(token_hash, user, revoked)
    if user is None:
        raise _unauthorized(Msg("token.unknown", "unknown or revoked token: ask an admin for a new one"))
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


def require_roles(*roles: str) -> Any:
    """`user: Annotated[User, require_roles("admin", "finance")]`, or in `dependencies=[...]`."""
    allowed_roles = frozenset(roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed_roles:
            raise HTTPException(
                403,
                Msg(
                    "role.forbidden",
                    "a {role} token may not do this; it needs one of: {roles}",
                    role=user.role,
                    roles=", ".join(sorted(allowed_roles)),
                ),
            )
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
        raise BadRequest(
            problem("body", Msg("body.empty", 'the request body is empty: send a JSON event or {{"events": [...]}}'))
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(problem("body", Msg("body.json", "not valid JSON: {error}", error=error))) from None


JsonBody = Annotated[Any, Depends(_json_body)]


# ---------------------------------------------------------------- refusals of the layers below


@contextmanager
def refused_as(status: int, *errors: type[Exception]) -> Iterator[None]:
    """`with refused_as(409, ApprovalRefused): …` — a layer's refusal, its message as the detail."""
    try:
        yield
    except errors as error:
        raise HTTPException(status, message_of(error)) from None


@contextmanager
def invalid_as(field: str, *errors: type[Exception]) -> Iterator[None]:
    """`with invalid_as("body.plan", PlanError): …` — a layer's ValueError as a 422 naming the field."""
    try:
        yield
    except errors as error:
        raise BadRequest(problem(field, message_of(error))) from None


def parse_body(model: type[M], body: Any) -> M:
    """A JSON body (read by JsonBody, after authentication) validated against `model`: every
    problem a 422 naming its field (`body.plan.version`)."""
    if not isinstance(body, dict):
        raise BadRequest(
            problem(
                "body",
                Msg(
                    "body.not_object", "send a JSON object with the fields of {model}, see /docs", model=model.__name__
                ),
            )
        )
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise BadRequest(*(problem(_field("body", item["loc"]), _message(item)) for item in error.errors())) from None


def _field(root: str, loc: tuple[Any, ...]) -> str:
    text = root
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _message(item: Any) -> str:
    return pydantic_message(item)


def body_doc(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the JSON body of a route that reads it with JsonBody
    (so /docs and schemathesis know it), its nested models inlined."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model.model_json_schema()), "example": example}},
        }
    }


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(dict(definitions[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


# ---------------------------------------------------------------- query and path parameters

MIN_YEAR, MAX_YEAR = 2000, 2100  # what a query may ask about: bounded, so no input overflows a time
MAX_POSITION = 2**53  # a log position (JSON-safe integer)
_ID = r"^[^\s\x00-\x1f/]+$"
ID_PATTERN = _ID  # an id: no blanks, control characters or slashes


def _period(value: str) -> str:
    parsed = parse_period(value)  # ValueError: "… is not a period: use YYYY-MM, YYYY-Qn, YYYY-Www or YYYY"
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(_year_out_of_range(parsed.year))
    return str(parsed)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            Msg("time.query", "{value!r} is not an ISO 8601 time: use e.g. 2026-04-03T00:00:00+08:00", value=value[:40])
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            Msg("time.naive", "needs a time zone (a naive time is ambiguous): e.g. 2026-04-03T00:00:00+08:00 or …Z")
        )
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(_year_out_of_range(moment.year))
    return moment


def _year_out_of_range(year: int) -> Msg:
    return Msg(
        "year.range", "year {year} is out of range: ask about {low}..{high}", year=year, low=MIN_YEAR, high=MAX_YEAR
    )


def _scope(value: str) -> str:
    scope = parse_scope(value)  # ValueError: "… is not a scope: use rep:ID, team:ID, region:NAME or company"
    if scope.value is not None and not re.match(_ID, scope.value):
        raise ValueError(
            Msg(
                "scope.id_chars",
                "{value!r}: the id or name after the colon must not contain spaces, slashes or control characters",
                value=value[:40],
            )
        )
    return str(scope)


# Periods and times arrive as text and are checked here, so each refusal names its parameter
# (`query.period`) and says what to send; a time must carry its zone and lie in 2000..2100.
# The pattern is documented (so generated requests look like periods) but checked by _period,
# whose message says what to send rather than quoting a regular expression.
_PERIOD_DOC = {"pattern": r"^(20[0-9]{2}|2100)(-(0[1-9]|1[0-2])|-Q[1-4]|-W(0[1-9]|[1-4][0-9]|5[0-3]))?$"}
Period = Annotated[
    str,
    Field(
        min_length=4,
        max_length=8,
        examples=["2026-Q1"],
        json_schema_extra=_PERIOD_DOC,
        description="YYYY-MM, YYYY-Qn, YYYY-Www (an ISO week) or YYYY (2000..2100)",
    ),
    AfterValidator(_period),
]
if TYPE_CHECKING:
    # What a handler receives: the aware datetime `_moment` makes of the text.
    Moment = datetime
else:
    # What a client sends: the text, bounded and described as such, then read by `_moment`.
    Moment = Annotated[
        str,
        Field(
            min_length=10,
            max_length=40,
            json_schema_extra={"format": "date-time"},
            examples=["2026-04-03T00:00:00+08:00"],
            description="ISO 8601 with a zone (2000..2100)",
        ),
        AfterValidator(_moment),
    ]
ScopeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        examples=["rep:R-1", "team:T-1", "region:East", "company"],
        description="rep:ID, team:ID, region:NAME or company",
    ),
    AfterValidator(_scope),
]
RepId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID, description="a rep's id", examples=["R-1"])]
TeamId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID, description="a team's id", examples=["T-1"])]
PeriodPath = Annotated[
    str,
    Path(
        min_length=4,
        max_length=8,
        description="YYYY-MM, YYYY-Qn, YYYY-Www (an ISO week) or YYYY (2000..2100)",
        examples=["2026-Q1"],
        json_schema_extra=_PERIOD_DOC,
    ),
    AfterValidator(_period),
]
PeriodQuery = Annotated[Period, Query()]
AsOf = Annotated[
    Moment | None,
    Query(
        description="business-time cut-off: only what had happened by then "
        "(default: the earlier of the end of the period and now)"
    ),
]
AsOfMoment = Annotated[
    Moment | None, Query(description="business-time cut-off: only what had happened by then (default: now)")
]
KnownAt = Annotated[
    Moment | None, Query(description="knowledge-time cut-off: only what the ledger had recorded by then (default: now)")
]


# ---------------------------------------------------------------- reads see every acknowledged write

DEFAULT_AFTER_TIMEOUT = 5.0  # seconds a read with `after=` waits for the projections (app.state.after_timeout)
_catch_up_locks: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_locks_guard = threading.Lock()


def bring_up_to_date(ledger: Ledger, engine: Engine) -> int:
    """catch_up, one caller at a time per engine (the others then find nothing left to do)."""
    with _locks_guard:
        lock = _catch_up_locks.setdefault(engine, threading.Lock())
    with lock:
        return catch_up(ledger, engine)


After = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description=(
            "a log position (from POST /events): answer only once the projections include it; "
            "503 if they do not within a few seconds, 422 if the log does not reach it"
        ),
    ),
]


async def _fresh(request: Request, _: CurrentUser, after: After = None) -> int:
    """Bring the projections up to the head of the log (a single `perfledger serve` answers every
    read with every write acknowledged before it); with `after`, also wait for that position,
    which a separate projection worker may still be applying. With a projection worker
    (`app.state.projection_worker`), fold nothing: `worker_reached`.

    The head is read when the request is handled (`glance`, after it arrived), so every write
    acknowledged before it is at or below it; when every projection is already there, nothing is
    left to catch up and no thread is needed."""
    state = request.app.state
    ledger, engine = state.ledger, state.engine
    replica = getattr(state, "read_engine", engine)
    if replica is not engine and request.method in ("GET", "HEAD"):
        return await run_in_threadpool(replica_at, request, ledger, replica, after)
    seen = await glance(request)
    if getattr(state, "projection_worker", False):
        return await worker_reached(request, seen, after)
    reached = seen.projected if seen.settled else None
    if reached is None:
        reached = await run_in_threadpool(bring_up_to_date, ledger, engine)
        request.app.state.probe.schema_checked()  # catch_up ran ensure_schema: tracking is trustworthy now
    if after is None or reached >= after:
        return reached
    head = await run_in_threadpool(lambda: ledger.head().position)
    if after > head:  # no write was ever acknowledged there: waiting would not help
        raise BadRequest(
            problem(
                "query.after",
                f"position {after} is beyond the end of the log ({head}): pass a position that POST /events answered",
            )
        )
    timeout = getattr(request.app.state, "after_timeout", DEFAULT_AFTER_TIMEOUT)
    if not await run_in_threadpool(wait_for, engine, after, timeout):
        raise HTTPException(
            503,
            f"the projections have not reached position {after} yet (they are at {reached}): retry in a moment",
            headers={"Retry-After": "1"},
        )
    return after


FreshProjections = Annotated[int, Depends(_fresh)]


async def worker_reached(request: Request, seen: Glance, after: int | None) -> int:
    """Where a projection worker (`serve --projections follow` or `external`) has brought the
    projections, once that is at least `after` (read-your-writes), else 503 with Retry-After when
    it does not get there within the app's `after_timeout`. Nothing is folded here.

    The common case answers from the request's glance, in the event loop: no thread, no pooled
    connection. The position is read through the engine only until this process has checked the
    projections' schema (its first read: `projected_position` runs `ensure_schema`), or while a
    tracking row is missing."""
    state = request.app.state
    reached = seen.projected
    if reached is None:
        reached = await run_in_threadpool(projected_position, state.engine)
        state.probe.schema_checked()
    if after is None or reached >= after:
        return reached
    timeout = getattr(state, "after_timeout", DEFAULT_AFTER_TIMEOUT)
    if not await run_in_threadpool(wait_for, state.engine, after, timeout):
        raise HTTPException(
            503,
            f"the projections have not reached position {after} yet (they are at "
            f"{await run_in_threadpool(projected_position, state.engine)}): retry in a moment",
            headers={"Retry-After": "1"},
        )
    return after


def replica_at(request: Request, ledger: Ledger, replica: Engine, after: int | None) -> int:
    """A read from a replica: nothing is folded there (the primary's worker folds, replication
    brings the rows); the position its projections have reached, once it is at least `after`
    (read-your-writes), else 503 with Retry-After when it does not get there in time."""
    reached = projected_position(replica)
    if after is None or reached >= after:
        return reached
    head = ledger.head().position
    if after > head:
        raise BadRequest(
            problem(
                "query.after",
                f"position {after} is beyond the end of the log ({head}): pass a position that POST /events answered",
            )
        )
    timeout = getattr(request.app.state, "after_timeout", DEFAULT_AFTER_TIMEOUT)
    if not wait_for(replica, after, timeout):
        raise HTTPException(
            503,
            f"the replica's projections have not reached position {after} yet (they are at "
            f"{projected_position(replica)}): retry in a moment",
            headers={"Retry-After": "1"},
        )
    return after


async def _figures_at_head(request: Request) -> MemoAtHead:
    return MemoAtHead(request.app.state.figures_memo, await glance(request))


FiguresAtHead = Annotated[
    MemoAtHead, Depends(_figures_at_head)
]  # figures remembered at this head (after FreshProjections)


@dataclass(frozen=True, slots=True)
class FreshRead:
    """`SettingsDep`, `EngineDep`, `FreshProjections` and `FiguresAtHead` as one dependency, for
    the hottest reads (GET /kpis): FastAPI's solving of each dependency (its cache key, its
    parameters, its call) was a large share of a remembered answer's time (docs/performance.md).
    The same checks in the same order: the caller authenticated, `after` validated, then waited for."""

    settings: Settings
    engine: Engine  # the read side's: the replica's for a GET where reads go to one
    reached: int  # the position the projections are at (at least `after`)
    memo: MemoAtHead


async def _fresh_read(request: Request, user: CurrentUser, after: After = None) -> FreshRead:
    reached = await _fresh(request, user, after)
    return FreshRead(await _settings(request), await _engine(request), reached, await _figures_at_head(request))


FreshReadDep = Annotated[FreshRead, Depends(_fresh_read)]


async def run_read(engine: Engine, small: bool, read: Callable[[], T]) -> T:
    """`read()` in the event loop when it is small and local (`small`: a few indexed lookups, such
    as one rep's KPIs; on SQLite: a local read that never waits for a writer in WAL mode),
    otherwise in the thread pool, where a long read (a company's figures) or PostgreSQL's
    network round trips do not hold up the other requests.

    Why not always the thread pool: under load the hop costs more than a small read. The worker
    thread gives up the GIL at each SQLite call and then waits for it behind the event loop, so
    a rep's KPIs are served nearly twice as fast read in the loop (docs/performance.md)."""
    if small and is_sqlite(engine):
        return read()
    return await run_in_threadpool(read)


# ---------------------------------------------------------------- what this caller may read


def _forbid(error: OutOfRole) -> HTTPException:
    return HTTPException(403, str(error))


async def _visible_scope(user: CurrentUser, org: OrgDep, scope: Annotated[ScopeText, Query()]) -> str:
    try:
        await _policy(org, check_scope, user, scope, org)
    except OutOfRole as error:
        raise _forbid(error) from None
    return scope


async def _visible_rep(user: CurrentUser, org: OrgDep, rep_id: RepId) -> str:
    await _policy(org, check_rep, user, rep_id, org)  # NotVisible → 404
    return rep_id


async def _visible_team(user: CurrentUser, org: OrgDep, team_id: TeamId) -> str:
    await _policy(org, check_scope, user, f"team:{team_id}", org)  # another team, or unknown: 404
    return team_id


VisibleScope = Annotated[str, Depends(_visible_scope)]  # ?scope=, checked against the caller's reach
VisibleTeam = Annotated[str, Depends(_visible_team)]  # /teams/{team_id}, likewise
VisibleRep = Annotated[str, Depends(_visible_rep)]  # /{rep_id}, likewise


async def _payout_reps(user: CurrentUser, org: OrgDep) -> frozenset[str] | None:
    return await _policy(org, readable_reps, user, None, org)


PayoutReps = Annotated[frozenset[str] | None, Depends(_payout_reps)]  # None: every rep
