// A replay's results: each rep's payout before and after, the biggest change first (or by rep),
// what caused it (the plan's rules, the facts learned since approval, the two together), the lines
// it moved, the totals the API summed, and the same table as CSV or .xlsx (POST /replays?format=).

import { $, fill, h } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { fetchFile, save } from "./files.js";
import * as num from "./numbers.js";

const COLUMNS = 6;
const view = { answer: null, request: null, sort: "delta" };

function sign(value) {
  return fmt.isZero(value) ? "" : fmt.isNegative(value) ? "negative" : "positive";
}

function money(value, ctx) {
  return num.moneyIn(value, ctx.state.me.currency);
}

function causes(row, ctx) {
  const c = row.causes;
  if (!c) return fmt.DASH;
  const parts = [["rule", t("plan rules"), c.rule.delta], ["facts", t("facts learned"), c.facts.delta], ["both", t("both together"), c.both]]
    .filter(([, , value]) => !fmt.isZero(value));
  if (!parts.length) return t("no change");
  return h("ul", { class: "causes" }, parts.map(([kind, label, value]) => h("li", { dataset: { cause: kind, raw: value } },
    `${label}: `, h("span", { class: `num ${sign(value)}` }, money(value, ctx)),
    kind === "facts" && c.facts.disputes && c.facts.disputes.length
      ? ` ${t("(disputes {ids})", { ids: c.facts.disputes.join(", ") })}` : "")));
}

/** A line's change by one cause: the cause's own line change for this component, if it moved it. */
function causeOf(row, kind, component) {
  const effect = row.causes && row.causes[kind];
  const line = effect && (effect.lines || []).find((l) => l.component === component);
  return line ? line.delta : null;
}

function lines(row, ctx) {
  if (!(row.lines || []).length) return fmt.DASH;
  const cell = (value, kind) => h("td", { class: `num ${value === null ? "" : sign(value)}`, dataset: { cause: kind, raw: value ?? "" } },
    value === null ? fmt.DASH : money(value, ctx));
  return h("details", {}, h("summary", {}, row.lines.length === 1 ? t("1 line") : t("{count} lines", { count: row.lines.length })),
    h("table", { class: "data compact" },
      h("thead", {}, h("tr", {}, [t("Component"), t("Before"), t("After"), t("Delta"), t("plan rules"), t("facts learned")]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, row.lines.map((line) => h("tr", { dataset: { component: line.component } },
        h("th", { scope: "row" }, line.component),
        h("td", { class: "num" }, money(line.before, ctx)), h("td", { class: "num" }, money(line.after, ctx)),
        h("td", { class: `num ${sign(line.delta)}` }, money(line.delta, ctx)),
        cell(causeOf(row, "rule", line.component), "rule"), cell(causeOf(row, "facts", line.component), "facts"))))));
}

function ordered(rows, ctx) {
  const byRep = (a, b) => ctx.repLabel(a.rep_id).localeCompare(ctx.repLabel(b.rep_id));
  if (view.sort === "rep") return [...rows].sort(byRep);
  return [...rows].sort((a, b) => num.compareSize(b.delta, a.delta) || byRep(a, b));
}

function header(ctx) {
  const sortButton = (key, label) => h("button", { type: "button", class: "sort", dataset: { sort: key },
    "aria-pressed": String(view.sort === key), onclick: () => {
      view.sort = key;
      draw(ctx);
    } }, label, view.sort === key ? " ↓" : "");
  fill($("#diff-table thead"), h("tr", {},
    h("th", { scope: "col", "aria-sort": view.sort === "rep" ? "ascending" : "none" }, sortButton("rep", t("Rep"))),
    h("th", { scope: "col", class: "num" }, t("Before")),
    h("th", { scope: "col", class: "num" }, t("After")),
    h("th", { scope: "col", class: "num", "aria-sort": view.sort === "delta" ? "descending" : "none" },
      sortButton("delta", t("Delta (biggest first)"))),
    h("th", { scope: "col" }, t("Cause")),
    h("th", { scope: "col" }, t("Lines"))));
}

function draw(ctx) {
  const answer = view.answer;
  header(ctx);
  fill($("#diff-table tbody"), answer.diff.length ? ordered(answer.diff, ctx).map((row) => h("tr", { dataset: { rep: row.rep_id } },
    h("th", { scope: "row" }, ctx.repLabel(row.rep_id),
      row.basis === "approved" ? h("span", { class: "badge" }, ` ${t("approved")}`) : null),
    h("td", { class: "num", dataset: { col: "before", raw: row.before ?? "" } }, money(row.before, ctx)),
    h("td", { class: "num", dataset: { col: "after", raw: row.after ?? "" } }, money(row.after, ctx)),
    h("td", { class: `num ${sign(row.delta)}`, dataset: { col: "delta", raw: row.delta ?? "" } }, money(row.delta, ctx)),
    h("td", { dataset: { col: "cause" } }, causes(row, ctx)),
    h("td", {}, lines(row, ctx))))
    : h("tr", {}, h("td", { colspan: COLUMNS }, t("No rep has a payout in this period."))));
  const totals = answer.totals;
  fill($("#diff-table tfoot"), totals ? h("tr", { class: "totals" },
    h("th", { scope: "row" }, t("Total ({count} reps)", { count: totals.reps })),
    h("td", { class: "num", dataset: { col: "before", raw: totals.before } }, money(totals.before, ctx)),
    h("td", { class: "num", dataset: { col: "after", raw: totals.after } }, money(totals.after, ctx)),
    h("td", { class: `num ${sign(totals.delta)}`, dataset: { col: "delta", raw: totals.delta } }, money(totals.delta, ctx)),
    h("td", {}, causes({ causes: { rule: { delta: totals.rule }, facts: { delta: totals.facts }, both: totals.both } }, ctx)),
    h("td", {})) : null);
}

async function exportAs(format, ctx) {
  const error = $("#replay-error");
  error.textContent = "";
  try {
    const file = await fetchFile(`/replays?format=${format}`, { method: "POST", body: view.request });
    save(file.blob, file.name);
    ctx.setStatus(t("Exported the replay as {format}", { format: format.toUpperCase() }));
  } catch (failure) {
    error.textContent = failure.message;
  }
}

function exportButtons(ctx) {
  fill($("#replay-exports"), t("Export:"), " ",
    h("button", { type: "button", class: "quiet export", dataset: { format: "csv" }, onclick: () => exportAs("csv", ctx) }, "CSV"),
    " ",
    h("button", { type: "button", class: "quiet export", dataset: { format: "xlsx" }, onclick: () => exportAs("xlsx", ctx) },
      t("Excel (.xlsx)")));
}

/** Shows a POST /replays answer; `request` is the body that asked for it (the export sends it again, pinned to
 * the answer's known_at so the file has the same figures). */
export function renderResults(answer, request, ctx) {
  view.answer = answer;
  view.request = { ...request, known_at: answer.known_at || request.known_at };
  view.sort = "delta";
  const plan = request.plan.rules ? t("a draft plan")
    : t("{plan} version {version}", { plan: request.plan.plan_id, version: request.plan.version });
  $("#diff-context").textContent = t("{period} under {plan}", { period: answer.period, plan })
    + (answer.known_at ? t(" as known at {time}", { time: fmt.dateTime(answer.known_at) }) : "")
    + t(" · {count} reps", { count: answer.diff.length });
  draw(ctx);
  exportButtons(ctx);
}

export function clear() {
  view.answer = null;
  fill($("#diff-table tbody"));
  fill($("#diff-table tfoot"));
  fill($("#replay-exports"));
  $("#diff-context").textContent = "";
}
