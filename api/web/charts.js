// Charts, drawn as SVG by this module (no library: chosen by measurement, docs/performance.md
// "Charts"). This is the only module that turns the API's decimal strings into numbers, and only
// as coordinates to plot: labels and hover texts show the API's strings, formatted. Every text
// in a chart (a region, a score's name, a tooltip) goes in as text (textContent, an SVG <title>),
// never as markup; each chart has a table or a list beside it with the same figures.

import { h, fill } from "./dom.js";
import * as fmt from "./format.js";
import { locale, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const QUADRANT_COLORS = { "high-high": "#1b7f3b", "high-low": "#b26b00", "low-high": "#1f5fa8", "low-low": "#b3261e" };
const QUADRANT_ARROWS = { "low-high": "↖", "high-high": "↗", "low-low": "↙", "high-low": "↘" };
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728"];

/** Charts are drawn by the page itself: always available (kept for callers of the Plotly days). */
export function available() {
  return true;
}

/** Empties a chart. */
export function clear(element) {
  fill(element);
}

/** An SVG element: s("line", {x1: 0, …}, child, …); a string child becomes a text node. */
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const coordinate = (value) => (value === null || value === undefined ? null : Number(value));
const tip = (text) => s("title", {}, text);

/** Evenly spaced "nice" ticks covering [low, high]: 1, 2, 2.5 or 5 × a power of ten apart. */
function niceTicks(low, high, count = 5) {
  const raw = (high - low) / count || 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((x) => x >= raw);
  const ticks = [];
  for (let v = Math.floor(low / step) * step; v <= high + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, step };
}

/** An axis of money with ticks as the locale counts: 200万, 1.2亿 (zh-CN); 2M, 120M (en). */
export function compactTicks(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return {};
  const { ticks: tickvals, step } = niceTicks(Math.min(0, ...finite), Math.max(...finite));
  const pad = step / 2;
  return { tickmode: "array", tickvals, ticktext: tickvals.map(fmt.compact),
    range: [tickvals[0] - pad, tickvals[tickvals.length - 1] + pad] };
}

const percentTick = (value) => new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(value);

function scale([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function width(element, fallback) {
  return Math.max(240, Math.round(element.clientWidth || fallback));
}

/** A rep's revenue by month: a small line with a dot on each month (the row's label says it all). */
export function sparkline(element, months) {
  const W = 150;
  const H = 34;
  const ys = months.map((m) => coordinate(m.revenue));
  const finite = ys.filter((v) => Number.isFinite(v));
  const low = finite.length ? Math.min(...finite) : 0;
  const high = finite.length ? Math.max(...finite) : 1;
  const x = scale([0, Math.max(1, months.length - 1)], [3, W - 3]);
  const y = scale([low, high === low ? low + 1 : high], [H - 4, 4]);
  const points = months.map((m, i) => [x(i), Number.isFinite(ys[i]) ? y(ys[i]) : null]);
  const drawn = points.filter(([, py]) => py !== null);
  fill(element, s("svg", { class: "spark", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true", focusable: "false" },
    s("polyline", { points: drawn.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "), fill: "none",
      stroke: "#1f4e79", "stroke-width": 1.5, "stroke-linejoin": "round" }),
    points.map(([px, py], i) => (py === null ? null : s("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 1.8, fill: "#1f4e79" },
      tip(`${months[i].period}: ${fmt.money(months[i].revenue)}`))))));
}

function legend(items) {
  return h("ul", { class: "chart-legend" }, items.map(({ label, color, dash }) => h("li", {},
    h("span", { class: dash ? "swatch dashed" : "swatch", style: `--swatch: ${color}`, "aria-hidden": "true" }), label)));
}

/** Regions by revenue (x) and growth rate (y), split at the API's thresholds; the quadrants
 * named below the chart (never on top of a region's dot or name, at any width). */
export function quadrants(element, answer) {
  const plotted = answer.regions.filter((r) => r.growth_rate !== null && r.growth_rate !== undefined);
  const thresholds = answer.thresholds || {};
  const W = width(element, 600);
  const narrow = W < 480;
  const H = narrow ? 280 : 340;
  const m = { l: narrow ? 48 : 64, r: 16, t: 20, b: 48 };
  const xt = compactTicks([...answer.regions.map((r) => coordinate(r.revenue)), coordinate(thresholds.revenue)]);
  const growth = [...plotted.map((r) => coordinate(r.growth_rate)), coordinate(thresholds.growth_rate)].filter(Number.isFinite);
  const { ticks: yticks, step: ystep } = niceTicks(Math.min(0, ...growth), Math.max(0, ...growth), 4);
  const xRange = xt.range || [0, 1];
  const yRange = [yticks[0] - ystep / 4, yticks[yticks.length - 1] + ystep / 4];
  const x = scale(xRange, [m.l, W - m.r]);
  const y = scale(yRange, [H - m.b, m.t]);
  const grid = [];
  for (const [i, v] of (xt.tickvals || []).entries()) {
    grid.push(s("g", { class: "xtick" }, s("line", { x1: x(v), x2: x(v), y1: m.t, y2: H - m.b, stroke: "#eee" }),
      s("text", { x: x(v), y: H - m.b + 16, "text-anchor": "middle" }, xt.ticktext[i])));
  }
  for (const v of yticks) {
    grid.push(s("g", { class: "ytick" }, s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), stroke: "#eee" }),
      s("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, percentTick(v))));
  }
  const lines = [];
  if (Number.isFinite(coordinate(thresholds.revenue))) {
    const at = x(coordinate(thresholds.revenue));
    lines.push(s("line", { class: "threshold", x1: at, x2: at, y1: m.t, y2: H - m.b }));
  }
  if (Number.isFinite(coordinate(thresholds.growth_rate))) {
    const at = y(coordinate(thresholds.growth_rate));
    lines.push(s("line", { class: "threshold", x1: m.l, x2: W - m.r, y1: at, y2: at }));
  }
  // Each region's name above its dot, else below it, else further off: never on another's name.
  const placed = [];
  const labelBox = (cx, cy, anchor, text, dy) => {
    const w = 6 + [...text].reduce((sum, c) => sum + (c.charCodeAt(0) > 0x2e80 ? 13 : 8), 0);
    const left = anchor === "end" ? cx - w : anchor === "start" ? cx : cx - w / 2;
    return { left, right: left + w, top: cy + dy - 13, bottom: cy + dy + 4 };
  };
  const clash = (box) => placed.some((o) => box.left < o.right && o.left < box.right && box.top < o.bottom && o.top < box.bottom);
  const dots = plotted.map((r) => {
    const cx = x(coordinate(r.revenue));
    const cy = y(coordinate(r.growth_rate));
    const anchor = cx > W - 60 ? "end" : cx < m.l + 60 ? "start" : "middle";
    const choices = [-10, 22, -28, 40, -46, 58].map((dy) => [dy, labelBox(cx, cy, anchor, r.region, dy)]);
    const [dy, box] = choices.find(([, b]) => !clash(b)) || choices[0];
    placed.push(box);
    return s("g", { class: "region" },
      s("circle", { cx, cy, r: 6, fill: QUADRANT_COLORS[r.quadrant] || "#555" },
        tip(t("{region}: revenue {revenue}, growth {growth}", { region: r.region, revenue: fmt.money(r.revenue),
          growth: fmt.percent(r.growth_rate) }))),
      s("text", { x: cx, y: cy + dy, "text-anchor": anchor }, r.region));
  });
  fill(element,
    s("svg", { class: "plot", width: "100%", viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true", focusable: "false" },
      grid, lines, dots,
      s("text", { class: "axis-title", x: (m.l + W - m.r) / 2, y: H - 8, "text-anchor": "middle" }, t("Revenue")),
      s("text", { class: "axis-title", transform: `translate(12 ${(m.t + H - m.b) / 2}) rotate(-90)`, "text-anchor": "middle" },
        t("Growth rate"))),
    legend(["low-high", "high-high", "low-low", "high-low"].map((name) => ({
      label: `${QUADRANT_ARROWS[name]} ${fmt.quadrantLabel(name)}`, color: QUADRANT_COLORS[name] }))));
}

/** Process scores of each evaluation over time, one line per process, and the result score. */
export function processScores(element, evaluations) {
  if (!evaluations.length) {
    fill(element, h("p", { class: "note" }, t("No evaluations recorded.")));
    return;
  }
  const labels = evaluations.map((e) => `${e.data.period} (${fmt.date(e.occurred_at)})`);
  const names = [...new Set(evaluations.flatMap((e) => Object.keys(e.data.process_scores || {})))].sort();
  const series = names.map((name, i) => ({ label: name, color: PALETTE[i % PALETTE.length],
    values: evaluations.map((e) => coordinate((e.data.process_scores || {})[name])) }));
  series.push({ label: t("result score"), color: "#222", dash: true, values: evaluations.map((e) => coordinate(e.data.result_score)) });
  const W = width(element, 600);
  const H = 240;
  const m = { l: 40, r: 12, t: 10, b: 36 };
  const x = scale([0, Math.max(1, labels.length - 1)], [m.l + 8, W - m.r - 8]);
  const y = scale([0, 100], [H - m.b, m.t]);
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor((W - m.l) / 110))));
  const axes = [
    [0, 25, 50, 75, 100].map((v) => s("g", { class: "ytick" }, s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), stroke: "#eee" }),
      s("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, fmt.compact(v)))),
    labels.map((label, i) => (i % every ? null : s("text", { class: "xtick", x: x(i), y: H - m.b + 16, "text-anchor": "middle" }, label))),
  ];
  const lines = series.map((line) => {
    const points = line.values.map((v, i) => (Number.isFinite(v) ? [x(i), y(v), i] : null)).filter(Boolean);
    return s("g", { class: "series" },
      s("polyline", { points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "), fill: "none",
        stroke: line.color, "stroke-width": 2, "stroke-dasharray": line.dash ? "6 4" : null }),
      points.map(([px, py, i]) => s("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 3.5, fill: line.color },
        tip(`${line.label}: ${fmt.count(line.values[i])} · ${labels[i]}`))));
  });
  fill(element,
    s("svg", { class: "plot", width: "100%", viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true", focusable: "false" },
      axes, lines,
      s("text", { class: "axis-title", transform: `translate(10 ${(m.t + H - m.b) / 2}) rotate(-90)`, "text-anchor": "middle" },
        t("Score (0–100)"))),
    legend(series.map(({ label, color, dash }) => ({ label, color, dash }))));
}
