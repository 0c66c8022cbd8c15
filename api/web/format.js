// Formatting of the API's figures, and nothing else (in the page's language: i18n.js). Money and rates arrive as decimal strings
// ("1234.50", "0.2534"): they are regrouped, or have their decimal point moved, as text. No
// figure is ever parsed into a float or combined with another here (or anywhere in the page).

import { locale, N_, t } from "./i18n.js";

export const DASH = "—";

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function parts(value) {
  const match = DECIMAL.exec(String(value));
  return match ? { sign: match[1], whole: match[2], fraction: match[3] || "" } : null;
}

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "1234567.50" → "1,234,567.50"; null → "—". */
export function money(value) {
  if (value === null || value === undefined) return DASH;
  const p = parts(value);
  if (!p) return String(value);
  return p.sign + group(p.whole) + (p.fraction ? "." + p.fraction : "");
}

/** A count: 12 → "12", 1200 → "1,200", "2.5" (a split deal) → "2.5", "5.0000" (a count expected
 * by now) → "5": no trailing zeros, which would read as a precision counts do not have. */
export function count(value) {
  if (value === null || value === undefined) return DASH;
  const p = parts(value);
  if (!p) return String(value);
  const fraction = p.fraction.replace(/0+$/, "");
  const zero = /^0*$/.test(p.whole + fraction);
  return (zero ? "" : p.sign) + group(p.whole) + (fraction ? "." + fraction : "");
}

/** A rate as a percentage, by moving the decimal point two places: "0.2534" → "25.34%". */
export function percent(value) {
  if (value === null || value === undefined) return DASH;
  const p = parts(value);
  if (!p) return String(value);
  const fraction = p.fraction.padEnd(2, "0");
  const whole = (p.whole + fraction.slice(0, 2)).replace(/^0+(?=\d)/, "");
  const rest = fraction.slice(2);
  const zero = /^0*$/.test(whole + rest);
  return (zero ? "" : p.sign) + group(whole) + (rest ? "." + rest : "") + "%";
}

/** A score change as given by the API, with its sign: 5 → "+5", -3 → "−3", 0 → "±0". */
export function change(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  if (text.startsWith("-")) return "−" + text.slice(1);
  return /^0*(\.0*)?$/.test(text) ? "±0" : "+" + text;
}

/** Whether a decimal string is negative (a sign test on the text, not arithmetic). */
export function isNegative(value) {
  return value !== null && value !== undefined && String(value).startsWith("-");
}

/** Whether a decimal string is zero ("0.00", "-0.00"), read from its digits. */
export function isZero(value) {
  return value !== null && value !== undefined && /^-?0*(\.0*)?$/.test(String(value));
}

let zone = "UTC";

/** The ledger's time zone (from /web/me): times are shown in it. */
export function setZone(name) {
  zone = name || "UTC";
}

export function zoneName() {
  return zone;
}

function inZone(iso, options) {
  if (!iso) return DASH;
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", ...options }).format(moment);
}

/** The zone's short name in the page's language: "UTC", "GMT+8". */
export function zoneShort(moment = new Date()) {
  const parts = new Intl.DateTimeFormat(locale(), { timeZone: zone, timeZoneName: "short" }).formatToParts(moment);
  return (parts.find((p) => p.type === "timeZoneName") || { value: zone }).value;
}

/** The zone as a reader knows it: "Asia/Shanghai (China Standard Time)", "Asia/Shanghai（中国标准时间）". */
export function zoneLabel(moment = new Date()) {
  const parts = new Intl.DateTimeFormat(locale(), { timeZone: zone, timeZoneName: "long" }).formatToParts(moment);
  const name = (parts.find((p) => p.type === "timeZoneName") || { value: "" }).value;
  if (!name || name === zone) return zone;
  return locale() === "zh-CN" ? `${zone}（${name}）` : `${zone} (${name})`;
}

/** "2026-04-03T10:00:00+00:00" → "2026-04-03 10:00:00 UTC": in the ledger's zone, labelled. */
export function dateTime(iso) {
  const shown = inZone(iso, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit" }).replace(",", "");
  const moment = new Date(iso);
  return !iso || Number.isNaN(moment.getTime()) ? shown : `${shown} ${zoneShort(moment)}`;
}

/** The time of day of an instant in the ledger's zone, labelled: "11:22:59 GMT+8". */
export function time(iso) {
  const shown = inZone(iso, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const moment = new Date(iso);
  return !iso || Number.isNaN(moment.getTime()) ? shown : `${shown} ${zoneShort(moment)}`;
}

export function date(iso) {
  return inZone(iso, { year: "numeric", month: "2-digit", day: "2-digit" });
}

// ---------------------------------------------------------------- what each metric is

export const METRICS = {
  revenue: { label: N_("Revenue"), kind: "money" },
  orders: { label: N_("Orders"), kind: "count" },
  new_customers: { label: N_("New customers"), kind: "count" },
  avg_order_value: { label: N_("Average order value"), kind: "money" },
  win_rate: { label: N_("Win rate"), kind: "rate" },
  conversion_rate: { label: N_("Lead conversion"), kind: "rate" },
  growth_rate: { label: N_("Growth on previous period"), kind: "rate" },
  email_reply_rate: { label: N_("Email reply rate"), kind: "rate" },
  sales_cycle_days: { label: N_("Sales cycle (days)"), kind: "cycle" },
  activities: { label: N_("Activities"), kind: "activities" },
  followups: { label: N_("Follow-ups"), kind: "followups" },
};

export function metricLabel(name) {
  return METRICS[name] ? t(METRICS[name].label) : name.replace(/_/g, " ");
}

/** A figure as its metric wants it shown. */
export function figure(name, value) {
  const kind = METRICS[name] ? METRICS[name].kind : "count";
  if (kind === "money") return money(value);
  if (kind === "rate") return percent(value);
  return count(value);
}

export const QUADRANTS = {
  "high-high": N_("High revenue, high growth"),
  "high-low": N_("High revenue, low growth"),
  "low-high": N_("Low revenue, high growth"),
  "low-low": N_("Low revenue, low growth"),
};

export function quadrantLabel(name) {
  if (QUADRANTS[name]) return t(QUADRANTS[name]);
  return name ? String(name) : t("no quadrant (no growth rate)");
}

// The words the API answers with as keys: activity kinds, follow-up states, timeline entries.
const KINDS = {
  call: N_("call"), visit: N_("visit"), email: N_("email"), meeting: N_("meeting"),
  demo: N_("demo"), other: N_("other"), due: N_("due"), done: N_("done"), overdue: N_("overdue"),
  evaluation: N_("evaluation"), feedback: N_("feedback"), improvement_plan: N_("improvement plan"),
  training: N_("training"), recognition: N_("recognition"), improvement: N_("improvement"),
  coaching: N_("coaching"),
};

export function kindLabel(name) {
  return KINDS[name] ? t(KINDS[name]) : String(name).replace(/_/g, " ");
}

/** The currency's sign as the page's locale writes it: ¥ (zh-CN), CN¥ (en). */
export function currencySymbol(currency) {
  try {
    const parts = new Intl.NumberFormat(locale(), { style: "currency", currency }).formatToParts(0);
    return (parts.find((p) => p.type === "currency") || { value: currency }).value;
  } catch {
    return currency;
  }
}

/** A chart axis' figure: 12.3万, 1.2亿 (zh-CN); 123K, 1.2B (en). Coordinates only, never a shown amount. */
export function compact(number) {
  return new Intl.NumberFormat(locale(), { notation: "compact", maximumFractionDigits: 1 }).format(number);
}
