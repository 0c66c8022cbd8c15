// Building the page's elements. Text always goes in as text (never as HTML), so nothing the
// API returns can inject markup.

/** h("td", {class: "num", dataset: {raw: "1.00"}}, "1.00", child, …) */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const $ = (selector) => document.querySelector(selector);

/** A message in place of a section's content (loading, empty, or the API's refusal). */
export function note(text, kind = "note") {
  return h("p", { class: kind, role: kind === "error" ? "alert" : null }, text);
}
