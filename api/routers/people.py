"""A person's data under PIPL and the GDPR (admin only): erase it, irreversibly."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep, JsonBody, LedgerDep, RepId, allowed, body_doc, parse_body, refused_as
from ledger.schemas import ERASURE_GROUNDS
from services.erasure import ErasureRefused, erase_person
from services.policy import User

router = APIRouter(prefix="/people", tags=["people"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
    ground: Literal[ERASURE_GROUNDS]  # type: ignore[valid-type]
    irreversible: Literal[True]  # the caller says it knows: the key is destroyed, nothing brings the texts back


class ErasureOut(BaseModel):
    rep_id: str
    position: int  # the PersonalDataErased event
    key_destroyed: bool  # false: an earlier, interrupted erasure had destroyed it already


@router.post(
    "/{rep_id}/erase",
    status_code=201,
    openapi_extra=body_doc(ErasureIn, {"requested_by": "R-1", "ground": "request", "irreversible": True}),
    responses={409: {"description": "the rep is unknown, or already erased"}},
    summary="Erase a rep's personal data, IRREVERSIBLY: their key is destroyed and PersonalDataErased "
    "recorded; their name and texts read as [erased], their figures stay",
)
def erase(
    user: Annotated[User, allowed("people.erase")],
    rep_id: RepId,
    body: JsonBody,
    ledger: LedgerDep,
    engine: EngineDep,
) -> ErasureOut:
    asked = parse_body(ErasureIn, body)
    with refused_as(409, ErasureRefused):
        done = erase_person(
            ledger, engine, rep_id, requested_by=asked.requested_by, ground=asked.ground, actor=user.actor
        )
    return ErasureOut(rep_id=done.rep_id, position=done.position, key_destroyed=done.key_destroyed)
