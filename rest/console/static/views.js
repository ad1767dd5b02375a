// The overview and the process list.
import { api, count, find, own } from "./api.js";
import { STATES, ENDED, HEALTH, SORTABLE, TIMES, document as queryDocument, fromParams, toParams, tree, and, equals,
  param } from "./query.js";
import { h, table, button, when, number, link, age } from "./dom.js";

// -- overview ------------------------------------------------------------------------------------------
export async function overview(ctx) {
  const dayAgo = new Date(Date.now() - 86400000).toISOString();
  const [byState, byHealth, nodes, beats, level, services, failures, lastDay] = await Promise.all([
    Promise.all(STATES.map((state) => bounded(equals("state", state)))),
    Promise.all(HEALTH.slice(1).map((health) => bounded(equals("health", health)))),
    ctx.me.admin ? api("GET", "/nodeStates") : null,  // the node and engine operations are an admin's
    ctx.me.admin ? own("heartbeats") : null,
    ctx.me.admin ? api("GET", "/maintenance") : null,
    ctx.me.admin ? api("GET", "/services") : null,
    find({ query: { ...equals("state", "FAILED"), sort: { criterion: [{ field: "finishedAt", ascending: "false" }] },
      limit: "10" } }),
    api("GET", "/history/statistics", { params: { from: dayAgo } }),
  ]);
  const exact = (ctx.view.exact ||= {});
  const cell = (field, value, total) => {
    // past the count limit the bounded total says "at least"; the exact count follows when it is done,
    // and the last one known stands in meanwhile
    const key = `${field}=${value}`;
    const shown = h("td", { class: "n", "data-count": key }, total.atLeast && key in exact ? number(exact[key])
      : number(total.n, total.atLeast));
    if (total.atLeast) {
      count(equals(field, value)).then((n) => {
        exact[key] = n;
        if (ctx.live()) shown.textContent = number(n);
      }, () => {});
    }
    return shown;
  };
  const stateRows = STATES.map((state, i) => h("tr", {},
    h("th", { scope: "row" }, link(`#/processes?state=${state}`, state)), cell("state", state, byState[i])));
  const healthRows = HEALTH.slice(1).map((health, i) => h("tr", {},
    h("th", { scope: "row" }, link(`#/processes?health=${health}`, health)), cell("health", health, byHealth[i])));
  const nodeRows = [].concat(nodes?.nodeStates?.nodeState || []).map((node) => h("tr", {},
    h("td", {}, node.engineId), h("td", {}, node.online ? "online" : "offline"),
    h("td", {}, node.cluster?.master ? "master" : ""), h("td", {}, node.cluster?.connectionStatus || ""),
    h("td", { class: "n" }, number(node.runningProcesses || 0)), h("td", { class: "n" }, age(beats?.[node.engineId]))));
  const failureRows = failures.items.map((s) => h("tr", {},
    h("td", {}, link(`#/process/${s.executionId}`, s.executionId)), h("td", {}, s.definitionInfo?.uri || ""),
    h("td", {}, when(s.finishedAt))));
  ctx.show(h("h1", {}, "Overview"),
    h("div", { class: "grid" },
      table("Processes by state", ["State", "Processes"], stateRows),
      table("Processes by health (not OK)", ["Health", "Processes"], healthRows),
      level ? maintenance(ctx, level.maintenanceLevel) : null),
    nodes ? table("Nodes", ["Node", "Engine", "Master", "Cluster", "Running", "Last heartbeat"], nodeRows) : null,
    services ? serviceTable(ctx, services) : null,
    table("Latest failures", ["Execution", "Definition", "Failed at"], failureRows, "no failed process"),
    lastDayTable(lastDay));
  ctx.every(5000, () => overview(ctx));
}

function lastDayTable(answer) {
  const ms = (n) => (n === undefined || n === null ? "" : `${Number(n).toLocaleString()} ms`);
  const rows = [].concat(answer?.historyStatistics?.processStatistics || []).map((p) => h("tr", {},
    h("td", {}, p.processUri), h("td", { class: "n" }, number(p.count)),
    h("td", { class: "n" }, `${(100 * (p.failureRate || 0)).toFixed(1)} %`), h("td", { class: "n" }, ms(p.durationP50Ms)),
    h("td", { class: "n" }, ms(p.durationP95Ms)), h("td", { class: "n" }, ms(p.durationMaxMs))));
  return table("The last day: processes ended, from the history", ["Definition", "Ended", "Failed", "Duration p50",
    "p95", "max"], rows, "no process ended in the last day (or history.level is none)");
}

function maintenance(ctx, level) {
  const input = h("input", { id: "level", name: "level", value: level.id, required: true });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    await ctx.act(`Maintenance level set to ${input.value}`, () => api("PUT", "/maintenance", { text: input.value }));
  } }, h("h2", {}, "Maintenance level"), h("p", { id: "current-level" }, `${level.id}: ${level.label || ""} (${level.online})`),
  ctx.me.admin ? [h("label", { for: "level" }, "Level ID"), input, h("button", { type: "submit" }, "Change level")] : null);
  return form;
}

function serviceTable(ctx, services) {
  const rows = [].concat(services.serviceConfigInfos?.service || []).map((service) => h("tr", {},
    h("td", {}, service.id), h("td", {}, service.processUri), h("td", {}, service.state),
    h("td", {}, service.state === "running" ? "" : button(`Start ${service.id}`, () =>
      ctx.act(`Service ${service.id} started`, () => api("POST", `/services/${encodeURIComponent(service.id)}/start`))))));
  return table("Services", ["Service", "Definition", "State", "Action"], rows);
}

/** How many processes match, exact up to the door's count limit, else at least that many: as cheap as
 * the index allows, where an exact count reads every match (a third of a second per 700,000). */
async function bounded(treeNode) {
  const { total, atLeast } = await find({ query: { ...treeNode, limit: "0" } });
  return { n: total, atLeast };
}

// -- the process list ----------------------------------------------------------------------------------
export async function processes(ctx, params) {
  const filter = fromParams(params);
  const [found, definitions] = await Promise.all([find(queryDocument(filter)),
    ctx.me.admin ? api("GET", "/processDefinitions") : null]);
  const go = (changed) => { ctx.navigate(`#/processes?${toParams({ ...filter, ...changed })}`); };
  const uris = definitions ? [].concat(definitions.processDefinitions?.processDefinition || []).map((d) => d.uri) : null;
  const form = filterForm(filter, uris, go);
  const rows = found.items.map((s) => h("tr", {},
    h("td", {}, link(`#/process/${s.executionId}`, s.executionId)), h("td", {}, s.externalId || ""),
    h("td", {}, s.definitionInfo?.uri || ""), h("td", {}, s.state), h("td", {}, s.health?.state || ""),
    h("td", {}, s.owner || ""), h("td", {}, when(s.createdAt)), h("td", {}, when(s.finishedAt))));
  const last = filter.offset + found.items.length;
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    button("Previous page", () => go({ offset: Math.max(0, filter.offset - filter.limit) }), { disabled: filter.offset === 0 }),
    h("span", { id: "page-info", "aria-live": "polite" },
      found.items.length ? `${filter.offset + 1}–${last} of ${number(found.total, found.atLeast)}` : `0 of ${number(found.total, found.atLeast)}`),
    button("Next page", () => go({ offset: filter.offset + filter.limit }),
      { disabled: !(found.atLeast || last < found.total) }));
  ctx.show(h("h1", {}, "Processes"), form,
    table("Matching processes", ["Execution", "External ID", "Definition", "State", "Health", "Owner", "Created", "Finished"],
      rows, "no process matches"), pager, bulkActions(ctx, filter));
}

function filterForm(filter, uris, go) {
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const select = (id, options, value) => h("select", { id, name: id },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const stateBoxes = h("fieldset", { class: "states" }, h("legend", {}, "States"), STATES.map((state) =>
    h("label", {}, h("input", { type: "checkbox", name: "state", value: state, checked: filter.state.includes(state) }), state)),
  h("label", {}, h("input", { type: "checkbox", name: "notState", id: "notState", checked: filter.notState }), "all but these"));
  const form = h("form", { class: "filter", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    go({ processUri: data.get("processUri").trim(), health: data.get("health"), owner: data.get("owner").trim(),
      externalId: data.get("externalId").trim(), time: data.get("time"), from: data.get("from"), to: data.get("to"),
      state: data.getAll("state"), notState: data.get("notState") === "on", sort: data.get("sort"),
      asc: data.get("direction") === "asc", limit: Number(data.get("limit")), offset: 0 });
  } },
  // any processUri, also of instances whose definition file is gone; the repository's are suggested
  field("processUri", "Definition", [h("input", { id: "processUri", name: "processUri", value: filter.processUri,
    list: uris ? "known-uris" : undefined }), uris ? h("datalist", { id: "known-uris" }, uris.map((u) => h("option", { value: u }))) : null]),
  stateBoxes,
  field("health", "Health", select("health", [["", "any"], ...HEALTH.map((v) => [v, v])], filter.health)),
  field("owner", "Owner", h("input", { id: "owner", name: "owner", value: filter.owner })),
  field("externalId", "External ID (% for any run)", h("input", { id: "externalId", name: "externalId", value: filter.externalId })),
  field("time", "Time of", select("time", TIMES.map((t) => [t, { createdAt: "creation", startedAt: "start",
    finishedAt: "end" }[t]]), filter.time)),
  field("from", "After", h("input", { id: "from", name: "from", type: "datetime-local", value: filter.from })),
  field("to", "Before", h("input", { id: "to", name: "to", type: "datetime-local", value: filter.to })),
  field("sort", "Sort by", select("sort", SORTABLE.map((v) => [v, v]), filter.sort)),
  field("direction", "Direction", select("direction", [["desc", "descending"], ["asc", "ascending"]], filter.asc ? "asc" : "desc")),
  field("limit", "Page size", select("limit", [...new Set([10, 50, 100, 500, filter.limit])].sort((a, b) => a - b)
    .map((n) => [String(n), String(n)]), String(filter.limit))),
  h("button", { type: "submit" }, "Find"));
  return form;
}

const ONE_BY_ONE = 1000;  // what the console changes with a call a process, at most at once

function bulkActions(ctx, filter) {
  if (!ctx.me.admin) return null;  // bulk calls reach processes of every owner: an admin's
  const conditions = tree(filter);
  const also = (node) => and([conditions, node].filter((n) => Object.keys(n).length));
  const lost = also(equals("health", "LOST"));
  const ended = also(param("state", "in", ENDED));
  const live = also({ not: param("state", "in", ENDED) });
  // how many the action would reach, once the user has confirmed that many (null: nothing to do)
  const counted = async (what, node, most = Infinity) => {
    const n = await count(node);
    const refusal = n === 0 ? `No process to ${what}.`
      : n > most ? `${n.toLocaleString()} processes match: narrow the filter to ${most} or fewer.` : null;
    if (refusal) {
      ctx.notify(refusal);
      return null;
    }
    return window.confirm(`${what[0].toUpperCase()}${what.slice(1)} ${n} process${n === 1 ? "" : "es"}?`) ? n : null;
  };
  const confirmed = async (what, node, call) => (await counted(what, node)) && ctx.act(`${what}: done`, call);
  // the API changes these a process at a time: one call each, the refusals counted and the first told
  const oneByOne = async (what, node, call) => {
    const n = await counted(what, node, ONE_BY_ONE);
    if (!n) return null;
    let done = 0;
    const refused = [];
    return ctx.act(() => `${what}: ${done} done${refused.length ? `, ${refused.length} refused (${refused[0]})` : ""}`, async () => {
      const { items } = await find({ query: { ...node, limit: String(n) } });
      for (const s of items) {
        try {
          await call(`/processes/${encodeURIComponent(s.executionId)}`);
          done += 1;
        } catch (error) {
          refused.push(`${error.type}: ${error.message}`);
        }
      }
    });
  };
  const by = `by ${ctx.me.name} from the console`;
  return h("section", { class: "card", "aria-labelledby": "bulk" }, h("h2", { id: "bulk" }, "Bulk actions on the matching processes"),
    button("Recover the LOST ones", () => confirmed("recover", lost,
      () => api("POST", "/recover", { body: { query: lost } }))),
    button("Dispose the ended ones", () => confirmed("dispose", ended,
      () => api("POST", "/processes/dispose", { body: { query: ended } }))),
    button("Set the live ones offline", () => oneByOne("set offline", live,
      (path) => api("PUT", `${path}/online`, { text: "false" }))),
    button("Set the live ones online", () => oneByOne("set online", live,
      (path) => api("PUT", `${path}/online`, { text: "true" }))),
    button("Terminate the live ones", () => oneByOne("terminate", live,
      (path) => api("POST", `${path}/terminate`, { params: { message: `terminated ${by}`, timeout: "0", peek: "true" } }))));
}

