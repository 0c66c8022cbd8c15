"""The API's routers, in one list: create_app includes each of them, in this order.

To add one:
1. write api/routers/NAME.py with `router = APIRouter(prefix="/NAME", tags=["NAME"])` and plain
   `def` handlers that declare their return type (see api/responses.py for why);
2. import it here and append `NAME.router` to _ROUTERS (ROUTERS wraps them to document the error answers).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import (
    audit,
    coaching,
    commands,
    docs,
    events,
    health,
    kpis,
    payouts,
    people,
    periods,
    replays,
    reps,
    targets,
    trust,
    web,
)
from api.routers.common import ERROR_RESPONSES

# Matched in this order: the reads a dashboard and the managers make most come before the 31
# typed commands, each of which a GET /kpis was tried against first (6% of a read's time in the
# server, docs/performance.md). No two routers serve the same path and method.
_ROUTERS: list[APIRouter] = [
    health.router,
    kpis.router,  # GET /kpis, GET /kpis/quadrants
    events.router,
    commands.router,  # the typed commands: POST /reps, /deals/{id}/won, … (services/commands.py)
    targets.router,  # GET /targets
    reps.router,  # GET /reps/{rep_id}/history
    coaching.router,  # GET /reps/{rep_id}/coaching
    coaching.teams,  # GET /teams/{team_id}/coaching
    payouts.router,  # GET /payouts, GET …/explain, GET …/changes, POST …/approve
    replays.router,  # POST /replays, POST /replays/adjustments
    periods.router,  # POST /periods/{period}/close
    audit.router,  # GET /audit/verify, GET /audit/rebuild
    trust.router,  # GET /statements/{rep}/{period}, GET /disputes/{id}, GET /plans/unacknowledged
    people.router,  # POST /people/{rep}/erase, GET /people/{rep}/export (admin)
    web.router,  # the dashboard at /
    docs.router,  # GET /docs from installed files
]


def documented(routers: list[APIRouter]) -> APIRouter:
    """The routers under one that documents the error answers (common.ERROR_RESPONSES) on every
    route: FastAPI's default 422 schema is not the shape this API answers with."""
    api = APIRouter(responses=ERROR_RESPONSES)
    for router in routers:
        api.include_router(router)
    return api


ROUTERS: list[APIRouter] = [documented(_ROUTERS)]
