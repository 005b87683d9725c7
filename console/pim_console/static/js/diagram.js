// The entity diagram: a box per entity, an arrow per reference attribute (from -> to).

import { h } from "./dom.js";

const BW = 170, BH = 54, GX = 70, GY = 60;

export function entityDiagram(view) {
  const entities = view.entities;
  const cols = Math.max(1, Math.min(4, Math.ceil(Math.sqrt(entities.length))));
  const rows = Math.ceil(entities.length / cols);
  const W = cols * BW + (cols - 1) * GX + 40, H = rows * BH + (rows - 1) * GY + 40;
  const pos = {};
  entities.forEach((e, i) => { pos[e.name] = { x: 20 + (i % cols) * (BW + GX), y: 20 + Math.floor(i / cols) * (BH + GY) }; });
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
    svg.append(h("svg:text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4 - (i % 2) * 10, class: "edge-label", "text-anchor": "middle" }, r.attribute));
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

// Where the line from box a's centre towards box b's centre leaves box a.
function edgePoint(a, b) {
  const ax = a.x + BW / 2, ay = a.y + BH / 2, bx = b.x + BW / 2, by = b.y + BH / 2;
  const dx = bx - ax, dy = by - ay;
  const s = Math.min(dx ? (BW / 2) / Math.abs(dx) : Infinity, dy ? (BH / 2) / Math.abs(dy) : Infinity);
  return [ax + dx * s, ay + dy * s];
}
