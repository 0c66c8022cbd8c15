"""The dashboard: a static page at `/`, its files, the charting library, and the three
reads that only the page needs.

- `GET /`                         api/web/index.html, with a strict Content-Security-Policy, never
                                  cached; its files' addresses rewritten to /web/assets/DIGEST/…
- `GET /web/assets/{digest}/{path}` the page's CSS, ES modules and images (api/web/ and its
                                  folders), cached for a year: DIGEST changes whenever any file does;
                                  gzip when the browser takes it. Nothing from a CDN.
- `GET /web/static/{path}`        the same files by plain name, revalidated on each use (tests, tools)
- `POST /web/sign-in`, `POST /web/sign-out`  the session: the token in an HttpOnly, SameSite=Strict
                                  cookie (api/deps.py accepts it beside a bearer token)
- `GET /web/messages/{locale}.json` the page's texts in zh-CN (msgid → text), from the same gettext
                                  catalog as the API's (api/i18n.py); English needs none
- `GET /web/me`                   who the token stands for and what the API lets it do (sign-in)
- `GET /web/scopes`               the scopes and reps this token may pick
- `GET /web/team`                 the team table: each rep's KPIs and revenue by month (sparklines)

The page renders what the API returns and computes no figure: the team table's figures come
from the same projection functions as GET /kpis (`projections.queries.kpis.kpis` for a rep and period,
and a month's revenue exactly as `kpis` computes `revenue`), so a rep's row and
`GET /kpis?scope=rep:ID&period=…` always agree for a rep who was in the scope the whole period
(tests/test_dashboard_api.py checks it). A row's revenue and orders are the rep's *while in the
scope* (`projections.queries.rollup.member_sums`), so the rows of a team or region sum to its
revenue card, a rep who joined or left during the period included, marked `joined` / `left`.

Visibility follows services/policy.py, exactly as GET /kpis: a manager reads their team, a rep
themselves; a team or rep beyond the token's reach is 404 (ids cannot be probed), a region or the
company for a manager or a rep is 403. The table lists every rep who was in the scope during the
period; a rep since moved beyond the token's reach (`reachable: false`) shows only what counts for
the scope, not their own attainment, pace or months.
The page's own routes are plain Starlette routes (no JSON, no response model, not in /docs).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from api import auth, exports
from api.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    AsOf,
    CurrentUser,
    EngineDep,
    FiguresAtHead,
    FreshProjections,
    KnownAt,
    OrgDep,
    PeriodQuery,
    SettingsDep,
    VisibleScope,
    same_origin,
)
from api.errors import request_lang
from api.i18n import N_, lang, supported
from api.responses import OrjsonResponse
from api.routers.common import ExportFormat, sheet_response
from ledger.config import SUPPORTED_LOCALES
from ledger.periods import Period, parse_period
from projections.db import reading
from projections.payouts.assembly import active_reps
from projections.queries.cutoffs import Cutoffs, PeriodStatus, cutoffs, known_micros
from projections.queries.facts import DealSums, deal_sums
from projections.queries.kpis import kpis
from projections.queries.membership import LATEST, Scope, ScopeFilter, parse_scope, stints
from projections.queries.rollup import member_sums, scope_moves
from projections.tables import memberships, reps
from projections.units import micros_to_time, money
from services.policy import CAPABILITIES, READS_EVERYTHING, may_read_rep

router = APIRouter(tags=["web"])

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
# Everything the page loads comes from this server; charts set inline styles on their SVG.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
IMMUTABLE_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
NO_STORE = {"Cache-Control": "no-store"}
COMPRESSIBLE = (".js", ".css", ".svg", ".html")
SAFE_PART = re.compile(r"^[\w][\w.-]*$")
MAX_TEAM_ROWS = 500
REFUSED = N_("That token was not accepted: it is unknown or revoked. Check it, or ask an administrator for a new one.")
MAX_OFFSET = 1_000_000


# ---------------------------------------------------------------- the page and its files


class Asset(NamedTuple):
    body: bytes
    gzipped: bytes | None  # None: not worth compressing (an image already compressed)
    etag: str


class Assets(NamedTuple):
    digest: str  # of every file of the page: a new one whenever any file changes
    files: dict[str, Asset]  # by path under api/web/ ("app.js", "views/overview.js")


def _stamp() -> tuple[tuple[str, int, int], ...]:
    return tuple(
        sorted(
            (str(path.relative_to(WEB_DIR)), path.stat().st_mtime_ns, path.stat().st_size)
            for path in WEB_DIR.rglob("*")
            if path.is_file() and path.suffix in STATIC_TYPES and not _hidden(path.relative_to(WEB_DIR).parts)
        )
    )


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(not part or part.startswith(".") or not SAFE_PART.match(part) for part in parts)


@lru_cache(maxsize=4)
def _assets(stamp: tuple[tuple[str, int, int], ...]) -> Assets:
    files: dict[str, Asset] = {}
    whole = hashlib.sha256()
    for name, _, _ in stamp:
        body = (WEB_DIR / name).read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        whole.update(f"{name}\0{digest}\0".encode())
        zipped = gzip.compress(body, compresslevel=9, mtime=0) if name.endswith(COMPRESSIBLE) else None
        files[name] = Asset(body, zipped, f'"{digest[:32]}"')
    return Assets(whole.hexdigest()[:16], files)


def assets() -> Assets:
    """The page's files, each with its gzip and ETag, and their digest: read again when one changes."""
    return _assets(_stamp())


def _send(request: Request, body: bytes, zipped: bytes | None, media_type: str, headers: dict[str, str]) -> Response:
    headers = {**headers, "Vary": "Accept-Encoding"}
    if zipped is not None and len(zipped) < len(body) and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(zipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(body, media_type=media_type, headers=headers)


def page(request: Request) -> Response:
    """index.html, its files' addresses made immutable (/web/assets/DIGEST/…), never cached
    itself; after a refused sign-in (`/?sign-in=failed`) with the reason in the form."""
    current = assets()
    html = current.files["index.html"].body.decode("utf-8").replace("/web/static/", f"/web/assets/{current.digest}/")
    if request.query_params.get("sign-in") == "failed":
        reason = request_lang(request)._(REFUSED)
        html = html.replace(
            '<p id="sign-in-error" class="error" role="alert"></p>',
            f'<p id="sign-in-error" class="error" role="alert">{escape(reason)}</p>',
        )
    if request.cookies.get(SESSION_COOKIE):  # likely signed in: no sign-in form flashes up first
        html = html.replace('<html lang="en">', '<html lang="en" data-session>', 1)
    body = html.encode("utf-8")
    return _send(request, body, gzip.compress(body, compresslevel=6, mtime=0), STATIC_TYPES[".html"], PAGE_HEADERS)


def _asset(request: Request, name: str, headers: dict[str, str]) -> Response:
    parts = tuple(name.split("/"))
    found = None if _hidden(parts) else assets().files.get(name)
    if found is None:
        return PlainTextResponse(f"no file {name[:80]!r} in the dashboard", status_code=404)
    headers = {**headers, "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return _send(request, found.body, found.gzipped, STATIC_TYPES[Path(name).suffix], headers)


def versioned_file(request: Request) -> Response:
    """A file under its digest: cached for a year (the digest changes with any file). An older
    digest (a page loaded before an upgrade) still gets today's file, but not cached."""
    fresh = request.path_params["digest"] == assets().digest
    return _asset(request, request.path_params["name"], IMMUTABLE_HEADERS if fresh else PAGE_HEADERS)


def static_file(request: Request) -> Response:
    """A file by its plain name (revalidated on each use): for tests and tools; the page uses
    the versioned addresses."""
    return _asset(request, request.path_params["name"], PAGE_HEADERS)


router.add_route("/", page, methods=["GET"], include_in_schema=False)
router.add_route("/web/assets/{digest}/{name:path}", versioned_file, methods=["GET"], include_in_schema=False)
router.add_route("/web/static/{name:path}", static_file, methods=["GET"], include_in_schema=False)


# ---------------------------------------------------------------- signing in and out

MAX_SIGN_IN_BODY = 4096


async def sign_in(request: Request) -> Response:
    """The sign-in form's target (a plain HTML form, so it works before any script has run, and
    the page's script posts to it too): the token checked, then kept in an HttpOnly,
    SameSite=Strict cookie and never in a URL; 303 to the page (or, for the page's script,
    204). A token not accepted: 303 back to the form, which says so (the token is not echoed)."""
    from_script = CSRF_HEADER.lower() in request.headers
    say = request_lang(request)
    if not same_origin(request):  # another site may not sign a browser in (login CSRF)
        return PlainTextResponse(say._("Sign in from this server's own page."), status_code=403)
    raw = await request.body()
    token = ""
    if len(raw) <= MAX_SIGN_IN_BODY:
        token = (parse_qs(raw.decode("utf-8", "replace")).get("token") or [""])[0].strip()
    user = await run_in_threadpool(auth.authenticate, request.app.state.engine, token) if token else None
    if user is None:
        if from_script:
            reason = say._(REFUSED)
            return OrjsonResponse({"detail": reason, "code": "session.refused"}, status_code=401, headers=NO_STORE)
        return RedirectResponse("/?sign-in=failed", status_code=303, headers=NO_STORE)
    response: Response = (
        Response(status_code=204, headers=NO_STORE) if from_script else RedirectResponse("/", 303, headers=NO_STORE)
    )
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", path="/", secure=request.url.scheme == "https"
    )
    return response


async def sign_out(request: Request) -> Response:
    """Ends the session: the cookie is cleared. 303 to the page (204 for the page's script)."""
    from_script = CSRF_HEADER.lower() in request.headers
    response: Response = (
        Response(status_code=204, headers=NO_STORE) if from_script else RedirectResponse("/", 303, headers=NO_STORE)
    )
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


router.add_route("/web/sign-in", sign_in, methods=["POST"], include_in_schema=False)
router.add_route("/web/sign-out", sign_out, methods=["POST"], include_in_schema=False)


def messages(request: Request) -> Response:
    """The catalog of a supported locale as JSON: {"English text": "译文", …}."""
    name = request.path_params["locale"]
    if supported(name) != name:
        return PlainTextResponse(f"no catalog {name!r}: use one of {', '.join(SUPPORTED_LOCALES)}", status_code=404)
    body = orjson.dumps(dict(lang(name).catalog()))
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


router.add_route("/web/messages/{locale}.json", messages, methods=["GET"], include_in_schema=False)
# The roles as the page names them (the page translates them with the catalog).
ROLE_NAMES = (N_("admin"), N_("finance"), N_("auditor"), N_("manager"), N_("director"), N_("rep"))


# ---------------------------------------------------------------- reads for the page


class Me(BaseModel):
    role: str
    rep_id: str | None
    team_id: str | None
    region: str | None = None  # a director's
    actor: str
    capabilities: list[str]  # names of services.policy.CAPABILITIES this token has
    currency: str
    tz: str


@router.get("/web/me", summary="Who this token is and what it may do (the dashboard's sign-in)")
def me(user: CurrentUser, settings: SettingsDep) -> Me:
    return Me(
        role=user.role,
        rep_id=user.rep_id,
        team_id=user.team_id,
        region=user.region,
        actor=user.actor,
        capabilities=sorted(name for name, roles in CAPABILITIES.items() if user.role in roles),
        currency=settings.currency,
        tz=settings.tz_name,
    )


class ScopeOption(BaseModel):
    scope: str  # rep:ID, team:ID, region:NAME or company
    label: str


class RepOption(BaseModel):
    rep_id: str
    name: str
    team_id: str | None  # now (as known at known_at)
    region: str | None
    offboarded: bool


class Scopes(BaseModel):
    scopes: list[ScopeOption]
    reps: list[RepOption]


@router.get("/web/scopes", summary="The scopes and reps this token may pick")
def scopes(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    org: OrgDep,
    settings: SettingsDep,
    _: FreshProjections,
    known_at: KnownAt = None,
) -> Scopes:
    say = request_lang(request)
    known_us = known_micros(settings, known_at)
    with reading(engine) as conn:
        names = dict(conn.execute(select(reps.c.rep_id, reps.c.name).where(reps.c.recorded_us <= known_us)).all())
        gone = set(
            conn.execute(
                select(memberships.c.rep_id).where(
                    memberships.c.kind == "offboarded", memberships.c.recorded_us <= known_us
                )
            ).scalars()
        )
        now = {s.rep_id: s for s in stints(conn, known_us) if s.hi == LATEST}
    visible = sorted(rep_id for rep_id in names if may_read_rep(user, rep_id, org))
    options = [
        RepOption(
            rep_id=r,
            name=names[r],
            team_id=now[r].team_id if r in now else None,
            region=now[r].region if r in now else None,
            offboarded=r in gone,
        )
        for r in visible
    ]
    choices: list[ScopeOption] = []
    if user.role in READS_EVERYTHING:
        choices.append(ScopeOption(scope="company", label=say._("Company")))
        with reading(engine) as conn:
            regions = conn.execute(
                select(memberships.c.region)
                .where(memberships.c.region.is_not(None), memberships.c.recorded_us <= known_us)
                .distinct()
            ).scalars()
            teams = conn.execute(
                select(memberships.c.team_id)
                .where(memberships.c.team_id.is_not(None), memberships.c.recorded_us <= known_us)
                .distinct()
            ).scalars()
            choices += [ScopeOption(scope=f"region:{r}", label=say._("Region {name}", name=r)) for r in sorted(regions)]
            choices += [ScopeOption(scope=f"team:{t}", label=say._("Team {name}", name=t)) for t in sorted(teams)]
    elif user.role == "manager" and user.team_id:
        choices.append(ScopeOption(scope=f"team:{user.team_id}", label=say._("Team {name}", name=user.team_id)))
    elif user.role == "director" and user.region:
        region = user.region
        choices.append(ScopeOption(scope=f"region:{region}", label=say._("Region {name}", name=region)))
        in_region = sorted({o.team_id for o in options if o.team_id is not None and o.region == region})
        choices += [ScopeOption(scope=f"team:{t}", label=say._("Team {name}", name=t)) for t in in_region]
    choices += [ScopeOption(scope=f"rep:{o.rep_id}", label=f"{o.name} ({o.rep_id})") for o in options]
    return Scopes(scopes=choices, reps=options)


class MonthRevenue(BaseModel):
    period: str
    revenue: Decimal


class Move(BaseModel):
    team_id: str | None
    region: str | None
    on: datetime


class TeamRow(BaseModel):
    rep_id: str
    name: str | None
    team_id: str | None  # at the end of the window (as known at known_at)
    region: str | None
    revenue: Decimal  # while in the scope: the rows of a team or region sum to its card's revenue
    orders: int | Decimal  # while in the scope (a split deal counts once for each rep it credits)
    # The rep's own figures, for a rep within this token's reach; a rep who was in the team during
    # the period but has moved beyond it is listed with the figures that count for the team alone.
    reachable: bool = True
    attainment: dict[str, Decimal | None]
    pace: dict[str, Decimal | None]
    off_track: list[str]
    revenue_by_month: list[MonthRevenue]
    joined: Move | None = None  # came into the team or region after the period began: from where, when
    left: Move | None = None  # left it (during the period or since): to where, when


class TeamTable(BaseModel):
    scope: str
    period: str
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus  # not_started: as_of is before the period, every figure is empty
    months: list[str]  # the sparklines' months: the period's year up to the period's end (and as_of)
    rows: list[TeamRow]
    total_rows: int
    next_offset: int | None  # pass as `offset` for the next rows; null: this was the last of them


@router.get(
    "/web/team",
    summary="The team table: each rep's KPIs and revenue by month (the sparklines); ?format=csv|xlsx: as a file",
    response_model=TeamTable,
    responses={
        403: {"description": "a region or the company, for a manager or a rep"},
        404: {"description": "a team or rep beyond this token's reach"},
    },
)
def team(
    request: Request,
    user: CurrentUser,
    scope: VisibleScope,
    period: PeriodQuery,
    engine: EngineDep,
    settings: SettingsDep,
    org: OrgDep,
    _: FreshProjections,
    memo: FiguresAtHead,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TEAM_ROWS)] = 100,
    format: ExportFormat = "json",
) -> TeamTable | Response:
    parsed, parsed_period = parse_scope(scope), parse_period(period)
    cut = cutoffs(settings, parsed_period, as_of, known_at)
    known = micros_to_time(cut.known_us)  # one "now" for every row
    months = sparkline_months(parsed_period, cut, settings)
    with reading(engine) as conn:
        # Every rep who was in the scope during the window (the scope itself is within reach):
        # its rows then add up to its card, a rep since moved away included (marked `left`).
        visible = scope_reps(conn, parsed, cut)
        shown = visible[offset : offset + limit]
        reachable = {r for r in shown if may_read_rep(user, r, org)}
        names = (
            dict(
                conn.execute(
                    select(reps.c.rep_id, reps.c.name).where(
                        reps.c.rep_id.in_(shown), reps.c.recorded_us <= cut.known_us
                    )
                ).all()
            )
            if shown
            else {}
        )
        place = {s.rep_id: s for s in stints(conn, cut.known_us, shown) if s.lo < cut.upto_us <= s.hi} if shown else {}
        monthly = {
            r: [MonthRevenue(period=str(m.period), revenue=month_revenue(conn, r, m)) for m in months]
            for r in shown
            if r in reachable
        }
        in_scope = member_sums(conn, parsed, cut.start_us, cut.upto_us, cut.known_us) if shown else {}
        moves = scope_moves(conn, parsed, cut, shown) if shown else {}
    # A period that has ended (or an explicit as_of): each row's KPIs are those GET /kpis remembers
    # for the rep at this head (the same key), read once for both.
    resolved_as_of = micros_to_time(cut.as_of_us).astimezone(settings.tz)
    stable = as_of is not None or cut.ended

    def rep_kpis(rep_id: str) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            return kpis(engine, settings, f"rep:{rep_id}", str(parsed_period), as_of, known)

        key = (f"rep:{rep_id}", str(parsed_period), resolved_as_of) if stable else None
        return memo.figures(key, known, known_at is not None, compute)

    rows = []
    for rep_id in shown:
        own = rep_id in reachable
        figures = rep_kpis(rep_id) if own else {}
        stint = place.get(rep_id)
        sums = in_scope.get(rep_id, DealSums())
        rows.append(
            TeamRow(
                rep_id=rep_id,
                name=names.get(rep_id),
                team_id=stint.team_id if stint else None,
                region=stint.region if stint else None,
                revenue=money(sums.revenue_cents),
                orders=sums.orders,
                reachable=own,
                attainment=figures.get("attainment", {}),
                pace=figures.get("pace", {}),
                off_track=figures.get("off_track", []),
                revenue_by_month=monthly.get(rep_id, []),
                **moves.get(rep_id, {}),
            )
        )
    end = offset + len(shown)
    table = TeamTable(
        scope=str(parsed),
        period=str(parsed_period),
        as_of=micros_to_time(cut.as_of_us),
        known_at=known,
        period_status=cut.status,
        months=[str(m.period) for m in months],
        rows=rows,
        total_rows=len(visible),
        next_offset=end if end < len(visible) else None,
    )
    if format != "json":  # the same rows as a file (the page's link asks for every row at once)
        speaker = request_lang(request)
        sheet = exports.team_sheet(speaker, table.model_dump(), settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    return table


# ---------------------------------------------------------------- helpers


def scope_reps(conn: Any, scope: Scope, cut: Cutoffs) -> list[str]:
    """The reps with any time in the scope during the window (the company: every active rep)."""
    if scope.kind == "company":
        return active_reps(conn, cut)
    found = ScopeFilter.load(conn, scope, cut.known_us).reps(cut.start_us, cut.upto_us)
    return sorted(found or [])


def sparkline_months(period: Period, cut: Cutoffs, settings: Any) -> list[Cutoffs]:
    """The months of the period's year up to its last month, each cut at as_of and known_at
    (months that start after as_of are left out: nothing had happened in them yet)."""
    last = period.months_in()[-1]
    months = [Period(last.year, month, 1) for month in range(1, last.first_month + 1)]
    windows = [cutoffs(settings, m, None, None) for m in months]
    return [
        Cutoffs(w.period, w.start_us, w.end_us, min(cut.as_of_us, w.end_us - 1), cut.known_us)
        for w in windows
        if w.start_us <= cut.as_of_us
    ]


def month_revenue(conn: Any, rep_id: str, month: Cutoffs) -> Decimal:
    """A rep's revenue in one month: what GET /kpis?scope=rep:ID&period=MONTH answers as `revenue`."""
    where = ScopeFilter(Scope("rep", rep_id))
    return money(deal_sums(conn, where, month.start_us, month.upto_us, month.known_us).revenue_cents)
