// Charts, drawn by Plotly.js (served by the API from the installed `plotly` package). This is the
// only module that turns the API's decimal strings into numbers, and only as coordinates to
// plot: labels and hover texts show the API's strings, formatted.

import { h, fill } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

const BASE = { displayModeBar: false, responsive: true };
const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif", size: 12 };
const QUADRANT_COLORS = { "high-high": "#1b7f3b", "high-low": "#b26b00", "low-high": "#1f5fa8", "low-low": "#b3261e" };

export function available() {
  return typeof window.Plotly === "object" && window.Plotly !== null;
}

function unavailable(element) {
  fill(element, h("p", { class: "note" }, t("Charts are unavailable: the charting library is not installed on the server.")));
}

const coordinate = (value) => (value === null || value === undefined ? null : Number(value));

/** An axis of money with ticks as the locale counts: 200万, 1.2亿 (zh-CN); 2M, 120M (en). */
export function compactTicks(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return {};
  const low = Math.min(0, ...finite);
  const high = Math.max(...finite);
  const raw = (high - low) / 5 || 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const tickvals = [];
  for (let v = Math.floor(low / step) * step; v <= high + step / 2; v += step) tickvals.push(v);
  const pad = step / 2;
  return { tickmode: "array", tickvals, ticktext: tickvals.map(fmt.compact),
    range: [tickvals[0] - pad, tickvals[tickvals.length - 1] + pad] };
}

/** A rep's revenue by month: a small line with a dot on each month. */
export function sparkline(element, months) {
  if (!available()) return unavailable(element);
  const x = months.map((m) => m.period);
  const text = months.map((m) => `${m.period}: ${fmt.money(m.revenue)}`);
  window.Plotly.newPlot(element, [{
    x, y: months.map((m) => coordinate(m.revenue)), text, hoverinfo: "text", type: "scatter",
    mode: "lines+markers", line: { color: "#1f4e79", width: 1.5 }, marker: { size: 3 },
  }], {
    width: 150, height: 34, margin: { l: 2, r: 2, t: 3, b: 3 }, showlegend: false,
    xaxis: { visible: false, type: "category" }, yaxis: { visible: false, zeroline: false },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  }, { ...BASE, staticPlot: true, responsive: false });
}

/** Regions by revenue (x) and growth rate (y), split at the API's thresholds, quadrants labelled. */
export function quadrants(element, answer) {
  if (!available()) return unavailable(element);
  const plotted = answer.regions.filter((r) => r.growth_rate !== null && r.growth_rate !== undefined);
  const thresholds = answer.thresholds || {};
  const shapes = [];
  if (thresholds.revenue !== null && thresholds.revenue !== undefined) {
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: coordinate(thresholds.revenue),
      x1: coordinate(thresholds.revenue), y0: 0, y1: 1, line: { color: "#777", dash: "dot", width: 1 } });
  }
  if (thresholds.growth_rate !== null && thresholds.growth_rate !== undefined) {
    shapes.push({ type: "line", xref: "paper", yref: "y", y0: coordinate(thresholds.growth_rate),
      y1: coordinate(thresholds.growth_rate), x0: 0, x1: 1, line: { color: "#777", dash: "dot", width: 1 } });
  }
  // The quadrant names sit in the margins, at the corners they name, clear of any region's dot.
  const corner = (name, x, y, xanchor, yanchor, arrow) => ({
    text: xanchor === "left" ? `${arrow} ${fmt.quadrantLabel(name)}` : `${fmt.quadrantLabel(name)} ${arrow}`,
    xref: "paper", yref: "paper", x, y, xanchor, yanchor, showarrow: false, yshift: yanchor === "top" ? -22 : 4,
    font: { ...FONT, size: 11, color: QUADRANT_COLORS[name] },
  });
  const traces = Object.keys(fmt.QUADRANTS).map((name) => {
    const regions = plotted.filter((r) => r.quadrant === name);
    return {
      name: fmt.quadrantLabel(name), type: "scatter", mode: "markers+text",
      x: regions.map((r) => coordinate(r.revenue)), y: regions.map((r) => coordinate(r.growth_rate)),
      text: regions.map((r) => r.region), textposition: "top center", cliponaxis: false,
      hovertext: regions.map((r) => t("{region}: revenue {revenue}, growth {growth}", {
        region: r.region, revenue: fmt.money(r.revenue), growth: fmt.percent(r.growth_rate) })),
      hoverinfo: "text", marker: { size: 12, color: QUADRANT_COLORS[name] },
    };
  });
  window.Plotly.newPlot(element, traces, {
    height: 340, margin: { l: 64, r: 16, t: 28, b: 64 }, font: FONT, showlegend: false,
    xaxis: { title: { text: t("Revenue"), standoff: 24 }, zeroline: false,
      ...compactTicks([...answer.regions.map((r) => coordinate(r.revenue)), coordinate(thresholds.revenue)]) },
    yaxis: { title: { text: t("Growth rate") }, tickformat: ".0%", zeroline: false },
    shapes,
    annotations: [corner("low-high", 0, 1, "left", "bottom", "↖"), corner("high-high", 1, 1, "right", "bottom", "↗"),
      corner("low-low", 0, 0, "left", "top", "↙"), corner("high-low", 1, 0, "right", "top", "↘")],
  }, BASE);
}

/** Process scores of each evaluation over time, one line per process, and the result score. */
export function processScores(element, evaluations) {
  if (!available()) return unavailable(element);
  if (!evaluations.length) {
    window.Plotly.purge(element);
    fill(element, h("p", { class: "note" }, t("No evaluations recorded.")));
    return;
  }
  const x = evaluations.map((e) => `${e.data.period} (${fmt.date(e.occurred_at)})`);
  const names = [...new Set(evaluations.flatMap((e) => Object.keys(e.data.process_scores || {})))].sort();
  const traces = names.map((name) => ({
    name, type: "scatter", mode: "lines+markers", x,
    y: evaluations.map((e) => coordinate((e.data.process_scores || {})[name])),
    connectgaps: true,
  }));
  traces.push({ name: t("result score"), type: "scatter", mode: "lines+markers", x,
    y: evaluations.map((e) => coordinate(e.data.result_score)), line: { dash: "dash", color: "#222" } });
  fill(element);
  window.Plotly.newPlot(element, traces, {
    height: 280, margin: { l: 48, r: 16, t: 16, b: 64 }, font: FONT,
    xaxis: { type: "category" }, yaxis: { title: { text: t("Score (0–100)") }, range: [0, 100] },
    legend: { orientation: "h", y: -0.3 },
  }, BASE);
}
