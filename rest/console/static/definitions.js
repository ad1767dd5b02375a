// Definitions: the repository's list, one definition's diagram and its start form (with the debugger's
// breakpoints planned on the diagram), and the validation of an uploaded file.
import { api, own } from "./api.js";
import { h, table, button, when, link } from "./dom.js";
import { diagram } from "./diagram.js";

export async function definitions(ctx) {
  const listing = ctx.me.admin ? await api("GET", "/processDefinitions") : null;  // listing is an admin's
  const rows = [].concat(listing?.processDefinitions?.processDefinition || []).map((d) => h("tr", {},
    h("td", {}, link(`#/definition/${encodeURIComponent(d.uri)}`, d.uri)), h("td", {}, d.name || "(does not load)"),
    h("td", {}, when(d.changedAt))));
  const open = h("input", { id: "open-uri", name: "uri", required: true, placeholder: "approval.ipd" });
  ctx.show(h("h1", {}, "Definitions"),
    listing ? table("Definitions in the repository", ["Definition", "Name", "Changed"], rows, "the repository is empty")
      : h("form", { class: "card", onsubmit: (event) => {
        event.preventDefault();
        ctx.navigate(`#/definition/${encodeURIComponent(open.value.trim())}`);
      } }, h("label", { for: "open-uri" }, "Definition path"), open, h("button", { type: "submit" }, "Open")),
    validator(ctx));
}

function validator(ctx) {
  const file = h("input", { id: "validate-file", name: "process", type: "file", accept: ".ipd,.xml,application/xml", required: true });
  const result = h("div", { id: "validation", "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    const body = new FormData();
    body.append("process", file.files[0]);
    result.replaceChildren();
    try {
      const answer = (await api("POST", "/validate", { form: body })).processValidationResult;
      const parameters = [].concat(answer.parameters?.parameter || []);
      result.replaceChildren(h("p", { class: "valid" }, `Valid: ${answer.name || "unnamed"}, `,
        `${[].concat(answer.elements?.element || []).length} elements, parameters: `,
        parameters.length ? parameters.map((p) => `${p.name} (${p.type}${p.required ? ", required" : ""})`).join(", ") : "none"));
    } catch (error) {
      result.replaceChildren(h("p", { class: "invalid", role: "alert" }, `${error.type}: ${error.message}`));
    }
  } }, h("h2", {}, "Validate a definition file"), h("label", { for: "validate-file" }, "File"), file,
  h("button", { type: "submit" }, "Validate"), result);
  return form;
}

export async function definition(ctx, uri) {
  const outline = await own("outline", { processUri: uri });
  const planned = new Set();  // breakpoints to set before the start
  const redraw = () => box.replaceChildren(diagram(outline, { breakpoints: [...planned], onPick: (element) => {
    if (planned.has(element.fullId)) planned.delete(element.fullId);
    else planned.add(element.fullId);
    redraw();
    box.querySelector(`[data-id="${CSS.escape(element.fullId)}"]`)?.focus();
  } }));
  const box = h("div", { class: "diagram-box" });
  redraw();
  ctx.show(h("h1", {}, `Definition ${outline.name || outline.uri}`),
    h("p", {}, outline.uri),
    startForm(ctx, outline, planned),
    h("section", { "aria-labelledby": "diagram" }, h("h2", { id: "diagram" }, `Diagram of ${outline.uri}`),
      h("p", { class: "legend" }, "Click an element, or focus it and press Enter, to plan a breakpoint for a start in debug mode."),
      box));
}

function startForm(ctx, outline, planned) {
  const inputs = outline.parameters.map((p) => [p, h("input", { id: `param-${p.name}`, name: p.name, required: p.required })]);
  const externalId = h("input", { id: "start-external-id", name: "externalId" });
  const debug = h("input", { id: "start-debug", name: "debug", type: "checkbox" });
  return h("form", { class: "card", onsubmit: (event) => {
    event.preventDefault();
    ctx.act("Started", () => start(outline, inputs, externalId.value.trim(), debug.checked, planned),
      (executionId) => `#/process/${executionId}`);
  } }, h("h2", {}, "Start an instance"),
  inputs.map(([p, input]) => h("div", { class: "field" },
    h("label", { for: input.id }, `${p.name} (${p.type}${p.required ? ", required" : ""})`), input)),
  h("div", { class: "field" }, h("label", { for: externalId.id }, "External ID"), externalId),
  h("label", {}, debug, " Debug mode (the pipeline shows while it runs)"),
  h("p", { class: "legend" }, "Breakpoints planned on the diagram are set before the start: the instance pauses there."),
  h("button", { type: "submit" }, "Start instance"));
}

/** Instantiate, set the planned breakpoints, then start with the parameters given: a new instance's ID. */
async function start(outline, inputs, externalId, debug, planned) {
  const fields = new FormData();
  fields.append("processUri", outline.uri);
  fields.append("autoDispose", "never");  // the console shows the instance after its end
  if (externalId) fields.append("externalId", externalId);
  if (debug) fields.append("debug", "true");
  const created = (await api("POST", "/processes", { form: fields })).processExecutionSnapshot;
  const path = `/processes/${encodeURIComponent(created.executionId)}`;
  for (const id of planned) await api("POST", `${path}/breakpoints/${encodeURIComponent(id)}`, { params: { timeout: "0" } });
  const entry = inputs.filter(([, input]) => input.value !== "")
    .map(([p, input]) => ({ name: p.name, type: p.type, value: [input.value] }));
  await api("POST", `${path}/start`, { params: { timeout: "0", peek: "true" }, body: { dataStore: { entry } } });
  return created.executionId;
}
