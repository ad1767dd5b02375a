// The cluster and diagnostics: every node's state, the engine online or offline, this node in or out of
// the cluster, the sanity checks and the telemetry. All of it is an admin's.
import { api, own } from "./api.js";
import { h, table, button, number, age } from "./dom.js";

export async function cluster(ctx) {
  if (!ctx.me.admin) return ctx.show(h("h1", {}, "Cluster"), h("p", {}, "The cluster's operations are an administrator's."));
  const [nodes, self, beats] = await Promise.all([api("GET", "/nodeStates"), api("GET", "/nodeState"),
    own("heartbeats")]);
  const rows = [].concat(nodes.nodeStates?.nodeState || []).map((node) => h("tr", {},
    h("td", {}, node.engineId), h("td", {}, node.online ? "online" : "offline"), h("td", {}, node.cluster?.master ? "master" : ""),
    h("td", {}, node.cluster?.connectionStatus || ""), h("td", { class: "n" }, number(node.runningProcesses || 0)),
    h("td", { class: "n" }, age(beats[node.engineId])),
    h("td", {}, button(node.online ? `Set ${node.engineId} offline` : `Set ${node.engineId} online`, () => ctx.act(
      `${node.engineId} set ${node.online ? "offline" : "online"}`, () => api("POST", "/setOnline", {
        params: { online: String(!node.online), param: "specified", node: node.engineId } }))))));
  const connected = self.nodeState.cluster?.connectionStatus === "connected";
  const report = h("div", { id: "sanity", "aria-live": "polite" });
  const telemetry = h("div", { id: "telemetry" });
  ctx.show(h("h1", {}, "Cluster"),
    table("Nodes", ["Node", "Engine", "Master", "Cluster", "Running", "Last heartbeat", "Action"], rows),
    h("section", { class: "card", "aria-labelledby": "engine" }, h("h2", { id: "engine" }, "Engine"),
      button("Set every node online", () => ctx.act("Every node set online", () => api("POST", "/setOnline", { params: { online: "true" } }))),
      button("Set every node offline", () => window.confirm("Set every node offline? They run no process until set online.")
        && ctx.act("Every node set offline", () => api("POST", "/setOnline", { params: { online: "false" } }))),
      button(connected ? `Disconnect ${self.nodeState.engineId} from the cluster` : `Connect ${self.nodeState.engineId} to the cluster`,
        () => ctx.act(connected ? "Disconnected" : "Connected", () => api("POST", connected ? "/cluster/disconnect" : "/cluster/connect")))),
    h("section", { class: "card", "aria-labelledby": "checks" }, h("h2", { id: "checks" }, "Sanity checks"),
      button("Run the sanity checks", async () => {
        const answer = (await api("GET", "/diagnostic/sanity")).sanityReport;
        const problems = [].concat(answer.problems?.problem || []);
        report.replaceChildren(problems.length ? table("Problems", ["Check", "Execution", "What"], problems.map((p) =>
          h("tr", {}, h("td", {}, p.check || ""), h("td", {}, p.executionId || ""), h("td", {}, p.message || p.description || ""))))
          : h("p", {}, `No problem found by ${[].concat(answer.checks?.check || []).length} checks.`));
      }), report),
    h("section", { class: "card", "aria-labelledby": "telemetry-head" }, h("h2", { id: "telemetry-head" }, "Telemetry"),
      button("Read the telemetry", async () => {
        const items = [].concat((await api("GET", "/diagnostic/telemetry")).telemetryData?.items?.item || []);
        telemetry.replaceChildren(table("Telemetry", ["Type", "Item", "Values"], items.map((item) => h("tr", {},
          h("td", {}, item.type), h("td", {}, item.id || ""),
          h("td", {}, [].concat(item.value || []).map((v) => `${v.name}=${v.value}`).join(", "))))));
      }), telemetry));
}
