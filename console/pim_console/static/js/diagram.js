// The entity diagram: a box per entity, an arrow per reference attribute (from -> to).

import { h } from "./dom.js";

const BW = 170, BH = 54, GX = 70, GY = 60;

export function entityDiagram(view) {
  const entities = view.entities;
  if (!entities.length) return h("p", { class: "muted" }, "No entities.");
  const pos = layout(entities, view.references);
  const W = Math.max(...Object.values(pos).map((p) => p.x)) + BW + 20;
  const H = Math.max(...Object.values(pos).map((p) => p.y)) + BH + 20;
  const label = view.references.length
    ? `Entity diagram: ${view.references.map((r) => `${r.from}.${r.attribute} refers to ${r.to}`).join("; ")}`
    : `Entity diagram: ${entities.length} entities, no references between them`;
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "diagram", role: "img", "aria-label": label, style: `max-width:${W}px` },
    h("svg:defs", {}, h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      h("svg:path", { d: "M0,0L10,5L0,10z", class: "arrowhead" }))));
  view.references.forEach((r, i) => {
    const a = pos[r.from], b = pos[r.to];
    if (!a || !b) return;
    if (r.from === r.to) {
      const x = a.x + BW, y = a.y + BH / 2;
      svg.append(h("svg:path", { d: `M${x},${y - 10} C${x + 40},${y - 30} ${x + 40},${y + 30} ${x},${y + 10}`, class: "edge", "marker-end": "url(#arrow)" }));
      return;
    }
    const [x1, y1] = edgePoint(a, b), [x2, y2] = edgePoint(b, a);
    svg.append(h("svg:line", { x1, y1, x2, y2, class: "edge", "marker-end": "url(#arrow)" }));
    // The label sits near the referring end, so that crossing edges keep their labels apart.
    svg.append(h("svg:text", { x: x1 + (x2 - x1) * 0.3, y: y1 + (y2 - y1) * 0.3 - 4 - (i % 2) * 8, class: "edge-label", "text-anchor": "middle" }, r.attribute));
  });
  for (const e of entities) {
    const p = pos[e.name];
    svg.append(h("svg:g", { class: "entity" },
      h("svg:rect", { x: p.x, y: p.y, width: BW, height: BH, rx: 6 }),
      h("svg:text", { x: p.x + BW / 2, y: p.y + 22, "text-anchor": "middle", class: "entity-name" }, e.name),
      h("svg:text", { x: p.x + BW / 2, y: p.y + 40, "text-anchor": "middle", class: "entity-meta" }, `${e.attributes.length} attributes · /${e.collection}`)));
  }
  return svg;
}

// Layers: an entity sits below every entity it refers to (cycles cut), rows of at most 4, each row
// placed under the middle of what it refers to, which keeps most edges short and uncrossed.
function layout(entities, refs) {
  const names = new Set(entities.map((e) => e.name));
  const depth = {};
  const visit = (name, path) => {
    if (name in depth) return depth[name];
    if (path.has(name)) return 0;
    path.add(name);
    const targets = refs.filter((r) => r.from === name && r.to !== name && names.has(r.to)).map((r) => visit(r.to, path) + 1);
    path.delete(name);
    depth[name] = targets.length ? Math.max(...targets) : 0;
    return depth[name];
  };
  entities.forEach((e) => visit(e.name, new Set()));
  const pos = {};
  let y = 20;
  const layers = [...new Set(Object.values(depth))].sort((a, b) => a - b);
  for (const d of layers) {
    const row = entities.filter((e) => depth[e.name] === d);
    const centre = (e) => {
      const xs = refs.filter((r) => r.from === e.name && pos[r.to]).map((r) => pos[r.to].x);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
    };
    row.sort((a, b) => centre(a) - centre(b));
    for (let i = 0; i < row.length; i += 4) {
      let next = 20; // each box under the middle of what it refers to, never overlapping its left neighbour
      for (const e of row.slice(i, i + 4)) {
        const want = centre(e);
        const x = Math.max(next, Number.isFinite(want) ? Math.round(want) : next);
        pos[e.name] = { x, y };
        next = x + BW + GX;
      }
      y += BH + GY;
    }
  }
  return pos;
}

// Where the line from box a's centre towards box b's centre leaves box a.
function edgePoint(a, b) {
  const ax = a.x + BW / 2, ay = a.y + BH / 2, bx = b.x + BW / 2, by = b.y + BH / 2;
  const dx = bx - ax, dy = by - ay;
  const s = Math.min(dx ? (BW / 2) / Math.abs(dx) : Infinity, dy ? (BH / 2) / Math.abs(dy) : Infinity);
  return [ax + dx * s, ay + dy * s];
}
