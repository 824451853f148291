// Hand-written SVG charts: a line/area chart over time, bars, and intervals. Each is a
// <figure> with a text summary for screen readers and its numbers in a table.

import { h, fmt } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function dataTable(caption, headers, rows) {
  return h("details", {}, h("summary", {}, "Show the numbers"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))))));
}

function legend(series) {
  return h("div", { class: "legend" }, series.map((se, i) => h("span", { class: `s${i + 1}` }, se.name)));
}

/**
 * Lines over time. `series`: [{name, points: [{x: Date|string, y, low?, high?}]}];
 * low/high draw a band (credible interval). `yFormat` formats the axis and table.
 */
export function lineChart({ title, series, yFormat = fmt.num, xFormat = fmt.clock, minY, bars = false }) {
  const W = 640, H = 220, L = 56, R = 28, T = 12, B = 28;
  const xs = series.flatMap((se) => se.points.map((p) => +new Date(p.x)));
  const ys = series.flatMap((se) => se.points.flatMap((p) => [p.y, p.low, p.high])).filter((v) => v !== null && v !== undefined);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const lo = minY !== undefined ? minY : Math.min(0, ...ys);
  const hi = niceMax(Math.max(...ys, lo + 1e-9) - lo) + lo;
  const px = (x) => (x1 === x0 ? L + (W - L - R) / 2 : L + ((x - x0) / (x1 - x0)) * (W - L - R));
  const py = (y) => T + (1 - (y - lo) / (hi - lo || 1)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" });
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: py(v), y2: py(v) }),
      s("text", { x: L - 6, y: py(v) + 4, "text-anchor": "end" }, yFormat(v)));
  }
  if (lo < 0 && hi > 0) svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: py(0), y2: py(0) }));
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  if (xs.length) {
    for (const x of [x0, (x0 + x1) / 2, x1]) {
      svg.append(s("text", { x: px(x), y: H - 8, "text-anchor": "middle" }, xFormat(new Date(x))));
    }
  }
  series.forEach((se, i) => {
    const cls = `s${i + 1}`;
    const pts = se.points.filter((p) => p.y !== null && p.y !== undefined);
    const banded = pts.filter((p) => p.low !== undefined && p.low !== null);
    if (banded.length > 1) {
      const top = banded.map((p) => `${px(+new Date(p.x))},${py(p.high)}`);
      const bottom = banded.slice().reverse().map((p) => `${px(+new Date(p.x))},${py(p.low)}`);
      svg.append(s("polygon", { class: `band ${cls}`, points: [...top, ...bottom].join(" ") }));
    }
    if (bars) {
      const width = Math.max(1, ((W - L - R) / Math.max(1, se.points.length)) * 0.8);
      for (const p of pts) {
        svg.append(s("rect", { class: `bar ${cls}`, x: px(+new Date(p.x)) - width / 2, y: py(Math.max(p.y, 0)), width, height: Math.abs(py(0) - py(p.y)) },
          s("title", {}, `${xFormat(new Date(p.x))}: ${yFormat(p.y)}`)));
      }
    } else if (pts.length) {
      svg.append(s("polyline", { class: `line ${cls}`, points: pts.map((p) => `${px(+new Date(p.x))},${py(p.y)}`).join(" ") }));
      if (pts.length < 40) for (const p of pts) svg.append(s("circle", { class: cls, cx: px(+new Date(p.x)), cy: py(p.y), r: 2.5 }, s("title", {}, `${se.name} ${xFormat(new Date(p.x))}: ${yFormat(p.y)}`)));
    }
  });
  const rows = (series[0] ? series[0].points : []).map((p, idx) => [fmt.time(p.x), ...series.map((se) => {
    const q = se.points[idx];
    if (!q || q.y === null || q.y === undefined) return "—";
    return q.low !== undefined && q.low !== null ? `${yFormat(q.y)} (${yFormat(q.low)} to ${yFormat(q.high)})` : yFormat(q.y);
  })]);
  return h("figure", { class: "chart" }, series.length > 1 ? legend(series) : null, svg,
    h("figcaption", {}, title), dataTable(title, ["Time", ...series.map((se) => se.name)], rows));
}

/**
 * Horizontal intervals: rows [{label, mean, low, high, marker?}], e.g. a rate with its
 * 95% credible interval, or a preference with its uncertainty and the population mean.
 */
export function intervalChart({ title, rows, format = (v) => fmt.pct(v), markerName, seriesNames }) {
  const W = 640, L = 150, R = 32, rowH = 26, T = 8;
  const groups = rows.map((r) => (Array.isArray(r.values) ? r : { label: r.label, values: [r] }));
  const lines = groups.reduce((n, g) => n + g.values.length, 0);
  const H = T + lines * rowH + 24;
  const hi = niceMax(Math.max(0.0001, ...groups.flatMap((g) => g.values.flatMap((v) => [v.high, v.mean, v.marker ?? 0]))));
  const px = (v) => L + (Math.max(0, v) / hi) * (W - L - R);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" });
  for (let i = 0; i <= 4; i++) {
    const v = (hi * i) / 4;
    svg.append(s("line", { class: "grid", x1: px(v), x2: px(v), y1: T, y2: H - 20 }),
      s("text", { x: px(v), y: H - 6, "text-anchor": "middle" }, format(v)));
  }
  let y = T;
  const table = [];
  for (const g of groups) {
    svg.append(s("text", { x: L - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, truncate(g.label, 22)));
    g.values.forEach((v, i) => {
      const cy = y + rowH / 2;
      const cls = v.cls || `s${i + 1}`;
      svg.append(s("line", { class: `whisker ${cls}`, x1: px(v.low), x2: px(v.high), y1: cy, y2: cy }),
        s("line", { class: `whisker ${cls}`, x1: px(v.low), x2: px(v.low), y1: cy - 5, y2: cy + 5 }),
        s("line", { class: `whisker ${cls}`, x1: px(v.high), x2: px(v.high), y1: cy - 5, y2: cy + 5 }),
        s("circle", { class: cls, cx: px(v.mean), cy, r: 4.5 }, s("title", {}, `${g.label}${seriesNames ? ` (${seriesNames[i]})` : ""}: ${format(v.mean)} (${format(v.low)} to ${format(v.high)})`)));
      if (v.marker !== undefined && v.marker !== null) {
        svg.append(s("line", { class: "marker", x1: px(v.marker), x2: px(v.marker), y1: cy - 8, y2: cy + 8 }));
      }
      table.push([g.label + (seriesNames ? ` (${seriesNames[i]})` : ""), format(v.mean), `${format(v.low)} to ${format(v.high)}`, ...(markerName ? [v.marker === undefined ? "—" : format(v.marker)] : [])]);
      y += rowH;
    });
  }
  return h("figure", { class: "chart" }, seriesNames ? legend(seriesNames.map((name) => ({ name }))) : null, svg,
    h("figcaption", {}, title, markerName ? `. Black ticks: ${markerName}.` : ""),
    dataTable(title, ["Row", "Estimate", "95% interval", ...(markerName ? [markerName] : [])], table));
}

function truncate(text, n) { text = String(text); return text.length > n ? `${text.slice(0, n - 1)}…` : text; }

/**
 * Horizontal bars of counts: rows [{label, value}], e.g. failures by reason. Values are
 * written at the end of each bar, so the chart reads without colour.
 */
export function barChart({ title, rows, format = fmt.num, valueName = "Count" }) {
  const W = 640, L = 170, R = 56, rowH = 26, T = 6;
  const H = T + Math.max(1, rows.length) * rowH + 6;
  const hi = niceMax(Math.max(0, ...rows.map((r) => r.value)));
  const px = (v) => L + (Math.max(0, v) / hi) * (W - L - R);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" });
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    svg.append(s("text", { x: L - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, truncate(r.label, 26)),
      s("rect", { class: `bar ${r.cls || "s2"}`, x: L, y: y + 4, width: Math.max(1, px(r.value) - L), height: rowH - 8 },
        s("title", {}, `${r.label}: ${format(r.value)}`)),
      s("text", { x: px(r.value) + 6, y: y + rowH / 2 + 4 }, format(r.value)));
  });
  return h("figure", { class: "chart" }, svg, h("figcaption", {}, title),
    dataTable(title, ["Row", valueName], rows.map((r) => [r.label, format(r.value)])));
}

/**
 * A grid of cells shaded by value, e.g. sends per send-time slot: days down, day-parts
 * across. `value(row, col)` returns {value, text?, title?} or null (no data).
 */
export function heatMap({ title, rowLabels, colLabels, cell, format = fmt.num }) {
  const W = 640, L = 56, T = 22, R = 4;
  const cw = (W - L - R) / colLabels.length, ch = 30;
  const H = T + rowLabels.length * ch + 4;
  const cells = rowLabels.map((_, r) => colLabels.map((__, c) => cell(r, c)));
  const hi = Math.max(0, ...cells.flat().map((v) => (v ? v.value : 0)));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart heat" });
  colLabels.forEach((label, c) => svg.append(s("text", { x: L + c * cw + cw / 2, y: T - 8, "text-anchor": "middle" }, label)));
  rowLabels.forEach((label, r) => {
    const y = T + r * ch;
    svg.append(s("text", { x: L - 8, y: y + ch / 2 + 4, "text-anchor": "end" }, label));
    colLabels.forEach((__, c) => {
      const v = cells[r][c];
      const share = v && hi > 0 ? v.value / hi : 0;
      const x = L + c * cw;
      svg.append(s("rect", { class: v && v.value ? "cell" : "cell empty", x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, "fill-opacity": v && v.value ? (0.12 + 0.88 * share).toFixed(3) : 1 },
        s("title", {}, `${label} ${colLabels[c]}: ${v ? v.title || format(v.value) : "no sends"}`)));
      if (v && v.value) svg.append(s("text", { class: share > 0.55 ? "on-dark" : "", x: x + cw / 2, y: y + ch / 2 + 4, "text-anchor": "middle" }, v.text ?? format(v.value)));
    });
  });
  return h("figure", { class: "chart" }, svg, h("figcaption", {}, title),
    dataTable(title, ["", ...colLabels], rowLabels.map((label, r) => [label, ...cells[r].map((v) => (v ? v.title || format(v.value) : "—"))])));
}

/**
 * One difference with its 95% interval on an axis through zero, e.g. the uplift of a
 * campaign over its holdout in percentage points.
 */
export function differenceChart({ title, value, low, high, format = (v) => fmt.pct(v, 1) }) {
  const W = 640, H = 64, L = 44, R = 44, cy = 24;
  const span = niceMax(Math.max(Math.abs(low), Math.abs(high), Math.abs(value), 1e-4));
  const px = (v) => L + ((v + span) / (2 * span)) * (W - L - R);
  const cls = low > 0 ? "s3" : high < 0 ? "s2" : "s1";
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${format(value)} (${format(low)} to ${format(high)})`, class: "chart" },
    s("line", { class: "axis", x1: L, x2: W - R, y1: cy, y2: cy }),
    s("line", { class: "marker", x1: px(0), x2: px(0), y1: cy - 14, y2: cy + 14 }),
    [-span, -span / 2, 0, span / 2, span].map((v) => s("text", { x: px(v), y: H - 6, "text-anchor": "middle" }, format(v))),
    s("line", { class: `whisker ${cls}`, x1: px(low), x2: px(high), y1: cy, y2: cy, "stroke-width": 4 }),
    s("circle", { class: cls, cx: px(value), cy, r: 6 }, s("title", {}, `${format(value)} (${format(low)} to ${format(high)})`)));
  return h("figure", { class: "chart" }, svg, h("figcaption", {}, title),
    dataTable(title, ["Estimate", "95% interval"], [[format(value), `${format(low)} to ${format(high)}`]]));
}
