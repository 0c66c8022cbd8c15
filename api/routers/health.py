"""Liveness for load balancers and scripts: no token needed, nothing revealed."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import LedgerDep

router = APIRouter(tags=["health"])
log = logging.getLogger("perfledger.api")


class Health(BaseModel):
    status: str  # "ok" or "unavailable"


@router.get(
    "/health",
    summary="Is the service up and its database reachable?",
    responses={503: {"description": "the database cannot be reached"}},
)
def health(ledger: LedgerDep, response: Response) -> Health:
    try:
        ledger.head()
    except Exception:  # any failure to reach the store is exactly what this endpoint reports
        log.exception("health check: the ledger's database is unreachable")
        response.status_code = 503
        return Health(status="unavailable")
    return Health(status="ok")
