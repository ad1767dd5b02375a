// The REST door, as the console calls it: JSON in and out, the browser's own Basic credentials.
export const ROOT = location.pathname.replace(/\/console(\/.*)?$/, "");
const REST = `${ROOT}/rest`;

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

async function send(url, init) {
  const response = await fetch(url, { credentials: "same-origin", ...init });
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch { /* not JSON: the status says it */ }
    throw new ApiError(response.status, body.type || `HTTP ${response.status}`, body.message || response.statusText);
  }
  return response;
}

/** One REST call. `body` goes as JSON, `text` as text/plain; the answer comes back parsed. */
export async function api(method, path, { params, body, text, form, headers, raw, signal } = {}) {
  const url = address(REST + path, params);
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  } else if (form !== undefined) {
    init.body = form;  // multipart/form-data, its boundary set by the browser
  } else if (text !== undefined) {
    init.body = text;
    init.headers["Content-Type"] = "text/plain";
  }
  const response = await send(url, init);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function address(path, params) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of [].concat(value)) url.searchParams.append(name, one);
  }
  return url;
}

/** A read of the console's own, beyond the REST door: `me`, `outline`, `heartbeats`. */
export async function own(name, params) {
  return (await send(address(`${ROOT}/console/api/${name}`, params), { headers: { Accept: "application/json" } })).json();
}

/** The exact number of processes a query tree matches (POST /processes/count). */
export async function count(tree) {
  return (await api("POST", "/processes/count", { body: { query: tree } })).count;
}

/** One page of findExecutions: its snapshots and the bounded total. */
export async function find(body, params = {}) {
  const response = await api("POST", "/processes/query", { body, params, raw: true });
  return listed(await response.json(), response);
}

/** The snapshots of a list answer, and its total (`gte`: at least that many). */
function listed(answer, response) {
  const items = answer?.processExecutionSnapshots?.processExecutionSnapshot || [];
  return {
    items: [].concat(items),
    total: Number(response.headers.get("X-Total-Count") || items.length),
    atLeast: response.headers.get("X-Total-Count-Relation") === "gte",
  };
}
