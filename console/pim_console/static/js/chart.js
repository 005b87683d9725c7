// A line chart in SVG: time on x, one or more series on y. No library: a few dozen lines.

import { h, num } from "./dom.js";

const W = 560, H = 180, PAD = { l: 48, r: 10, t: 10, b: 26 };

export function lineChart({ title, unit, points, series, start, end }) {
  const xs = (t) => PAD.l + ((t - start) / Math.max(1, end - start)) * (W - PAD.l - PAD.r);
  let max = 0;
  for (const p of points) for (const s of series) if (p[s.key] != null) max = Math.max(max, p[s.key]);
  max = max > 0 ? niceMax(max) : 1;
  const ys = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": summary(title, unit, points, series) });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4, y = ys(v);
    svg.append(h("svg:line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: "grid" }));
    svg.append(h("svg:text", { x: PAD.l - 6, y: y + 4, class: "axis", "text-anchor": "end" }, num(v, v < 10 ? 2 : 0)));
  }
  for (const t of [start, (start + end) / 2, end]) {
    svg.append(h("svg:text", { x: xs(t), y: H - 6, class: "axis", "text-anchor": t === start ? "start" : t === end ? "end" : "middle" },
      new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  }
  series.forEach((s, i) => {
    // Carry the last value to "now": the operator writes a summary only when it changes.
    const pts = points.filter((p) => p[s.key] != null).map((p) => [p.at, p[s.key]]);
    if (pts.length) pts.push([end, pts[pts.length - 1][1]]);
    if (!pts.length) return;
    const d = pts.map(([t, v], j) => `${j ? "L" : "M"}${xs(t).toFixed(1)},${ys(v).toFixed(1)}`).join("");
    svg.append(h("svg:path", { d, class: `line s${i}` }));
    for (const [t, v] of pts.slice(0, -1)) svg.append(h("svg:circle", { cx: xs(t), cy: ys(v), r: 2, class: `dot s${i}` }));
  });
  const legend = h("ul", { class: "legend" }, series.map((s, i) => {
    const last = [...points].reverse().find((p) => p[s.key] != null);
    return h("li", {}, h("span", { class: `key s${i}`, "aria-hidden": "true" }), `${s.label}: `, h("strong", {}, last ? `${num(last[s.key])} ${unit}` : "no data"));
  }));
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), svg, legend);
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function summary(title, unit, points, series) {
  const parts = series.map((s) => {
    const vals = points.map((p) => p[s.key]).filter((v) => v != null);
    return vals.length ? `${s.label} latest ${num(vals[vals.length - 1])} ${unit}, max ${num(Math.max(...vals))}` : `${s.label} no data`;
  });
  return `${title}: ${parts.join("; ")}`;
}
