"""The API's routers, in one list: create_app includes each of them, in this order.

To add one (issue 6's /kpis, /targets, /reps/{id}/history, /payouts, /replays):
1. write api/routers/NAME.py with `router = APIRouter(prefix="/NAME", tags=["NAME"])` and plain
   `def` handlers that declare their return type (see api/responses.py for why);
2. import it here and append `NAME.router` to ROUTERS.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import audit, events, health

ROUTERS: list[APIRouter] = [
    health.router,
    events.router,
    audit.router,
    # kpis.router,      GET /kpis, GET /kpis/quadrants
    # targets.router,   GET /targets
    # reps.router,      GET /reps/{rep_id}/history
    # payouts.router,   GET /payouts, GET …/explain, POST …/approve
    # replays.router,   POST /replays
]
