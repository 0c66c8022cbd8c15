"""KPIs of a scope and period at any business and knowledge time, and the region quadrants."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api import exports
from api.deps import (
    AsOf,
    CurrentUser,
    EngineDep,
    FiguresAtHead,
    FreshProjections,
    FreshReadDep,
    KnownAt,
    OrgDep,
    PeriodQuery,
    SettingsDep,
    VisibleScope,
    allowed,
    invalid_as,
    run_read,
)
from api.errors import request_lang
from api.responses import model_response
from api.routers.common import ExportFormat, sheet_response
from ledger.messages import Msg
from projections.queries.cutoffs import PeriodStatus, cutoffs
from projections.queries.forecast import FIRST_PAGE, forecast, off_track, payouts_if_landed
from projections.queries.kpis import kpis, quadrants
from projections.queries.membership import parse_scope
from projections.queries.rollup import rollup_table
from projections.rollup import SORT_KEYS, sort_rows
from projections.units import micros_to_time
from services.policy import User, may_read_rep, quadrant_region

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
    leads: int  # leads created in the period
    attainment: dict[str, Rate]  # metric → actual / target, for each metric with a target
    pace: dict[str, Rate]  # attainment / elapsed share of the period (below 1: off track)
    off_track: list[str]


class KpisOut(BaseModel):
    scope: str
    period: str
    as_of: datetime  # the cut-offs used: the earlier of the period's end and now, and now, unless asked
    known_at: datetime
    period_status: PeriodStatus  # not_started: as_of is before the period, every figure is empty
    kpis: Kpis


class RegionRow(BaseModel):
    region: str
    revenue: Decimal
    growth_rate: Rate
    quadrant: str | None  # high-high, high-low, low-high, low-low; null without a growth rate


class TeamRow(RegionRow):
    team: str


class QuadrantsOut(BaseModel):
    period: str
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus
    thresholds: dict[str, Decimal | None]  # revenue, growth_rate: the medians unless given
    regions: list[RegionRow]  # empty when the teams of one region are compared
    region: str | None = None  # the region whose teams are compared (a director's: their own)
    teams: list[TeamRow] | None = None  # each team of that region, placed as the regions are


@router.get("", summary="KPIs of a scope (rep:ID, team:ID, region:NAME, company) for a period", response_model=KpisOut)
async def read_kpis(
    request: Request,
    scope: VisibleScope,
    period: PeriodQuery,
    fresh: FreshReadDep,  # settings, engine, fresh projections and the memo: one dependency to solve
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format: ExportFormat = "json",
) -> Response:
    settings, engine, memo = fresh.settings, fresh.engine, fresh.memo
    known_at_given = known_at is not None
    as_of, known_at = resolved(settings, period, as_of, known_at)
    key = (scope, period, as_of)

    def read() -> dict:
        return memo.figures(
            key, known_at, known_at_given, lambda: kpis(engine, settings, scope, period, as_of, known_at)
        )

    # Figures already kept at this head are answered here, with no hop to the thread pool (which,
    # under load, queues behind the computing handlers); a rep's KPIs are a few indexed lookups:
    # read in the event loop on SQLite (see run_read)
    kept = memo.kept(key, known_at, known_at_given)
    figures = kept if kept is not None else await run_read(engine, parse_scope(scope).kind == "rep", read)
    if format != "json":
        speaker = request_lang(request)
        sheet = exports.kpi_sheet(speaker, [(scope, period, figures)], as_of, known_at, settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    status = status_at(settings, period, as_of)
    out = KpisOut.model_validate(
        {
            "scope": scope,
            "period": period,
            "as_of": as_of,
            "known_at": known_at,
            "period_status": status,
            "kpis": figures,
        }
    )
    return model_response(out)


Threshold = Annotated[Decimal | None, Query(ge=-MAX_THRESHOLD, le=MAX_THRESHOLD, allow_inf_nan=False)]


@router.get(
    "/quadrants",
    summary="Each region by revenue and growth rate against thresholds (medians unless given)",
    response_model=QuadrantsOut,
)
def read_quadrants(
    request: Request,
    user: Annotated[User, allowed("kpis.quadrants")],
    org: OrgDep,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    __: FreshProjections,
    memo: FiguresAtHead,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    revenue_threshold: Threshold = None,
    growth_threshold: Threshold = None,
    region: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Compare the teams of this region instead of the regions (a director: their own, the default)",
        ),
    ] = None,
    format: ExportFormat = "json",
) -> Response:
    known_at_given, as_of_given = known_at is not None, as_of is not None
    as_of, known_at = resolved(settings, period, as_of, known_at)
    given = {"revenue": revenue_threshold, "growth_rate": growth_threshold}
    region = quadrant_region(user, region, org)
    limits = {k: v for k, v in given.items() if v is not None}
    stable = as_of_given or cutoffs(settings, period, as_of).ended  # as_of does not move with the clock
    answer = memo.figures(
        ("quadrants", period, as_of, tuple(sorted(limits.items())), region) if stable else None,
        known_at,
        known_at_given,
        lambda: quadrants(engine, settings, period, as_of, known_at, limits, region=region),
    )
    status = status_at(settings, period, as_of)
    out = QuadrantsOut(**answer, as_of=as_of, known_at=known_at, period_status=status)
    if format != "json":
        speaker = request_lang(request)
        sheet = exports.quadrants_sheet(speaker, out.model_dump(), settings.tz_name, settings.tz)
        return sheet_response(sheet, format, speaker, settings)
    return model_response(out)


def resolved(
    settings: SettingsDep, period: str, as_of: datetime | None, known_at: datetime | None
) -> tuple[datetime, datetime]:
    """The cut-offs a read uses, made explicit (the earlier of the period's end and now; now) so the
    answer names them."""
    cut = cutoffs(settings, period, as_of, known_at)
    return (
        as_of or micros_to_time(cut.as_of_us).astimezone(settings.tz),
        known_at or micros_to_time(cut.known_us).astimezone(settings.tz),
    )


def status_at(settings: SettingsDep, period: str, as_of: datetime) -> PeriodStatus:
    """Where the period stands at as_of: not started, in progress or ended."""
    return cutoffs(settings, period, as_of).status


# ---------------------------------------------------------------- forecasts and the off-track list


class Attainments(BaseModel):
    actual: Rate
    run_rate: Rate
    pipeline: Rate


class MetricForecast(BaseModel):
    actual: Decimal
    run_rate: Decimal | None  # actual / elapsed share; null before the period starts
    pipeline: Decimal  # actual + the open deals expected by the end × the win probability
    target: Decimal | None
    attainment: Attainments  # each over the target; null without one


class Pipeline(BaseModel):
    open_deals: int
    expected_in_period: int  # opened + the mean sales cycle before the period's end
    win_probability: Rate = None  # a rep's: what its open deals are weighted with
    learned_from: str | None = None  # rep | team | company | none
    closed_deals: Decimal | None = None  # the closed deals it was learned from (by share)
    cycle_days: Decimal | None = None  # the mean sales cycle


class ProjectedPayout(BaseModel):
    plan: dict[str, Any] | None  # the plan in force
    so_far: Decimal  # the payout of the figures as they stand
    run_rate: Decimal | None  # if the run-rate forecast lands
    pipeline: Decimal | None  # if the pipeline forecast lands


class RepForecast(BaseModel):
    rep_id: str
    team_id: str | None
    region: str | None
    attainment: dict[str, Rate]
    pace: dict[str, Rate]
    forecast: dict[str, MetricForecast]
    pipeline: Pipeline
    targets: dict[str, Decimal]


class MetricError(BaseModel):
    actual: Decimal  # what happened
    run_rate: Decimal | None  # what was forecast at made_at
    pipeline: Decimal
    run_rate_error: Rate  # (forecast − actual) / actual
    pipeline_error: Rate


class ForecastError(BaseModel):
    made_at: datetime  # the middle of the period: the forecast as of then, as known then
    revenue: MetricError
    orders: MetricError


class ForecastOut(BaseModel):
    scope: str
    period: str
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus
    elapsed_share: Decimal
    forecast: dict[str, MetricForecast]  # revenue, orders
    pipeline: Pipeline
    methods: dict[str, str]  # how each forecast is made
    payout: ProjectedPayout | None = None  # a rep's: what they earn if the forecast lands
    reps: list[RepForecast] | None = None  # a team's, region's or the company's: each rep in it at as_of
    error: ForecastError | None = None  # a period that has ended: how good the forecast at its middle was


class Reason(BaseModel):
    kind: str  # pace | forecast
    metric: str
    value: Decimal  # the pace, or the pipeline forecast's attainment
    expected_by_now: Decimal | None = None  # pace: the target × the elapsed share
    forecast: Decimal | None = None  # forecast: the pipeline forecast


class OffTrackRep(RepForecast):
    reasons: list[Reason]  # the worst first
    # with ?payouts=true: what the rep earns if each forecast lands (a rep now beyond reach: none)
    payout: ProjectedPayout | None = None


class OffTrackOut(BaseModel):
    scope: str
    period: str
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus
    elapsed_share: Decimal
    reps_in_scope: int
    off_track: int  # reps off track; the first `limit` from `offset` are listed
    reps: list[OffTrackRep]
    next_offset: int | None = None  # pass as `offset` for the next page; null: the last


MAX_LISTED = 1000
MAX_PAYOUTS_LISTED = 50  # a projected payout evaluates the plan twice per rep


@router.get(
    "/forecast",
    summary="Where a scope will land in a period: run-rate and pipeline forecasts, and their attainment",
    response_model=ForecastOut,
)
def read_forecast(
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    as_of, known_at = resolved(settings, period, as_of, known_at)
    answer = forecast(engine, settings, scope, period, as_of, known_at)
    status = status_at(settings, period, as_of)
    named = {"scope": scope, "period": period, "as_of": as_of, "known_at": known_at, "period_status": status}
    return model_response(ForecastOut.model_validate({**named, **answer}))


@router.get(
    "/off-track",
    summary="The reps of a scope off track, worst first: behind pace or forecast short of a target, and why",
    response_model=OffTrackOut,
)
def read_off_track(
    request: Request,
    user: CurrentUser,
    org: OrgDep,
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    memo: FiguresAtHead,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = FIRST_PAGE,
    payouts: Annotated[
        bool,
        Query(
            description=f"each listed rep's projected payout (the plan in force, if each forecast lands): "
            f"at most {MAX_PAYOUTS_LISTED} reps a page with it"
        ),
    ] = False,
    offset: Annotated[int, Query(ge=0, le=MAX_LISTED)] = 0,
    format: ExportFormat = "json",
) -> Response:
    if payouts and limit > MAX_PAYOUTS_LISTED:
        with invalid_as("query.limit", ValueError):
            raise ValueError(
                Msg(
                    "off_track.payouts_limit",
                    "with payouts, list at most {most} reps a page (use offset for the next)",
                    most=MAX_PAYOUTS_LISTED,
                )
            )
    known_at_given, as_of_given = known_at is not None, as_of is not None
    as_of, known_at = resolved(settings, period, as_of, known_at)
    remember = memo.remember(known_at, known_at_given)
    stable = as_of_given or cutoffs(settings, period, as_of).ended  # as_of does not move with the clock
    answer = dict(
        memo.figures(
            ("off-track", scope, period, as_of, offset, limit) if stable else None,
            known_at,
            known_at_given,
            lambda: off_track(engine, settings, scope, period, as_of, known_at, remember, offset, limit),
        )
    )
    status = status_at(settings, period, as_of)
    named = {"scope": scope, "period": period, "as_of": as_of, "known_at": known_at, "period_status": status}
    page = [dict(row) for row in answer.pop("reps")]  # the remembered rows stay as they are
    if payouts:
        cut = cutoffs(settings, period, as_of, known_at)
        # a payout is the rep's own: only for a rep within reach now (as GET /payouts/{rep})
        mine: list[Mapping[str, Any]] = [r for r in page if may_read_rep(user, r["rep_id"], org)]
        found = memo.figures(
            ("projected-payouts", period, as_of, tuple(r["rep_id"] for r in mine)) if stable else None,
            known_at,
            known_at_given,
            lambda: payouts_if_landed(engine, settings, mine, cut),
        )
        for row in page:
            row["payout"] = found.get(row["rep_id"])
    out = {**named, **answer, "reps": page}
    out["next_offset"] = offset + limit if offset + limit < answer["off_track"] else None
    if format != "json":
        speaker = request_lang(request)
        return sheet_response(
            exports.off_track_sheet(speaker, out, settings.tz_name, settings.tz), format, speaker, settings
        )
    return model_response(OffTrackOut.model_validate(out))


# ---------------------------------------------------------------- the roll-up


class RollupMove(BaseModel):
    team_id: str | None
    region: str | None
    on: datetime


class RollupRow(BaseModel):
    key: str | None  # the child: a region, a team or a rep (the totals row: the parent scope)
    revenue: Decimal  # the child's facts in the window (a rep's: while in the team)
    orders: int  # whole counts: a split deal counts once for each child it credits
    previous_revenue: Decimal
    growth_rate: Rate  # on the previous period, from the sums (the totals row: the parent's card)
    last_year_revenue: Decimal
    year_on_year: Rate  # on the same period a year before, up to the same point in it
    target: Decimal | None  # the revenue target in force of the child's own scope
    attainment: Rate
    pace: Rate
    forecast: Decimal  # the pipeline forecast of revenue: actual + the weighted open deals
    forecast_attainment: Rate
    reachable: bool = True  # a rep since moved beyond this token's reach: the team's share only, no target
    joined: RollupMove | None = None  # a rep of a team: came in after the period began
    left: RollupMove | None = None  # a rep of a team: moved out (during the period or since)


class RollupOut(BaseModel):
    scope: str
    children: str  # region | team | rep
    period: str
    previous_period: str
    last_year_period: str | None
    as_of: datetime
    known_at: datetime
    period_status: PeriodStatus
    sort: str
    truncated: bool  # more children than listed
    rows: list[RollupRow]
    total: RollupRow  # money summed from the rows, rates recomputed from the sums: the parent's card
    unallocated: Decimal  # the parent's revenue no row holds: 0.00


@router.get(
    "/rollup",
    summary="A company, region or team rolled up into its regions, teams or reps, with a totals row",
    response_model=RollupOut,
)
def read_rollup(
    request: Request,
    user: CurrentUser,
    org: OrgDep,
    scope: VisibleScope,
    period: PeriodQuery,
    settings: SettingsDep,
    engine: EngineDep,
    _: FreshProjections,
    memo: FiguresAtHead,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(SORT_KEYS) + ")$")] = "attainment",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    format: ExportFormat = "json",
) -> Response:
    known_at_given, as_of_given = known_at is not None, as_of is not None
    as_of, known_at = resolved(settings, period, as_of, known_at)
    remember = memo.remember(known_at, known_at_given)
    with invalid_as("query.scope", ValueError):
        answer = memo.figures(
            ("rollup", scope, period, as_of) if as_of_given or cutoffs(settings, period, as_of).ended else None,
            known_at,
            known_at_given,
            lambda: rollup_table(engine, settings, scope, period, as_of, known_at, remember),
        )
    answer = {**answer, "rows": [dict(row) for row in answer["rows"]]}  # the remembered rows stay as they are
    if answer["children"] == "rep":  # a rep's own target is theirs: only for a rep within reach now
        for row in answer["rows"]:
            row["reachable"] = may_read_rep(user, row["key"], org)
            if not row["reachable"]:
                row.update(target=None, attainment=None, pace=None, forecast_attainment=None)
    answer["rows"] = sort_rows(answer["rows"], sort, descending=order == "desc")
    answer["sort"] = sort
    if format != "json":
        speaker = request_lang(request)
        return sheet_response(
            exports.rollup_sheet(speaker, answer, settings.tz_name, settings.tz), format, speaker, settings
        )
    return model_response(RollupOut.model_validate(answer))
