"""Tables where finance lives: KPI tables, a period's payouts with their approval state, a rep's
statement (and the off-track list) as .xlsx or CSV, from the CLI (`perfledger export`) and the API
(`?format=xlsx|csv`), in the reader's language.

- CSV: UTF-8 with a BOM (Excel on Chinese Windows then opens Chinese text correctly), the header
  row first; money as plain decimals (1234.50), rates as percentages, times in the ledger's zone,
  which each time column's heading names.
- .xlsx (openpyxl, write-only): the same table under a few lines saying what it is (scope, period,
  cut-offs, the zone); money and rates are numbers with a ¥ / % format, so sums work in Excel.

Every figure is the one the API answers; this module only lays it out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_symbol

from api.i18n import N_, Lang

FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# Column kinds: how a cell is written (text as it is; money and number as decimals; rate as %).
TEXT, MONEY, NUMBER, RATE, TIME = "text", "money", "number", "rate", "time"


@dataclass
class Sheet:
    name: str  # the file's stem and the sheet's title (ASCII: safe in a Content-Disposition)
    title: str  # in the reader's language
    columns: list[tuple[str, str]]  # (heading, kind)
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the table is: scope, period, cut-offs, zone


def render(sheet: Sheet, form: str, lang: Lang, currency: str, zone: tzinfo) -> bytes:
    return to_xlsx(sheet, lang, currency, zone) if form == "xlsx" else to_csv(sheet, lang, zone)


def filename(sheet: Sheet, form: str) -> str:
    return f"{sheet.name}.{form}"


def to_csv(sheet: Sheet, lang: Lang, zone: tzinfo) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([heading for heading, _ in sheet.columns])
    for row in sheet.rows:
        writer.writerow(
            [_csv_cell(value, kind, lang, zone) for value, (_, kind) in zip(row, sheet.columns, strict=True)]
        )
    return "\ufeff".encode() + text.getvalue().encode("utf-8")


def _csv_cell(value: Any, kind: str, lang: Lang, zone: tzinfo) -> str:
    if value is None:
        return ""
    if kind == RATE:
        return lang.percent(value, digits=2)
    if kind == TIME and isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def to_xlsx(sheet: Sheet, lang: Lang, currency: str, zone: tzinfo) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    page = book.create_sheet(re.sub(r"[\\/*?:\[\]]", "_", sheet.name)[:31])  # characters Excel refuses in a title
    bold = Font(bold=True)
    title = WriteOnlyCell(page, _xlsx_text(sheet.title))
    title.font = Font(bold=True, size=13)
    page.append([title])
    for note in sheet.notes:
        page.append([_xlsx_text(note)])
    page.append([])
    headings = []
    for heading, _ in sheet.columns:
        cell = WriteOnlyCell(page, _xlsx_text(heading))
        cell.font = bold
        headings.append(cell)
    page.append(headings)
    money_format = f'"{get_currency_symbol(currency, locale=lang.babel)}"#,##0.00;-"{get_currency_symbol(currency, locale=lang.babel)}"#,##0.00'
    for row in sheet.rows:
        cells = []
        for value, (_, kind) in zip(row, sheet.columns, strict=True):
            if isinstance(value, datetime):
                value = value.astimezone(zone).replace(tzinfo=None)  # Excel has no zones: the notes name it
            cell = WriteOnlyCell(page, _xlsx_text(value))
            if kind == MONEY:
                cell.number_format = money_format
            elif kind == RATE:
                cell.number_format = "0.00%"
            elif kind == TIME:
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            cells.append(cell)
        page.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_text(value: Any) -> Any:
    """A text as a cell may hold it: the control characters the xlsx format refuses (a name or a
    scope typed with one) shown as U+FFFD instead of failing the whole download."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


# ---------------------------------------------------------------- the tables


def cutoff_notes(lang: Lang, as_of: datetime, known_at: datetime, tz_name: str, zone: tzinfo) -> list[str]:
    return [
        lang._(
            "As of {as_of}, as known at {known_at}.",
            as_of=lang.datetime(as_of, zone),
            known_at=lang.datetime(known_at, zone),
        ),
        lang.zone_note(tz_name),
    ]


KPI_COLUMNS: list[tuple[str, str, str]] = [  # (KPI, heading, kind)
    ("revenue", N_("Revenue"), MONEY),
    ("growth_rate", N_("Growth rate"), RATE),
    ("orders", N_("Orders"), NUMBER),
    ("avg_order_value", N_("Average order value"), MONEY),
    ("new_customers", N_("New customers"), NUMBER),
    ("conversion_rate", N_("Conversion rate"), RATE),
    ("win_rate", N_("Win rate"), RATE),
    ("email_reply_rate", N_("Email reply rate"), RATE),
]


def kpi_sheet(
    lang: Lang,
    rows: Iterable[tuple[str, str, Mapping[str, Any]]],
    as_of: datetime,
    known_at: datetime,
    tz_name: str,
    zone: tzinfo,
) -> Sheet:
    """One row per (scope, period, KPIs): the headline figures, the sales cycle, and the revenue target's progress."""
    columns = [(lang._("Scope"), TEXT), (lang._("Period"), TEXT)]
    columns += [(lang._(heading), kind) for _, heading, kind in KPI_COLUMNS]
    columns += [
        (lang._("Sales cycle (days, mean)"), NUMBER),
        (lang._("Revenue target attainment"), RATE),
        (lang._("Revenue pace"), RATE),
        (lang._("Off track"), TEXT),
    ]
    sheet = Sheet("kpis", lang._("KPIs"), columns, notes=cutoff_notes(lang, as_of, known_at, tz_name, zone))
    for scope, period, kpis in rows:
        sheet.rows.append(
            [scope, period]
            + [kpis.get(name) for name, _, _ in KPI_COLUMNS]
            + [
                (kpis.get("sales_cycle_days") or {}).get("mean"),
                (kpis.get("attainment") or {}).get("revenue"),
                (kpis.get("pace") or {}).get("revenue"),
                "、".join(metric_name(lang, m) for m in kpis.get("off_track") or []),
            ]
        )
    return sheet


METRIC_NAMES = {
    "revenue": N_("Revenue"),
    "orders": N_("Orders"),
    "new_customers": N_("New customers"),
    "avg_order_value": N_("Average order value"),
    "conversion_rate": N_("Conversion rate"),
    "win_rate": N_("Win rate"),
    "activities": N_("Activities"),
    "growth_rate": N_("Growth rate"),
    "email_reply_rate": N_("Email reply rate"),
    "sales_cycle_days": N_("Sales cycle (days)"),
    "followups": N_("Follow-ups"),
    "leads": N_("Leads"),
}


def metric_name(lang: Lang, metric: str) -> str:
    return lang._(METRIC_NAMES[metric]) if metric in METRIC_NAMES else metric


APPROVAL_STATES = {
    "not_approved": N_("not approved"),
    "approved": N_("approved"),
    "adjusted": N_("approved and adjusted"),
    "adjusted_only": N_("adjusted (closed before approval)"),
}


def approval_label(state: Any) -> str:
    if state is None:
        return "not_approved"
    if state.amount is None:
        return "adjusted_only"
    return "adjusted" if state.adjustments else "approved"


def payouts_sheet(
    lang: Lang,
    period: str,
    payouts: Sequence[Mapping[str, Any]],
    states: Mapping[str, Any],
    as_of: datetime,
    known_at: datetime,
    tz_name: str,
    zone: tzinfo,
) -> Sheet:
    """Every payout of the period as computed at the cut-offs, beside what was approved and adjusted."""
    columns = [
        (lang._("Rep"), TEXT),
        (lang._("Period"), TEXT),
        (lang._("Plan"), TEXT),
        (lang._("Computed payout"), MONEY),
        (lang._("Approval state"), TEXT),
        (lang._("Approved amount"), MONEY),
        (lang._("Adjustments"), MONEY),
        (lang._("Owed now"), MONEY),
        (lang._("Difference (computed − owed)"), MONEY),
        (lang._("Approved at ({zone})", zone=tz_name), TIME),
        (lang._("Digest"), TEXT),
        (lang._("Team"), TEXT),  # the team the rep ended the period in (over business time)
        (lang._("Moved"), TEXT),
    ]
    sheet = Sheet(
        f"payouts-{period}",
        lang._("Payouts of {period}", period=period),
        columns,
        notes=cutoff_notes(lang, as_of, known_at, tz_name, zone),
    )
    for payout in payouts:
        state = states.get(payout["rep_id"])
        plan = payout.get("plan")
        adjusted = sum((a["amount"] for a in state.adjustments), Decimal("0.00")) if state is not None else None
        owed = state.current if state is not None else None
        sheet.rows.append(
            [
                payout["rep_id"],
                period,
                "" if plan is None else f"{plan['plan_id']} v{plan['version']}",
                payout["total"],
                lang._(APPROVAL_STATES[approval_label(state)]),
                None if state is None else state.amount,
                adjusted,
                owed,
                None if owed is None else payout["total"] - owed,
                None if state is None or state.recorded_us is None else _time(state.recorded_us),
                payout["digest"],
                payout.get("team_id") or "",
                "; ".join(
                    lang._(
                        "moved to {team} on {date}",
                        team=move.get("team_id") or move.get("region") or "—",
                        date=move["on"].astimezone(zone).date().isoformat(),
                    )
                    for move in payout.get("moved") or []
                ),
            ]
        )
    return sheet


def _time(micros: int) -> datetime:
    from projections.units import micros_to_time

    return micros_to_time(micros)


def statement_sheet(lang: Lang, statement: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A rep's statement: its lines, the total, what was approved and is owed now, then its
    non-cash recognitions (no amount)."""
    approved = statement.get("approved")
    columns = [(lang._("Component"), TEXT), (lang._("Kind"), TEXT), (lang._("Amount"), MONEY), (lang._("Events"), TEXT)]
    sheet = Sheet(
        f"statement-{statement['rep_id']}-{statement['period']}",
        lang._("Statement of {rep} for {period}", rep=statement["rep_id"], period=statement["period"]),
        columns,
        notes=cutoff_notes(lang, statement["as_of"], statement["known_at"], tz_name, zone),
    )
    for line in statement["lines"]:
        sheet.rows.append(
            [line["component"], component_kind(lang, line["kind"]), line["amount"], " ".join(map(str, line["events"]))]
        )
    sheet.rows.append([lang._("Total"), "", statement["total"], ""])
    if approved is not None:
        sheet.rows.append([lang._("Approved"), "", approved["amount"], ""])
        sheet.rows.append([lang._("Owed now"), "", approved["current"], ""])
    # non-cash recognitions (RecognitionGranted: 荣誉证书, 优秀销售) below the money, never a line:
    # no amount, so the amounts column still sums to the total
    for recognition in statement.get("recognitions", []):
        text = (
            f"{recognition['title']} — {recognition['reason']}" if recognition.get("reason") else recognition["title"]
        )
        sheet.rows.append([text, lang._("recognition (no money)"), None, str(recognition["position"])])
    return sheet


COMPONENT_KINDS = {
    "commission": N_("commission"),
    "bonus": N_("bonus"),
    "multiplier": N_("penalty (multiplier)"),
    "penalty": N_("deduction"),
    "cap": N_("cap"),
    "draw": N_("draw"),
    "guarantee": N_("guarantee"),
    "award": N_("award"),
}


def component_kind(lang: Lang, kind: str) -> str:
    return lang._(COMPONENT_KINDS[kind]) if kind in COMPONENT_KINDS else kind


ROLLUP_CHILDREN = {"region": N_("Region"), "team": N_("Team"), "rep": N_("Rep")}


def rollup_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A roll-up (GET /kpis/rollup): each child's revenue beside the previous period and the same
    period a year before, its attainment, pace and forecast, and the totals row (the parent's card)."""
    child = answer["children"]
    columns = [
        (lang._(ROLLUP_CHILDREN.get(child, child)), TEXT),
        (lang._("Revenue"), MONEY),
        (lang._("Orders"), NUMBER),
        (lang._("Revenue target"), MONEY),
        (lang._("Attainment"), RATE),
        (lang._("Pace"), RATE),
        (lang._("Forecast (pipeline)"), MONEY),
        (lang._("Forecast attainment"), RATE),
        (lang._("Previous period ({period})", period=answer["previous_period"]), MONEY),
        (lang._("Growth rate"), RATE),
        (lang._("Same period last year ({period})", period=answer["last_year_period"] or "—"), MONEY),
        (lang._("Year on year"), RATE),
        (lang._("Moved"), TEXT),
    ]
    sheet = Sheet(
        f"rollup-{answer['scope'].replace(':', '-')}-{answer['period']}",
        lang._(
            "{scope}: {period} by {children}",
            scope=answer["scope"],
            period=answer["period"],
            children=lang._(ROLLUP_CHILDREN.get(child, child)),
        ),
        columns,
        notes=cutoff_notes(lang, answer["as_of"], answer["known_at"], tz_name, zone),
    )

    def line(name: str, row: Mapping[str, Any]) -> list[Any]:
        return [
            name,
            row["revenue"],
            row["orders"],
            row["target"],
            row["attainment"],
            row["pace"],
            row["forecast"],
            row["forecast_attainment"],
            row["previous_revenue"],
            row["growth_rate"],
            row["last_year_revenue"],
            row["year_on_year"],
            move_text(lang, row, zone),
        ]

    for row in answer["rows"]:
        sheet.rows.append(line(str(row["key"]), row))
    sheet.rows.append(line(lang._("Total"), answer["total"]))
    return sheet


def move_text(lang: Lang, row: Mapping[str, Any], zone: tzinfo) -> str:
    """ "moved to T-2 on 2026-07-01", "joined from T-2 on 2026-02-15" (a team table's marks)."""
    parts = []
    for mark, words in (("joined", N_("joined from {team} on {date}")), ("left", N_("moved to {team} on {date}"))):
        move = row.get(mark)
        if move:
            on = move["on"].astimezone(zone).date().isoformat() if isinstance(move["on"], datetime) else move["on"]
            parts.append(lang._(words, team=move.get("team_id") or move.get("region") or "—", date=on))
    return "; ".join(parts)


def off_track_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """The off-track list (GET /kpis/off-track): each rep, worst first, with the reasons."""
    columns = [
        (lang._("Rep"), TEXT),
        (lang._("Team"), TEXT),
        (lang._("Region"), TEXT),
        (lang._("Revenue pace"), RATE),
        (lang._("Revenue target attainment"), RATE),
        (lang._("Forecast (pipeline)"), MONEY),
        (lang._("Revenue target"), MONEY),
        (lang._("Projected payout (pipeline)"), MONEY),
        (lang._("Reasons"), TEXT),
    ]
    sheet = Sheet(
        f"off-track-{answer['scope'].replace(':', '-')}-{answer['period']}",
        lang._("Off track: {scope}, {period}", scope=answer["scope"], period=answer["period"]),
        columns,
        notes=[
            lang._(
                "{count} of {total} reps off track.",
                count=answer["off_track"],
                total=answer["reps_in_scope"],
            ),
            *cutoff_notes(lang, answer["as_of"], answer["known_at"], tz_name, zone),
        ],
    )
    for rep in answer["reps"]:
        revenue = (rep.get("forecast") or {}).get("revenue") or {}
        payout = rep.get("payout") or {}
        sheet.rows.append(
            [
                rep["rep_id"],
                rep.get("team_id"),
                rep.get("region"),
                (rep.get("pace") or {}).get("revenue"),
                (rep.get("attainment") or {}).get("revenue"),
                revenue.get("pipeline"),
                (rep.get("targets") or {}).get("revenue"),
                payout.get("pipeline"),
                "; ".join(reason_text(lang, r) for r in rep.get("reasons") or []),
            ]
        )
    return sheet


def reason_text(lang: Lang, reason: Mapping[str, Any]) -> str:
    metric = metric_name(lang, reason["metric"])
    if reason["kind"] == "pace":
        return lang._("{metric}: pace {pace}", metric=metric, pace=lang.percent(reason["value"], digits=2))
    return lang._(
        "{metric}: the forecast reaches {share} of the target",
        metric=metric,
        share=lang.percent(reason["value"], digits=2),
    )


STAGE_NAMES = {"open": N_("open"), "won": N_("won"), "lost": N_("lost")}
FOLLOWUP_STATE_NAMES = {"due": N_("due"), "done": N_("done"), "overdue": N_("overdue")}


def _page_notes(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> list[str]:
    notes = cutoff_notes(lang, answer["as_of"], answer["known_at"], tz_name, zone)
    if answer.get("period"):
        notes.insert(0, lang._("Period {period}.", period=answer["period"]))
    return notes


def deals_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A rep's deals (GET /reps/{id}/deals): stage, customer, amounts, stage age, the events."""
    columns = [
        (lang._("Deal"), TEXT),
        (lang._("Customer"), TEXT),
        (lang._("Stage"), TEXT),
        (lang._("Days in stage"), NUMBER),
        (lang._("Opened ({zone})", zone=tz_name), TIME),
        (lang._("Closed ({zone})", zone=tz_name), TIME),
        (lang._("Expected amount"), MONEY),
        (lang._("Won amount"), MONEY),
        (lang._("Credited to the rep"), MONEY),
        (lang._("Owner"), TEXT),
        (lang._("Events"), TEXT),
    ]
    sheet = Sheet(
        f"deals-{answer['rep_id']}",
        lang._("Deals of {rep}", rep=answer["rep_id"]),
        columns,
        notes=_page_notes(lang, answer, tz_name, zone),
    )
    for deal in answer["deals"]:
        sheet.rows.append(
            [
                deal["deal_id"],
                deal["customer_id"],
                lang._(STAGE_NAMES.get(deal["stage"], deal["stage"])),
                deal["stage_days"],
                deal["opened_at"],
                deal["closed_at"],
                deal["expected_amount"],
                deal["amount"],
                deal["credited"],
                deal["owner"],
                " ".join(map(str, deal["events"])),
            ]
        )
    return sheet


def activities_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A rep's activities (GET /reps/{id}/activities)."""
    columns = [
        (lang._("Activity"), TEXT),
        (lang._("Kind"), TEXT),
        (lang._("Occurred ({zone})", zone=tz_name), TIME),
        (lang._("Replied"), TEXT),
        (lang._("Events"), TEXT),
    ]
    sheet = Sheet(
        f"activities-{answer['rep_id']}",
        lang._("Activities of {rep}", rep=answer["rep_id"]),
        columns,
        notes=_page_notes(lang, answer, tz_name, zone),
    )
    for item in answer["activities"]:
        replied = "" if item["replied"] is None else lang._("yes") if item["replied"] else lang._("no")
        sheet.rows.append(
            [
                item["activity_id"],
                lang._(item["kind"]),
                item["occurred_at"],
                replied,
                " ".join(map(str, item["events"])),
            ]
        )
    return sheet


def followups_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A rep's follow-ups (GET /reps/{id}/followups), the overdue first."""
    columns = [
        (lang._("Follow-up"), TEXT),
        (lang._("State"), TEXT),
        (lang._("Due ({zone})", zone=tz_name), TIME),
        (lang._("Days overdue"), NUMBER),
        (lang._("Deal"), TEXT),
        (lang._("Completed ({zone})", zone=tz_name), TIME),
        (lang._("Events"), TEXT),
    ]
    sheet = Sheet(
        f"followups-{answer['rep_id']}",
        lang._("Follow-ups of {rep}", rep=answer["rep_id"]),
        columns,
        notes=_page_notes(lang, answer, tz_name, zone),
    )
    for item in answer["followups"]:
        sheet.rows.append(
            [
                item["followup_id"],
                lang._(FOLLOWUP_STATE_NAMES.get(item["state"], item["state"])),
                item["due_at"],
                item["overdue_days"],
                item["deal_id"],
                item["completed_at"],
                " ".join(map(str, item["events"])),
            ]
        )
    return sheet


REPLAY_BASES = {"approved": N_("approved"), "computed": N_("computed (not approved)")}


def replay_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """A replay's difference by rep, the biggest change first (by size, either way), each split
    by cause (the plan's rules, the facts learned since approval, and the two together), and the
    totals last."""
    plan = answer["plan"]
    label = lang._("a draft plan") if plan.get("draft") else f"{plan['plan_id']} v{plan['version']}"
    columns = [
        (lang._("Rep"), TEXT),
        (lang._("Compared with"), TEXT),
        (lang._("Before"), MONEY),
        (lang._("After"), MONEY),
        (lang._("Delta"), MONEY),
        (lang._("Cause: plan rules"), MONEY),
        (lang._("Cause: facts learned"), MONEY),
        (lang._("Cause: both together"), MONEY),
        (lang._("Lines changed"), TEXT),
    ]
    sheet = Sheet(
        f"replay-{answer['period']}",
        lang._("Replay of {period} under {plan}", period=answer["period"], plan=label),
        columns,
        notes=[
            lang._("As known at {known_at}.", known_at=lang.datetime(answer["known_at"], zone)),
            lang.zone_note(tz_name),
        ],
    )
    rows = sorted(answer["diff"], key=lambda row: (-abs(row["delta"]), row["rep_id"]))
    for row in rows:
        causes = row["causes"]
        sheet.rows.append(
            [
                row["rep_id"],
                lang._(REPLAY_BASES[row["basis"]]) if row["basis"] in REPLAY_BASES else row["basis"],
                row["before"],
                row["after"],
                row["delta"],
                causes["rule"]["delta"],
                causes["facts"]["delta"],
                causes["both"],
                "; ".join(f"{line['component']} {line['delta']}" for line in row["lines"]),
            ]
        )
    totals = answer["totals"]
    sheet.rows.append(
        [lang._("Total ({count} reps)", count=totals["reps"]), "", totals["before"], totals["after"], totals["delta"]]
        + [totals["rule"], totals["facts"], totals["both"], ""]
    )
    return sheet


def team_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """The dashboard's team table (GET /web/team): each rep's revenue while in the scope, their
    attainment and pace of the revenue target, what is off track, and revenue month by month."""
    columns = [
        (lang._("Rep"), TEXT),
        (lang._("Name"), TEXT),
        (lang._("Team"), TEXT),
        (lang._("Region"), TEXT),
        (lang._("Revenue"), MONEY),
        (lang._("Orders"), NUMBER),
        (lang._("Revenue target attainment"), RATE),
        (lang._("Revenue pace"), RATE),
        (lang._("Off track"), TEXT),
        (lang._("Moved"), TEXT),
    ]
    columns += [(lang._("Revenue {month}", month=month), MONEY) for month in answer["months"]]
    notes = _page_notes(lang, answer, tz_name, zone)
    notes.insert(1, lang._("{shown} of {total} reps.", shown=len(answer["rows"]), total=answer["total_rows"]))
    sheet = Sheet(
        f"team-{answer['scope'].replace(':', '-')}-{answer['period']}",
        lang._("Team: {scope}, {period}", scope=answer["scope"], period=answer["period"]),
        columns,
        notes=notes,
    )
    for row in answer["rows"]:
        by_month = {m["period"]: m["revenue"] for m in row["revenue_by_month"]}
        sheet.rows.append(
            [
                row["rep_id"],
                row["name"],
                row["team_id"],
                row["region"],
                row["revenue"],
                row["orders"],
                (row["attainment"] or {}).get("revenue"),
                (row["pace"] or {}).get("revenue"),
                "、".join(metric_name(lang, m) for m in row["off_track"]),
                move_text(lang, row, zone),
            ]
            + [by_month.get(month) for month in answer["months"]]
        )
    return sheet


QUADRANT_NAMES = {
    "high-high": N_("High revenue, high growth"),
    "high-low": N_("High revenue, low growth"),
    "low-high": N_("Low revenue, high growth"),
    "low-low": N_("Low revenue, low growth"),
}


def quadrants_sheet(lang: Lang, answer: Mapping[str, Any], tz_name: str, zone: tzinfo) -> Sheet:
    """Regions (or a region's teams) by revenue and growth rate, and their quadrant against the
    thresholds (GET /kpis/quadrants)."""
    teams = answer.get("teams") is not None
    columns = [(lang._("Team"), TEXT)] if teams else []
    columns += [
        (lang._("Region"), TEXT),
        (lang._("Revenue"), MONEY),
        (lang._("Growth rate"), RATE),
        (lang._("Quadrant"), TEXT),
    ]
    limits = answer["thresholds"]
    notes = _page_notes(lang, answer, tz_name, zone)
    notes.insert(
        1,
        lang._(
            "Thresholds: revenue {revenue}, growth rate {growth}.",
            revenue=limits.get("revenue") if limits.get("revenue") is not None else "—",
            growth=lang.percent(limits["growth_rate"], digits=2) if limits.get("growth_rate") is not None else "—",
        ),
    )
    sheet = Sheet(
        f"quadrants-{answer['period']}" + (f"-{answer['region']}" if teams else ""),
        lang._("Regions by revenue and growth: {period}", period=answer["period"]),
        columns,
        notes=notes,
    )
    for row in answer["teams"] if teams else answer["regions"]:
        quadrant = row["quadrant"]
        sheet.rows.append(
            ([row["team"]] if teams else [])
            + [
                row["region"],
                row["revenue"],
                row["growth_rate"],
                lang._(QUADRANT_NAMES[quadrant])
                if quadrant in QUADRANT_NAMES
                else lang._("no quadrant (no growth rate)"),
            ]
        )
    return sheet
