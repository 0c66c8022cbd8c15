"""Proof: the hash chain and the seals of closed periods, recomputed on demand (verify), and the
projections rebuilt from the raw log into a scratch store and compared with the live ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import EngineDep, KnownAt, LedgerDep, Period, SettingsDep, allowed
from api.heavy import HeavySlot
from replay.audit import audit
from replay.sealing import verify as verify_log
from services.policy import User

router = APIRouter(prefix="/audit", tags=["audit"])
MAX_AUDIT_PERIODS = 8


class Seal(BaseModel):
    period: str
    position: int  # the PeriodClosed event
    head_position: int  # the position it sealed
    holds: bool  # is the link at head_position still the one written into the close?


class VerifyOut(BaseModel):
    ok: bool  # the chain recomputes and every seal holds
    events_checked: int
    head: str
    first_bad_position: int | None
    message: str
    extends_digest: bool | None  # with ?digest=: does today's log still pass through that head?
    seals: list[Seal]


class AuditOut(BaseModel):
    ok: bool  # no difference between the live projections and the rebuild
    known_at: datetime
    events_replayed: int
    compared: dict[str, Any]
    differences: list[dict[str, Any]]  # the first 1000
    difference_count: int


@router.get("/verify", summary="Recompute the hash chain and the seals of closed periods; name the first bad position")
def verify(
    _: Annotated[User, allowed("audit.verify")],
    ledger: LedgerDep,
    digest: Annotated[
        str | None,
        Query(pattern="^[0-9a-f]{64}$", description="a head written down earlier, to check the log still extends it"),
    ] = None,
) -> VerifyOut:
    report = verify_log(ledger, digest)
    return VerifyOut(**report, extends_digest=report["digest_extended"])


@router.get(
    "/rebuild",
    summary="Rebuild the projections from the raw log (up to known_at) in a scratch store and "
    "compare them, table by table and figure by figure, with the live ones",
)
def rebuild(
    _: Annotated[User, allowed("audit.rebuild")],
    __: HeavySlot,
    ledger: LedgerDep,
    engine: EngineDep,
    settings: SettingsDep,
    known_at: KnownAt = None,
    periods: Annotated[
        list[Period] | None,
        Query(alias="period", max_length=MAX_AUDIT_PERIODS, description="periods whose KPIs and payouts to compare"),
    ] = None,
) -> AuditOut:
    return AuditOut(**audit(ledger, engine, settings, known_at, periods))
