// Team against team, region against region (issue 23): the scope rolled up into its children
// (the company into regions, a region into teams, a team into reps), each beside the previous
// period and the same period last year, sortable, with a totals row that is the scope's own card;
// and the regions' (a director's: the teams') quadrants, last period's position beside this one's.
// Every figure is the API's (GET /kpis/rollup, GET /kpis/quadrants); the sorting is the API's too.

import * as api from "../api.js";
import { fill, h } from "../dom.js";
import * as fmt from "../format.js";
import { locale, N_, t } from "../i18n.js";
import { downloads, money, moveMarks, rate } from "./common.js";

const SORTS = { attainment: N_("Attainment"), pace: N_("Pace"), forecast: N_("Forecast (pipeline)"),
  growth_rate: N_("Growth"), revenue: N_("Revenue") };
const CHILDREN = { region: N_("Region"), team: N_("Team"), rep: N_("Rep") };
let sortBy = "attainment";
let order = "desc";
let resort = () => {};

function childLink(answer, row, ctx) {
  const key = row.key;
  if (answer.children === "rep") {
    return ctx.reaches(key) ? h("a", { href: ctx.repHref(key), class: "rep-link" }, ctx.repLabel(key)) : key;
  }
  const scope = `${answer.children}:${key}`;
  return ctx.hasScope(scope) ? h("a", { href: ctx.scopeHref(scope), class: "scope-link" }, key) : key;
}

function cells(row) {
  return [
    money("revenue", row.revenue),
    money("target", row.target),
    rate("attainment", row.attainment),
    rate("pace", row.pace),
    money("forecast", row.forecast),
    rate("forecast-attainment", row.forecast_attainment),
    money("previous", row.previous_revenue),
    rate("growth", row.growth_rate),
    money("last-year", row.last_year_revenue),
    rate("year-on-year", row.year_on_year),
    h("td", { class: "num", dataset: { col: "orders", raw: String(row.orders) } }, fmt.count(row.orders)),
  ];
}

function shell(target, rerender) {
  if (target.querySelector("#rollup-table") && target.dataset.locale === locale()) return; // built, in this language
  target.dataset.locale = locale();
  const select = h("select", { id: "rollup-sort" }, Object.entries(SORTS).map(([value, label]) =>
    h("option", { value }, t(label))));
  select.value = sortBy;
  select.addEventListener("change", () => { sortBy = select.value; order = "desc"; rerender(); });
  fill(target,
    h("h3", { id: "rollup-title" }, t("Team against team, region against region")),
    h("p", { id: "rollup-context", class: "context" }),
    h("div", { class: "toolbar" }, h("label", { for: "rollup-sort" }, t("Sort by")), " ", select,
      h("span", { id: "rollup-downloads" })),
    h("div", { class: "table-wrap" }, h("table", { id: "rollup-table", class: "data" },
      h("caption", { class: "visually-hidden" }, t("Each region, team or rep of the scope, with a totals row")),
      h("thead", {}, h("tr", {})), h("tbody", {}), h("tfoot", {}))),
    h("div", { id: "quadrant-trend" }));
}

function headings(answer) {
  const named = [
    [t(CHILDREN[answer.children] || answer.children), null],
    [t("Revenue"), "revenue"], [t("Revenue target"), null], [t("Attainment"), "attainment"], [t("Pace"), "pace"],
    [t("Forecast (pipeline)"), "forecast"], [t("Forecast attainment"), null],
    [t("Previous period ({period})", { period: answer.previous_period }), null], [t("Growth"), "growth_rate"],
    [t("Same period last year ({period})", { period: answer.last_year_period || fmt.DASH }), null],
    [t("Year on year"), null], [t("Orders"), null],
  ];
  const direction = order === "asc" ? "ascending" : "descending";
  return named.map(([label, key], i) => h("th", { scope: "col", class: i ? "num" : null,
    "aria-sort": key && key === answer.sort ? direction : null, dataset: key ? { sort: key } : {} },
  key ? h("button", { type: "button", class: "sort", onclick: () => resort(key) }, label,
    key === answer.sort ? (order === "asc" ? " ▲" : " ▼") : "") : label));
}

async function quadrantTrend(target, ctx, answer) {
  if (!ctx.can("kpis.quadrants") || answer.children === "rep") {
    fill(target);
    return;
  }
  const params = { as_of: ctx.filters.as_of, known_at: ctx.filters.known_at };
  let now;
  let before;
  try {
    [now, before] = await Promise.all([
      api.get("/kpis/quadrants", { period: answer.period, ...params }),
      api.get("/kpis/quadrants", { period: answer.previous_period, known_at: ctx.filters.known_at }),
    ]);
  } catch (failure) {
    if (!ctx.stale()) fill(target, h("p", { class: "error" }, t("Quadrants are not available: {reason}", { reason: failure.message })));
    return;
  }
  if (ctx.stale()) return;
  const rows = (answer) => (answer.teams && answer.teams.length ? answer.teams : answer.regions).map((r) =>
    [r.team || r.region, r]);
  const previous = new Map(rows(before));
  fill(target,
    h("h4", {}, t("Quadrants: {previous} → {period}", { previous: answer.previous_period, period: answer.period })),
    h("div", { class: "table-wrap" }, h("table", { id: "quadrant-trend-table", class: "data compact" },
      h("caption", { class: "visually-hidden" }, t("Each region's quadrant last period and this period")),
      h("thead", {}, h("tr", {}, [now.teams && now.teams.length ? t("Team") : t("Region"), t("Last period"), t("This period"),
        t("Growth")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows(now).map(([key, r]) => {
        const was = previous.get(key);
        const moved = was && was.quadrant !== r.quadrant;
        return h("tr", { dataset: { key, moved: moved ? "yes" : "no" } },
          h("th", { scope: "row" }, key),
          h("td", { dataset: { quadrant: was ? was.quadrant || "" : "" } }, was ? fmt.quadrantLabel(was.quadrant) : fmt.DASH),
          h("td", { dataset: { quadrant: r.quadrant || "" } }, moved ? "→ " : "", fmt.quadrantLabel(r.quadrant)),
          rate("growth", r.growth_rate));
      }))),
    // the two answers the table compares, each as a file
    h("div", { class: "exports quadrant-trend-downloads" },
      h("span", { class: "hint" }, t("This period")),
      downloads("/kpis/quadrants", { period: answer.period, ...params }, `quadrants-${answer.period}`),
      h("span", { class: "hint" }, t("Last period")),
      downloads("/kpis/quadrants", { period: answer.previous_period, known_at: ctx.filters.known_at },
        `quadrants-${answer.previous_period}`))));
}

/** Renders the roll-up of the scope in `ctx` into `target`; a rep scope has none. */
export async function render(target, ctx, after = null) {
  const scope = ctx.filters.scope;
  if (!scope || scope.startsWith("rep:")) {
    target.hidden = true;
    return;
  }
  target.hidden = false;
  shell(target, () => render(target, ctx));
  resort = (key) => { // a heading: sort by it, or turn the order round when it is the sort already
    order = key === sortBy && order === "desc" ? "asc" : "desc";
    sortBy = key;
    target.querySelector("#rollup-sort").value = key;
    render(target, ctx);
  };
  const body = target.querySelector("#rollup-table tbody");
  fill(body, h("tr", {}, h("td", { colspan: 12 }, t("Loading the roll-up…"))));
  fill(target.querySelector("#rollup-table tfoot"));
  const params = { scope, period: ctx.filters.period, as_of: ctx.filters.as_of, known_at: ctx.filters.known_at };
  if (after) await after; // the page's first screen asked first (app.js)
  if (ctx.stale()) return;
  let answer;
  try {
    answer = await api.get("/kpis/rollup", { ...params, sort: sortBy, order });
  } catch (failure) {
    if (!ctx.stale()) fill(body, h("tr", {}, h("td", { colspan: 12, class: "error" }, failure.message)));
    return;
  }
  if (ctx.stale()) return;
  fill(target.querySelector("#rollup-table thead tr"), headings(answer));
  target.querySelector("#rollup-context").textContent = t("{scope} · {period} against {previous} and {last_year} · as of {as_of}", {
    scope: ctx.scopeLabel(answer.scope), period: answer.period, previous: answer.previous_period,
    last_year: answer.last_year_period || fmt.DASH, as_of: fmt.dateTime(answer.as_of) })
    + (answer.truncated ? t(" · only the first rows are listed") : "");
  fill(body, answer.rows.length ? answer.rows.map((row) => h("tr", { dataset: { key: row.key } },
    h("th", { scope: "row" }, childLink(answer, row, ctx), " ", moveMarks(row)), cells(row)))
    : h("tr", {}, h("td", { colspan: 12 }, t("Nobody in this scope and period."))));
  fill(target.querySelector("#rollup-table tfoot"), h("tr", { class: "total", dataset: { key: answer.total.key } },
    h("th", { scope: "row" }, t("Total")), cells(answer.total)));
  fill(target.querySelector("#rollup-downloads"), downloads("/kpis/rollup", { ...params, sort: sortBy, order },
    `rollup-${scope.replace(":", "-")}-${answer.period}`));
  await quadrantTrend(target.querySelector("#quadrant-trend"), ctx, answer);
}
