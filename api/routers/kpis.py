"""KPIs of a scope and period at any business and knowledge time, and the region quadrants."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api import exports
from api.deps import (
    AsOf,
    EngineDep,
    FiguresAtHead,
    FreshProjections,
    KnownAt,
    PeriodQuery,
    SettingsDep,
    VisibleScope,
    allowed,
    run_read,
)
from api.errors import request_lang
from api.responses import model_response
from api.routers.common import ExportFormat, sheet_response
from projections.queries.cutoffs import cutoffs
from projections.queries.kpis import kpis, quadrants
from projections.queries.membership import parse_scope
from projections.units import micros_to_time
from services.policy import User

router = APIRouter(prefix="/kpis", tags=["kpis"])

Count = int | Decimal  # a share-weighted count: 3, or 2.5 when a split deal counts half
Rate = Decimal | None  # a ratio rounded to 4 places; null when its denominator is 0
MAX_THRESHOLD = Decimal(10**12)


class CycleDays(BaseModel):
    mean: Decimal | None
    median: Decimal | None


class Followups(BaseModel):
    due: int
    done: int
    overdue: int


class Kpis(BaseModel):
    revenue: Decimal
    growth_rate: Rate
    new_customers: Count
    conversion_rate: Rate
    win_rate: Rate
    orders: Count
    avg_order_value: Decimal | None
    sales_cycle_days: CycleDays
    activities: dict[str, int]
    email_reply_rate: Rate
    followups: Followups
    attainment: dict[str, Rate]  # metric → actual / target, for each metric with a target
    pace: dict[str, Rate]  # attainment / elapsed share of the period (below 1: off track)
    off_track: list[str]


class KpisOut(BaseModel):
    scope: str
    period: str
    as_of: datetime  # the cut-offs used: the end of the period and now unless asked
    known_at: datetime
    kpis: Kpis


class RegionRow(BaseModel):
    region: str
    revenue: Decimal
    growth_rate: Rate
    quadrant: str | None  # high-high, high-low, low-high, low-low; null without a growth rate


class QuadrantsOut(BaseModel):
    period: str
    as_of: datetime
    known_at: datetime
    thresholds: dict[str, Decimal | None]  # revenue, growth_rate: the medians unless given
    regions: list[RegionRow]


@router.get("", summary="KPIs of a scope (rep:ID, team:ID, region:NAME, company) for a period", response_model=KpisOut)
async def read_kpis(
    request: Request,
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    memo: FiguresAtHead,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format: ExportFormat = "json",
) -> Response:
    known_at_given = known_at is not None
    as_of, known_at = resolved(settings, period, as_of, known_at)

    def read() -> dict:
        return memo.figures(
            (scope, period, as_of),
            known_at,
            known_at_given,
            lambda: kpis(engine, settings, scope, period, as_of, known_at),
        )

    # a rep's KPIs are a few indexed lookups: read in the event loop on SQLite (see run_read)
    figures = await run_read(engine, parse_scope(scope).kind == "rep", read)
    if format != "json":
        speaker = request_lang(request)
        sheet = exports.kpi_sheet(speaker, [(scope, period, figures)], as_of, known_at, settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    out = KpisOut.model_validate(
        {"scope": scope, "period": period, "as_of": as_of, "known_at": known_at, "kpis": figures}
    )
    return model_response(out)


Threshold = Annotated[Decimal | None, Query(ge=-MAX_THRESHOLD, le=MAX_THRESHOLD, allow_inf_nan=False)]


@router.get(
    "/quadrants",
    summary="Each region by revenue and growth rate against thresholds (medians unless given)",
    response_model=QuadrantsOut,
)
def read_quadrants(
    _: Annotated[User, allowed("kpis.quadrants")],
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    __: FreshProjections,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    revenue_threshold: Threshold = None,
    growth_threshold: Threshold = None,
) -> Response:
    as_of, known_at = resolved(settings, period, as_of, known_at)
    given = {"revenue": revenue_threshold, "growth_rate": growth_threshold}
    answer = quadrants(engine, settings, period, as_of, known_at, {k: v for k, v in given.items() if v is not None})
    return model_response(QuadrantsOut(**answer, as_of=as_of, known_at=known_at))


def resolved(
    settings: SettingsDep, period: str, as_of: datetime | None, known_at: datetime | None
) -> tuple[datetime, datetime]:
    """The cut-offs a read uses, made explicit (the end of the period, now) so the answer names them."""
    cut = cutoffs(settings, period, as_of, known_at)
    return (
        as_of or micros_to_time(cut.as_of_us).astimezone(settings.tz),
        known_at or micros_to_time(cut.known_us).astimezone(settings.tz),
    )
