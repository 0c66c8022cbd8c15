// Perfledger's dashboard: sign in with a token, pick a period, a scope and the two cut-offs, and
// read what the API answers. Every figure on the page is one the API returned; this module
// only places it (formatting lives in format.js, charts in charts.js).

import * as api from "./api.js";
import * as charts from "./charts.js";
import * as clock from "./clock.js";
import { $, fill, h, note } from "./dom.js";
import * as fmt from "./format.js";
import * as i18n from "./i18n.js";
import { N_, t } from "./i18n.js";
import { downloads, moveMarks } from "./views/common.js";
import * as drill from "./views/drill.js";
import * as help from "./views/help.js";
import * as payouts from "./views/payouts.js";
import * as replays from "./views/replays.js";
import * as rollup from "./views/rollup.js";
import * as why from "./views/why.js";

const VIEWS = ["overview", "rep", "payouts", "replay"];
const CARD_METRICS = ["revenue", "orders", "new_customers", "avg_order_value", "win_rate", "conversion_rate",
  "growth_rate", "email_reply_rate", "sales_cycle_days", "activities", "followups"];
// The team table's rows per page: the first page is on screen within the overview's budget at
// 500 reps (docs/performance.md, "The dashboard in the browser"); "Show more reps" adds the next.
const TEAM_PAGE = 25;
const TEAM_FILE_ROWS = 500; // the team table's download: every rep at once (GET /web/team's most)
const FILTERS = ["preset", "period", "scope", "rep", "as_of", "known_at"];

const state = {
  me: null,
  scopes: [],
  reps: new Map(),
  plans: null,
  view: "overview",
  filters: { preset: "", period: "", scope: "", rep: "", as_of: "", known_at: "" },
  generation: 0,
  teamNext: null,
  overviewShown: false, // the overview has been on screen once this session
};

// ---------------------------------------------------------------- small helpers

const enc = encodeURIComponent;

function stale(generation) {
  return generation !== state.generation;
}

function setStatus(text) {
  $("#status").textContent = text;
}

function can(capability) {
  return Boolean(state.me && state.me.capabilities.includes(capability));
}

function scopeLabel(scope) {
  const option = state.scopes.find((s) => s.scope === scope);
  return option ? option.label : scope;
}

function repLabel(repId) {
  const rep = state.reps.get(repId);
  return rep ? `${rep.name} (${rep.rep_id})` : repId;
}

let cardIds = 0; // ids that tie each KPI card to its heading

// Times typed in the page are wall times in the ledger's zone, as every time shown is (clock.js).
const { toInstant, toLocalInput } = clock;

function cutoffParams(withAsOf = true) {
  const { period, as_of, known_at } = state.filters;
  return withAsOf ? { period, as_of, known_at } : { period, known_at };
}

function viewKey() {
  return FILTERS.map((name) => `${name}=${state.filters[name] || ""}`).join("&");
}

function markLoading(section) {
  section.dataset.state = "loading";
  section.dataset.key = viewKey();
  section.setAttribute("aria-busy", "true");
}

function markReady(section, generation) {
  if (stale(generation)) return;
  section.dataset.state = "ready";
  section.removeAttribute("aria-busy");
}

// ---------------------------------------------------------------- sign-in

/** Who the session cookie stands for (GET /web/me), then the app; no session: the sign-in form. */
async function boot({ silent = true } = {}) {
  api.fresh(); // a new session: nothing remembered from the one before
  const error = $("#sign-in-error");
  try {
    state.me = await api.get("/web/me");
    const choices = await api.get("/web/scopes");
    state.scopes = choices.scopes;
    state.reps = new Map(choices.reps.map((rep) => [rep.rep_id, rep]));
  } catch (failure) {
    state.me = null;
    if (!silent || failure.status !== 401) {
      error.textContent = failure.status === 401 ? t("Not signed in: {reason}", { reason: failure.message }) : failure.message;
    }
    showSignIn();
    return;
  }
  error.textContent = "";
  fmt.setZone(state.me.tz);
  state.plans = null;
  showApp();
}

/** The form's submit, by script: the same POST /web/sign-in the form makes without one. */
async function signIn(secret) {
  const error = $("#sign-in-error");
  error.textContent = "";
  try {
    await api.signIn(secret);
  } catch (failure) {
    error.textContent = failure.message;
    showSignIn();
    return;
  }
  $("#token-input").value = "";
  await boot({ silent: false });
}

async function signOut() {
  state.me = null;
  state.generation += 1;
  await api.signOut();
  window.history.replaceState(null, "", "/");
  $("#token-input").value = "";
  showSignIn();
}

function showSignIn() {
  document.documentElement.removeAttribute("data-session");
  $("#app").hidden = true;
  $("#sign-out").hidden = true;
  $("#whoami").textContent = "";
  $("#sign-in").hidden = false;
  // Not emptied: a person may have typed (or the form already carried) a token before this ran.
  if (document.activeElement === document.body) $("#token-input").focus();
}

function whoLine(me) {
  if (me.role === "rep") return t("Signed in as rep {rep}", { rep: repLabel(me.rep_id) });
  if (me.role === "manager") return t("Signed in as the manager of team {team}", { team: me.team_id });
  return t("Signed in as {role}", { role: t(me.role) });
}

function showApp() {
  $("#sign-in").hidden = true;
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  $("#whoami").textContent = whoLine(state.me);
  $("#tab-replay").hidden = !can("replays.run");
  $("#tab-payouts").hidden = state.me.role === "rep";
  $("#tz-note").textContent = t("Every time, shown or entered, is in the ledger's time zone: {zone}. Money is in {currency}.", {
    zone: fmt.zoneLabel(), currency: state.me.currency });
  for (const label of document.querySelectorAll(".tz-label")) label.textContent = `(${fmt.zoneShort()})`;
  fill($("#f-scope"), state.scopes.map((s) => h("option", { value: s.scope }, s.label)));
  fill($("#f-rep"), [...state.reps.values()].map((rep) =>
    h("option", { value: rep.rep_id }, `${rep.name} (${rep.rep_id})${rep.offboarded ? ` — ${t("left")}` : ""}`)));
  readHash();
  applyDefaults();
  writeHash(true);
  render();
}

// ---------------------------------------------------------------- the filters and the address

function readHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [view, query] = raw.split("?");
  state.view = VIEWS.includes(view) ? view : "overview";
  const params = new URLSearchParams(query || "");
  for (const name of FILTERS) state.filters[name] = params.get(name) || "";
  if (!clock.PRESETS.includes(state.filters.preset)) state.filters.preset = "";
}

function applyDefaults() {
  const f = state.filters;
  // The page opens on "this quarter, so far": the period, and no as_of (the API cuts it at now).
  if (!f.period && !f.preset) f.preset = "this_quarter";
  if (f.preset) f.period = clock.presetPeriod(f.preset);
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.setAttribute("aria-pressed", String(button.dataset.preset === f.preset));
  }
  if (!state.scopes.some((s) => s.scope === f.scope)) f.scope = state.scopes.length ? state.scopes[0].scope : "";
  if (!f.rep) f.rep = state.me.rep_id || (state.reps.size ? state.reps.keys().next().value : "");
  if (state.view === "replay" && !can("replays.run")) state.view = "overview";
  if (state.view === "payouts" && state.me.role === "rep") state.view = "rep";
  $("#f-period").value = f.period;
  $("#f-scope").value = f.scope;
  $("#f-rep").value = state.reps.has(f.rep) ? f.rep : "";
  $("#f-as-of").value = toLocalInput(f.as_of);
  $("#f-known-at").value = toLocalInput(f.known_at);
}

function hashFor(view) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  return `#/${view}?${params}`;
}

function writeHash(replace = false) {
  const target = hashFor(state.view);
  if (window.location.hash === target) return false;
  if (replace) window.history.replaceState(null, "", target);
  else window.location.hash = target;
  return !replace;
}

function readFilters() {
  const f = state.filters;
  const typed = $("#f-period").value.trim();
  if (typed !== f.period) f.preset = "";
  f.period = typed;
  f.scope = $("#f-scope").value;
  f.rep = $("#f-rep").value;
  f.as_of = toInstant($("#f-as-of").value);
  f.known_at = toInstant($("#f-known-at").value);
}

function apply() {
  if (!$("#filters").reportValidity()) return;
  readFilters();
  if (!writeHash()) render();
}

function updateTabs() {
  for (const view of VIEWS) {
    const tab = $(`#tab-${view}`);
    tab.href = hashFor(view);
    if (view === state.view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
    $(`#view-${view}`).hidden = view !== state.view;
  }
}

const PRESET_NAMES = { this_week: N_("This week"), this_month: N_("This month"), this_quarter: N_("This quarter"),
  year_to_date: N_("Year to date"), last_quarter: N_("Last quarter") };

/** The cut-offs of every view, named: the period, as of, as known at, and the zone. */
function showCutoffs() {
  const { preset, period, as_of, known_at } = state.filters;
  const parts = [];
  if (known_at) {
    parts.push(t("as the ledger knew it at {time}: anything recorded later is left out", { time: fmt.dateTime(known_at) }));
  }
  if (as_of) parts.push(t("as of {time}: only what had happened by then", { time: fmt.dateTime(as_of) }));
  const banner = $("#cutoffs");
  banner.textContent = parts.length ? t("Looking back: {what}.", { what: parts.join(i18n.semicolon()) }) : "";
  banner.hidden = !parts.length;
  const values = { period, preset: preset ? t(PRESET_NAMES[preset]) : "",
    as_of: as_of ? t("as of {time}", { time: fmt.dateTime(as_of) }) : t("as of now (the period so far)"),
    known_at: known_at ? t("as known at {time}", { time: fmt.dateTime(known_at) }) : t("as the ledger knows it now") };
  $("#period-line").textContent = preset ? t("{period} ({preset}): {as_of}; {known_at}.", values)
    : t("{period}: {as_of}; {known_at}.", values);
}

function render() {
  if (!state.me) return;
  api.fresh();
  state.generation += 1;
  const generation = state.generation;
  updateTabs();
  showCutoffs();
  setStatus(t("Loading…"));
  const views = { overview: renderOverview, rep: renderRep, replay: renderReplay,
    payouts: (g) => payouts.render(viewContext(), g) };
  views[state.view](generation).then(
    () => { if (!stale(generation)) setStatus(t("Updated {time}", { time: fmt.time(new Date().toISOString()) })); },
    (failure) => { if (!stale(generation)) setStatus(t("Could not load: {reason}", { reason: failure.message })); },
  );
}

// ---------------------------------------------------------------- KPI cards

function targetValues(answer) {
  const source = answer && typeof answer === "object" && "targets" in answer ? answer.targets : answer;
  const values = {};
  if (Array.isArray(source)) {
    for (const target of source) if (target && target.metric) values[target.metric] = target.value;
  } else if (source && typeof source === "object") {
    for (const [metric, target] of Object.entries(source)) {
      if (target && typeof target === "object" && "value" in target) values[metric] = target.value;
    }
  }
  return values;
}

function figureValue(metric, value) {
  const raw = value === null || value === undefined ? "" : String(value);
  return h("span", { class: "figure", dataset: { raw } }, fmt.figure(metric, value));
}

function breakdown(pairs) {
  return h("dl", { class: "breakdown" }, pairs.map(([label, value, raw]) => [
    h("dt", {}, label), h("dd", { dataset: { raw: raw === null || raw === undefined ? "" : String(raw) } }, value),
  ]));
}

function card(metric, kpis, targets) {
  const value = kpis[metric];
  const offTrack = (kpis.off_track || []).includes(metric);
  let body;
  if (metric === "activities") {
    body = breakdown(Object.entries(value || {}).map(([kind, n]) => [fmt.kindLabel(kind), fmt.count(n), n]));
  } else if (metric === "sales_cycle_days") {
    body = breakdown([[t("mean"), fmt.count(value && value.mean), value && value.mean],
      [t("median"), fmt.count(value && value.median), value && value.median]]);
  } else if (metric === "followups") {
    body = breakdown(Object.entries(value || {}).map(([kind, n]) => [fmt.kindLabel(kind), fmt.count(n), n]));
  } else {
    const money = fmt.METRICS[metric] && fmt.METRICS[metric].kind === "money";
    body = h("p", { class: "value" }, money ? h("span", { class: "unit" }, fmt.currencySymbol(state.me.currency)) : null,
      figureValue(metric, value));
  }
  const progress = [];
  if (metric in targets) {
    const kind = metric === "activities" ? "count" : metric;
    progress.push(["target", t("Target"), fmt.figure(kind, targets[metric]), targets[metric]]);
  }
  if (kpis.attainment && metric in kpis.attainment) {
    progress.push(["attainment", t("Attainment"), fmt.percent(kpis.attainment[metric]), kpis.attainment[metric]]);
  }
  if (kpis.pace && metric in kpis.pace) progress.push(["pace", t("Pace"), fmt.percent(kpis.pace[metric]), kpis.pace[metric]]);
  cardIds += 1;
  const id = `card-${metric}-${cardIds}`;
  return h("article", { class: offTrack ? "card off-track" : "card", dataset: { metric }, "aria-labelledby": id },
    h("div", { class: "card-head" }, h("h4", { id }, fmt.metricLabel(metric)),
      offTrack ? h("span", { class: "badge off" }, t("Off track")) : null),
    body,
    progress.length ? h("dl", { class: "progress" }, progress.map(([what, label, text, raw]) => [
      h("dt", {}, label), h("dd", { dataset: { raw: raw === null || raw === undefined ? "" : String(raw), what } }, text),
    ])) : null);
}

async function renderKpis(cards, context, scope, generation) {
  fill(cards, note(t("Loading KPIs…")));
  context.textContent = "";
  const [kpiAnswer, targetAnswer] = await Promise.allSettled([
    api.get("/kpis", { scope, ...cutoffParams() }),
    api.get("/targets", { scope, period: state.filters.period, as_of: state.filters.as_of, known_at: state.filters.known_at }),
  ]);
  if (stale(generation)) return null;
  if (kpiAnswer.status === "rejected") {
    fill(cards, note(kpiAnswer.reason.message, "error"));
    return kpiAnswer.reason;
  }
  const answer = kpiAnswer.value;
  const targets = targetAnswer.status === "fulfilled" ? targetValues(targetAnswer.value) : {};
  context.textContent = t("{scope} · {period} · as of {as_of} · as known at {known_at}", {
    scope: scopeLabel(answer.scope), period: answer.period, as_of: fmt.dateTime(answer.as_of),
    known_at: fmt.dateTime(answer.known_at) })
    + (answer.period_status === "not_started" ? t(" · the period has not started: every figure is empty")
      : answer.period_status === "in_progress" ? t(" · in progress: pace is measured on the share of the period elapsed") : "")
    + (targetAnswer.status === "rejected" ? t(" · targets unavailable: {reason}", { reason: targetAnswer.reason.message }) : "");
  context.dataset.asOf = answer.as_of || "";
  context.dataset.knownAt = answer.known_at || "";
  const kpis = answer.kpis || {};
  const shown = CARD_METRICS.filter((m) => m in kpis);
  fill(cards, shown.map((metric) => card(metric, kpis, targets)));
  return null;
}

// ---------------------------------------------------------------- the views of views/*.js

/** What a view module (views/*.js) needs of the page: the filters, whether its answer is stale,
 * links. (Two views grew this at once: finance's pass a generation to stale(), the director's
 * ask of the one they were given.) */
function viewContext(generation) {
  return {
    state,
    filters: { ...state.filters },
    stale: (given) => stale(given === undefined ? generation : given),
    hashForRep,
    setStatus,
    markLoading,
    markReady,
    can,
    repLabel,
    scopeLabel,
    repHref: hashForRep,
    reaches: (repId) => state.reps.has(repId), // a rep this token may open (GET /web/scopes)
    hasScope: (scope) => state.scopes.some((s) => s.scope === scope),
    scopeHref: (scope) => {
      const saved = state.filters.scope;
      state.filters.scope = scope;
      const target = hashFor("overview");
      state.filters.scope = saved;
      return target;
    },
  };
}

// ---------------------------------------------------------------- overview

async function renderOverview(generation) {
  const section = $("#view-overview");
  markLoading(section);
  const scope = state.filters.scope;
  $("#kpi-title").textContent = t("KPIs: {scope}", { scope: scopeLabel(scope) });
  // On opening, the first screen (the cards, the team table and its sparklines: quick reads) is
  // asked first; the panels that weigh every rep of the scope ask once it has answered, so they do
  // not share the server with it. Once the page is on screen (a period or scope switch), every
  // panel asks at once: what counts then is the whole overview. Each is drawn as its answer arrives.
  const opening = Promise.all([
    renderKpis($("#kpi-cards"), $("#kpi-context"), scope, generation),
    renderTeam(generation, 0),
  ]);
  const first = state.overviewShown ? null : opening;
  await Promise.all([
    opening,
    renderQuadrants(generation, first),
    help.render($("#help-panel"), viewContext(generation), first),
    rollup.render($("#rollup-panel"), viewContext(generation), first),
  ]);
  if (!stale(generation)) state.overviewShown = true;
  markReady(section, generation);
}

function teamRow(row) {
  const offTrack = row.off_track || [];
  const spark = h("div", { class: "sparkline", role: "img",
    "aria-label": t("Revenue by month: {months}", {
      months: row.revenue_by_month.map((m) => `${m.period} ${fmt.money(m.revenue)}`).join(", ") }) });
  const reachable = row.reachable !== false; // a rep since moved beyond this token's reach: the team's share only
  const name = [row.name || row.rep_id, h("span", { class: "id" }, ` ${row.rep_id}`)];
  const tr = h("tr", { class: offTrack.length ? "off-track" : null,
    dataset: { rep: row.rep_id, moved: row.left ? "left" : row.joined ? "joined" : null, reachable: reachable ? null : "no" } },
    h("th", { scope: "row" }, reachable ? h("a", { href: hashForRep(row.rep_id), class: "rep-link" }, name) : name,
      " ", moveMarks(row)),
    h("td", {}, row.team_id || fmt.DASH),
    h("td", {}, row.region || fmt.DASH),
    h("td", { class: "num", dataset: { col: "revenue", raw: row.revenue } }, fmt.money(row.revenue)),
    h("td", { class: "num", dataset: { col: "attainment", raw: row.attainment.revenue ?? "" } },
      "revenue" in row.attainment ? fmt.percent(row.attainment.revenue) : fmt.DASH),
    h("td", { class: "num", dataset: { col: "pace", raw: row.pace.revenue ?? "" } },
      "revenue" in row.pace ? fmt.percent(row.pace.revenue) : fmt.DASH),
    h("td", { dataset: { col: "off-track" } }, !reachable ? t("now beyond your reach") : offTrack.length
      ? h("span", { class: "badge off" }, t("Off track: {metrics}", { metrics: offTrack.map(fmt.metricLabel).join(i18n.comma()) }))
      : t("On track")),
    h("td", {}, spark));
  return { tr, spark, months: row.revenue_by_month };
}

function hashForRep(repId) {
  const saved = state.filters.rep;
  state.filters.rep = repId;
  const target = hashFor("rep");
  state.filters.rep = saved;
  return target;
}

async function renderTeam(generation, offset) {
  const body = $("#team-table tbody");
  const more = $("#team-more");
  if (offset === 0) fill(body, h("tr", {}, h("td", { colspan: 8 }, t("Loading the team…"))));
  let answer;
  try {
    answer = await api.get("/web/team", { scope: state.filters.scope, ...cutoffParams(), offset, limit: TEAM_PAGE });
  } catch (failure) {
    if (!stale(generation)) {
      fill(body, h("tr", {}, h("td", { colspan: 8, class: "error" }, failure.message)));
      more.hidden = true;
    }
    return;
  }
  if (stale(generation)) return;
  const rows = answer.rows.map(teamRow);
  if (offset === 0) fill(body);
  if (!answer.rows.length && offset === 0) {
    fill(body, h("tr", {}, h("td", { colspan: 8 }, t("No reps in this scope and period."))));
  }
  for (const row of rows) body.append(row.tr);
  for (const row of rows) if (row.months.length) charts.sparkline(row.spark, row.months);
  $("#team-context").textContent = t("{shown} of {total} reps · sparklines: revenue by month, {first} to {last}", {
    shown: answer.rows.length + offset, total: answer.total_rows, first: answer.months[0] || "",
    last: answer.months[answer.months.length - 1] || "" });
  state.teamNext = answer.next_offset;
  more.hidden = answer.next_offset === null;
  // The file holds every rep of the scope (up to the API's most, 500), not only the rows shown.
  fill($("#team-downloads"), downloads("/web/team", { scope: state.filters.scope, ...cutoffParams(), limit: TEAM_FILE_ROWS },
    `team-${state.filters.scope.replace(":", "-")}-${state.filters.period}`));
}

async function renderQuadrants(generation, after = null) {
  const chart = $("#quadrant-chart");
  const body = $("#quadrant-table tbody");
  const context = $("#quadrant-context");
  fill(body, h("tr", {}, h("td", { colspan: 4 }, t("Loading regions…"))));
  fill($("#quadrant-downloads"));
  if (!can("kpis.quadrants")) {
    fill(body);
    context.textContent = t("Region figures span teams: they are shown to finance, auditor and admin tokens.");
    fill(chart);
    chart.hidden = true;
    $("#quadrant-table").hidden = true;
    return;
  }
  $("#quadrant-table").hidden = false;
  if (after) await after; // the first screen asked first
  if (stale(generation)) return;
  let answer;
  try {
    answer = await api.get("/kpis/quadrants", cutoffParams());
  } catch (failure) {
    if (stale(generation)) return;
    fill(body);
    context.textContent = t("Regions are not available: {reason}", { reason: failure.message });
    charts.clear(chart);
    fill(chart);
    chart.hidden = true;
    return;
  }
  if (stale(generation)) return;
  chart.hidden = false;
  const limits = answer.thresholds || {};
  context.textContent = t("{period} · thresholds: revenue {revenue}, growth {growth}", {
    period: answer.period, revenue: fmt.money(limits.revenue), growth: fmt.percent(limits.growth_rate) });
  fill(body, answer.regions.map((r) => h("tr", { dataset: { region: r.region } },
    h("th", { scope: "row" }, r.region),
    h("td", { class: "num", dataset: { raw: r.revenue ?? "" } }, fmt.money(r.revenue)),
    h("td", { class: "num", dataset: { raw: r.growth_rate ?? "" } }, fmt.percent(r.growth_rate)),
    h("td", {}, fmt.quadrantLabel(r.quadrant)))));
  chart.setAttribute("aria-label", t("Regions by revenue and growth rate: {regions}", { regions: answer.regions.map((r) =>
    `${r.region}, ${fmt.quadrantLabel(r.quadrant)}`).join("; ") }));
  charts.quadrants(chart, answer);
  fill($("#quadrant-downloads"), downloads("/kpis/quadrants", cutoffParams(), `quadrants-${answer.period}`));
}

// ---------------------------------------------------------------- a rep

async function renderRep(generation) {
  const section = $("#view-rep");
  markLoading(section);
  const repId = state.filters.rep;
  const error = $("#rep-error");
  error.textContent = "";
  $("#rep-title").textContent = repId ? t("Rep: {rep}", { rep: repLabel(repId) }) : t("Rep");
  const known = state.reps.get(repId);
  $("#rep-context").textContent = known
    ? t("Team {team} · region {region} · {period}", { team: known.team_id || fmt.DASH, region: known.region || fmt.DASH,
      period: state.filters.period }) : "";
  if (!repId) {
    fill($("#rep-kpi-cards"), note(t("Pick a rep above.")));
    fill($("#payout"));
    fill($("#timeline"));
    markReady(section, generation);
    return;
  }
  const results = await Promise.all([
    renderKpis($("#rep-kpi-cards"), $("#rep-kpi-context"), `rep:${repId}`, generation),
    renderPayout(repId, generation),
    renderHistory(repId, generation),
    drill.render($("#rep-drill"), { ...viewContext(generation), rep: repId }),
  ]);
  if (stale(generation)) return;
  const refused = results.find((r) => r && (r.status === 404 || r.status === 403));
  if (refused) error.textContent = t("Not available with this token: {reason}", { reason: refused.message });
  $("#rep-body").hidden = Boolean(refused);
  markReady(section, generation);
}

function valueText(value) {
  if (value === null || value === undefined) return fmt.DASH;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function eventSummary(data) {
  return Object.entries(data || {}).filter(([key]) => key !== "rules")
    .map(([key, value]) => `${key}: ${valueText(value)}`).join(" · ");
}

function renderPayout(repId, generation) {
  return why.loadWhy($("#payout"), {
    currency: state.me.currency, repId, period: state.filters.period, knownAt: state.filters.known_at,
    canDispute: state.me.role === "rep" && state.me.rep_id === repId,
  }, () => stale(generation));
}

function timelineEntry(entry) {
  const d = entry.data || {};
  const when = h("time", { datetime: entry.occurred_at }, fmt.date(entry.occurred_at));
  const kind = h("span", { class: `kind kind-${entry.kind}` }, fmt.kindLabel(entry.kind));
  let content;
  if (entry.kind === "evaluation") {
    const deltas = entry.process_delta || {};
    content = [
      h("p", {}, t("Evaluation of {period} by {evaluator}: result {score}", { period: d.period, evaluator: d.evaluator_id,
        score: d.result_score }),
        entry.result_delta !== null && entry.result_delta !== undefined ? ` (${fmt.change(entry.result_delta)})` : ""),
      h("ul", { class: "scores" }, Object.entries(d.process_scores || {}).map(([name, score]) =>
        h("li", {}, `${name}: ${score}`, name in deltas ? ` (${fmt.change(deltas[name])})` : ""))),
      d.summary ? h("p", { class: "quote" }, d.summary) : null,
      d.swot ? h("dl", { class: "swot" }, Object.entries(d.swot).map(([key, items]) =>
        [h("dt", {}, key), h("dd", {}, (items || []).join("; ") || fmt.DASH)])) : null,
    ];
  } else if (entry.kind === "feedback") {
    content = [h("p", {}, t("{kind} from {author}", { kind: fmt.kindLabel(d.kind || "feedback"), author: d.author_id })),
      h("p", { class: "quote" }, d.text)];
  } else if (entry.kind === "improvement_plan") {
    content = [h("p", {}, t("Improvement plan, review by {date}", { date: fmt.date(d.review_by) })),
      h("p", {}, t("Goals: {goals}", { goals: (d.goals || []).join("; ") })),
      h("p", {}, t("Trainings: {trainings}", { trainings: (d.trainings || []).join("; ") }))];
  } else if (entry.kind === "training") {
    content = [h("p", {}, t("Completed training: {training}", { training: d.training }))];
  } else {
    content = [h("p", {}, eventSummary(d))];
  }
  return h("li", { class: `entry entry-${entry.kind}`, dataset: { position: entry.position } },
    h("div", { class: "meta" }, when, kind), h("div", { class: "body" }, content));
}

async function renderHistory(repId, generation) {
  const list = $("#timeline");
  const chart = $("#process-chart");
  fill(list, h("li", {}, t("Loading the history…")));
  let answer;
  try {
    answer = await api.get(`/reps/${enc(repId)}/history`, { known_at: state.filters.known_at });
  } catch (failure) {
    if (!stale(generation)) {
      fill(list, h("li", { class: "error" }, failure.message));
      charts.clear(chart);
    }
    return failure;
  }
  if (stale(generation)) return null;
  const entries = Array.isArray(answer) ? answer : (answer.timeline || answer.history || answer.entries || []);
  charts.processScores(chart, entries.filter((e) => e.kind === "evaluation"));
  fill(list, entries.length ? entries.map(timelineEntry) : h("li", {}, t("Nothing recorded yet.")));
  return null;
}

// ---------------------------------------------------------------- replay (finance, admin, auditor)

async function loadPlans() {
  if (state.plans) return state.plans;
  const page = await api.get("/events", { type: "IncentivePlanPublished", limit: 1000 });
  state.plans = page.events.map((e) => ({ plan_id: e.data.plan_id, version: e.data.version,
    effective_from: e.data.effective_from, rules: e.data.rules }));
  return state.plans;
}

async function renderReplay(generation) {
  const section = $("#view-replay");
  markLoading(section);
  if (!$("#r-period").value) $("#r-period").value = state.filters.period;
  if (!$("#r-known-at").value) $("#r-known-at").value = toLocalInput(state.filters.known_at);
  const select = $("#r-plan");
  try {
    const plans = await loadPlans();
    if (stale(generation)) return;
    if (!select.options.length) {
      fill(select, plans.map((p, i) => h("option", { value: String(i) },
        t("{plan} version {version} (from {from})", { plan: p.plan_id, version: p.version, from: p.effective_from }))));
      if (plans.length) select.value = String(plans.length - 1);
    }
  } catch (failure) {
    if (!stale(generation)) $("#replay-error").textContent = t("Plan versions unavailable: {reason}", { reason: failure.message });
  }
  markReady(section, generation);
}

function draftFromSelected() {
  const area = $("#r-rules");
  const plan = state.plans && state.plans[$("#r-plan").value];
  if (!area.value.trim() && plan) area.value = JSON.stringify(plan.rules, null, 2);
}

async function runReplay(event) {
  event.preventDefault();
  const error = $("#replay-error");
  error.textContent = "";
  const form = $("#replay-form");
  if (!form.reportValidity()) return;
  const kind = form.querySelector("input[name=plan-kind]:checked").value;
  const body = { period: $("#r-period").value.trim() };
  if (kind === "version") {
    const plan = state.plans && state.plans[$("#r-plan").value];
    if (!plan) {
      error.textContent = t("Pick a published plan version, or paste a draft.");
      return;
    }
    body.plan = { plan_id: plan.plan_id, version: plan.version };
  } else {
    try {
      body.plan = { rules: JSON.parse($("#r-rules").value) };
    } catch (failure) {
      error.textContent = t("The draft is not valid JSON: {reason}", { reason: failure.message });
      return;
    }
  }
  const knownAt = toInstant($("#r-known-at").value);
  if (knownAt) body.known_at = knownAt;
  const section = $("#view-replay");
  section.dataset.state = "loading";
  const tbody = $("#diff-table tbody");
  fill(tbody, h("tr", {}, h("td", { colspan: 6 }, t("Replaying…"))));
  $("#r-run").disabled = true;
  try {
    const answer = await api.post("/replays", body);
    replays.renderResults(answer, body, viewContext());
  } catch (failure) {
    error.textContent = failure.message;
    replays.clear();
  } finally {
    $("#r-run").disabled = false;
    section.dataset.state = "ready";
  }
}

// ---------------------------------------------------------------- wiring

function start() {
  $("#sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const secret = $("#token-input").value.trim();
    if (secret) signIn(secret);
  });
  $("#sign-out").addEventListener("submit", (event) => {
    event.preventDefault();
    signOut();
  });
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => {
      state.filters.preset = button.dataset.preset;
      state.filters.period = clock.presetPeriod(button.dataset.preset);
      $("#f-period").value = state.filters.period;
      if (!writeHash()) { applyDefaults(); render(); }
    });
  }
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  for (const id of ["#f-scope", "#f-rep"]) $(id).addEventListener("change", apply);
  $("#f-now").addEventListener("click", () => {
    $("#f-as-of").value = "";
    $("#f-known-at").value = "";
    apply();
  });
  $("#team-off-only").addEventListener("change", (event) => {
    $("#team-table").classList.toggle("only-off-track", event.target.checked);
  });
  $("#team-more").addEventListener("click", () => {
    if (state.teamNext !== null) renderTeam(state.generation, state.teamNext);
  });
  $("#replay-form").addEventListener("submit", runReplay);
  $("#r-plan").addEventListener("change", () => { $("#r-rules").value = ""; });
  for (const radio of document.querySelectorAll("input[name=plan-kind]")) {
    radio.addEventListener("change", () => { if (radio.value === "draft" && radio.checked) draftFromSelected(); });
  }
  window.addEventListener("perfledger:unauthorized", (event) => {
    if (!state.me) return;
    signOut().then(() => { $("#sign-in-error").textContent = t("Signed out: {reason}", { reason: event.detail }); });
  });
  window.addEventListener("hashchange", () => {
    if (!state.me) return;
    readHash();
    applyDefaults();
    render();
  });
  const switcher = $("#locale-switch");
  switcher.addEventListener("change", async () => {
    await i18n.use(switcher.value, { save: true });
    if (state.me) showApp();
  });
  // After a refused form sign-in the server shows the reason; the address goes back to "/".
  if (new URLSearchParams(window.location.search).has("sign-in")) window.history.replaceState(null, "", "/");
  i18n.use(i18n.preferred()).finally(() => {
    switcher.value = i18n.locale();
    boot();
  });
}

start();
