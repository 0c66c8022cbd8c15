// A payout's "why", for people: the total and its approval, each line with its inputs in words
// and figures as the page's language writes them (money to the cent, rates and attainment as
// percentages), and the events behind the payout listed once, each in a sentence, the lines
// pointing at them. The figures are the API's (GET /payouts/{rep}/{period}/explain); this module
// only words them. Everything the API returns goes in as text.

import * as api from "../api.js";
import { fill, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { N_, t } from "../i18n.js";
import { address, fileLink } from "./files.js";
import * as num from "./numbers.js";

const enc = encodeURIComponent;

// ---------------------------------------------------------------- words for the API's keys

const KINDS = {
  commission: N_("commission"), bonus: N_("bonus"), multiplier: N_("multiplier"), penalty: N_("deduction"),
  cap: N_("cap"), draw: N_("draw"), guarantee: N_("guarantee"), award: N_("award"),
};

export function componentKind(kind) {
  return KINDS[kind] ? t(KINDS[kind]) : String(kind || "");
}

const STATES = {
  not_approved: N_("not approved"),
  approved: N_("approved"),
  adjusted: N_("approved and adjusted"),
  adjusted_only: N_("adjusted (closed before approval)"),
};

export function approvalLabel(state) {
  return STATES[state] ? t(STATES[state]) : String(state || "");
}

const MONEY_METRICS = new Set(["revenue", "avg_order_value"]);
const RATE_METRICS = new Set(["win_rate", "conversion_rate", "growth_rate", "email_reply_rate"]);

/** "revenue" → "Revenue"; "revenue_attainment" → "Revenue attainment". */
export function metricName(metric) {
  const name = String(metric || "");
  if (name.endsWith("_attainment")) return t("{metric} attainment", { metric: fmt.metricLabel(name.slice(0, -11)) });
  if (name.startsWith("activities.")) return t("{kind} activities", { kind: fmt.kindLabel(name.slice(11)) });
  return fmt.metricLabel(name);
}

/** A metric's figure as it reads: money to the cent, a rate or attainment as a percentage, a count plainly. */
export function metricValue(metric, value, currency) {
  const name = String(metric || "");
  if (name.endsWith("_attainment") || RATE_METRICS.has(name)) return num.pct(value);
  if (MONEY_METRICS.has(name)) return num.moneyIn(value, currency);
  return num.plain(value);
}

/** A base or a target whose metric the line does not name: money-like figures (with a point) to the cent. */
function figureText(value) {
  return String(value ?? "").includes(".") ? num.amount(value) : num.plain(value);
}

const OPS = { gte: "≥", gt: ">", lte: "≤", lt: "<" };

const MODES = {
  marginal: N_("marginal: each slice of the base at its own tier's rate"),
  flat: N_("flat: the rate of the highest tier reached, on the whole base"),
};

// input → [label, how it reads]
const INPUTS = {
  base: [N_("Base"), "figure"],
  target: [N_("Target"), "figure"],
  attainment: [N_("Attainment"), "pct"],
  mode: [N_("Tiers"), "mode"],
  tier_from: [N_("Tier reached from attainment"), "pct"],
  rate: [N_("Rate"), "pct"],
  slices: [N_("Slices"), "slices"],
  amount: [N_("Amount"), "money"],
  factor: [N_("Factor"), "factor"],
  applies_to: [N_("Applies to"), "list"],
  base_amount: [N_("Amount it applied to"), "money"],
  max: [N_("Cap"), "money"],
  plan_sum: [N_("Plan lines before the cap"), "money"],
  floor: [N_("Floor"), "money"],
  earnings: [N_("Earnings"), "money"],
  earnings_before: [N_("Earnings before it"), "money"],
  limited_by_floor: [N_("Held back by the floor"), "yesno"],
  recoverable: [N_("Recoverable"), "yesno"],
  recovery_limit: [N_("Recovery limit"), "pct"],
  balance_before: [N_("Draw balance before"), "money"],
  balance_after: [N_("Draw balance after"), "money"],
  reason: [N_("Reason"), "text"],
};
const CONDITION = ["metric", "value", "op", "threshold"];

function slicesTable(slices, currency) {
  return h("table", { class: "data compact nested slices" },
    h("thead", {}, h("tr", {}, [t("From"), t("To"), t("Slice"), t("Rate"), t("Commission")]
      .map((c) => h("th", { scope: "col", class: "num" }, c)))),
    h("tbody", {}, slices.map((s) => h("tr", {},
      h("td", { class: "num" }, figureText(s.from)), h("td", { class: "num" }, figureText(s.to)),
      h("td", { class: "num" }, figureText(s.amount)),
      h("td", { class: "num", dataset: { raw: s.rate ?? "" } }, num.pct(s.rate)),
      h("td", { class: "num", dataset: { raw: s.commission ?? "" } }, num.moneyIn(s.commission, currency))))));
}

function inputText(name, value, how, currency) {
  if (value === null || value === undefined) return t("none");
  if (how === "figure") return figureText(value);
  if (how === "pct") return num.pct(value);
  if (how === "money") return num.moneyIn(value, currency);
  if (how === "factor") return num.factor(value);
  if (how === "yesno") return value ? t("yes") : t("no");
  if (how === "mode") return MODES[value] ? t(MODES[value]) : String(value);
  if (how === "list") return (Array.isArray(value) ? value : [value]).map(String).join(", ");
  if (how === "slices") return Array.isArray(value) ? slicesTable(value, currency) : String(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A line's inputs as rows: [name, label, shown, raw]. The condition (metric, op, threshold, value) reads as one. */
export function inputRows(inputs, currency) {
  const rows = [];
  const given = inputs || {};
  if ("metric" in given && "op" in given) {
    rows.push(["condition", t("Condition"), t("{metric} {op} {threshold}: it was {value}", {
      metric: metricName(given.metric), op: OPS[given.op] || given.op,
      threshold: metricValue(given.metric, given.threshold, currency),
      value: given.value === null || given.value === undefined ? t("unknown") : metricValue(given.metric, given.value, currency),
    }), given.value]);
  }
  for (const [name, value] of Object.entries(given)) {
    if (CONDITION.includes(name) && "op" in given) continue;
    const [label, how] = INPUTS[name] || [null, "text"];
    rows.push([name, label ? t(label) : name.replace(/_/g, " "), inputText(name, value, how, currency),
      typeof value === "object" ? null : value]);
  }
  return rows;
}

// ---------------------------------------------------------------- the events, in sentences

function scopeText(scope) {
  if (!scope || typeof scope !== "object") return String(scope ?? "");
  if (scope.rep) return t("rep {rep}", { rep: scope.rep });
  if (scope.team) return t("team {team}", { team: scope.team });
  if (scope.region) return t("region {region}", { region: scope.region });
  if (scope.company) return t("the company");
  return JSON.stringify(scope);
}

/** An event in a sentence of the page's language: "Deal D-12 won: ¥48,000.00 on Mar 3, 2026". */
export function eventSentence(event, currency) {
  const d = event.data || {};
  const date = num.shortDate(event.occurred_at);
  const money = (value) => num.moneyIn(value, d.currency || currency);
  switch (event.type) {
    case "DealWon": return t("Deal {deal} won: {amount} on {date}", { deal: d.deal_id, amount: money(d.amount), date });
    case "DealAmountCorrected":
      return t("Deal {deal} corrected to {amount} on {date}", { deal: d.deal_id, amount: money(d.amount), date });
    case "DealRefunded": return t("Deal {deal} refunded: {amount} on {date}", { deal: d.deal_id, amount: money(d.amount), date });
    case "DealLost": return t("Deal {deal} lost on {date}", { deal: d.deal_id, date });
    case "DealOpened": return t("Deal {deal} opened on {date}", { deal: d.deal_id, date });
    case "DealCreditSplit":
      return t("Deal {deal}'s credit split on {date}: {shares}", { deal: d.deal_id, date,
        shares: (d.splits || []).map((s) => `${s.rep_id} ${num.pct(s.share)}`).join(", ") });
    case "TargetSet":
      return t("Target for {scope}: {metric} {value} in {period}", { scope: scopeText(d.scope), metric: metricName(d.metric),
        value: metricValue(d.metric, d.value, currency), period: d.period });
    case "LeadCreated": return t("Lead {lead} came in on {date}", { lead: d.lead_id, date });
    case "ActivityLogged":
      return d.replied ? t("{kind} on {date}, replied", { kind: fmt.kindLabel(d.kind), date })
        : t("{kind} on {date}", { kind: fmt.kindLabel(d.kind), date });
    case "FollowUpScheduled": return t("Follow-up scheduled on {date}", { date });
    case "FollowUpCompleted": return t("Follow-up done on {date}", { date });
    case "AwardGranted": return t("Award of {amount} granted on {date}", { amount: money(d.amount), date });
    default: return t("{type} on {date}", { type: event.type, date });
  }
}

/** What the person wrote on the event (a correction's or a refund's reason, an award's): shown as a quote. */
function eventNote(event) {
  const d = event.data || {};
  return typeof d.reason === "string" && d.reason ? d.reason : null;
}

/** The events behind the payout, each once, in the order they happened, and which lines rest on each
 * (from the lines, where the API gives no `tree.events`). */
export function eventsOnce(lines) {
  const byPosition = new Map();
  for (const line of lines) {
    for (const event of line.events || []) {
      const position = typeof event === "object" ? event.position : event;
      if (!byPosition.has(position)) byPosition.set(position, { event: typeof event === "object" ? event : { position }, lines: [] });
      const entry = byPosition.get(position);
      if (!entry.lines.includes(line.component)) entry.lines.push(line.component);
    }
  }
  const when = (entry) => String(entry.event.occurred_at || "");
  return [...byPosition.values()].sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1
    : a.event.position - b.event.position));
}

// ---------------------------------------------------------------- the statement and disputes

/** The rep's printable statement, in Chinese and in English, and as a PDF. */
export function statementLinks(repId, period, knownAt) {
  const path = `/statements/${enc(repId)}/${enc(period)}`;
  const link = (format, lang, text, opens) => fileLink(address(path, { format, lang, known_at: knownAt }), text,
    { opens, attributes: { class: `statement-link ${format}`, "data-lang": lang, hreflang: lang } });
  return h("p", { class: "statement-links" },
    h("span", {}, t("Printable statement:")), " ",
    link("html", "zh-CN", "中文", true), " · ", link("html", "en", "English", true), " · ",
    link("pdf", document.documentElement.lang === "en" ? "en" : "zh-CN", "PDF", false));
}

function disputeForm(line, context, answerBox) {
  const id = `dispute-${line.component}`;
  const text = h("textarea", { id, rows: 3, maxlength: 4000, required: true, spellcheck: "true" });
  const status = h("p", { class: "dispute-status", role: "status" });
  const form = h("form", { class: "dispute-form", hidden: true },
    h("label", { for: id }, t("What is wrong with this line?")), text,
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("Open the dispute")),
      h("button", { type: "button", class: "quiet", onclick: () => { form.hidden = true; } }, t("Cancel"))),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    form.querySelector("button[type=submit]").disabled = true;
    try {
      const answer = await api.post("/disputes", { rep_id: context.repId, period: context.period,
        component: line.component, text: text.value.trim() });
      form.hidden = true;
      fill(answerBox, h("p", { class: "dispute-opened", dataset: { dispute: answer.id || "" } },
        t("Dispute {id} opened on {line}: finance or your manager will answer it.", { id: answer.id, line: line.component })));
    } catch (failure) {
      status.textContent = failure.message;
    } finally {
      form.querySelector("button[type=submit]").disabled = false;
    }
  });
  const opener = h("button", { type: "button", class: "quiet dispute-open", onclick: () => {
    form.hidden = false;
    text.focus();
  } }, t("Question this line"));
  return [opener, form];
}

// ---------------------------------------------------------------- the explanation

function lineBlock(line, refs, context) {
  const currency = context.currency;
  const rows = inputRows(line.inputs, currency);
  const mine = refs.filter((r) => r.lines.includes(line.component));
  const answerBox = h("div", { class: "dispute-answer" });
  return h("details", { class: "line", dataset: { component: line.component } },
    h("summary", {},
      h("span", { class: "component" }, line.component),
      h("span", { class: "kind" }, componentKind(line.kind)),
      h("span", { class: "num amount", dataset: { raw: line.amount } }, num.moneyIn(line.amount, currency))),
    h("div", { class: "explanation" },
      rows.length ? h("table", { class: "data compact inputs" },
        h("tbody", {}, rows.map(([name, label, shown, raw]) => h("tr", {},
          h("th", { scope: "row" }, label),
          h("td", { dataset: { input: name, raw: raw === null || raw === undefined ? "" : String(raw) } }, shown)))))
        : note(t("No inputs.")),
      mine.length ? h("p", { class: "refs" }, t("Events behind this line:"), " ",
        mine.map((entry, i) => [i ? ", " : "", h("button", { type: "button", class: "ref link",
          dataset: { ref: entry.event.position }, "aria-label": eventSentence(entry.event, currency),
          onclick: () => {
            const item = context.list.querySelector(`[data-position="${entry.event.position}"]`);
            if (item) {
              item.scrollIntoView({ block: "center" });
              item.classList.add("highlight");
              setTimeout(() => item.classList.remove("highlight"), 1500);
            }
          } }, `[${entry.number}]`)]))
        : note(t("No events behind this line.")),
      context.canDispute ? disputeForm(line, context, answerBox) : null,
      answerBox));
}

function eventsList(refs, currency) {
  return h("ol", { class: "events-once" }, refs.map((entry) => h("li", {
    dataset: { position: entry.event.position, type: entry.event.type || "" } },
  h("span", { class: "sentence" }, entry.event.type ? eventSentence(entry.event, currency) : t("event {position}", { position: entry.event.position })),
  eventNote(entry.event) ? h("q", { class: "quote" }, eventNote(entry.event)) : null,
  h("span", { class: "behind" }, t("behind: {lines}", { lines: entry.lines.join(", ") })),
  h("span", { class: "meta" }, t("event #{position}, recorded {time}", { position: entry.event.position,
    time: fmt.dateTime(entry.event.recorded_at) })))));
}

function facts(answer, currency) {
  const approved = answer.approved;
  const hasApproval = approved && approved.amount !== null && approved.amount !== undefined;
  const plan = answer.plan;
  const rows = [
    [t("Total"), h("span", { class: "figure total", dataset: { raw: answer.total } }, fmt.money(answer.total), ` ${currency}`)],
    [t("Plan"), plan ? [t("{plan} version {version}", { plan: plan.plan_id, version: plan.version }),
      plan.assigned_by ? t(" (assigned to {scope})", { scope: plan.assigned_by.scope }) : ""] : t("no plan in force")],
    [t("As known at"), fmt.dateTime(answer.known_at)],
    [t("Approved"), hasApproval
      ? h("span", { dataset: { raw: approved.amount } }, t("{amount} on {time}", { amount: num.moneyIn(approved.amount, currency),
        time: fmt.dateTime(approved.recorded_at) }))
      : t("not approved")],
  ];
  if (approved && (approved.adjustments || []).length) {
    rows.push([t("Owed now"), h("span", { dataset: { raw: approved.current } }, num.moneyIn(approved.current, currency),
      " ", t("(after {count} adjustments)", { count: approved.adjustments.length }))]);
  }
  if (hasApproval) {
    rows.push([t("Reproduced"), answer.reproduced ? t("yes: the digest matches the approval") : t("no: the digest differs")]);
  }
  if (answer.today && approved) {
    rows.push([t("Today"), t("{total} (difference {difference})", { total: num.moneyIn(answer.today.total, currency),
      difference: num.moneyIn(answer.today.difference, currency) })]);
  }
  if (answer.digest) rows.push([t("Digest"), h("code", { title: answer.digest }, answer.digest.slice(0, 12) + "…")]);
  return h("dl", { class: "statement", dataset: { rep: answer.rep_id, period: answer.period } },
    rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** Fills `target` with the payout's why. context: {currency, repId, period, knownAt, canDispute}. */
export function renderWhy(target, answer, context) {
  const lines = (answer.tree && answer.tree.lines) || answer.lines || [];
  const listed = answer.tree && Array.isArray(answer.tree.events)
    ? answer.tree.events.map((event) => ({ event, lines: event.lines || [] })) // each once, as the API lists them
    : eventsOnce(lines);
  const refs = listed.map((entry, i) => ({ ...entry, number: i + 1 }));
  const list = eventsList(refs, context.currency);
  const full = { ...context, list };
  fill(target,
    facts(answer, context.currency),
    statementLinks(answer.rep_id, answer.period, context.knownAt),
    (answer.problems || []).length ? h("ul", { class: "problems" }, answer.problems.map((p) => h("li", {}, p))) : null,
    h("p", { class: "hint" }, t("Open a line to see how it was worked out, and the events behind it.")),
    lines.length ? h("div", { class: "lines" }, lines.map((line) => lineBlock(line, refs, full))) : note(t("No payout lines.")),
    h("h4", { class: "events-title" }, t("Events behind this payout ({count})", { count: refs.length })),
    refs.length ? list : note(t("No events behind this payout.")));
}

/** GET …/explain and render it; answers the failure (or null), as app.js's sections do. */
export async function loadWhy(target, context, isStale) {
  fill(target, note(t("Loading the payout…")));
  let answer;
  try {
    answer = await api.get(`/payouts/${enc(context.repId)}/${enc(context.period)}/explain`, { known_at: context.knownAt });
  } catch (failure) {
    if (!isStale()) fill(target, note(failure.message, "error"));
    return failure;
  }
  if (isStale()) return null;
  renderWhy(target, answer, context);
  return null;
}
