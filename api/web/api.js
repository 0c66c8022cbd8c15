// The page's only way to the API: fetch with the session cookie (HttpOnly, set by
// POST /web/sign-in: the page's script never holds the token), asking for answers (errors too)
// in the page's language. Every request carries X-Requested-With, which the API requires of a
// write authenticated by the cookie (a cross-site form cannot send it).

import { locale, t } from "./i18n.js";

const OWN = { "X-Requested-With": "perfledger" };

/** A refusal or failure, with the API's own words (every problem of a 422). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describe(body, status) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join("; ");
  }
  if (typeof detail === "string") return detail;
  return t("the API answered {status}", { status });
}

async function exchange(method, url, headers, body) {
  try {
    return await fetch(url, { method, headers: { ...OWN, "Accept-Language": locale(), ...headers }, body,
      credentials: "same-origin", redirect: "manual" });
  } catch (error) {
    throw new ApiError(0, t("the API cannot be reached ({reason})", { reason: error.message }));
  }
}

async function parsed(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

async function send(method, path, { params, body } = {}) {
  if (method !== "GET") answers.clear(); // a write: every read after it asks the API again
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await exchange(method, url, headers, body === undefined ? undefined : JSON.stringify(body));
  const answer = await parsed(response);
  if (!response.ok) {
    const message = describe(answer, response.status);
    // A session ended (a token revoked, or expired) mid-session: the page goes back to its sign-in form.
    if (response.status === 401) window.dispatchEvent(new CustomEvent("perfledger:unauthorized", { detail: message }));
    throw new ApiError(response.status, message);
  }
  return answer;
}

// Identical reads of one rendering of a view (two panels asking the same question, e.g. the
// region quadrants and the roll-up's) share one request; each caller gets its own copy of the
// answer. app.js calls fresh() before each rendering, and any write clears them, so a new look
// or a read after a write always asks the API again.
const answers = new Map();

export function fresh() {
  answers.clear();
}

export function get(path, params) {
  const asked = Object.entries(params || {}).filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([name, v]) => [name, String(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = `${locale()} ${path} ${JSON.stringify(asked)}`;
  let shared = answers.get(key);
  if (!shared) {
    shared = send("GET", path, { params });
    answers.set(key, shared);
    shared.catch(() => { if (answers.get(key) === shared) answers.delete(key); });
  }
  return shared.then((answer) => structuredClone(answer));
}

export const post = (path, body) => send("POST", path, { body });

/** A link that downloads with the session (an export: `?format=xlsx|csv` on a read). */
export function href(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  return url.pathname + url.search;
}

/** POST /web/sign-in, as the form does without a script: the server keeps the token in the cookie. */
export async function signIn(secret) {
  const response = await exchange("POST", "/web/sign-in",
    { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
    new URLSearchParams({ token: secret }).toString());
  if (!response.ok) {
    throw new ApiError(response.status, describe(await parsed(response), response.status));
  }
}

/** POST /web/sign-out: the cookie is cleared. */
export async function signOut() {
  await exchange("POST", "/web/sign-out", {}, undefined);
}
