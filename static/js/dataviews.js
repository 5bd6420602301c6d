// Day 1's views of the data: the first rows as a table, the correlation heatmap, a feature
// against the price (with KNN's neighbours, or with fitted lines), and what one KNN query
// costs as the table grows. They draw what /api/datasets/... and the trainings send; the
// page computes no statistics (placing numbers on axes is all the arithmetic here).

import { finite, frame, readableFont, ticks } from "./charts.js";
import { clear, el, svgEl } from "./dom.js";
import { fmtNumber } from "./format.js";
import { currentLang } from "./i18n.js";

const W = 820;
const H = 590;
const FONT = 17;

function plotSvg(chart, label, h = H, w = W) {
  return svgEl("svg", {
    class: "data-svg", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "xMidYMid meet",
    role: "img", "aria-label": label, "data-chart": chart,
  });
}

/** A correlation in [-1, 1] as a colour: blue (negative), white, orange (positive). */
function corrColour(v) {
  if (!finite(v)) return "rgb(220,0,60)";
  const u = Math.max(-1, Math.min(1, v));
  const mix = (a, b, k) => Math.round(a + (b - a) * k);
  return u >= 0
    ? `rgb(${mix(255, 211, u)},${mix(255, 84, u)},${mix(255, 0, u)})`
    : `rgb(${mix(255, 31, -u)},${mix(255, 95, -u)},${mix(255, 168, -u)})`;
}

/** Two decimals, with the typographic minus (legible on a projector). */
function fixed2(v) {
  return finite(v) ? v.toFixed(2).replace("-", "\u2212") : fmtNumber(v);
}

/** A legend under a chart: [{cls, label, role}] as swatches with text. */
function legend(items) {
  const ul = el("ul", { class: "data-legend" });
  for (const item of items) {
    ul.appendChild(el("li", { "data-legend": item.role || "" },
      el("span", { class: `swatch ${item.cls}`, "aria-hidden": "true" }), el("span", { text: item.label })));
  }
  return ul;
}

// ---- the table --------------------------------------------------------------------------------

export function drawTable(box, view, { t }) {
  clear(box);
  const target = view.columns.length - 1;
  const table = el("table", { class: "data-table", "data-chart": "table", "data-rows": view.head.length });
  table.appendChild(el("thead", {}, el("tr", {},
    ...view.columns.map((c, i) => el("th", { class: i === target ? "is-target" : "", scope: "col", text: c })))));
  const body = el("tbody");
  for (const row of view.head) {
    body.appendChild(el("tr", { "data-role": "row" },
      ...row.map((v, i) => el("td", { class: `num${i === target ? " is-target" : ""}`, text: fmtNumber(v, 4) }))));
  }
  table.appendChild(body);
  box.append(
    el("p", { class: "data-caption", text: t("data.rowsShown", { shown: view.head.length, total: view.n_rows, target: view.columns[target] }) }),
    el("div", { class: "data-table-wrap" }, table),
    el("p", { class: "data-description", text: (currentLang() === "zh" && view.description_zh) || view.description }),
  );
}

// ---- the correlation heatmap --------------------------------------------------------------------

export function drawHeatmap(box, view, { t }) {
  clear(box);
  const names = view.columns;
  const n = names.length;
  const w = 820;
  const h = 650;
  const svg = plotSvg("heatmap", t("data.heatmapTitle"), h, w);
  const left = 100;
  const top = 84;
  const size = Math.floor(Math.min((w - left - 96) / n, (h - top - 8) / n));
  const defs = svgEl("defs", {},
    svgEl("linearGradient", { id: "corr-scale", x1: "0", y1: "0", x2: "0", y2: "1" },
      svgEl("stop", { offset: "0", "stop-color": corrColour(1) }),
      svgEl("stop", { offset: "0.5", "stop-color": corrColour(0) }),
      svgEl("stop", { offset: "1", "stop-color": corrColour(-1) })));
  svg.appendChild(defs);
  const cells = svgEl("g", { class: "heatmap-cells" });
  view.correlations.forEach((row, r) => {
    row.forEach((v, c) => {
      const x = left + c * size;
      const y = top + r * size;
      const strong = finite(v) && Math.abs(v) >= 0.55;
      cells.append(
        svgEl("rect", { class: "heatmap-cell", x, y, width: size, height: size, fill: corrColour(v),
          "data-role": "cell", "data-row": names[r], "data-col": names[c], "data-value": v }),
        svgEl("text", { class: `heatmap-number${strong ? " is-strong" : ""}`, x: x + size / 2, y: y + size / 2 + 5, "text-anchor": "middle", text: fixed2(v) }),
      );
    });
  });
  svg.appendChild(cells);
  const labels = svgEl("g", { class: "heatmap-labels" });
  names.forEach((name, i) => {
    const cls = `heatmap-label${i === n - 1 ? " is-target" : ""}`;
    labels.append(
      svgEl("text", { class: cls, x: left - 8, y: top + i * size + size / 2 + 6, "text-anchor": "end", text: name }),
      svgEl("text", { class: cls, x: 0, y: 0, "text-anchor": "start",
        transform: `translate(${left + i * size + size / 2 - 4} ${top - 8}) rotate(-45)`, text: name }),
    );
  });
  svg.appendChild(labels);
  // the price's row and column: what the step talks about
  svg.append(
    svgEl("rect", { class: "heatmap-target", x: left + (n - 1) * size, y: top, width: size, height: n * size }),
    svgEl("rect", { class: "heatmap-target", x: left, y: top + (n - 1) * size, width: n * size, height: size }),
  );
  const lx = left + n * size + 28;
  svg.append(
    svgEl("rect", { class: "heatmap-scale", x: lx, y: top, width: 24, height: n * size, fill: "url(#corr-scale)" }),
    svgEl("text", { class: "heatmap-label", x: lx + 32, y: top + 12, text: "+1" }),
    svgEl("text", { class: "heatmap-label", x: lx + 32, y: top + (n * size) / 2 + 6, text: "0" }),
    svgEl("text", { class: "heatmap-label", x: lx + 32, y: top + n * size, text: "\u22121" }),
  );
  box.append(svg);
}

// ---- a feature against the price: points, KNN's neighbours, fitted lines --------------------------

/**
 * `scatter`: {x_name, y_name, x, y}. `knn`: KNN's answer ({features, query, k, neighbours,
 * neighbour_targets, prediction}) or null. `lines`: [{key, label, slope, intercept}] drawn
 * across the plot (each a line from two numbers the API sent).
 */
export function drawScatterPlot(box, scatter, { t, chart, knn = null, lines = [] }) {
  clear(box);
  const svg = plotSvg(chart, t("data.scatterTitle", { x: scatter.x_name, y: scatter.y_name }));
  // on the page first, to know its scale: on a small screen its text grows in its own units
  // to stay readable (and the margins with it), the plot fitting the width
  svg.classList.add("data-svg--fits");
  box.append(svg);
  const font = readableFont(svg, W, FONT);
  const u = font / FONT;
  const pad = { l: 84 * u, r: 24, t: 18, b: 64 * u };
  const xs = scatter.x.filter(finite);
  const ys = scatter.y.filter(finite);
  const span = (lo, hi) => [lo - (hi - lo) * 0.03, hi + (hi - lo) * 0.03];
  const xr = span(Math.min(...xs), Math.max(...xs));
  const yr = span(Math.min(0, ...ys), Math.max(...ys));
  const { sx, sy } = frame(svg, W, H, pad, xr, yr, { x: scatter.x_name, y: scatter.y_name }, { font, count: u > 1.3 ? 4 : 6 });
  const clipId = `clip-${chart}`;
  svg.appendChild(svgEl("defs", {}, svgEl("clipPath", { id: clipId },
    svgEl("rect", { x: pad.l, y: pad.t, width: W - pad.l - pad.r, height: H - pad.t - pad.b }))));
  const near = new Set(knn ? knn.neighbours : []);
  const points = svgEl("g", { class: "scatter-points" });
  scatter.x.forEach((x, i) => {
    if (near.has(i) || !finite(x) || !finite(scatter.y[i])) return;
    points.appendChild(svgEl("circle", { class: "scatter-point", cx: sx(x).toFixed(1), cy: sy(scatter.y[i]).toFixed(1), r: 4.5, "data-role": "point", "data-row": i }));
  });
  svg.appendChild(points);
  const items = [{ cls: "swatch--point", label: t("data.points", { n: scatter.x.length }), role: "points" }];
  const fits = svgEl("g", { class: "fit-lines", "clip-path": `url(#${clipId})` });
  lines.forEach((line, i) => {
    if (!finite(line.slope) || !finite(line.intercept)) return;
    const [x0, x1] = xr;
    fits.appendChild(svgEl("line", {
      class: `fit-line fit-line--${line.key} fit-line--s${i}`, x1: sx(x0), x2: sx(x1),
      y1: sy(line.slope * x0 + line.intercept), y2: sy(line.slope * x1 + line.intercept),
      "data-role": "fit-line", "data-series": line.key, "data-slope": line.slope, "data-intercept": line.intercept,
    }));
    items.push({ cls: `swatch--line fit-line--${line.key} fit-line--s${i}`, label: line.label, role: line.key });
  });
  svg.appendChild(fits);
  if (knn) {
    const q = knn.query[0];
    const mark = svgEl("g", { class: "knn-marks" });
    mark.append(
      svgEl("line", { class: "knn-query", x1: sx(q), x2: sx(q), y1: pad.t, y2: H - pad.b, "data-role": "query" }),
      svgEl("text", { class: "knn-query-label", x: sx(q) + 8, y: pad.t + 22 * u, text: `${knn.features[0]} = ${fmtNumber(q)}` }),
    );
    // the prediction first, the neighbours over it: they are what it is made of
    const px = sx(q);
    const py = sy(knn.prediction);
    mark.append(
      svgEl("line", { class: "knn-level", x1: pad.l, x2: px, y1: py, y2: py }),
      svgEl("path", { class: "knn-prediction", d: `M${px},${py - 12} L${px + 12},${py} L${px},${py + 12} L${px - 12},${py} Z`, "data-role": "prediction", "data-value": knn.prediction }),
      svgEl("text", { class: "knn-prediction-label", x: px + 22, y: py + 7 * u, text: fmtNumber(knn.prediction, 4) }),
    );
    for (const label of mark.querySelectorAll("text")) label.style.fontSize = `${(18 * u).toFixed(1)}px`;
    knn.neighbours.forEach((row, j) => {
      mark.appendChild(svgEl("circle", { class: "scatter-point scatter-point--neighbour", cx: sx(scatter.x[row]), cy: sy(scatter.y[row]), r: 9,
        "data-role": "neighbour", "data-row": row, "data-target": knn.neighbour_targets[j] }));
    });
    svg.appendChild(mark);
    items.push(
      { cls: "swatch--neighbour", label: t("data.neighbours", { k: knn.k, values: knn.neighbour_targets.map((v) => fmtNumber(v, 4)).join(", ") }), role: "neighbours" },
      { cls: "swatch--prediction", label: t("data.prediction", { value: fmtNumber(knn.prediction, 4) }), role: "prediction" },
    );
  }
  box.append(legend(items));
}

// ---- what one KNN query costs as the table grows --------------------------------------------------

export function drawKnnCost(box, cost, { t }) {
  clear(box);
  const svg = plotSvg("knn_cost", t("data.knnCostTitle"));
  const pad = { l: 96, r: 40, t: 30, b: 70 };
  const ms = cost.map((c) => c.seconds * 1000);
  const hi = Math.max(...ms.filter(finite), 1e-6) * 1.15;
  const sy = (v) => H - pad.b - (v / hi) * (H - pad.t - pad.b);
  const axes = svgEl("g", { class: "chart-axes" });
  for (const v of ticks(0, hi, 5)) {
    axes.append(
      svgEl("line", { class: "chart-grid", x1: pad.l, x2: W - pad.r, y1: sy(v), y2: sy(v) }),
      svgEl("text", { class: "chart-tick", x: pad.l - 10, y: sy(v) + 6, "text-anchor": "end", text: fmtNumber(v, 3) }),
    );
  }
  axes.append(
    svgEl("line", { class: "chart-axis", x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b }),
    svgEl("text", { class: "chart-axis-label", x: 22, y: (pad.t + H - pad.b) / 2, "text-anchor": "middle",
      transform: `rotate(-90 22 ${(pad.t + H - pad.b) / 2})`, text: t("data.msPerQuery") }),
    svgEl("text", { class: "chart-axis-label", x: (pad.l + W - pad.r) / 2, y: H - 12, "text-anchor": "middle", text: t("data.tableRows") }),
  );
  svg.appendChild(axes);
  const slot = (W - pad.l - pad.r) / Math.max(cost.length, 1);
  const bars = svgEl("g", { class: "cost-bars" });
  cost.forEach((c, i) => {
    const x = pad.l + slot * i + slot * 0.2;
    const v = ms[i];
    const top = finite(v) ? sy(v) : H - pad.b;
    bars.append(
      svgEl("rect", { class: "cost-bar", x, y: top, width: slot * 0.6, height: H - pad.b - top, "data-role": "bar", "data-rows": c.rows, "data-seconds": c.seconds }),
      svgEl("text", { class: "cost-value", x: x + slot * 0.3, y: top - 10, "text-anchor": "middle", text: `${fmtNumber(v, 3)} ms` }),
      svgEl("text", { class: "chart-tick cost-rows", x: x + slot * 0.3, y: H - pad.b + 28, "text-anchor": "middle", text: t("data.rows", { rows: c.rows.toLocaleString("en").replace(/,/g, "\u2009") }) }),
    );
  });
  svg.appendChild(bars);
  box.append(svg);
}
