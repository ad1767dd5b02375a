// The processes filter: the URL's parameters, the form's fields and the query language (CONTRACT §5).
export const STATES = ["CREATED", "READY", "RUNNING", "WAITING", "PAUSED", "FINISHED", "FAILED", "TERMINATED"];
export const ENDED = ["FINISHED", "FAILED", "TERMINATED"];
export const HEALTH = ["OK", "LOST", "BROKEN", "DEFINITION_CONFLICT", "CORRUPT", "KILLED"];
export const SORTABLE = ["createdAt", "startedAt", "finishedAt", "state", "processUri", "owner", "externalId",
  "health", "executionId"];
export const TIMES = ["createdAt", "startedAt", "finishedAt"];
const TEXT = ["processUri", "health", "owner", "externalId", "time", "from", "to", "sort"];

export function defaults() {
  return { processUri: "", state: [], notState: false, health: "", owner: "", externalId: "", time: "createdAt",
    from: "", to: "", sort: "createdAt", asc: false, offset: 0, limit: 50 };
}

/** The filter a URL's search parameters describe. */
export function fromParams(params) {
  const filter = defaults();
  for (const name of TEXT) if (params.has(name)) filter[name] = params.get(name);
  if (params.get("state")) filter.state = params.get("state").split(",").filter((s) => STATES.includes(s));
  filter.notState = params.get("notState") === "true";
  filter.asc = params.get("asc") === "true";
  filter.offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  filter.limit = Math.min(1000, Math.max(1, parseInt(params.get("limit") || "50", 10) || 50));
  if (!SORTABLE.includes(filter.sort)) filter.sort = "createdAt";
  if (!TIMES.includes(filter.time)) filter.time = "createdAt";
  return filter;
}

/** The URL search parameters of a filter: only what differs from the defaults. */
export function toParams(filter) {
  const params = new URLSearchParams();
  const empty = defaults();
  for (const name of TEXT) if (filter[name] && filter[name] !== empty[name]) params.set(name, filter[name]);
  if (filter.state.length) params.set("state", filter.state.join(","));
  if (filter.notState) params.set("notState", "true");
  if (filter.asc) params.set("asc", "true");
  if (filter.offset) params.set("offset", String(filter.offset));
  if (filter.limit !== empty.limit) params.set("limit", String(filter.limit));
  return params;
}

export function param(field, operation, values) {
  return { param: { field, operation, values: { value: values } } };
}

/** One field equal to one value. */
export const equals = (field, value) => param(field, "equals", [value]);

/** A local date-time from a form, as an ISO timestamp with its offset. */
function instant(local) {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? local : at.toISOString();
}

/** The query tree of a filter's conditions (no sort, no paging). */
export function tree(filter) {
  const nodes = [];
  if (filter.processUri) nodes.push(param("processUri", "equals", [filter.processUri]));
  if (filter.state.length) {
    const states = param("state", "in", filter.state);
    nodes.push(filter.notState ? { not: states } : states);
  }
  if (filter.health) nodes.push(param("health", "equals", [filter.health]));
  if (filter.owner) nodes.push(param("owner", "equals", [filter.owner]));
  if (filter.externalId) {
    nodes.push(param("externalId", filter.externalId.includes("%") ? "like" : "equals", [filter.externalId]));
  }
  if (filter.from) nodes.push(param(filter.time, "greaterThan", [instant(filter.from)]));
  if (filter.to) nodes.push(param(filter.time, "lessThan", [instant(filter.to)]));
  return and(nodes);
}

/** Sub nodes under one `and`: the JSON form groups them by kind, each kind an array. */
export function and(nodes) {
  if (nodes.length <= 1) return nodes[0] || {};
  const merged = {};
  for (const node of nodes) for (const [kind, body] of Object.entries(node)) (merged[kind] ||= []).push(body);
  return { and: merged };
}

/** The whole query document of a filter: conditions, sort and page. */
export function document(filter) {
  return { query: { ...tree(filter), sort: { criterion: [{ field: filter.sort, ascending: String(filter.asc) }] },
    offset: String(filter.offset), limit: String(filter.limit) } };
}
