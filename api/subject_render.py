"""A person's subject access document as a page in the reader's language (the JSON's content,
laid out: who, the key's state, a count of events by type, then every event with its data)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import orjson

from api.i18n import Lang


def render_subject_html(s: Mapping[str, Any], lang: Lang, tz_name: str, zone: tzinfo) -> str:
    e = html.escape
    title = lang._("What the ledger holds about {rep}", rep=s["subject"])
    states = [
        lang._("{kind}: erased on {when}, reads [erased].", kind=kind, when=lang.datetime(key["erased_at"], zone))
        if key["erased_at"] is not None
        else lang._("{kind}: held, encrypted under a key of this person's own.", kind=kind)
        for kind, key in s["keys"].items()
    ]
    state = " ".join(states) or lang._("No personal data held.")
    counts = "".join(
        f"<tr><td>{e(kind)}</td><td class=n>{e(lang.number(n))}</td></tr>" for kind, n in s["counts"].items()
    )
    events = "".join(
        f"<tr><td class=n>{event['position']}</td><td>{e(event['type'])}</td>"
        f"<td>{e(lang.datetime(event['occurred_at'], zone))}</td>"
        f"<td>{e(lang.datetime(event['recorded_at'], zone))}</td>"
        f"<td>{e(event['recorded_by'] or '')}</td>"
        f"<td><code>{e(orjson.dumps(event['data'], default=str).decode())}</code></td></tr>"
        for event in s["events"]
    )
    h = {
        "name": lang._("Name"),
        "generated": lang._("Generated on {when}.", when=lang.datetime(s["generated_at"], zone)),
        "counts": lang._("Events by type"),
        "events": lang._("Every event about this person"),
        "position": lang._("Position"),
        "type": lang._("Type"),
        "occurred": lang._("Occurred"),
        "recorded": lang._("Recorded"),
        "by": lang._("Recorded by"),
        "data": lang._("Data"),
    }
    heads = "".join(
        f"<th{' class=n' if key == 'position' else ''}>{e(h[key])}</th>"
        for key in ("position", "type", "occurred", "recorded", "by", "data")
    )
    style = (
        'body{font:14px system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2em}'
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left;"
        "vertical-align:top}.n{text-align:right}code{white-space:pre-wrap;word-break:break-all}.zone{color:#555}"
    )
    return f"""<!doctype html><html lang={e(lang.locale)}><head><meta charset=utf-8><title>{e(title)}</title>
<style>{style}</style></head>
<body><h1>{e(title)}</h1>
<p>{e(h["name"])}: <b>{e(str(s.get("name") or "—"))}</b></p>
<p>{e(state)} {e(h["generated"])}</p>
<p class=zone>{e(lang.zone_note(tz_name))}</p>
<h2>{e(h["counts"])}</h2><table>{counts}</table>
<h2>{e(h["events"])}</h2>
<table><thead><tr>{heads}</tr></thead>
<tbody>{events}</tbody></table></body></html>"""
