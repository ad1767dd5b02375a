// A definition's diagram as SVG: elements top to bottom, compound ones (if, while, forEach, scope) as
// boxes holding their blocks side by side. Marks: the current element, the elements passed, breakpoints.
const NS = "http://www.w3.org/2000/svg";
const BOX_H = 44, GAP = 18, PAD = 10, HEAD = 40, TAB = 20, CHAR = 7.2, MIN_W = 132, EMPTY_W = 90;

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) element.setAttribute(name, value);
  for (const child of children.flat()) if (child) element.append(child instanceof Node ? child : document.createTextNode(child));
  return element;
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const textWidth = (text) => text.length * CHAR + 2 * PAD;
const title = (e) => `${e.kind} ${e.id}`;

/** Every element of an outline, depth first, in document order. */
export function flatten(elements) {
  return elements.flatMap((e) => [e, ...e.blocks.flatMap((block) => flatten(block.elements))]);
}

// -- measuring: each element and block gets its size before anything is placed --------------------------
function measureBlock(elements) {
  if (!elements.length) return { w: EMPTY_W, h: 24 };
  const sizes = elements.map(measure);
  return { w: Math.max(...sizes.map((s) => s.w)), h: sizes.reduce((sum, s) => sum + s.h, 0) + GAP * (sizes.length - 1) };
}

function measure(e) {
  const label = clip(e.label || "", 40);
  if (!e.blocks.length) return (e.size = { w: Math.max(MIN_W, textWidth(title(e)), textWidth(label)), h: BOX_H });
  const columns = e.blocks.map((block) => (block.size = measureBlock(block.elements)));
  const inner = columns.reduce((sum, c) => sum + c.w, 0) + PAD * (columns.length - 1);
  const w = Math.max(inner + 2 * PAD, textWidth(title(e)), textWidth(label), MIN_W);
  const h = HEAD + TAB + Math.max(...columns.map((c) => c.h)) + 2 * PAD;
  return (e.size = { w, h });
}

// -- drawing -------------------------------------------------------------------------------------------
function drawBlock(elements, x, y, w, marks, out) {
  if (!elements.length) {
    out.push(svg("text", { x: x + w / 2, y: y + 16, class: "empty", "text-anchor": "middle" }, "(empty)"));
    return;
  }
  let top = y;
  elements.forEach((e, i) => {
    const left = x + (w - e.size.w) / 2;
    drawElement(e, left, top, marks, out);
    if (i < elements.length - 1) {
      const mid = x + w / 2;
      out.push(svg("line", { x1: mid, y1: top + e.size.h, x2: mid, y2: top + e.size.h + GAP - 2, class: "flow",
        "marker-end": "url(#arrow)" }));
    }
    top += e.size.h + GAP;
  });
}

function drawElement(e, x, y, marks, out) {
  const states = [marks.current === e.fullId && "current", marks.passed.has(e.fullId) && "passed",
    marks.breakpoints.has(e.fullId) && "breakpoint", e.blocks.length && "compound"].filter(Boolean);
  const shown = [title(e), clip(e.label || "", 40)].filter(Boolean).join(" ");  // its name: what it shows
  const described = [title(e), e.label, marks.current === e.fullId ? "current element" : "",
    marks.passed.has(e.fullId) ? "passed" : "", marks.breakpoints.has(e.fullId) ? "breakpoint set" : ""]
    .filter(Boolean).join(", ");
  const group = svg("g", { class: `element ${e.kind} ${states.join(" ")}`, "data-id": e.fullId,
    role: marks.onPick ? "button" : "img", "aria-label": shown, tabindex: marks.onPick ? "0" : undefined,
    "aria-current": marks.current === e.fullId ? "step" : undefined,
    "aria-pressed": marks.onPick ? String(marks.breakpoints.has(e.fullId)) : undefined },
  svg("title", {}, described),
  svg("rect", { x, y, width: e.size.w, height: e.size.h, rx: e.blocks.length ? 8 : 5 }),
  // one text, two lines: its words read as the name says them ("assign collect items")
  svg("text", {}, svg("tspan", { x: x + PAD, y: y + 17, class: "kind" }, title(e)),
    svg("tspan", { x: x + PAD, y: y + 34, class: "label" }, e.label ? ` ${clip(e.label, 40)}` : "")));
  if (marks.breakpoints.has(e.fullId)) group.append(svg("circle", { cx: x + e.size.w - 10, cy: y + 10, r: 6, class: "dot" }));
  if (marks.onPick) {
    const pick = (event) => { event.stopPropagation(); marks.onPick(e); };
    group.addEventListener("click", pick);
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(event); }
    });
  }
  out.push(group);
  if (!e.blocks.length) return;
  let left = x + PAD;
  const top = y + HEAD;
  for (const block of e.blocks) {
    out.push(svg("text", { x: left, y: top + 13, class: "block" }, block.name));
    out.push(svg("rect", { x: left, y: top + TAB - 2, width: block.size.w, height: block.size.h + 4, class: "lane", rx: 4 }));
    drawBlock(block.elements, left, top + TAB, block.size.w, marks, out);
    left += block.size.w + PAD;
  }
}

/**
 * The SVG of an outline. `marks`: { current, passed: [...], breakpoints: [...], onPick(element) } —
 * with onPick, each element is a button (click, Enter or Space) that toggles its breakpoint.
 */
export function diagram(outline, marks = {}) {
  const m = { current: marks.current, passed: new Set(marks.passed || []), breakpoints: new Set(marks.breakpoints || []),
    onPick: marks.onPick };
  const size = measureBlock(outline.body);
  const out = [];
  drawBlock(outline.body, PAD, PAD, size.w, m, out);
  const width = size.w + 2 * PAD, height = size.h + 2 * PAD;
  return svg("svg", { xmlns: NS, class: "diagram", viewBox: `0 0 ${width} ${height}`, width, height,
    role: "group", "aria-label": `Diagram of ${outline.name || outline.uri}` },
  svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))),
  out);
}
