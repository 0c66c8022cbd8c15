// What the director's and the manager's views share: downloads of a table (CSV, .xlsx) from the
// API's own `?format=` (plain links: the session cookie authenticates them), plural texts, and the marks of a rep who moved. Text always goes in as
// text (dom.js), never as markup.

import { h } from "../dom.js";
import * as fmt from "../format.js";
import { locale, t } from "../i18n.js";

/** The query string of a read, without empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  return search.toString();
}

/** The text for `count`, in its plural form for the page's language: one of two msgids. */
export function plural(count, one, other, values = {}) {
  const chosen = new Intl.PluralRules(locale()).select(count) === "one" ? one : other;
  return t(chosen, { count, ...values });
}

/** "Download: CSV · Excel" links for a read of the API (`path` and its parameters). */
export function downloads(path, params, stem) {
  const link = (format, label) => h("a", {
    class: "download", href: `${path}?${query({ ...params, format })}`, download: `${stem}.${format}`,
    dataset: { format },
  }, label); // a plain GET: the session cookie goes with it
  return h("p", { class: "downloads" }, t("Download:"), " ", link("csv", "CSV"), " · ", link("xlsx", t("Excel (.xlsx)")));
}

/** "joined from T-2 on 2026-02-15", "moved to T-West-2 on 2026-07-01" (a team table's marks). */
export function moveMarks(row) {
  const marks = [];
  if (row.joined) {
    marks.push(h("span", { class: "badge moved", dataset: { mark: "joined" } }, t("joined from {team} on {date}", {
      team: row.joined.team_id || row.joined.region || fmt.DASH, date: fmt.date(row.joined.on) })));
  }
  if (row.left) {
    marks.push(h("span", { class: "badge moved", dataset: { mark: "left" } }, t("moved to {team} on {date}", {
      team: row.left.team_id || row.left.region || fmt.DASH, date: fmt.date(row.left.on) })));
  }
  return marks;
}

/** A table cell of a figure, with the API's own text kept in data-raw. */
export function cell(col, value, text) {
  return h("td", { class: "num", dataset: { col, raw: value === null || value === undefined ? "" : String(value) } }, text);
}

export const money = (col, value) => cell(col, value, fmt.money(value));
export const rate = (col, value) => cell(col, value, fmt.percent(value));
