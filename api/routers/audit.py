"""The hash chain, recomputed on demand: has anything in the log been altered?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ..deps import LedgerDep, allowed
from ..policy import User

router = APIRouter(prefix="/audit", tags=["audit"])


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head: str
    first_bad_position: int | None
    message: str
    extends_digest: bool | None  # with ?digest=: does today's log still pass through that head?


@router.get("/verify", summary="Recompute the hash chain; name the first bad position if any")
def verify(_: Annotated[User, allowed("audit.verify")], ledger: LedgerDep,
           digest: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$",
                                               description="a head written down earlier, to check the log still extends it")] = None,
           ) -> VerifyOut:
    report = ledger.verify(digest)
    return VerifyOut(ok=report.ok, events_checked=report.events_checked, head=report.head,
                     first_bad_position=report.first_bad_position, message=report.message,
                     extends_digest=report.extends_digest)
