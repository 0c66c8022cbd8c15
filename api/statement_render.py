"""A rep's statement as people read it: a printable HTML page and a PDF, in the reader's language,
with money as the locale writes it (¥1,234.50), dates in the ledger's zone (stated once), the
lines, the deals behind them, what was approved against what is owed now, the plan's sign-off and
the disputes. Every figure is replay/statements.py's; this module only lays it out.

The PDF is drawn by reportlab with its built-in CID font STSong-Light (Adobe's Chinese font
metrics, no font file): it installs from PyPI alone and prints Chinese on any machine whose PDF
viewer carries the Adobe Asian fonts (Acrobat, Chromium's, most system viewers).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from api.exports import component_kind
from api.i18n import Lang

CJK_FONT = "STSong-Light"


def facts(s: Mapping[str, Any], lang: Lang, currency: str, zone: tzinfo) -> dict[str, str]:
    """The statement's sentences, shared by the page and the PDF."""
    money = lambda value: lang.money(value, currency)  # noqa: E731
    plan = s.get("plan")
    signed = lang._("acknowledged by the rep") if s.get("plan_acknowledged") else lang._("NOT acknowledged by the rep")
    approved = s.get("approved")
    if approved is None:
        approval = lang._("Not approved yet.")
    else:
        approval = lang._(
            "Approved {amount} on {when}; owed now {owed}; the approval's digest {reproduced}.",
            amount=money(approved["amount"]),
            when=lang.datetime(approved["recorded_at"], zone) if approved.get("recorded_at") else "—",
            owed=money(approved["current"]),
            reproduced=lang._("reproduces") if s.get("reproduced") else lang._("does NOT reproduce"),
        )
    today = s.get("today") or {}
    return {
        "title": lang._("Statement of {rep} for {period}", rep=s["rep_id"], period=s["period"]),
        "plan": lang._("No plan in force.")
        if plan is None
        else lang._(
            "Plan {plan} version {version}, {signed}.", plan=plan["plan_id"], version=plan["version"], signed=signed
        ),
        "cutoffs": lang._(
            "As of {as_of}, as known at {known_at}.",
            as_of=lang.datetime(s["as_of"], zone),
            known_at=lang.datetime(s["known_at"], zone),
        ),
        "approval": approval,
        "today": lang._(
            "Computed today: {total} (difference {difference}).",
            total=money(today.get("total")),
            difference=money(today.get("difference")),
        ),
        "total": money(s["total"]),
    }


def headings(lang: Lang) -> dict[str, str]:
    return {
        "component": lang._("Component"),
        "kind": lang._("Kind"),
        "amount": lang._("Amount"),
        "events": lang._("Events"),
        "total": lang._("Total"),
        "adjustments": lang._("Adjustments"),
        "deals": lang._("Deals behind the lines"),
        "disputes": lang._("Disputes"),
        "recognitions": lang._("Recognitions"),
        "none": lang._("none"),
        "digest": lang._("Digest"),
    }


def dispute_text(lang: Lang, d: Mapping[str, Any]) -> str:
    status = {"open": lang._("open"), "resolved": lang._("resolved")}.get(d["status"], d["status"])
    outcome = {"accepted": lang._("accepted"), "rejected": lang._("rejected")}.get(d.get("outcome") or "", "")
    return f"{d['dispute_id']}: {status} {outcome}".strip()


def recognition_text(r: Mapping[str, Any]) -> str:
    return f"{r['title']} — {r['reason']}" if r.get("reason") else str(r["title"])


def render_html(s: Mapping[str, Any], lang: Lang, currency: str, tz_name: str, zone: tzinfo) -> str:
    e = html.escape
    f, h = facts(s, lang, currency, zone), headings(lang)
    money = lambda value: e(lang.money(value, currency))  # noqa: E731
    lines = "".join(
        f"<tr><td>{e(line['component'])}</td><td>{e(component_kind(lang, line['kind']))}</td>"
        f"<td class=n>{money(line['amount'])}</td><td>{e(' '.join(str(p) for p in line['events']))}</td></tr>"
        for line in s["lines"]
    )
    deals = "".join(
        f"<li><b>{e(d['deal_id'])}</b> ({e(', '.join(d['lines']))}): "
        + "; ".join(
            f"#{ev['position']} {e(ev['type'])} {e(lang.datetime(_moment(ev['occurred_at']), zone))}"
            for ev in d["events"]
        )
        + "</li>"
        for d in s.get("deals", [])
    )
    approved = s.get("approved")
    adjustments = "".join(
        f"<li>{money(a['amount'])} — {e(a.get('reason') or '')}</li>"
        for a in (approved["adjustments"] if approved else [])
    )
    disputes = "".join(f"<li>{e(dispute_text(lang, d))}</li>" for d in s.get("disputes", []))
    recognitions = "".join(f"<li>{e(recognition_text(r))}</li>" for r in s.get("recognitions", []))
    none = f"<li>{e(h['none'])}</li>"
    return f"""<!doctype html><html lang={e(lang.locale)}><head><meta charset=utf-8><title>{e(f["title"])}</title>
<style>body{{font:14px system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.3em;text-align:left}}.n{{text-align:right}}
.zone{{color:#555}}@media print{{a{{display:none}}}}</style></head>
<body><h1>{e(f["title"])}</h1>
<p>{e(f["plan"])} {e(f["cutoffs"])}</p>
<p class=zone>{e(lang.zone_note(tz_name))}</p>
<table><thead><tr><th>{e(h["component"])}</th><th>{e(h["kind"])}</th><th class=n>{e(h["amount"])}</th><th>{e(h["events"])}</th></tr></thead>
<tbody>{lines}</tbody>
<tfoot><tr><th colspan=2>{e(h["total"])}</th><th class=n>{e(f["total"])}</th><th></th></tr></tfoot></table>
<p>{e(f["approval"])} {e(f["today"])}</p>
<h2>{e(h["adjustments"])}</h2><ul>{adjustments or none}</ul>
<h2>{e(h["deals"])}</h2><ul>{deals or none}</ul>
<h2>{e(h["disputes"])}</h2><ul>{disputes or none}</ul>
<h2>{e(h["recognitions"])}</h2><ul>{recognitions or none}</ul>
<p><small>{e(h["digest"])} {e(s["digest"])}</small></p></body></html>"""


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def render_pdf(s: Mapping[str, Any], lang: Lang, currency: str, tz_name: str, zone: tzinfo) -> bytes:
    """An A4 statement: title, plan and cut-offs, the zone, the lines, the total, approval and disputes."""
    from io import BytesIO

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    f, h = facts(s, lang, currency, zone), headings(lang)
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=10, leading=14, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=18, spaceBefore=8)
    p = lambda text, style=body: Paragraph(html.escape(text), style)  # noqa: E731
    rows = [[h["component"], h["kind"], h["amount"], h["events"]]]
    rows += [
        [p(line["component"]), p(component_kind(lang, line["kind"])), lang.money(line["amount"], currency),
         p(" ".join(str(n) for n in line["events"]))]
        for line in s["lines"]
    ]  # fmt: skip
    rows.append([h["total"], "", f["total"], ""])
    table = Table(rows, colWidths=[45 * mm, 30 * mm, 40 * mm, 55 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story: list[Any] = [
        p(f["title"], title),
        p(f["plan"]),
        p(f["cutoffs"]),
        p(lang.zone_note(tz_name)),
        Spacer(1, 4 * mm),
    ]
    story += [table, Spacer(1, 4 * mm), p(f["approval"]), p(f["today"])]
    approved = s.get("approved")
    story.append(p(h["adjustments"], heading))
    for a in (approved["adjustments"] if approved else []) or [None]:
        story.append(p(h["none"] if a is None else f"{lang.money(a['amount'], currency)} — {a.get('reason') or ''}"))
    story.append(p(h["disputes"], heading))
    for d in s.get("disputes", []) or [None]:
        story.append(p(h["none"] if d is None else dispute_text(lang, d)))
    story.append(p(h["recognitions"], heading))
    for r in s.get("recognitions", []) or [None]:
        story.append(p(h["none"] if r is None else recognition_text(r)))
    story += [Spacer(1, 6 * mm), p(f"{h['digest']} {s['digest']}", ParagraphStyle("small", parent=body, fontSize=7))]
    out = BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, title=f["title"], author="Perfledger")
    document.build(story)
    return out.getvalue()
