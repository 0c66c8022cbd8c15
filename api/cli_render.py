"""Rich renderings shared by the commands: KPI tables, quadrants, payout trees, replay diffs,
verification. Figures are printed exactly as the API writes them (a Decimal as its string, a
missing figure as "–"), so what the terminal shows can be checked against GET /kpis; the words
around them are in the reader's language (`perfledger --locale`, PERFLEDGER_LOCALE)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from api.cli_common import speaker
from api.exports import component_kind, metric_name
from api.i18n import N_

EVENTS_SHOWN = 8  # per payout line, unless asked for all


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return speaker()._("yes") if value else speaker()._("no")
    return str(value)


def short(value: Any) -> str:
    """For reading rather than checking: an exact ratio of 50 digits to 8 decimals, times to the minute."""
    if isinstance(value, Decimal) and value.as_tuple().exponent < -8:  # type: ignore[operator]
        return f"{value:.8f}…"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dict):
        return ", ".join(f"{key} {short(item)}" for key, item in value.items())
    return fmt(value)


def signed(value: Decimal) -> Text:
    style = "green" if value > 0 else "red" if value < 0 else "dim"
    return Text(f"+{value}" if value > 0 else str(value), style=style)


# ---------------------------------------------------------------- KPIs

SUMMARY_COLUMNS = ("revenue", "growth_rate", "orders", "win_rate")  # 8 columns: fits 80 (`kpi` shows every figure)
SUMMARY_HEADINGS = (N_("revenue"), N_("growth"), N_("orders"), N_("win\nrate"))


def kpi_summary(title: str, rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Table:
    """One row per (scope, period, kpis): the headline figures and the revenue target's progress."""
    say = speaker()
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=say._("att. = revenue / target; pace = att. / share of period elapsed"),
    )
    headings = (N_("scope"), N_("period"), *SUMMARY_HEADINGS, N_("rev.\natt."), N_("rev.\npace"))
    for heading in headings:
        # A narrow terminal folds a figure onto two lines rather than cutting it short.
        left = heading in ("scope", "period")
        table.add_column(say._(heading), overflow="fold", justify="left" if left else "right")
    for scope, period, kpis in rows:
        table.add_row(
            scope,
            period,
            *(fmt(kpis[c]) for c in SUMMARY_COLUMNS),
            fmt(kpis["attainment"].get("revenue")),
            fmt(kpis["pace"].get("revenue")),
        )
    return table


def kpi_detail(
    scope: str, period: str, as_of: datetime, known_at: datetime, kpis: Mapping[str, Any], status: str = "ended"
) -> Table:
    """Every figure of one scope and period, one per line."""
    say = speaker()
    table = Table(
        say._("figure"),
        say._("value"),
        title=say._("KPIs of {scope} for {period}", scope=scope, period=period),
        caption=cutoffs_caption(as_of, known_at, status),
    )
    for name in (
        "revenue",
        "growth_rate",
        "orders",
        "avg_order_value",
        "new_customers",
        "conversion_rate",
        "win_rate",
        "email_reply_rate",
    ):
        table.add_row(metric_name(say, name), fmt(kpis[name]))
    cycle = kpis["sales_cycle_days"]
    table.add_row(
        metric_name(say, "sales_cycle_days"),
        say._("mean {mean}, median {median}", mean=fmt(cycle["mean"]), median=fmt(cycle["median"])),
    )
    table.add_row(
        metric_name(say, "activities"),
        ", ".join(f"{say._(kind)} {count}" for kind, count in kpis["activities"].items()),
    )
    table.add_row(
        metric_name(say, "followups"), ", ".join(f"{say._(key)} {value}" for key, value in kpis["followups"].items())
    )
    for metric, value in kpis["attainment"].items():
        pace = kpis["pace"].get(metric)
        style = "red" if pace is not None and pace < 1 else ""
        label = say._("{metric} attainment / pace", metric=metric_name(say, metric))
        table.add_row(label, Text(f"{fmt(value)} / {fmt(pace)}", style=style))
    return table


def quadrant_table(answer: Mapping[str, Any]) -> Table:
    limits, say = answer["thresholds"], speaker()
    table = Table(
        say._("region"),
        say._("revenue"),
        say._("growth rate"),
        say._("quadrant"),
        title=say._("Region quadrants, {period}", period=answer["period"]),
        caption=say._(
            "thresholds: revenue {revenue}, growth {growth}",
            revenue=fmt(limits.get("revenue")),
            growth=fmt(limits.get("growth_rate")),
        ),
    )
    for row in answer["regions"]:
        table.add_row(row["region"], fmt(row["revenue"]), fmt(row["growth_rate"]), fmt(row["quadrant"]))
    return table


def top_reps_table(title: str, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Table:
    say = speaker()
    table = Table(
        *(say._(h) for h in ("rep", "revenue", "orders", "revenue target attainment", "revenue pace", "off track")),
        title=title,
    )
    for rep_id, kpis in rows:
        table.add_row(
            rep_id,
            fmt(kpis["revenue"]),
            fmt(kpis["orders"]),
            fmt(kpis["attainment"].get("revenue")),
            fmt(kpis["pace"].get("revenue")),
            ", ".join(metric_name(say, m) for m in kpis["off_track"]) or "–",
        )
    return table


# ---------------------------------------------------------------- payouts


def payout_tree(answer: Mapping[str, Any], all_events: bool = False) -> Tree:
    """total → lines → inputs → events, with the approval and whether it reproduces."""
    plan, say = answer["plan"], speaker()
    label = (
        say._("no plan")
        if plan is None
        else say._("plan {plan} v{version}", plan=plan["plan_id"], version=fmt(plan["version"]))
    )
    root = Tree(
        Text.assemble(
            (say._("{rep} · {period} · total ", rep=answer["rep_id"], period=answer["period"]), "bold"),
            (fmt(answer["total"]), "bold cyan"),
            say._("  ({plan}, as known at {known_at})", plan=label, known_at=short(answer["known_at"])),
        )
    )
    approved = answer.get("approved")
    if approved is not None:
        mark = (say._("reproduced ✓"), "green") if answer.get("reproduced") else (say._("NOT reproduced"), "bold red")
        root.add(
            Text.assemble(
                say._(
                    "approved {amount} on {when}, digest {digest}… ",
                    amount=fmt(approved["amount"]),
                    when=short(approved["recorded_at"]),
                    digest=fmt(approved["digest"])[:16],
                ),
                mark,
            )
        )
        for step in answer.get("trail", [])[1:-1]:  # every adjustment since the approval
            root.add(
                say._(
                    "adjusted {amount}: owed {owed} ({reason})",
                    amount=str(signed(step["amount"])),
                    owed=fmt(step["owed"]),
                    reason=step.get("reason") or "",
                )
            )
    for problem in answer.get("problems", ()):
        root.add(Text(problem, style="yellow"))
    for line in answer["tree"]["lines"]:
        branch = root.add(
            Text.assemble(
                (line["component"], "bold"), f" ({component_kind(say, line['kind'])}) ", (fmt(line["amount"]), "cyan")
            )
        )
        add_inputs(branch.add(say._("inputs")), line["inputs"])
        add_events(branch, line["events"], all_events)
    today = answer.get("today")
    if today is not None and approved is not None and today["difference"]:
        root.add(
            Text.assemble(
                say._("today: "),
                fmt(today["total"]),
                " (",
                signed(today["difference"]),
                say._(" against what is owed)"),
            )
        )
    return root


def add_inputs(node: Tree, inputs: Mapping[str, Any]) -> None:
    for key, value in inputs.items():
        if isinstance(value, list):
            child = node.add(f"{key}:")
            for item in value:
                child.add(short(item))
        else:
            node.add(f"{key}: {short(value)}")


def add_events(branch: Tree, events: list[Mapping[str, Any]], all_events: bool) -> None:
    say = speaker()
    node = branch.add(say._("events ({count})", count=len(events)))
    shown = events if all_events else events[:EVENTS_SHOWN]
    for event in shown:
        node.add(
            f"#{event['position']} {event['type']} {short(event['occurred_at'])} "
            + say._("(recorded {when})", when=short(event["recorded_at"]))
            + f" {summary(event['data'])}"
        )
    if len(shown) < len(events):
        node.add(
            Text(say._("… and {count} more (--all-events shows them)", count=len(events) - len(shown)), style="dim")
        )


def summary(data: Mapping[str, Any], width: int = 90) -> str:
    text = " ".join(f"{key}={short(value)}" for key, value in data.items() if not isinstance(value, (dict, list)))
    return text if len(text) <= width else text[: width - 1] + "…"


def approval_table(result: Mapping[str, Any]) -> Table:
    table = Table(title=f"Payout {result['kind']}", show_header=False)
    for key in ("rep_id", "period", "kind", "amount", "total", "digest", "position"):
        table.add_row(key, fmt(result[key]))
    return table


def bulk_approval_table(result: Mapping[str, Any]) -> Table:
    counts = result["counts"]
    table = Table(
        "rep",
        "outcome",
        "amount",
        "note",
        title=f"Payouts of {result['scope']} for {result['period']}",
        caption=(
            f"{counts['approved']} approved, {counts['unchanged']} unchanged, {counts['adjusted']} adjusted, "
            f"{counts['refused']} refused; computed as known at {fmt(result['known_at'])}"
        ),
    )
    for row in result["approved"]:
        table.add_row(row["rep_id"], "approved", fmt(row["amount"]), f"position {row['position']}")
    for row in result["unchanged"]:
        table.add_row(row["rep_id"], "unchanged", fmt(row["amount"]), "")
    for row in result["adjusted"]:
        table.add_row(row["rep_id"], "adjusted", fmt(row["total"]), str(row["what_to_do"]))
    for row in result["refused"]:
        table.add_row(row["rep_id"], "refused", "", str(row["reason"]))
    return table


# ---------------------------------------------------------------- replays


def _causes_text(causes: Mapping[str, Any] | None) -> str:
    """rule +400.00 · facts −1300.00 (DS-1) · both +500.00"""
    if not causes:
        return "–"
    facts = str(signed(causes["facts"]["delta"]))
    if causes["facts"]["disputes"]:
        facts += f" ({', '.join(causes['facts']['disputes'])})"
    return f"{str(signed(causes['rule']['delta']))} · {facts} · {str(signed(causes['both']))}"


def diff_table(result: Mapping[str, Any]) -> Table:
    plan = result["plan"]
    name = "draft rules" if plan.get("draft") else f"{plan['plan_id']} v{plan['version']}"
    table = Table(
        "rep",
        "before",
        "after",
        "delta",
        "basis",
        "lines changed",
        "rule · facts · both",
        title=f"Replay of {result['period']} under {name}",
        caption=f"replay {result['replay_id']}, known at {fmt(result['known_at'])}",
    )
    total = Decimal("0.00")
    for row in result["diff"]:
        changed = [
            f"{line['component']} {'+' if line['delta'] > 0 else ''}{line['delta']}"
            for line in row["lines"]
            if line["delta"]
        ]
        table.add_row(
            row["rep_id"],
            fmt(row["before"]),
            fmt(row["after"]),
            signed(row["delta"]),
            row["basis"],
            ", ".join(changed) or "–",
            _causes_text(row.get("causes")),
        )
        total += row["delta"]
    table.add_section()
    table.add_row("total", "", "", signed(total), "", "", "")
    return table


# ---------------------------------------------------------------- verification


def verify_table(report: Mapping[str, Any], with_digest: bool) -> Table:
    table = Table(title="Chain verification", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")  # the head digest is written down whole, never cut
    table.add_row("result", "[green]intact[/]" if report["ok"] else "[bold red]BROKEN[/]")
    table.add_row("events checked", str(report["events_checked"]))
    table.add_row("head", report["head"])
    if report["first_bad_position"] is not None:
        table.add_row("first bad position", str(report["first_bad_position"]))
    if with_digest:
        table.add_row("extends digest", "yes" if report["digest_extended"] else "no")
    table.add_row("seals checked", str(len(report["seals"])))
    if report["message"]:
        table.add_row("message", report["message"])
    return table


def seals_table(seals: list[Mapping[str, Any]]) -> Table:
    table = Table("period", "closed at position", "sealed position", "holds", title="Seals of closed periods")
    for seal in seals:
        table.add_row(
            seal["period"],
            str(seal["position"]),
            str(seal["head_position"]),
            "[green]yes[/]" if seal["holds"] else "[bold red]NO[/]",
        )
    return table


def cutoffs_caption(as_of: datetime, known_at: datetime, status: str) -> str:
    """The cut-offs a read used, and where its period stood then."""
    say = speaker()
    caption = say._("as of {as_of}, as known at {known_at}", as_of=fmt(as_of), known_at=fmt(known_at))
    if status == "not_started":
        return caption + "; " + say._("the period has not started: every figure is empty")
    if status == "in_progress":
        return caption + "; " + say._("the period is in progress")
    return caption


# ---------------------------------------------------------------- forecasts


FORECAST_HEADERS = (
    N_("figure"),
    N_("actual"),
    N_("run rate"),
    N_("pipeline"),
    N_("target"),
    N_("attainment at run rate"),
    N_("attainment at pipeline"),
)
OFF_TRACK_HEADERS = (N_("rep"), N_("team"), N_("revenue pace"), N_("revenue forecast attainment"), N_("why"))


def forecast_table(title: str, answer: Mapping[str, Any]) -> Table:
    """A scope's forecast: each metric's actual, run-rate and pipeline forecasts and their attainment."""
    say = speaker()
    table = Table(
        *(say._(h) for h in FORECAST_HEADERS),
        title=title,
        caption=cutoffs_caption(answer["as_of"], answer["known_at"], answer["period_status"]),
    )  # fmt: skip
    for metric, found in answer["forecast"].items():
        attainment = found["attainment"]
        table.add_row(
            metric_name(say, metric),
            fmt(found["actual"]),
            fmt(found["run_rate"]),
            fmt(found["pipeline"]),
            fmt(found["target"]),
            fmt(attainment["run_rate"]),
            fmt(attainment["pipeline"]),
        )
    return table


def pipeline_lines(answer: Mapping[str, Any]) -> list[str]:
    """What the pipeline forecast is made of, and (a rep's) what the rep earns if it lands."""
    say = speaker()
    pipeline = answer["pipeline"]
    lines = [
        say._(
            "{expected} of {open} open deals are expected to close in the period",
            expected=pipeline["expected_in_period"],
            open=pipeline["open_deals"],
        )
    ]
    if pipeline.get("learned_from") is not None:
        lines.append(
            say._(
                "win probability {probability} learned from {closed} closed deals ({source}); "
                "mean sales cycle {days} days",
                probability=fmt(pipeline["win_probability"]),
                closed=fmt(pipeline["closed_deals"]),
                source=say._(LEARNED_FROM[pipeline["learned_from"]]),
                days=fmt(pipeline["cycle_days"]),
            )
        )
    payout = answer.get("payout")
    if payout is not None:
        lines.append(
            say._(
                "paid so far {so_far}; if the run rate lands, {run_rate}; if the pipeline lands, {pipeline}",
                so_far=fmt(payout["so_far"]),
                run_rate=fmt(payout["run_rate"]),
                pipeline=fmt(payout["pipeline"]),
            )
        )
    return lines


LEARNED_FROM = {
    "rep": N_("the rep's own"),
    "team": N_("the team's: the rep has closed too few"),
    "company": N_("the company's: the team has closed too few"),
    "none": N_("none to learn from"),
}


def off_track_table(answer: Mapping[str, Any]) -> Table:
    """The reps off track, worst first, each with why."""
    say = speaker()
    table = Table(
        *(say._(h) for h in OFF_TRACK_HEADERS),
        title=say._(
            "Off track in {scope}, {period}: {count} of {total} reps",
            scope=answer["scope"],
            period=answer["period"],
            count=answer["off_track"],
            total=answer["reps_in_scope"],
        ),
        caption=cutoffs_caption(answer["as_of"], answer["known_at"], answer["period_status"]),
    )
    for row in answer["reps"]:
        table.add_row(
            row["rep_id"],
            fmt(row["team_id"]),
            fmt(row["pace"].get("revenue")),
            fmt(row["forecast"]["revenue"]["attainment"]["pipeline"]),
            "; ".join(reason_text(say, reason) for reason in row["reasons"]),
        )
    return table


def reason_text(say: Any, reason: Mapping[str, Any]) -> str:
    if reason["kind"] == "pace":
        return say._(
            "{metric} at pace {value} (expected by now {expected})",
            metric=metric_name(say, reason["metric"]),
            value=fmt(reason["value"]),
            expected=fmt(reason["expected_by_now"]),
        )
    return say._(
        "{metric} forecast {forecast}, {value} of the target",
        metric=metric_name(say, reason["metric"]),
        forecast=fmt(reason["forecast"]),
        value=fmt(reason["value"]),
    )
