"""Closing a period: it takes no new approvals (only adjustments) and seals the log's head."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import LedgerDep, PeriodPath, allowed, refused_as
from services.closing import CloseRefused, close_period
from services.policy import User

router = APIRouter(prefix="/periods", tags=["periods"])


class ClosedOut(BaseModel):
    period: str
    position: int  # the PeriodClosed event
    head: str  # the chain's link at closing: GET /audit/verify checks it still holds
    head_position: int


@router.post(
    "/{period}/close",
    status_code=201,
    responses={409: {"description": "the period is already closed, or cannot be closed yet"}},
    summary="Close a period: seal the log's head; later changes go through adjustments",
)
def close(user: Annotated[User, allowed("periods.close")], period: PeriodPath, ledger: LedgerDep) -> ClosedOut:
    with refused_as(409, CloseRefused):
        return ClosedOut(**close_period(ledger, period, user.actor))
