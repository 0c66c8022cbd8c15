// A rep, drilled into (issue 23): their deals (open, won, lost: customer, amounts, days in the
// stage), activities and follow-ups (the overdue highlighted), the events behind a deal, and the
// coaching (improvement plans, trainings, scores against the previous evaluation). Every figure
// is the API's (GET /reps/{id}/deals, /activities, /followups, /coaching, /events).

import * as api from "../api.js";
import { fill, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { locale, N_, t } from "../i18n.js";
import { downloads, money } from "./common.js";

const enc = encodeURIComponent;
const PAGE = 50;
const MAX_EVENTS = 20; // the events of one deal read one by one
const STAGES = { "": N_("All stages"), open: N_("open"), won: N_("won"), lost: N_("lost") };
let stage = "";

function section(id, title) {
  return h("section", { class: "panel", id, "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title));
}

/** A table's scrolling box that a keyboard can reach and scroll (a table of text has nothing else
 * to focus: axe's scrollable-region-focusable), named by its heading. */
function scrolls(labelledBy) {
  return { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": labelledBy };
}

function shell(target) {
  if (target.querySelector("#deals-table") && target.dataset.locale === locale()) return; // built, in this language
  target.dataset.locale = locale();
  const pick = h("select", { id: "deals-stage" }, Object.entries(STAGES).map(([value, label]) => h("option", { value }, t(label))));
  const deals = section("deals-panel", t("Deals"));
  deals.append(
    h("div", { class: "toolbar" }, h("label", { for: "deals-stage" }, t("Stage")), " ", pick, h("span", { id: "deals-downloads" })),
    h("p", { id: "deals-context", class: "context" }),
    h("div", { class: "table-wrap" }, h("table", { id: "deals-table", class: "data" },
      h("caption", { class: "visually-hidden" }, t("The rep's deals: open, won and lost")),
      h("thead", {}, h("tr", {}, [t("Deal"), t("Customer"), t("Stage"), t("Days in stage"), t("Opened"), t("Closed"),
        t("Expected amount"), t("Won amount"), t("Credited to the rep"), t("Events")].map((c, i) =>
        h("th", { scope: "col", class: [3, 6, 7, 8].includes(i) ? "num" : null }, c)))),
      h("tbody", {}))));
  const events = section("events-panel", t("The events behind it"));
  events.append(h("p", { id: "events-context", class: "context" }, t("Pick a deal's events above.")),
    h("div", scrolls("events-context"), h("table", { id: "events-table", class: "data compact" },
      h("thead", {}, h("tr", {}, [t("Position"), t("Type"), t("Occurred"), t("Recorded"), t("What")].map((c) =>
        h("th", { scope: "col" }, c)))), h("tbody", {}))));
  const work = section("work-panel", t("Activities and follow-ups"));
  work.append(
    h("h4", { id: "followups-title" }, t("Follow-ups")), h("span", { id: "followups-downloads" }),
    h("div", scrolls("followups-title"), h("table", { id: "followups-table", class: "data compact" },
      h("thead", {}, h("tr", {}, [t("Follow-up"), t("State"), t("Due"), t("Days overdue"), t("Deal")].map((c) =>
        h("th", { scope: "col" }, c)))), h("tbody", {}))),
    h("h4", { id: "activities-title" }, t("Activities")), h("span", { id: "activities-downloads" }),
    h("div", scrolls("activities-title"), h("table", { id: "activities-table", class: "data compact" },
      h("thead", {}, h("tr", {}, [t("Activity"), t("Kind"), t("Occurred"), t("Replied")].map((c) =>
        h("th", { scope: "col" }, c)))), h("tbody", {}))),
    h("p", { id: "work-context", class: "context" }));
  const coaching = section("coaching-panel", t("Coaching"));
  coaching.append(h("div", { id: "coaching" }));
  fill(target, deals, events, work, coaching);
}

function summaryOf(data) {
  return Object.entries(data || {}).map(([key, value]) =>
    `${key}: ${value !== null && typeof value === "object" ? JSON.stringify(value) : String(value)}`).join(" · ");
}

async function showEvents(target, ctx, deal) {
  const body = target.querySelector("#events-table tbody");
  const context = target.querySelector("#events-context");
  context.textContent = t("Deal {deal}: {count} events", { deal: deal.deal_id, count: deal.events.length });
  fill(body, h("tr", {}, h("td", { colspan: 5 }, t("Loading the events…"))));
  const positions = deal.events.slice(0, MAX_EVENTS);
  const pages = await Promise.allSettled(positions.map((p) => api.get("/events", { after: String(p - 1), limit: 1, rep: deal.owner })));
  const rows = [];
  pages.forEach((answer, i) => {
    const event = answer.status === "fulfilled" ? (answer.value.events || [])[0] : null;
    rows.push(event && event.position === positions[i]
      ? h("tr", { dataset: { position: event.position } }, h("td", { class: "num" }, String(event.position)),
        h("td", {}, event.type), h("td", {}, fmt.dateTime(event.occurred_at)), h("td", {}, fmt.dateTime(event.recorded_at)),
        h("td", { class: "what" }, summaryOf(event.data)))
      : h("tr", { dataset: { position: positions[i] } }, h("td", { class: "num" }, String(positions[i])),
        h("td", { colspan: 4, class: "error" }, answer.status === "rejected" ? answer.reason.message : t("Not available with this token."))));
  });
  fill(body, rows);
  target.querySelector("#events-panel").scrollIntoView({ block: "nearest" });
}

function dealRow(target, ctx, deal) {
  const button = h("button", { type: "button", class: "quiet events-button", dataset: { deal: deal.deal_id } },
    t("{count} events", { count: deal.events.length }));
  button.addEventListener("click", () => showEvents(target, ctx, deal));
  return h("tr", { class: `stage-${deal.stage}`, dataset: { deal: deal.deal_id, stage: deal.stage } },
    h("th", { scope: "row" }, deal.deal_id, deal.owner !== ctx.rep ? h("span", { class: "id" }, " ", t("(split from {rep})", { rep: deal.owner })) : null),
    h("td", {}, deal.customer_id),
    h("td", {}, STAGES[deal.stage] ? t(STAGES[deal.stage]) : deal.stage),
    h("td", { class: "num", dataset: { col: "stage-days", raw: String(deal.stage_days) } }, fmt.count(deal.stage_days)),
    h("td", {}, fmt.date(deal.opened_at)),
    h("td", {}, deal.closed_at ? fmt.date(deal.closed_at) : fmt.DASH),
    money("expected", deal.expected_amount),
    money("amount", deal.amount),
    money("credited", deal.credited),
    h("td", {}, button));
}

async function renderDeals(target, ctx, cut) {
  const body = target.querySelector("#deals-table tbody");
  fill(body, h("tr", {}, h("td", { colspan: 10 }, t("Loading the deals…"))));
  const params = { ...cut, stage };
  let answer;
  try {
    answer = await api.get(`/reps/${enc(ctx.rep)}/deals`, { ...params, limit: PAGE });
  } catch (failure) {
    if (!ctx.stale()) fill(body, h("tr", {}, h("td", { colspan: 10, class: "error" }, failure.message)));
    return failure;
  }
  if (ctx.stale()) return null;
  target.querySelector("#deals-context").textContent = t("{shown} of {total} deals · {period} · open at {as_of}, or won or lost in the period", {
    shown: answer.deals.length, total: answer.total, period: answer.period, as_of: fmt.dateTime(answer.as_of) });
  fill(body, answer.deals.length ? answer.deals.map((deal) => dealRow(target, ctx, deal))
    : h("tr", {}, h("td", { colspan: 10 }, t("No deals."))));
  fill(target.querySelector("#deals-downloads"), downloads(`/reps/${enc(ctx.rep)}/deals`, params, `deals-${ctx.rep}`));
  return null;
}

async function renderWork(target, ctx, cut) {
  const follow = target.querySelector("#followups-table tbody");
  const acts = target.querySelector("#activities-table tbody");
  const [followups, activities] = await Promise.allSettled([
    api.get(`/reps/${enc(ctx.rep)}/followups`, { ...cut, limit: PAGE }),
    api.get(`/reps/${enc(ctx.rep)}/activities`, { ...cut, limit: PAGE }),
  ]);
  if (ctx.stale()) return;
  if (followups.status === "fulfilled") {
    const list = followups.value.followups;
    fill(follow, list.length ? list.map((f) => h("tr", { class: f.state === "overdue" ? "overdue" : null,
      dataset: { followup: f.followup_id, state: f.state } },
    h("th", { scope: "row" }, f.followup_id),
    h("td", {}, f.state === "overdue" ? h("span", { class: "badge off" }, fmt.kindLabel(f.state)) : fmt.kindLabel(f.state)),
    h("td", {}, fmt.dateTime(f.due_at)),
    h("td", { class: "num", dataset: { raw: f.overdue_days ?? "" } }, f.overdue_days === null ? fmt.DASH : fmt.count(f.overdue_days)),
    h("td", {}, f.deal_id || fmt.DASH))) : h("tr", {}, h("td", { colspan: 5 }, t("No follow-ups."))));
    fill(target.querySelector("#followups-downloads"), downloads(`/reps/${enc(ctx.rep)}/followups`, cut, `followups-${ctx.rep}`));
  } else {
    fill(follow, h("tr", {}, h("td", { colspan: 5, class: "error" }, followups.reason.message)));
  }
  if (activities.status === "fulfilled") {
    const list = activities.value.activities;
    fill(acts, list.length ? list.map((a) => h("tr", { dataset: { activity: a.activity_id } },
      h("th", { scope: "row" }, a.activity_id), h("td", {}, fmt.kindLabel(a.kind)), h("td", {}, fmt.dateTime(a.occurred_at)),
      h("td", {}, a.replied === null ? fmt.DASH : a.replied ? t("yes") : t("no")))) : h("tr", {}, h("td", { colspan: 4 }, t("No activities."))));
    fill(target.querySelector("#activities-downloads"), downloads(`/reps/${enc(ctx.rep)}/activities`, cut, `activities-${ctx.rep}`));
    target.querySelector("#work-context").textContent = t("{shown} of {total} activities in {period}", {
      shown: list.length, total: activities.value.total, period: activities.value.period });
  } else {
    fill(acts, h("tr", {}, h("td", { colspan: 4, class: "error" }, activities.reason.message)));
  }
}

function planItem(plan) {
  return h("li", { class: plan.overdue ? "overdue" : null, dataset: { plan: plan.improvement_plan_id, status: plan.status } },
    h("p", {}, t("Improvement plan {plan}, review by {date}", { plan: plan.improvement_plan_id, date: fmt.date(plan.review_by) }),
      plan.overdue ? h("span", { class: "badge off" }, t("review overdue")) : null),
    plan.goals.length ? h("p", {}, t("Goals: {goals}", { goals: plan.goals.join("; ") })) : null,
    plan.trainings.length ? h("p", {}, t("Trainings: {trainings}", { trainings: plan.trainings.join("; ") })) : null);
}

function trainingItem(training) {
  return h("li", { class: training.overdue ? "overdue" : null, dataset: { training: training.training_id } },
    training.training, " · ",
    training.completed_at ? t("completed {date}", { date: fmt.date(training.completed_at) })
      : t("due by {date}", { date: fmt.date(training.due_by) }),
    training.overdue ? h("span", { class: "badge off" }, t("overdue")) : null);
}

async function renderCoaching(target, ctx) {
  const box = target.querySelector("#coaching");
  fill(box, note(t("Loading the coaching…")));
  let answer;
  try {
    answer = await api.get(`/reps/${enc(ctx.rep)}/coaching`, { as_of: ctx.filters.as_of, known_at: ctx.filters.known_at });
  } catch (failure) {
    if (!ctx.stale()) fill(box, note(failure.message, "error"));
    return;
  }
  if (ctx.stale()) return;
  const progress = answer.progress || { scores: [] };
  const plans = [...answer.open_plans];
  const trainings = [...answer.trainings_overdue, ...answer.trainings_pending, ...answer.trainings_completed.slice(-5)];
  fill(box,
    h("h4", {}, t("Improvement plans")),
    plans.length ? h("ul", { class: "plans" }, plans.map(planItem)) : note(t("No open improvement plan.")),
    h("h4", {}, t("Trainings")),
    trainings.length ? h("ul", { class: "trainings" }, trainings.map(trainingItem)) : note(t("No trainings.")),
    h("h4", {}, progress.latest
      ? t("Scores: {latest} against {previous}", { latest: progress.latest.period,
        previous: progress.previous ? progress.previous.period : fmt.DASH })
      : t("Scores")),
    progress.scores.length ? h("table", { id: "scores-table", class: "data compact" },
      h("thead", {}, h("tr", {}, [t("Score"), t("Previous"), t("Latest"), t("Change")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, progress.scores.map((s) => h("tr", { dataset: { score: s.score } },
        h("th", { scope: "row" }, s.kind === "result" ? t("result score") : s.score),
        h("td", { class: "num" }, s.previous ?? fmt.DASH), h("td", { class: "num" }, s.latest ?? fmt.DASH),
        h("td", { class: `num ${s.delta < 0 ? "negative" : s.delta > 0 ? "positive" : ""}` }, fmt.change(s.delta))))))
      : note(t("No evaluations recorded.")),
    answer.latest_feedback ? h("p", { class: "quote" }, answer.latest_feedback.text) : null);
}

/** Renders the drill-down of the rep in `ctx` into `target`. */
export async function render(target, ctx) {
  shell(target);
  const pick = target.querySelector("#deals-stage");
  pick.value = stage;
  pick.onchange = () => { stage = pick.value; renderDeals(target, ctx, cutOf(ctx)); };
  fill(target.querySelector("#events-table tbody"));
  target.querySelector("#events-context").textContent = t("Pick a deal's events above.");
  const cut = cutOf(ctx);
  await Promise.all([renderDeals(target, ctx, cut), renderWork(target, ctx, cut), renderCoaching(target, ctx)]);
}

function cutOf(ctx) {
  return { period: ctx.filters.period, as_of: ctx.filters.as_of, known_at: ctx.filters.known_at };
}
