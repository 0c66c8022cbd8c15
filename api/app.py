"""The HTTP face of the ledger: `create_app()` builds it, `perfledger serve` runs it.

Adding a router: write api/routers/NAME.py (`router = APIRouter(prefix=..., tags=[...])`, thin
plain-`def` handlers that declare their return type) and append it to `ROUTERS` in
api/routers/__init__.py. Handlers get what they need from api/deps.py (`CurrentUser`,
`LedgerDep`, `OrgDep`, `allowed("payouts.approve")`, …) and scope reads with services/policy.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from api.auth import Principals, ensure_tables
from api.errors import install_error_handlers
from api.figures_memo import FiguresMemo
from api.heavy import heavy_slots
from api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from api.log_queries import LogReader
from api.openapi_events import install as install_openapi
from api.org_view import ProjectedOrg
from api.probe import StoreProbe
from api.responses import OrjsonResponse
from api.routers import ROUTERS
from api.security_headers import SecurityHeaders
from ledger.config import Settings, settings_from_env
from ledger.store import Ledger
from projections.db import engine_for, read_engine_for
from projections.runner import ensure_schema, schema_made

ALREADY_COMPRESSED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
    "application/zip",
    "application/gzip",
)

DESCRIPTION = """An event-sourced ledger of a sales department's performance: targets, deals,
activities, evaluations, feedback and incentive payouts.

Authenticate with **Authorize** and a bearer token from `perfledger token create --role ROLE`.
Money is a decimal string (`"1234.50"`), times are ISO 8601 with a zone."""


def create_app(
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    *,
    org: Any | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    projection_worker: bool = False,
) -> FastAPI:
    """The app. A `ledger` passed in stays the caller's to close; otherwise one is opened at
    startup and closed at shutdown. `org` (anything with `view() -> policy.OrgView`) replaces the
    in-process org cache, e.g. with a projection's org query or a test double.
    `projection_worker`: a projection worker keeps the projections (`serve --projections follow`
    or `external`): reads never fold, `after=` waits for the worker (api/deps.py `worker_reached`)."""
    settings = settings or (ledger.settings if ledger is not None else settings_from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ledger if ledger is not None else Ledger(settings)
        engine = engine_for(settings)
        # Reads from a replica (PERFLEDGER_READ_DATABASE_URL): GET requests read the projections
        # there, and wait for `after=` on its position (api/deps.py); writes, and the worker that
        # keeps the projections, use the primary.
        replica = read_engine_for(settings)
        probe = None
        try:
            ensure_tables(engine)
            app.state.ledger = store
            app.state.engine = engine
            app.state.read_engine = replica or engine
            app.state.log = LogReader(store)
            app.state.org = org if org is not None else ProjectedOrg(app.state.log, engine)
            app.state.principals = Principals()
            app.state.figures_memo = FiguresMemo()
            app.state.probe = probe = StoreProbe(store, replica or engine)
            if replica is not None:
                # The projections' tables are made on the primary, and replicated: never on the
                # replica, where a read-only transaction refuses CREATE (a read's `ensure_schema`).
                ensure_schema(engine)
                schema_made(replica)
                probe.schema_checked()
            yield
        finally:
            if probe is not None:
                await probe.aclose()
            engine.dispose()
            if replica is not None:
                replica.dispose()
            if ledger is None:
                store.close()

    app = FastAPI(
        title="Perfledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,  # api/routers/docs.py: from installed files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.projection_worker = projection_worker
    app.state.heavy_slots = heavy_slots()
    install_error_handlers(app)
    install_openapi(app)  # the events' and commands' schemas (api/openapi_events.py)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # JSON and the page compressed when the client takes gzip (the dashboard's files come
    # precompressed: api/routers/web.py); files already compressed (xlsx, pdf, zip) are left be.
    app.add_middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=ALREADY_COMPRESSED)
    for router in ROUTERS:
        app.include_router(router)
    return app
