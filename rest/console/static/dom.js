// Building the page: every value from the service goes in as text, never as markup.
export function h(tag, attrs = {}, ...children) {
  const element = window.document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export const when = (text) => (text ? new Date(text).toLocaleString() : "");
export const number = (n, atLeast) => `${Number(n).toLocaleString()}${atLeast ? "+" : ""}`;
export const link = (hash, ...text) => h("a", { href: hash }, ...text);

export function table(caption, headers, rows, empty = "none") {
  // a wide table scrolls on its own on a narrow screen; the keyboard can reach it to scroll it
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption }, h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length }, empty)))));
}

export function button(label, action, attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick: action }, label);
}

/** How long ago, from milliseconds. */
export function age(ms) {
  if (ms === undefined || ms === null) return "not registered";
  return ms < 1000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s ago`;
}

