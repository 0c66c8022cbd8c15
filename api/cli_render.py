"""Rich renderings shared by the commands: KPI tables, quadrants, payout trees, replay diffs,
verification. Figures are printed exactly as the API writes them (a Decimal as its string, a
missing figure as "–"), so what the terminal shows can be checked against GET /kpis."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

EVENTS_SHOWN = 8  # per payout line, unless asked for all


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
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
SUMMARY_HEADINGS = ("revenue", "growth", "orders", "win\nrate")


def kpi_summary(title: str, rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Table:
    """One row per (scope, period, kpis): the headline figures and the revenue target's progress."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="att. = revenue / target; pace = att. / share of period elapsed",
    )
    for heading in ("scope", "period", *SUMMARY_HEADINGS, "rev.\natt.", "rev.\npace"):
        # A narrow terminal folds a figure onto two lines rather than cutting it short.
        table.add_column(heading, overflow="fold", justify="left" if heading in ("scope", "period") else "right")
    for scope, period, kpis in rows:
        table.add_row(
            scope,
            period,
            *(fmt(kpis[c]) for c in SUMMARY_COLUMNS),
            fmt(kpis["attainment"].get("revenue")),
            fmt(kpis["pace"].get("revenue")),
        )
    return table


def kpi_detail(scope: str, period: str, as_of: datetime, known_at: datetime, kpis: Mapping[str, Any]) -> Table:
    """Every figure of one scope and period, one per line."""
    table = Table(
        "figure",
        "value",
        title=f"KPIs of {scope} for {period}",
        caption=f"as of {fmt(as_of)}, as known at {fmt(known_at)}",
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
        table.add_row(name, fmt(kpis[name]))
    cycle = kpis["sales_cycle_days"]
    table.add_row("sales_cycle_days", f"mean {fmt(cycle['mean'])}, median {fmt(cycle['median'])}")
    table.add_row("activities", ", ".join(f"{kind} {count}" for kind, count in kpis["activities"].items()))
    table.add_row("followups", ", ".join(f"{key} {value}" for key, value in kpis["followups"].items()))
    for metric, value in kpis["attainment"].items():
        pace = kpis["pace"].get(metric)
        style = "red" if pace is not None and pace < 1 else ""
        table.add_row(f"{metric} attainment / pace", Text(f"{fmt(value)} / {fmt(pace)}", style=style))
    return table


def quadrant_table(answer: Mapping[str, Any]) -> Table:
    limits = answer["thresholds"]
    table = Table(
        "region",
        "revenue",
        "growth_rate",
        "quadrant",
        title=f"Region quadrants, {answer['period']}",
        caption=f"thresholds: revenue {fmt(limits.get('revenue'))}, growth {fmt(limits.get('growth_rate'))}",
    )
    for row in answer["regions"]:
        table.add_row(row["region"], fmt(row["revenue"]), fmt(row["growth_rate"]), fmt(row["quadrant"]))
    return table


def top_reps_table(title: str, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Table:
    table = Table("rep", "revenue", "orders", "revenue target attainment", "revenue pace", "off track", title=title)
    for rep_id, kpis in rows:
        table.add_row(
            rep_id,
            fmt(kpis["revenue"]),
            fmt(kpis["orders"]),
            fmt(kpis["attainment"].get("revenue")),
            fmt(kpis["pace"].get("revenue")),
            ", ".join(kpis["off_track"]) or "–",
        )
    return table


# ---------------------------------------------------------------- payouts


def payout_tree(answer: Mapping[str, Any], all_events: bool = False) -> Tree:
    """total → lines → inputs → events, with the approval and whether it reproduces."""
    plan = answer["plan"]
    label = "no plan" if plan is None else f"plan {plan['plan_id']} v{fmt(plan['version'])}"
    root = Tree(
        Text.assemble(
            (f"{answer['rep_id']} · {answer['period']} · total ", "bold"),
            (fmt(answer["total"]), "bold cyan"),
            f"  ({label}, as known at {short(answer['known_at'])})",
        )
    )
    approved = answer.get("approved")
    if approved is not None:
        mark = ("reproduced ✓", "green") if answer.get("reproduced") else ("NOT reproduced", "bold red")
        root.add(
            Text.assemble(
                f"approved {fmt(approved['amount'])} on {short(approved['recorded_at'])}, digest "
                f"{fmt(approved['digest'])[:16]}… ",
                mark,
            )
        )
    for problem in answer.get("problems", ()):
        root.add(Text(problem, style="yellow"))
    for line in answer["tree"]["lines"]:
        branch = root.add(
            Text.assemble((line["component"], "bold"), f" ({line['kind']}) ", (fmt(line["amount"]), "cyan"))
        )
        add_inputs(branch.add("inputs"), line["inputs"])
        add_events(branch, line["events"], all_events)
    today = answer.get("today")
    if today is not None and approved is not None and today["difference"]:
        root.add(
            Text.assemble("today: ", fmt(today["total"]), " (", signed(today["difference"]), " against what is owed)")
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
    node = branch.add(f"events ({len(events)})")
    shown = events if all_events else events[:EVENTS_SHOWN]
    for event in shown:
        node.add(
            f"#{event['position']} {event['type']} {short(event['occurred_at'])} "
            f"(recorded {short(event['recorded_at'])}) {summary(event['data'])}"
        )
    if len(shown) < len(events):
        node.add(Text(f"… and {len(events) - len(shown)} more (--all-events shows them)", style="dim"))


def summary(data: Mapping[str, Any], width: int = 90) -> str:
    text = " ".join(f"{key}={short(value)}" for key, value in data.items() if not isinstance(value, (dict, list)))
    return text if len(text) <= width else text[: width - 1] + "…"


def approval_table(result: Mapping[str, Any]) -> Table:
    table = Table(title=f"Payout {result['kind']}", show_header=False)
    for key in ("rep_id", "period", "kind", "amount", "total", "digest", "position"):
        table.add_row(key, fmt(result[key]))
    return table


# ---------------------------------------------------------------- replays


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
        )
        total += row["delta"]
    table.add_section()
    table.add_row("total", "", "", signed(total), "", "")
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
