// Figures for reading, in the page's language (Intl, which formats a decimal string exactly as
// written: no float on the way): money to the cent with its currency, rates and attainment as
// percentages to two decimals, dates short. And an order on decimal strings (sorting by a figure
// compares its digits: nothing is added, nothing is parsed into a float).

import { DASH, zoneName } from "../format.js";
import { locale } from "../i18n.js";

const DECIMAL = /^-?\d+(\.\d+)?$/;

function isDecimal(value) {
  return value !== null && value !== undefined && DECIMAL.test(String(value));
}

function formatter(options) {
  return new Intl.NumberFormat(locale(), { signDisplay: "negative", ...options });
}

/** "48000" → "¥48,000.00" (zh-CN) / "CN¥48,000.00" (en); "3848.027350" → "¥3,848.03". */
export function moneyIn(value, currency) {
  if (!isDecimal(value)) return value === null || value === undefined ? DASH : String(value);
  try {
    return formatter({ style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(String(value));
  } catch {
    return amount(value);
  }
}

/** "3848.027350" → "3,848.03": a figure in money's units, to the cent, without the currency. */
export function amount(value) {
  if (!isDecimal(value)) return value === null || value === undefined ? DASH : String(value);
  return formatter({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(String(value));
}

/** A count or a plain figure: "12" → "12", "2.5" → "2.5", "1200" → "1,200" (at most 4 decimals). */
export function plain(value) {
  if (!isDecimal(value)) return value === null || value === undefined ? DASH : String(value);
  return formatter({ maximumFractionDigits: 4 }).format(String(value));
}

/** A rate or an attainment: "0.085" → "8.50%", "1.3088243028846…" → "130.88%". */
export function pct(value) {
  if (!isDecimal(value)) return value === null || value === undefined ? DASH : String(value);
  return formatter({ style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(String(value));
}

/** A factor: "1.2" → "×1.2". */
export function factor(value) {
  return isDecimal(value) ? `×${plain(value)}` : DASH;
}

/** "2026-03-03T10:00:00+00:00" → "Mar 3, 2026" (en) / "2026年3月3日" (zh-CN), in the ledger's zone. */
export function shortDate(iso) {
  if (!iso) return DASH;
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { timeZone: zoneName(), year: "numeric", month: "short", day: "numeric" })
    .format(moment);
}

function split(value) {
  const text = String(value);
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  return { negative, whole: whole.replace(/^0+(?=\d)/, ""), fraction: fraction.replace(/0+$/, "") };
}

function compareMagnitude(a, b) {
  if (a.whole.length !== b.whole.length) return a.whole.length < b.whole.length ? -1 : 1;
  if (a.whole !== b.whole) return a.whole < b.whole ? -1 : 1;
  const width = a.fraction.length > b.fraction.length ? a.fraction.length : b.fraction.length;
  const x = a.fraction.padEnd(width, "0");
  const y = b.fraction.padEnd(width, "0");
  return x === y ? 0 : x < y ? -1 : 1;
}

function isZeroParts(p) {
  return /^0*$/.test(p.whole) && p.fraction === "";
}

/** The order of two decimal strings (−1, 0, 1), read from their digits; null/unparsable first. */
export function compareDecimal(a, b) {
  const okA = isDecimal(a);
  const okB = isDecimal(b);
  if (!okA || !okB) return okA === okB ? 0 : okA ? 1 : -1;
  const x = split(a);
  const y = split(b);
  const signX = isZeroParts(x) ? 0 : x.negative ? -1 : 1;
  const signY = isZeroParts(y) ? 0 : y.negative ? -1 : 1;
  if (signX !== signY) return signX < signY ? -1 : 1;
  if (signX === 0) return 0;
  return signX * compareMagnitude(x, y);
}

/** The order of two decimal strings by size, whatever their sign: "-900.00" is bigger than "800.00". */
export function compareSize(a, b) {
  const strip = (v) => (isDecimal(v) ? String(v).replace(/^-/, "") : v);
  return compareDecimal(strip(a), strip(b));
}
