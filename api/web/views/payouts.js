// Finance's payouts: the period's payouts of the scope (GET /payouts?scope=), each with its rep,
// team, plan, total and approval state, the totals the API summed, sortable; the scope's bulk
// approval (finance and admin only) after a confirmation naming how many reps and the total, and
// its answer rep by rep; the table as CSV or .xlsx; each rep's printable statement.

import * as api from "../api.js";
import { $, fill, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { address, fileLink } from "./files.js";
import * as num from "./numbers.js";
import { approvalLabel, statementLinks } from "./why.js";

const BULK_SCOPE = /^(company|region:.+|team:.+)$/;
const COLUMNS = 7;

const view = {
  answer: null,
  sort: { column: "rep", descending: false },
  pending: null, // the confirmation's scope and period
};

function scopeOf(ctx) {
  const scope = ctx.state.filters.scope;
  return BULK_SCOPE.test(scope || "") ? scope : "";
}

function params(ctx) {
  const f = ctx.state.filters;
  return { period: f.period, scope: scopeOf(ctx), as_of: f.as_of, known_at: f.known_at };
}

// ---------------------------------------------------------------- the table

const SORTS = {
  rep: (row, ctx) => ctx.repLabel(row.rep_id),
  team: (row, ctx) => teamOf(row, ctx),
  plan: (row) => (row.plan ? `${row.plan.plan_id} ${String(row.plan.version).padStart(6, "0")}` : ""),
  total: (row) => row.total,
  state: (row) => approvalLabel(row.approval.state),
};

function sorted(rows, ctx) {
  const { column, descending } = view.sort;
  const key = SORTS[column];
  const order = column === "total"
    ? (a, b) => num.compareDecimal(key(a), key(b))
    : (a, b) => String(key(a, ctx)).localeCompare(String(key(b, ctx)));
  const result = [...rows].sort((a, b) => order(a, b) || a.rep_id.localeCompare(b.rep_id));
  return descending ? result.reverse() : result;
}

function stateCell(row, currency) {
  const a = row.approval;
  const moved = a.difference !== null && a.difference !== undefined && !fmt.isZero(a.difference);
  return h("td", { dataset: { col: "state", state: a.state } },
    h("span", { class: `badge state-${a.state}` }, approvalLabel(a.state)),
    moved ? h("span", { class: "moved", dataset: { raw: a.difference } }, " ",
      t("moved since: {difference}", { difference: num.moneyIn(a.difference, currency) })) : null);
}

/** The team the rep ended the period in (the API's, over business time), not the one it has now. */
function teamOf(payout, ctx) {
  if (payout.team_id !== undefined) return payout.team_id || "";
  return (ctx.state.reps.get(payout.rep_id) || {}).team_id || "";
}

/** "moved to T-2 on 1 Jul 2026", each change of team during the period. */
function movesIn(payout) {
  return (payout.moved || []).map((move) => h("span", { class: "badge moved", dataset: { mark: "moved" } },
    t("moved to {team} on {date}", { team: move.team_id || move.region || fmt.DASH, date: fmt.date(move.on) })));
}

function row(payout, ctx) {
  const currency = ctx.state.me.currency;
  const f = ctx.state.filters;
  return h("tr", { dataset: { rep: payout.rep_id } },
    h("th", { scope: "row" }, h("a", { href: ctx.hashForRep(payout.rep_id), class: "rep-link" }, ctx.repLabel(payout.rep_id))),
    h("td", { dataset: { col: "team" } }, teamOf(payout, ctx) || fmt.DASH, ...movesIn(payout)),
    h("td", { dataset: { col: "plan" } }, payout.plan ? t("{plan} version {version}", { plan: payout.plan.plan_id,
      version: payout.plan.version }) : t("no plan in force")),
    h("td", { class: "num", dataset: { col: "total", raw: payout.total } }, num.moneyIn(payout.total, currency)),
    stateCell(payout, currency),
    h("td", { class: "num", dataset: { col: "owed", raw: payout.approval.owed ?? "" } },
      payout.approval.owed === null || payout.approval.owed === undefined ? fmt.DASH : num.moneyIn(payout.approval.owed, currency)),
    h("td", { class: "statement-cell" }, statementLinks(payout.rep_id, payout.period || f.period, f.known_at)));
}

function header(ctx) {
  const labels = [["rep", t("Rep")], ["team", t("Team")], ["plan", t("Plan")], ["total", t("Total")],
    ["state", t("Approval")], ["owed", t("Owed now")], [null, t("Statement")]];
  fill($("#payouts-table thead"), h("tr", {}, labels.map(([column, label]) => {
    if (!column || column === "owed") return h("th", { scope: "col", class: column === "owed" ? "num" : null }, label);
    const active = view.sort.column === column;
    return h("th", { scope: "col", class: column === "total" ? "num" : null,
      "aria-sort": active ? (view.sort.descending ? "descending" : "ascending") : "none" },
    h("button", { type: "button", class: "sort", dataset: { sort: column }, onclick: () => {
      view.sort = { column, descending: active ? !view.sort.descending : column === "total" };
      draw(ctx);
    } }, label, active ? (view.sort.descending ? " ↓" : " ↑") : ""));
  })));
}

function draw(ctx) {
  const answer = view.answer;
  if (!answer) return;
  const currency = ctx.state.me.currency;
  header(ctx);
  fill($("#payouts-table tbody"), answer.payouts.length ? sorted(answer.payouts, ctx).map((p) => row(p, ctx))
    : h("tr", {}, h("td", { colspan: COLUMNS }, t("No rep has a payout in this period."))));
  fill($("#payouts-table tfoot"), h("tr", { class: "totals" },
    h("th", { scope: "row", colspan: 3 }, t("Total ({count} reps)", { count: answer.totals.reps })),
    h("td", { class: "num", dataset: { col: "total", raw: answer.totals.total } }, num.moneyIn(answer.totals.total, currency)),
    h("td", {}),
    h("td", { class: "num", dataset: { col: "owed", raw: answer.totals.owed } }, num.moneyIn(answer.totals.owed, currency)),
    h("td", {})));
}

// ---------------------------------------------------------------- exports

function exportLinks(ctx) {
  const link = (format, text) => fileLink(address("/payouts", { ...params(ctx), format }), text,
    { attributes: { class: `export ${format}`, "data-format": format } });
  fill($("#payouts-exports"), t("Export:"), " ", link("csv", "CSV"), " · ", link("xlsx", t("Excel (.xlsx)")));
}

// ---------------------------------------------------------------- bulk approval

function bulkControls(ctx) {
  const box = $("#bulk");
  const scope = scopeOf(ctx);
  const allowed = ctx.can("payouts.approve") && scope && view.answer && !view.answer.next_after_rep;
  box.hidden = !allowed;
  if (!allowed) return;
  const answer = view.answer;
  const currency = ctx.state.me.currency;
  const confirm = $("#bulk-confirm");
  $("#bulk-start").disabled = !answer.payouts.length;
  $("#bulk-start").onclick = () => {
    view.pending = { scope, period: ctx.state.filters.period };
    fill($("#bulk-question"), t("Approve the payouts of {count} reps in {scope} for {period}, {total} in all? "
      + "Payouts approved before are not approved again.", { count: answer.totals.reps, scope: ctx.scopeLabel(scope),
      period: ctx.state.filters.period, total: num.moneyIn(answer.totals.total, currency) }));
    confirm.dataset.count = String(answer.totals.reps);
    confirm.dataset.total = answer.totals.total;
    confirm.hidden = false;
    $("#bulk-yes").focus();
  };
  $("#bulk-no").onclick = () => {
    view.pending = null;
    confirm.hidden = true;
  };
  $("#bulk-yes").onclick = () => approve(ctx);
}

function resultList(title, kind, items, describe) {
  if (!items.length) return null;
  return h("section", { class: `bulk-${kind}` }, h("h4", {}, t("{what}: {count}", { what: title, count: items.length })),
    h("ul", {}, items.map((item) => h("li", { dataset: { rep: item.rep_id } }, describe(item)))));
}

async function approve(ctx) {
  const pending = view.pending;
  if (!pending) return;
  const yes = $("#bulk-yes");
  yes.disabled = true;
  const out = $("#bulk-result");
  fill(out, note(t("Approving…")));
  const currency = ctx.state.me.currency;
  try {
    const answer = await api.post("/payouts/approve", pending);
    const c = answer.counts;
    out.dataset.approved = String(c.approved);
    fill(out,
      h("p", { class: "bulk-summary", role: "status" }, t("{approved} approved, {unchanged} unchanged, {adjusted} adjusted "
        + "since approval, {refused} refused (as known at {time}).", { ...c, time: fmt.dateTime(answer.known_at) })),
      resultList(t("Approved"), "approved", answer.approved, (a) =>
        t("{rep}: {amount}", { rep: ctx.repLabel(a.rep_id), amount: num.moneyIn(a.amount, currency) })),
      resultList(t("Unchanged"), "unchanged", answer.unchanged, (a) =>
        t("{rep}: {amount}, approved before", { rep: ctx.repLabel(a.rep_id), amount: num.moneyIn(a.amount, currency) })),
      resultList(t("Adjusted since approval"), "adjusted", answer.adjusted, (a) => [
        t("{rep}: owed {approved}, computed now {total} (difference {difference}). ", { rep: ctx.repLabel(a.rep_id),
          approved: num.moneyIn(a.approved, currency), total: num.moneyIn(a.total, currency),
          difference: num.moneyIn(a.difference, currency) }),
        h("span", { class: "what-to-do" }, a.what_to_do)]),
      resultList(t("Refused"), "refused", answer.refused, (a) => [`${ctx.repLabel(a.rep_id)}: `,
        h("span", { class: "reason" }, a.reason)]));
    $("#bulk-confirm").hidden = true;
    view.pending = null;
    await load(ctx, ctx.state.generation);
  } catch (failure) {
    fill(out, note(failure.message, "error"));
  } finally {
    yes.disabled = false;
  }
}

// ---------------------------------------------------------------- the view

async function load(ctx, generation) {
  const body = $("#payouts-table tbody");
  let answer;
  try {
    answer = await api.get("/payouts", params(ctx));
  } catch (failure) {
    if (!ctx.stale(generation)) {
      fill(body, h("tr", {}, h("td", { colspan: COLUMNS, class: "error" }, failure.message)));
      fill($("#payouts-table tfoot"));
      view.answer = null;
      bulkControls(ctx);
    }
    return failure;
  }
  if (ctx.stale(generation)) return null;
  view.answer = answer;
  const scope = scopeOf(ctx);
  $("#payouts-context").textContent = t("{scope} · {period} · as of {as_of} · as known at {known_at}", {
    scope: scope ? ctx.scopeLabel(scope) : t("every rep you may see"), period: answer.period,
    as_of: fmt.dateTime(answer.as_of), known_at: fmt.dateTime(answer.known_at) })
    + (answer.next_after_rep ? t(" · the first {count} reps only: pick a region or a team", { count: answer.totals.reps }) : "");
  draw(ctx);
  bulkControls(ctx);
  return null;
}

/** The view, for app.js's render(): ctx = {state, stale, can, repLabel, scopeLabel, hashForRep, setStatus}. */
export async function render(ctx, generation) {
  const section = $("#view-payouts");
  ctx.markLoading(section);
  $("#payouts-error").textContent = "";
  $("#bulk-confirm").hidden = true;
  fill($("#bulk-result"));
  view.pending = null;
  fill($("#payouts-table tbody"), h("tr", {}, h("td", { colspan: COLUMNS }, t("Loading the payouts…"))));
  exportLinks(ctx);
  await load(ctx, generation);
  ctx.markReady(section, generation);
}
