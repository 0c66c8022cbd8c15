// Formatting of the API's figures, and nothing else. Money and rates arrive as decimal strings
// ("1234.50", "0.2534"): they are regrouped, or have their decimal point moved, as text. No
// figure is ever parsed into a float or combined with another here (or anywhere in the page).

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

/** A count: 12 → "12", 1200 → "1,200", "2.5" (a split deal) → "2.5". */
export function count(value) {
  return money(value);
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

/** "2026-04-03T10:00:00+00:00" → "2026-04-03 10:00:00" in the ledger's zone. */
export function dateTime(iso) {
  return inZone(iso, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit" }).replace(",", "");
}

export function date(iso) {
  return inZone(iso, { year: "numeric", month: "2-digit", day: "2-digit" });
}

// ---------------------------------------------------------------- what each metric is

export const METRICS = {
  revenue: { label: "Revenue", kind: "money" },
  orders: { label: "Orders", kind: "count" },
  new_customers: { label: "New customers", kind: "count" },
  avg_order_value: { label: "Average order value", kind: "money" },
  win_rate: { label: "Win rate", kind: "rate" },
  conversion_rate: { label: "Lead conversion", kind: "rate" },
  growth_rate: { label: "Growth on previous period", kind: "rate" },
  email_reply_rate: { label: "Email reply rate", kind: "rate" },
  sales_cycle_days: { label: "Sales cycle (days)", kind: "cycle" },
  activities: { label: "Activities", kind: "activities" },
  followups: { label: "Follow-ups", kind: "followups" },
};

export function metricLabel(name) {
  return (METRICS[name] && METRICS[name].label) || name.replace(/_/g, " ");
}

/** A figure as its metric wants it shown. */
export function figure(name, value) {
  const kind = METRICS[name] ? METRICS[name].kind : "count";
  if (kind === "money") return money(value);
  if (kind === "rate") return percent(value);
  return count(value);
}

export const QUADRANTS = {
  "high-high": "High revenue, high growth",
  "high-low": "High revenue, low growth",
  "low-high": "Low revenue, high growth",
  "low-low": "Low revenue, low growth",
};

export function quadrantLabel(name) {
  return QUADRANTS[name] || (name ? String(name) : "no quadrant (no growth rate)");
}
