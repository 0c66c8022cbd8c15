// The page's only way to the API: fetch with the bearer token kept in this tab's sessionStorage,
// asking for answers (errors too) in the page's language.

import { locale, t } from "./i18n.js";

const KEY = "perfledger.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

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

async function send(method, path, { params, body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json", "Accept-Language": locale() };
  const secret = token.get();
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, t("the API cannot be reached ({reason})", { reason: error.message }));
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const message = describe(parsed, response.status);
    // A token revoked (or expired) mid-session: the page goes back to its sign-in form.
    if (response.status === 401 && secret) window.dispatchEvent(new CustomEvent("perfledger:unauthorized", { detail: message }));
    throw new ApiError(response.status, message);
  }
  return parsed;
}

export const get = (path, params) => send("GET", path, { params });
export const post = (path, body) => send("POST", path, { body });
