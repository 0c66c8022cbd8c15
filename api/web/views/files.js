// Files the API writes (exports, printable statements), asked for with the page's session (its
// HttpOnly cookie): a GET is a plain link; a POST (a replay's export) is fetched and saved.
// Errors come back as the API's words.

import { locale, t } from "../i18n.js";

/** "/payouts?period=2026-Q2&format=csv" from a path and its parameters (empty ones left out). */
export function address(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  return url.pathname + url.search;
}

function nameFrom(disposition, fallback) {
  const full = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
  if (full) {
    try {
      return decodeURIComponent(full[1]);
    } catch { /* the plain name then */ }
  }
  const plain = /filename="([^"]+)"/i.exec(disposition || "");
  return plain ? plain[1] : fallback;
}

async function refusal(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join("; ");
  } catch { /* not JSON */ }
  return t("the API answered {status}", { status: response.status });
}

/** Fetches a file with the page's session: {blob, name}; throws Error(the API's words). */
export async function fetchFile(url, { method = "GET", body, language } = {}) {
  const headers = { "X-Requested-With": "perfledger", "Accept-Language": language || locale() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new Error(t("the API cannot be reached ({reason})", { reason: error.message }));
  }
  if (!response.ok) throw new Error(await refusal(response));
  const fallback = url.split("?")[0].split("/").pop() || "download";
  return { blob: await response.blob(), name: nameFrom(response.headers.get("Content-Disposition"), fallback) };
}

/** Saves a file as the browser's download. */
export function save(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** A link to a file of a GET: saved as a download, or (`opens`: a printable page) shown in a new tab. */
export function fileLink(url, text, { opens = false, attributes = {} } = {}) {
  const link = document.createElement("a");
  link.href = url;
  link.textContent = text;
  for (const [name, value] of Object.entries(attributes)) link.setAttribute(name, value);
  if (opens) {
    link.target = "_blank";
    link.rel = "noopener";
  } else {
    link.setAttribute("download", "");
  }
  return link;
}
