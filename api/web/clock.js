// The ledger's calendar: what "now" is in the ledger's time zone (PERFLEDGER_TZ, from /web/me),
// the period presets (this week … last quarter), and wall times typed in that zone turned into
// instants and back. Calendar arithmetic on dates only: no figure of the API is touched here.

import { zoneName } from "./format.js";

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** An instant's wall clock in the ledger's zone: { year, month (1–12), day, hour, minute, second }. */
export function wall(moment) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zoneName(), hourCycle: "h23", year: "numeric",
    month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(moment);
  const value = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: value("year"), month: value("month"), day: value("day"), hour: value("hour"),
    minute: value("minute"), second: value("second") };
}

/** The ISO week (year, week) a date falls in: the week of its Thursday. */
function isoWeek(year, month, day) {
  const date = new Date(Date.UTC(year, month - 1, day));
  date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7) + 3);
  const weekYear = date.getUTCFullYear();
  const first = new Date(Date.UTC(weekYear, 0, 4));
  first.setUTCDate(first.getUTCDate() - ((first.getUTCDay() + 6) % 7) + 3);
  return [weekYear, 1 + Math.round((date - first) / (7 * 86400000))];
}

export const PRESETS = ["this_week", "this_month", "this_quarter", "year_to_date", "last_quarter"];

/** The period a preset names, today in the ledger's zone. Each is a period the API knows
 * (YYYY-Www, YYYY-MM, YYYY-Qn, YYYY); the page sends no as_of, so the API cuts each at the
 * earlier of its end and now: "so far" (a year so far is year to date). */
export function presetPeriod(name, now = new Date()) {
  const { year, month, day } = wall(now);
  const quarter = Math.floor((month - 1) / 3) + 1;
  if (name === "this_week") {
    const [weekYear, week] = isoWeek(year, month, day);
    return `${weekYear}-W${pad(week)}`;
  }
  if (name === "this_month") return `${year}-${pad(month)}`;
  if (name === "year_to_date") return `${year}`;
  if (name === "last_quarter") return quarter === 1 ? `${year - 1}-Q4` : `${year}-Q${quarter - 1}`;
  return `${year}-Q${quarter}`;
}

function offsetAt(ms) {
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  const w = wall(new Date(whole));
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/** A datetime-local value, read as wall time in the ledger's zone → an ISO 8601 instant ("" if none). */
export function toInstant(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!m) return "";
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] || 0));
  const guess = asUtc - offsetAt(asUtc);
  return new Date(asUtc - offsetAt(guess)).toISOString();
}

/** An ISO 8601 instant → the datetime-local value showing it in the ledger's zone. */
export function toLocalInput(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "";
  const w = wall(moment);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}
