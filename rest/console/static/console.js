// The console's frame: who the user is, the route in the URL's fragment, and what every view shares
// (showing itself, live refreshes that stop when the view is left, actions that report their outcome).
import { own } from "./api.js";
import { h } from "./dom.js";
import { overview, processes } from "./views.js";
import { process } from "./process.js";
import { definitions, definition } from "./definitions.js";
import { cluster } from "./cluster.js";

const main = document.getElementById("view");
const status = document.getElementById("status");
let current = null;  // the view on screen: its AbortController ends its refreshes and long polls

function say(text, kind = "info") {
  status.replaceChildren(h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text));
}

function context(me) {
  const controller = new AbortController();
  const ctx = {
    me,
    view: {},  // what the user chose on this view (the pipeline's form): kept for its path
    failed,
    redraw: () => route(),
    signal: controller.signal,
    live: () => !controller.signal.aborted,
    stop: () => controller.abort(),
    show: (...children) => {
      if (!ctx.live()) return;
      const focused = focusKey(document.activeElement);
      main.replaceChildren(...children.flat().filter(Boolean));
      if (focused) refocus(focused);  // a redraw keeps the keyboard where it was
      main.dataset.drawn = String(++drawn);  // tells a waiting reader (a test, a benchmark) the view is new
    },
    notify: (text) => say(text),
    navigate: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
    every: (ms, refresh) => {
      // a refresh draws the view again: never while the user is typing into it
      const tick = () => {
        if (!ctx.live()) return;
        if (editing()) timer = setTimeout(tick, ms);
        else refresh().catch(failed);
      };
      let timer = setTimeout(tick, ms);
      controller.signal.addEventListener("abort", () => clearTimeout(timer));
    },
    act: async (done, call, next) => {
      // `next`: where to go once done, for an action after which the view has nothing to show; its
      // live updates stop first (a long poll would answer that the process is gone)
      if (next) controller.abort();
      try {
        const result = await call();
        say(typeof done === "function" ? done() : done);
        if (next) {
          keepStatus = true;
          location.hash = typeof next === "function" ? next(result) : next;
        } else {
          route();
        }
      } catch (error) {
        failed(error);
        if (next) route();
      }
    },
  };
  return ctx;
}

/** What tells the focused control apart from the others, so the same one can take focus once redrawn. */
function focusKey(element) {
  if (!element || element === main || !main.contains(element)) return null;
  return [element.tagName, element.id, element.getAttribute("href"), element.dataset.id, element.textContent].join("|");
}

function refocus(key) {
  const candidates = main.querySelectorAll("a, button, input, select, [tabindex]");
  for (const element of candidates) {
    if (focusKey(element) === key) {
      element.focus();
      return;
    }
  }
  main.focus();  // gone (an action removed it): the view itself, not the page's top
}

function editing() {
  const active = document.activeElement;
  return main.contains(active) && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
}

function failed(error) {
  say(error.type ? `${error.type}: ${error.message}` : String(error), "error");
}

let me = null;
let keepStatus = false;
let drawn = 0;
const chosen = {};  // per view's path, what the user chose there  // an action's outcome stays on screen over the view it leads to

async function route() {
  current?.stop();
  const [path, search = ""] = (location.hash.replace(/^#/, "") || "/overview").split("?");
  const ctx = current = context(me);
  ctx.view = (chosen[path] ||= {});
  for (const link of document.querySelectorAll("header nav a")) {
    const section = path.replace(/^\/process\//, "/processes").replace(/^\/definition\//, "/definitions");
    if (section.startsWith(link.getAttribute("href").slice(1))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (path.startsWith("/process/")) await process(ctx, decodeURIComponent(path.slice("/process/".length)));
    else if (path === "/processes") await processes(ctx, new URLSearchParams(search));
    else if (path.startsWith("/definition/")) await definition(ctx, decodeURIComponent(path.slice("/definition/".length)));
    else if (path === "/definitions") await definitions(ctx);
    else if (path === "/cluster") await cluster(ctx);
    else await overview(ctx);
    if (ctx.live()) document.title = `${main.querySelector("h1")?.textContent || "Console"} · Process engine`;
  } catch (error) {
    if (ctx.live()) failed(error);
  }
}

async function start() {
  try {
    me = await own("me");
  } catch (error) {
    failed(error);
    return;
  }
  document.getElementById("user").textContent = `${me.name}${me.admin ? " (admin)" : ""}`;
  window.addEventListener("hashchange", () => {
    if (!keepStatus) status.replaceChildren();
    keepStatus = false;
    route();
  });
  route();
}

start();
