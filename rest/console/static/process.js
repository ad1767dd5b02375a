// One process: its facts, diagram, pipeline and problem, followed live; its actions and the debugger.
import { api, own } from "./api.js";
import { STATES, ENDED } from "./query.js";
import { h, table, button, when, link } from "./dom.js";
import { diagram, flatten } from "./diagram.js";
import { attributes, constants, permissions, pipeline } from "./data.js";

// -- the page ----------------------------------------------------------------------------------------------
export async function process(ctx, executionId) {
  const path = `/processes/${encodeURIComponent(executionId)}`;
  const snapshot = (await api("GET", path, { params: { peek: "true", inspectPipeline: "true" } })).processExecutionSnapshot;
  await draw(ctx, path, snapshot);
  follow(ctx, path, snapshot.stateChangeIndex);
}

async function draw(ctx, path, snapshot) {
  // the standard form as the door's XML gives it (its namespaces, IDs and content types as stored)
  const standard = ctx.view.standard ? api("GET", path, { params: { peek: "true", inspectPipeline: "true" },
    headers: { Accept: "application/xml", "X-Infinica-Datastore-Mode": "standard" } }) : null;
  const [attributesAnswer, constantsAnswer, outline, standardAnswer] = await Promise.all([api("GET", `${path}/attributes`),
    api("GET", `${path}/constants`), own("outline", { executionId: snapshot.executionId }), standard]);
  ctx.redraw = () => draw(ctx, path, snapshot).catch(ctx.failed);
  if (ctx.live()) {
    render(ctx, path, snapshot, { attributes: attributesAnswer, constants: constantsAnswer, outline,
      standard: standardAnswer ? pipelineXml(standardAnswer) : null });
  }
}

async function follow(ctx, path, index) {
  // Long polls for the next state change, and draws the page again with it: no refresh button.
  while (ctx.live()) {
    let next;
    try {
      next = (await api("GET", `${path}/wait`, { params: { stateChangeIndex: index, states: STATES.join(","),
        timeout: "20000", peek: "true", inspectPipeline: "true" }, signal: ctx.signal })).processExecutionSnapshot;
    } catch (error) {
      if (!ctx.live()) return;
      if (error.status === 404) return ctx.notify("This process has been disposed.");
      await new Promise((resolve) => setTimeout(resolve, 2000));
      continue;
    }
    if (ctx.live() && next.stateChangeIndex > index) {
      index = next.stateChangeIndex;
      await draw(ctx, path, next);
    }
  }
}

/** The pipeline element of a snapshot in XML, as text. */
function pipelineXml(snapshotXml) {
  const parsed = new DOMParser().parseFromString(snapshotXml, "application/xml");
  const pipeline = [...parsed.documentElement.children].find((child) => child.localName === "pipeline");
  return pipeline ? new XMLSerializer().serializeToString(pipeline) : "";
}

function may(ctx, snapshot, privilege) {
  if (ctx.me.admin || snapshot.owner === ctx.me.name) return true;
  const names = new Set([ctx.me.name, ...ctx.me.roles]);
  return aces(snapshot).some((ace) => names.has(ace.name) && [].concat(ace.privilege || [])
    .some((p) => p === privilege || p === "admin"));
}

const aces = (snapshot) => [].concat(snapshot.permissions?.ace || []);

function render(ctx, path, s, { attributes: attributesAnswer, constants: constantsAnswer, outline, standard }) {
  const facts = [["Execution ID", s.executionId], ["External ID", s.externalId], ["Definition",
    `${s.definitionInfo?.uri || ""} (version ${s.definitionInfo?.version ?? "?"})`], ["State", s.state],
  ["Health", s.health?.state], ["Online", s.online ? "yes" : "no"], ["Current element", s.currentElement],
  ["Owner", s.owner], ["Node", s.processEngineId], ["Created", when(s.createdAt)], ["Started", when(s.startedAt)],
  ["Finished", when(s.finishedAt)], ["State changes", s.stateChangeIndex], ["Auto dispose", s.autoDispose],
  ["Debug", s.debug ? "yes" : "no"]].filter(([, v]) => v !== undefined && v !== null && v !== "");
  ctx.show(h("h1", {}, `Process ${s.definitionInfo?.name || ""}`),
    h("dl", { class: "facts", id: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, String(v))])),
    actions(ctx, path, s, outline),
    problem(s),
    diagramSection(ctx, path, s, outline),
    pipeline(ctx, s.pipeline, standard),
    constants(ctx, path, constantsAnswer, may(ctx, s, "write")),
    attributes(ctx, path, attributesAnswer, may(ctx, s, "write")),
    permissions(ctx, path, s, may(ctx, s, "admin")));
}

function problem(s) {
  const chain = [];
  for (let report = s.exceptionReport; report; report = report.cause) chain.push(report);
  const health = s.health?.state !== "OK" ? s.health : null;
  if (!chain.length && !s.message && !health) return null;
  return h("section", { class: "card problem", "aria-labelledby": "problem" }, h("h2", { id: "problem" }, "Problem"),
    s.message ? h("p", { id: "message" }, s.message) : null,
    health ? h("p", {}, `Health ${health.state}${health.message ? `: ${health.message}` : ""}`) : null,
    chain.length ? h("ol", { class: "causes", id: "exception" }, chain.map((report, i) => h("li", {},
      h("strong", {}, report.type), `: ${report.message}`, report.source ? ` (at ${report.source})` : "",
      i ? " (cause)" : ""))) : null);
}

function diagramSection(ctx, path, s, outline) {
  const editable = may(ctx, s, "write") && !ENDED.includes(s.state);
  const toggle = (element) => {
    const set = outline.breakpoints.includes(element.fullId);
    ctx.act(`Breakpoint ${set ? "removed from" : "set on"} ${element.fullId}`, () => api(set ? "DELETE" : "POST",
      `${path}/breakpoints/${encodeURIComponent(element.fullId)}`, { params: { timeout: "0", peek: "true" } }));
  };
  return h("section", { "aria-labelledby": "diagram" }, h("h2", { id: "diagram" }, `Diagram of ${outline.uri}`),
    h("p", { class: "legend" }, "Current element: amber; passed: green; breakpoints: red.",
      editable ? " Click an element, or focus it and press Enter, to set or remove a breakpoint." : ""),
    h("div", { class: "diagram-box" }, diagram(outline, { current: s.currentElement, passed: outline.passed,
      breakpoints: outline.breakpoints, onPick: editable ? toggle : null })),
    outline.watchers.length ? table("Open watchers", ["Watcher", "Group", "Owner", "Action"], outline.watchers.map((w) =>
      h("tr", {}, h("td", {}, w.id), h("td", {}, w.groupId || ""), h("td", {}, w.owner),
        h("td", {}, button(`Delete watcher ${w.id.slice(0, 8)}`, () => ctx.act("Watcher deleted",
          () => api("DELETE", `/watchers/${encodeURIComponent(w.id)}`))))))) : null,
    outline.children.length ? table("Called processes", ["Execution", "Definition", "State"], outline.children.map((c) =>
      h("tr", {}, h("td", {}, link(`#/process/${c.executionId}`, c.executionId)),
        h("td", {}, link(`#/definition/${encodeURIComponent(c.processUri)}`, c.processUri)), h("td", {}, c.state)))) : null);
}

/** Step: pause at the next element the process enters, whichever it is. Breakpoints go on every element
 * but this one for the one continue, and come off again after: the user's own stay as they were. */
async function step(path, s, outline) {
  const at = (id) => `${path}/breakpoints/${encodeURIComponent(id)}`;
  const temporary = flatten(outline.body).map((e) => e.fullId)
    .filter((id) => id !== s.currentElement && !outline.breakpoints.includes(id));
  for (const id of temporary) await api("POST", at(id), { params: { timeout: "0", peek: "true" } });
  try {
    await api("POST", `${path}/start`, { params: { timeout: "10000", peek: "true",
      states: "PAUSED,WAITING,FINISHED,FAILED,TERMINATED" } });
  } finally {
    for (const id of temporary) await api("DELETE", at(id), { params: { timeout: "0", peek: "true" } });
  }
}

function actions(ctx, path, s, outline) {
  const ended = ENDED.includes(s.state);
  const run = (label, call) => ctx.act(label, call);
  const list = [];
  if (may(ctx, s, "execute") && ["CREATED", "READY", "WAITING", "PAUSED"].includes(s.state)) {
    list.push(button(s.state === "CREATED" ? "Start" : "Continue", () => run(s.state === "CREATED" ? "Started" : "Continued",
      () => api("POST", `${path}/start`, { params: { timeout: "0", peek: "true" } }))));
  }
  if (may(ctx, s, "execute") && may(ctx, s, "write") && s.state === "PAUSED") {
    list.push(button("Step", () => run("Stepped to the next element", () => step(path, s, outline))));
  }
  if (may(ctx, s, "execute") && !ended) {
    const message = h("input", { id: "terminate-message", name: "message", placeholder: "why" });
    const kind = h("select", { id: "terminate-kind", name: "kind" }, h("option", { value: "fail" }, "fail"),
      h("option", { value: "kill" }, "kill"), h("option", { value: "terminate" }, "terminate"));
    list.push(h("span", { class: "inline" }, h("label", { for: "terminate-kind" }, "Terminate as"), kind,
      h("label", { for: "terminate-message" }, "Message"), message,
      button("Terminate", () => window.confirm("Terminate this process?") && run("Terminated",
        () => api("POST", `${path}/terminate`, { params: { kill: kind.value === "kill" ? "true" : undefined,
          fail: kind.value === "fail" ? "true" : undefined, message: message.value, peek: "true", timeout: "0" } })))));
  }
  if (ctx.me.admin && s.health?.state === "LOST") list.push(button("Recover", () => run("Recovered", () => api("POST", `${path}/recover`))));
  if (may(ctx, s, "write")) {
    list.push(button(s.online ? "Set offline" : "Set online", () => run(s.online ? "Set offline" : "Set online",
      () => api("PUT", `${path}/online`, { text: s.online ? "false" : "true" }))));
    if (!ended) list.push(button("Reload definition", () => run("Reloaded", () => api("POST", `${path}/reload`))));
  }
  if (may(ctx, s, "dispose")) {
    list.push(button("Dispose", () => window.confirm("Dispose this process? Its state is deleted.")
      && ctx.act("Disposed", () => api("DELETE", path), "#/processes")));
  }
  return list.length ? h("section", { class: "card actions", "aria-labelledby": "actions" },
    h("h2", { id: "actions" }, "Actions"), list) : null;
}
