// What a process holds, on its page: the pipeline (simple or standard form; XML values indented, binary
// ones downloadable), its instance constants, attributes and permissions, edited where the user may.
import { api } from "./api.js";
import { h, table, button } from "./dom.js";

const PRIVILEGES = ["read", "write", "execute", "dispose", "admin"];
const textual = (type) => !type || type.startsWith("text/") || /[/+](xml|json)$/.test(type);

/** An XML text indented, one element a line (an element holding only text stays on its line). Only the
 * whitespace between tags changes; text with CDATA or comments is shown as it is. */
export function indented(xml) {
  if (/<!\[CDATA\[|<!--/.test(xml)) return xml;
  const tokens = xml.trim().replace(/>\s+</g, "><").split(/(<[^>]+>)/).filter((t) => t !== "");
  const lines = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i];
    const opens = token.startsWith("<") && !/^<[/?!]/.test(token) && !token.endsWith("/>");
    if (token.startsWith("</")) {
      depth = Math.max(0, depth - 1);
      lines.push("  ".repeat(depth) + token);
    } else if (opens && tokens[i + 2]?.startsWith("</") && !tokens[i + 1].startsWith("<")) {
      lines.push("  ".repeat(depth) + token + tokens[i + 1] + tokens[i + 2]);
      i += 2;
    } else {
      lines.push("  ".repeat(depth) + token.trim());
      if (opens) depth += 1;
    }
  }
  return lines.join("\n");
}

function download(name, type, base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const anchor = h("a", { href: URL.createObjectURL(new Blob([bytes], { type })), download: name });
  anchor.click();
  setTimeout(() => URL.revokeObjectURL(anchor.href), 1000);
}

function shownValue(entry, value, index) {
  if (typeof value !== "string") return h("pre", {}, JSON.stringify(value, null, 2));
  if (!textual(entry.type)) {
    const size = value.length * 0.75 - (value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0);
    return button(`Download ${entry.name}${index ? ` #${index + 1}` : ""} (${size.toLocaleString()} bytes)`,
      () => download(entry.name, entry.type, value));
  }
  return h("pre", {}, /xml$/.test(entry.type || "") ? indented(value) : value);
}

/** The pipeline in the simple form, or the standard form's XML as the door answers it, indented. */
export function pipeline(ctx, store, standard) {
  const toggle = button(ctx.view.standard ? "Show the simple form" : "Show the standard form", () => {
    ctx.view.standard = !ctx.view.standard;
    ctx.redraw();
  }, { "aria-pressed": String(Boolean(ctx.view.standard)) });
  if (ctx.view.standard) {
    return h("section", { "aria-labelledby": "pipeline" }, h("h2", { id: "pipeline" }, "Pipeline (standard form)"), toggle,
      h("pre", { class: "standard" }, indented(standard || "")));
  }
  const rows = [].concat(store?.entry || []).map((entry) => h("tr", {}, h("td", {}, entry.name), h("td", {}, entry.type || ""),
    h("td", {}, [].concat(entry.value ?? []).map((v, i) => shownValue(entry, v, i)))));
  return h("section", { "aria-labelledby": "pipeline" }, h("h2", { id: "pipeline" }, "Pipeline"), toggle,
    table("Pipeline entries", ["Name", "Type", "Values"], rows, "empty"));
}

export function constants(ctx, path, answer, writable) {
  const entries = [].concat(answer?.dataStore?.entry || answer?.entry || []);
  const name = h("input", { id: "constant-name", name: "name", required: true });
  const value = h("input", { id: "constant-value", name: "value" });
  return h("section", { "aria-labelledby": "constants" }, h("h2", { id: "constants" }, "Instance constants"),
    table("Constants of the instance", ["Name", "Type", "Values"], entries.map((entry) => h("tr", {}, h("td", {}, entry.name),
      h("td", {}, entry.type || ""), h("td", {}, [].concat(entry.value ?? []).map((v, i) => shownValue(entry, v, i))))), "none"),
    writable ? h("form", { class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      const entry = [{ name: name.value.trim(), type: "text/plain", value: [value.value] }];
      ctx.act(`Constant ${entry[0].name} set`, () => api("POST", `${path}/constants`, { body: { dataStore: { entry } } }));
    } }, h("label", { for: name.id }, "Constant"), name, h("label", { for: value.id }, "Text"), value,
    h("button", { type: "submit" }, "Set constant")) : null);
}

export function attributes(ctx, path, answer, writable) {
  const items = [].concat(answer?.attributes?.attribute || []);
  const name = h("input", { id: "attribute-name", name: "name", required: true });
  const value = h("input", { id: "attribute-value", name: "value" });
  return h("section", { "aria-labelledby": "attributes" }, h("h2", { id: "attributes" }, "Attributes"),
    table("Attributes of the process", ["Name", "Value"], items.map((a) => h("tr", {}, h("td", {}, a.name),
      h("td", {}, [].concat(a.value ?? []).join(", ")))), "none"),
    writable ? h("form", { class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      ctx.act(`Attribute ${name.value} set`, () => api("PUT", `${path}/attributes/${encodeURIComponent(name.value.trim())}`,
        { text: value.value }));
    } }, h("label", { for: name.id }, "Attribute"), name, h("label", { for: value.id }, "Value"), value,
    h("button", { type: "submit" }, "Set attribute")) : null);
}

export function permissions(ctx, path, s, administrable) {
  const aces = [].concat(s.permissions?.ace || []);
  const rows = aces.map((ace) => h("tr", {}, h("td", {}, ace.name), h("td", {}, [].concat(ace.privilege || []).join(", "))));
  const who = h("input", { id: "ace-name", name: "name", required: true });
  const boxes = PRIVILEGES.map((p) => h("label", {}, h("input", { type: "checkbox", name: "privilege", value: p }), ` ${p}`));
  const owner = h("input", { id: "new-owner", name: "owner", required: true, value: s.owner || "" });
  return h("section", { "aria-labelledby": "permissions" }, h("h2", { id: "permissions" }, "Owner and permissions"),
    table("Permissions", ["User or role", "Privileges"], rows, "only the owner and admins"),
    administrable ? [
      h("form", { class: "inline-form", onsubmit: (event) => {
        event.preventDefault();
        const granted = boxes.map((b) => b.firstChild).filter((b) => b.checked).map((b) => b.value);
        ctx.act(`Permissions of ${who.value} set`, () => api("PUT",
          `${path}/permissions/${encodeURIComponent(who.value.trim())}`, { text: granted.join(",") }));
      } }, h("label", { for: who.id }, "User or role"), who, h("fieldset", { class: "states" },
        h("legend", {}, "Privileges (none: remove the entry)"), boxes), h("button", { type: "submit" }, "Set permissions")),
      h("form", { class: "inline-form", onsubmit: (event) => {
        event.preventDefault();
        ctx.act(`Owner set to ${owner.value}`, () => api("PUT", `${path}/owner`, { text: owner.value.trim() }));
      } }, h("label", { for: owner.id }, "Owner"), owner, h("button", { type: "submit" }, "Hand over"))] : null);
}
