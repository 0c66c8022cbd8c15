"""Which charting library the dashboard uses, measured in the browser (docs/performance.md, "Charts").

    npm install --prefix /tmp/charts echarts uplot plotly.js-basic-dist-min   # the candidates
    .venv/bin/python -m benchmarks.charts --node-modules /tmp/charts/node_modules [--rounds 5]

For each candidate, a page served from memory (no network) loads the library and draws what the
dashboard draws: 100 sparklines (12 months, a line with a dot per month, 150×34) and the region
quadrant chart (5 labelled dots, money ticks in 万/亿). Measured in Debian's Chromium (Playwright),
each round a fresh page with a cold cache, at full speed and with the CPU slowed 4× (a phone):

  bytes          the library's files, raw and gzip (level 9)
  first chart    navigation start → the first sparkline drawn (the library parsed and run)
  100 sparklines the time to draw all of them (after the library has loaded)
  zh-CN          how Chinese reaches the chart's own texts

Candidates: Plotly (the full bundle of the `plotly` Python package the dashboard used, and the
npm "basic" partial bundle), Apache ECharts (dist/echarts.min.js), uPlot, and charts.js (the
dashboard's own SVG module, api/web/charts.js, with the modules it imports).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "api" / "web"
CHROMIUM = os.environ.get("PERFLEDGER_CHROMIUM", "/usr/bin/chromium")
BASE = "http://charts.bench"

DATA = """
const months = (i) => Array.from({length: 12}, (_, m) => ({period: `2026-${String(m + 1).padStart(2, "0")}`,
  revenue: String(((i * 7919 + m * 104729) % 900000) + 100000) + ".00"}));
const REGIONS = {regions: [
  {region: "East", revenue: "52000000.00", growth_rate: "0.12", quadrant: "high-high"},
  {region: "West", revenue: "31000000.00", growth_rate: "-0.04", quadrant: "low-low"},
  {region: "North", revenue: "61000000.00", growth_rate: "0.01", quadrant: "high-low"},
  {region: "South", revenue: "22000000.00", growth_rate: "0.2", quadrant: "low-high"},
  {region: "华中", revenue: "40000000.00", growth_rate: "0.05", quadrant: "high-high"}],
  thresholds: {revenue: "40000000.00", growth_rate: "0.05"}};
const cells = Array.from({length: 100}, () => { const d = document.createElement("div");
  d.style.cssText = "width:150px;height:34px;display:inline-block"; document.body.append(d); return d; });
const quad = document.createElement("div"); quad.style.cssText = "width:600px;height:340px"; document.body.append(quad);
const yuan = (v) => new Intl.NumberFormat("zh-CN", {notation: "compact", maximumFractionDigits: 1}).format(v);
"""

# Each draws the first sparkline, marks it, then the other 99 and the quadrant chart, and marks that.
DRAW = {
    "plotly": """
const P = window.Plotly;
const spark = (el, ms) => P.newPlot(el, [{x: ms.map(m => m.period), y: ms.map(m => Number(m.revenue)),
  type: "scatter", mode: "lines+markers", marker: {size: 3}, line: {width: 1.5}}],
  {width: 150, height: 34, margin: {l: 2, r: 2, t: 3, b: 3}, showlegend: false,
   xaxis: {visible: false, type: "category"}, yaxis: {visible: false}}, {staticPlot: true, displayModeBar: false});
const t0 = performance.now(); await spark(cells[0], months(0)); window.firstChart = performance.now();
for (let i = 1; i < 100; i++) await spark(cells[i], months(i));
window.sparks = performance.now() - t0;
await P.newPlot(quad, [{x: REGIONS.regions.map(r => Number(r.revenue)),
  y: REGIONS.regions.map(r => Number(r.growth_rate)),
  text: REGIONS.regions.map(r => r.region), mode: "markers+text", type: "scatter"}],
  {width: 600, height: 340, xaxis: {tickvals: [0, 2e7, 4e7, 6e7], ticktext: [0, 2e7, 4e7, 6e7].map(yuan)}});
""",
    "echarts": """
const E = window.echarts;
const spark = (el, ms) => E.init(el, null, {renderer: "svg", locale: "ZH", width: 150, height: 34}).setOption({
  animation: false, grid: {left: 2, right: 2, top: 3, bottom: 3},
  xAxis: {type: "category", show: false, data: ms.map(m => m.period)}, yAxis: {type: "value", show: false, scale: true},
  series: [{type: "line", data: ms.map(m => Number(m.revenue)), symbolSize: 3, lineStyle: {width: 1.5}}]});
const t0 = performance.now(); spark(cells[0], months(0)); window.firstChart = performance.now();
for (let i = 1; i < 100; i++) spark(cells[i], months(i));
window.sparks = performance.now() - t0;
E.init(quad, null, {renderer: "svg", locale: "ZH"}).setOption({animation: false,
  xAxis: {type: "value", axisLabel: {formatter: yuan}}, yAxis: {type: "value"},
  series: [{type: "scatter", data: REGIONS.regions.map(r => [Number(r.revenue), Number(r.growth_rate), r.region]),
    label: {show: true, formatter: (p) => p.value[2]}}]});
""",
    "uplot": """
const U = window.uPlot;
const spark = (el, ms) => new U({width: 150, height: 34, legend: {show: false}, cursor: {show: false},
  axes: [{show: false}, {show: false}], scales: {x: {time: false}},
  series: [{}, {stroke: "#1f4e79", width: 1.5, points: {size: 3}}]},
  [ms.map((_, i) => i), ms.map(m => Number(m.revenue))], el);
const t0 = performance.now(); spark(cells[0], months(0)); window.firstChart = performance.now();
for (let i = 1; i < 100; i++) spark(cells[i], months(i));
window.sparks = performance.now() - t0;
const rs = [...REGIONS.regions].sort((a, b) => Number(a.revenue) - Number(b.revenue));
new U({width: 600, height: 340, mode: 1, scales: {x: {time: false}},
  axes: [{values: (u, vals) => vals.map(yuan)}, {}],
  series: [{}, {stroke: "#1f4e79", paths: () => null, points: {show: true, size: 10}}]},
  [rs.map(r => Number(r.revenue)), rs.map(r => Number(r.growth_rate))], quad);
""",
    "charts.js": """
const C = await import("/web/charts.js");
const t0 = performance.now(); C.sparkline(cells[0], months(0)); window.firstChart = performance.now();
for (let i = 1; i < 100; i++) C.sparkline(cells[i], months(i));
window.sparks = performance.now() - t0;
C.quadrants(quad, REGIONS);
""",
}

ZH = {
    "plotly": "a locale file per language (plotly-locale-zh-cn, ~3 KB) registered with Plotly.register; "
    "ticks formatted by d3-format, so 万/亿 only as ticktext the page computes",
    "plotly-basic": "as plotly",
    "echarts": "built in (locale: 'ZH' for its own texts); 万/亿 by an axis formatter the page gives (Intl)",
    "uplot": "none built in (it has almost no texts); ticks by a formatter the page gives (Intl)",
    "charts.js": "the page's catalog and Intl (notation: compact → 万/亿), as every other text",
}


def candidates(node_modules: Path) -> dict[str, dict[str, Any]]:
    from importlib import resources

    found: dict[str, dict[str, Any]] = {}
    try:
        full = resources.files("plotly") / "package_data" / "plotly.min.js"
        from importlib.metadata import version

        found["plotly"] = {
            "files": {"/lib/plotly.min.js": full.read_bytes()},
            "draw": "plotly",
            "version": f"python plotly {version('plotly')}",
        }
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    npm = {
        "plotly-basic": ("plotly.js-basic-dist-min/plotly-basic.min.js", "plotly"),
        "echarts": ("echarts/dist/echarts.min.js", "echarts"),
        "uplot": ("uplot/dist/uPlot.iife.min.js", "uplot"),
    }
    for name, (path, draw) in npm.items():
        if (node_modules / path).is_file():
            found[name] = {"files": {f"/lib/{Path(path).name}": (node_modules / path).read_bytes()}, "draw": draw}
            version = json.loads((node_modules / path.split("/")[0] / "package.json").read_text())["version"]
            found[name]["version"] = version
    own = {f"/web/{p.name}": p.read_bytes() for p in (WEB / n for n in ("charts.js", "dom.js", "format.js", "i18n.js"))}
    found["charts.js"] = {"files": own, "draw": "charts.js"}
    return found


def page_for(candidate: dict[str, Any]) -> str:
    scripts = "".join(f'<script src="{path}"></script>' for path in candidate["files"] if path.startswith("/lib/"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"{scripts}</head><body><script type='module'>{DATA}"
        f"{DRAW[candidate['draw']]}window.done = performance.now();</script></body></html>"
    )


def measure(browser: Any, candidate: dict[str, Any], throttle: float) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    html = page_for(candidate)

    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(BASE)
        if path == "/":
            route.fulfill(body=html, content_type="text/html")
        elif path in candidate["files"]:
            route.fulfill(body=candidate["files"][path], content_type="text/javascript")
        else:
            route.fulfill(status=404, body="")

    page.route("**/*", serve)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(f"{BASE}/")
    page.wait_for_function("window.done !== undefined", timeout=120_000)
    figures = page.evaluate("({first: window.firstChart, sparks: window.sparks, done: window.done})")
    context.close()
    return figures


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog="python -m benchmarks.charts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-modules", default="/tmp/charts/node_modules")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "charts.json"))
    args = parser.parse_args(argv)
    found = candidates(Path(args.node_modules))
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for name, candidate in found.items():
            raw = sum(len(body) for body in candidate["files"].values())
            zipped = sum(len(gzip.compress(body, 9)) for body in candidate["files"].values())
            row: dict[str, Any] = {"version": candidate.get("version"), "raw_bytes": raw, "gzip_bytes": zipped}
            for throttle in (1, 4):
                runs = [measure(browser, candidate, throttle) for _ in range(args.rounds)]
                row[f"first_chart_ms_x{throttle}"] = round(statistics.median(r["first"] for r in runs), 1)
                row[f"sparklines_100_ms_x{throttle}"] = round(statistics.median(r["sparks"] for r in runs), 1)
            row["zh_CN"] = ZH[name]
            results[name] = row
            print(name, json.dumps(row, ensure_ascii=False), flush=True)
        browser.close()
    Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
