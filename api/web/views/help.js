// Who needs help now (issue 23): how many reps of the scope are off track, and the list, worst
// first (the API ranks it by pace and forecast), each with the reasons, the forecast and the
// payout they would earn if it lands. Every figure is the API's (GET /kpis/off-track).

import * as api from "../api.js";
import { fill, h } from "../dom.js";
import * as fmt from "../format.js";
import { locale, N_, t } from "../i18n.js";
import { downloads, money, plural, rate } from "./common.js";

const PAGE = 20; // the API lists at most 50 a page with projected payouts
const SHOWN_REASONS = 2;

let more = null; // the next page's offset, and the context it belongs to

/** "8 of 20 reps off track" in the page's language. */
export function summary(count, total) {
  return plural(total, N_("{count} of {total} rep off track"), N_("{count} of {total} reps off track"), { count, total });
}

function reasonText(reason) {
  const metric = fmt.metricLabel(reason.metric);
  if (reason.kind === "pace") {
    return t("{metric}: pace {pace}, {expected} expected by now", { metric, pace: fmt.percent(reason.value),
      expected: fmt.figure(reason.metric, reason.expected_by_now) });
  }
  return t("{metric}: the forecast {forecast} reaches {share} of the target", { metric,
    forecast: fmt.figure(reason.metric, reason.forecast), share: fmt.percent(reason.value) });
}

function pending(col) {
  return h("td", { class: "num", dataset: { col, pending: "" }, "aria-busy": "true" }, "…");
}

function row(rep, ctx, payoutPending = false) {
  const forecast = (rep.forecast && rep.forecast.revenue) || {};
  const payout = rep.payout || {};
  return h("tr", { dataset: { rep: rep.rep_id } },
    h("th", { scope: "row" }, ctx.reaches(rep.rep_id)
      ? h("a", { href: ctx.repHref(rep.rep_id), class: "rep-link" }, ctx.repLabel(rep.rep_id)) : rep.rep_id),
    h("td", {}, rep.team_id || fmt.DASH),
    rate("pace", rep.pace && rep.pace.revenue),
    rate("attainment", rep.attainment && rep.attainment.revenue),
    money("forecast", forecast.pipeline),
    money("target", rep.targets && rep.targets.revenue),
    payoutPending ? pending("payout") : money("payout", payout.pipeline),
    payoutPending ? pending("payout-so-far") : money("payout-so-far", payout.so_far),
    h("td", { class: "reasons" }, reasonList(rep.reasons || [])));
}

/** The worst two reasons in view, the rest one click away. */
function reasonList(reasons) {
  const item = (r) => h("li", { dataset: { kind: r.kind, metric: r.metric } }, reasonText(r));
  const rest = reasons.slice(SHOWN_REASONS);
  return [h("ul", {}, reasons.slice(0, SHOWN_REASONS).map(item)),
    rest.length ? h("details", {}, h("summary", {}, t("{count} more", { count: rest.length })), h("ul", {}, rest.map(item))) : null];
}

function shell(target) {
  if (target.querySelector("#help-table") && target.dataset.locale === locale()) return; // built, in this language
  target.dataset.locale = locale();
  fill(target,
    h("h3", { id: "help-title" }, t("Who needs help now")),
    h("p", { id: "help-summary", class: "headline", "aria-live": "polite" }),
    h("p", { id: "help-context", class: "context" }),
    h("div", { id: "help-downloads" }),
    h("div", { class: "table-wrap" }, h("table", { id: "help-table", class: "data" },
      h("caption", { class: "visually-hidden" }, t("The reps off track, worst first, with why")),
      h("thead", {}, h("tr", {}, [t("Rep"), t("Team"), t("Revenue pace"), t("Attainment"), t("Forecast (pipeline)"),
        t("Revenue target"), t("Payout if the forecast lands"), t("Payout so far"), t("Why")].map((c, i) =>
        h("th", { scope: "col", class: i >= 2 && i <= 7 ? "num" : null }, c)))),
      h("tbody", {}))),
    h("button", { id: "help-more", type: "button", class: "quiet", hidden: true }, t("Show more reps off track")));
  target.querySelector("#help-more").addEventListener("click", () => { if (more) page(target, more.ctx, more.offset); });
}

// The list first (the forecasts of every rep), then its page's projected payouts (the plan
// evaluated twice per listed rep: the slower half), filled into the rows already shown.
async function page(target, ctx, offset) {
  const body = target.querySelector("#help-table tbody");
  const button = target.querySelector("#help-more");
  const params = { scope: ctx.filters.scope, period: ctx.filters.period, as_of: ctx.filters.as_of,
    known_at: ctx.filters.known_at };
  let answer;
  try {
    answer = await api.get("/kpis/off-track", { ...params, limit: PAGE, offset });
  } catch (failure) {
    if (ctx.stale()) return;
    fill(body, h("tr", {}, h("td", { colspan: 9, class: "error" }, failure.message)));
    target.querySelector("#help-summary").textContent = "";
    button.hidden = true;
    return;
  }
  if (ctx.stale()) return;
  const headline = target.querySelector("#help-summary");
  headline.textContent = summary(answer.off_track, answer.reps_in_scope);
  headline.dataset.offTrack = String(answer.off_track);
  headline.dataset.inScope = String(answer.reps_in_scope);
  target.querySelector("#help-context").textContent = t("{period} · as of {as_of} · ranked by pace and forecast, the worst first", {
    period: answer.period, as_of: fmt.dateTime(answer.as_of) })
    + (answer.period_status === "in_progress" ? t(" · in progress: pace is measured on the share of the period elapsed") : "");
  if (offset === 0) fill(body);
  if (!answer.reps.length && offset === 0) {
    fill(body, h("tr", {}, h("td", { colspan: 9 }, t("Nobody is off track."))));
  }
  const shown = answer.reps.map((rep) => row(rep, ctx, true));
  body.append(...shown);
  more = answer.next_offset === null || answer.next_offset === undefined ? null : { ctx, offset: answer.next_offset };
  button.hidden = more === null;
  fill(target.querySelector("#help-downloads"), downloads("/kpis/off-track", params,
    `off-track-${ctx.filters.scope.replace(":", "-")}-${ctx.filters.period}`));
  await fillPayouts(ctx, params, offset, answer, shown);
}

/** The same page again with `payouts=true`: each row redrawn from that answer (the list itself too,
 * should it have changed in between: every figure shown is one answer's). */
async function fillPayouts(ctx, params, offset, listed, shown) {
  if (!shown.length) return; // nobody listed on this page: no payout to ask for
  let answer;
  try {
    answer = await api.get("/kpis/off-track", { ...params, payouts: "true", limit: PAGE, offset });
  } catch (failure) {
    if (ctx.stale()) return;
    for (const tr of shown) {
      for (const cell of tr.querySelectorAll("td[data-pending]")) {
        cell.textContent = fmt.DASH;
        cell.title = failure.message;
        delete cell.dataset.pending;
      }
    }
    return;
  }
  if (ctx.stale() || !shown.every((tr) => tr.isConnected)) return;
  const same = answer.reps.length === listed.reps.length && answer.reps.every((rep, i) => rep.rep_id === listed.reps[i].rep_id);
  if (same) {
    answer.reps.forEach((rep, i) => shown[i].replaceWith(row(rep, ctx)));
    return;
  }
  const body = shown[0] ? shown[0].parentNode : null; // the list changed meanwhile: this page as now answered
  if (!body) return;
  const fresh = answer.reps.map((rep) => row(rep, ctx));
  shown[0].before(...fresh);
  for (const tr of shown) tr.remove();
}

/** Renders the panel into `target` for the filters in `ctx` (see app.js). */
export async function render(target, ctx, after = null) {
  shell(target);
  more = null;
  fill(target.querySelector("#help-table tbody"), h("tr", {}, h("td", { colspan: 9 }, t("Loading who is off track…"))));
  if (after) await after; // the page's first screen asked first (app.js)
  if (ctx.stale()) return;
  await page(target, ctx, 0);
}
