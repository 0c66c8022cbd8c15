// The page's language: zh-CN or en. Texts are the English msgids of the server's gettext catalog,
// served as JSON (/web/messages/{locale}.json, from api/locale/…/perfledger.po), so the page and
// the API speak from one catalog; numbers and dates use the browser's Intl with the same locale.

export const LOCALES = { "zh-CN": "中文", en: "English" };
const KEY = "perfledger.locale";
let current = "en";
let messages = {};

/** The locale asked for: the switch's saved choice, else the browser's languages, else zh-CN. */
export function preferred() {
  const saved = localStorage.getItem(KEY);
  if (saved && saved in LOCALES) return saved;
  for (const name of navigator.languages || [navigator.language]) {
    const lower = String(name).toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "zh-CN";
}

export function locale() {
  return current;
}

/** Loads the catalog of `name` (English needs none: its texts are the msgids). */
export async function use(name, { save = false } = {}) {
  const chosen = name in LOCALES ? name : "zh-CN";
  let loaded = {};
  if (chosen !== "en") {
    const response = await fetch(`/web/messages/${chosen}.json`, { headers: { Accept: "application/json" } });
    loaded = response.ok ? await response.json() : {};
  }
  current = chosen;
  messages = loaded;
  if (save) localStorage.setItem(KEY, chosen);
  document.documentElement.lang = chosen;
  translatePage();
}

/** Marks a text for the catalog where it is defined; t() translates it where it is shown. */
export const N_ = (text) => text;

/** t("Signed in as {role}", {role}) → the text in the page's language, its fields filled. */
export function t(text, values = {}) {
  const translated = messages[text] || text;
  return translated.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Every element marked data-i18n (its English kept in data-i18n-source) and data-i18n-attrs. */
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    if (!element.dataset.i18nSource) element.dataset.i18nSource = element.textContent.replace(/\s+/g, " ").trim();
    element.textContent = t(element.dataset.i18nSource);
  }
  for (const element of root.querySelectorAll("[data-i18n-attrs]")) {
    for (const name of element.dataset.i18nAttrs.split(/\s+/)) {
      const source = `i18nSource${name.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
      if (!(source in element.dataset)) element.dataset[source] = element.getAttribute(name) || "";
      element.setAttribute(name, t(element.dataset[source]));
    }
  }
}

/** The separators of a list in the page's language: "、" and "；" in Chinese. */
export const comma = () => (current === "zh-CN" ? "、" : ", ");
export const semicolon = () => (current === "zh-CN" ? "；" : "; ");
