"""A person's data under PIPL and the GDPR (admin only): everything held about them (subject
access), and erasing it, irreversibly."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep, JsonBody, LedgerDep, RepId, SettingsDep, allowed, body_doc, parse_body, refused_as
from api.errors import request_lang
from api.responses import OrjsonResponse
from api.subject_render import render_subject_html
from ledger.messages import Msg
from ledger.personal import CATEGORIES
from ledger.schemas import ERASURE_GROUNDS
from replay.subject import SubjectUnknown, subject_access
from services.erasure import ErasureRefused, erase_person
from services.policy import User

router = APIRouter(prefix="/people", tags=["people"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
    ground: Literal[ERASURE_GROUNDS]  # type: ignore[valid-type]
    categories: Annotated[list[Literal[CATEGORIES]], Field(min_length=1)] | None = None  # type: ignore[valid-type]
    irreversible: Literal[True]  # the caller says it knows: the key is destroyed, nothing brings the texts back


class ErasureOut(BaseModel):
    rep_id: str
    position: int  # the PersonalDataErased event
    categories: list[str]  # the kinds of personal data erased
    keys_destroyed: list[str]  # by this call (a kind missing here: an earlier, interrupted erasure had)


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
            ledger,
            engine,
            rep_id,
            requested_by=asked.requested_by,
            ground=asked.ground,
            actor=user.actor,
            categories=asked.categories,
        )
    return ErasureOut(
        rep_id=done.rep_id, position=done.position, categories=done.categories, keys_destroyed=done.keys_destroyed
    )


@router.get(
    "/{rep_id}/export",
    summary="Everything the ledger holds about a person (subject access, PIPL art. 45): every event "
    "about them with its data, their key's state; as JSON or a page in the reader's language",
    responses={404: {"description": "the ledger holds nothing about this person"}},
    response_model=None,
)
def export(
    _: Annotated[User, allowed("people.export")],
    request: Request,
    rep_id: RepId,
    ledger: LedgerDep,
    settings: SettingsDep,
    format: Annotated[str, Query(pattern="^(json|html)$", description="json (default) or html")] = "json",
) -> Any:
    try:
        document = subject_access(ledger, rep_id)
    except SubjectUnknown:
        raise HTTPException(404, Msg("not_found", "the ledger holds nothing about {rep}", rep=rep_id)) from None
    if format == "html":
        return HTMLResponse(render_subject_html(document, request_lang(request), settings.tz_name, settings.tz))
    return OrjsonResponse(document)
