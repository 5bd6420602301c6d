// Small SVG charts: the loss curves (train and test), several trainings' curves on one chart,
// and predicted-vs-true with residuals. They draw the numbers the API sends; the only
// arithmetic is placing them on the axes.

import { clear, svgEl } from "./dom.js";
import { fmtNumber } from "./format.js";
import { MIN_TEXT_PX, PRESENT_TEXT_PX } from "./graphview.js";

/** A chart's text, sized in its own units: `font` for ticks, a little more for axis names and
 * the legend (set on the element: it must agree with the paddings computed from it). */
function sized(node, font, factor = 1) {
  node.style.fontSize = `${(font * factor).toFixed(2)}px`;
  return node;
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]: about
 * `count` of them and never fewer than three, so that an axis can always be read. */
export function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const e = Math.floor(Math.log10((hi - lo) / count));
  const want = Math.max(3, count);
  const within = (s) => Math.floor(hi / s + 1e-9) - Math.ceil(lo / s - 1e-9) + 1;
  // the largest round step that still gives `want` ticks inside the range
  let step = null;
  for (let d = e - 2; d <= e + 1; d++) {
    for (const m of [1, 2, 5]) {
      const s = m * 10 ** d;
      if (within(s) >= want) step = s;
    }
  }
  step = step || (hi - lo) / want;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Round values covering [lo, hi] > 0, for a log axis: 1, 2 and 5 times powers of ten, only
 * the powers of ten over many decades, and evenly spaced round values inside one decade
 * (where 1, 2, 5 may give a single tick). */
export function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  if (out.length > 8) return out.filter((v) => Number.isInteger(Math.log10(v)) || Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  if (out.length < 3) return ticks(lo, hi, 4).filter((v) => v > 0);
  return out;
}

export function finite(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Axes, grid and labels in a w x h box; returns the scales. `font` is the size of the tick
 * labels (the distances to the axes follow it); `count` the number of ticks per axis.
 */
export function frame(svg, w, h, pad, xr, yr, labels, { font = 11, count = 4, log = false } = {}) {
  const sx = (v) => pad.l + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * (w - pad.l - pad.r);
  const ly0 = log ? Math.log10(yr[0]) : 0;
  const ly1 = log ? Math.log10(yr[1]) : 0;
  const sy = log
    ? (v) => h - pad.b - ((Math.log10(v) - ly0) / (ly1 - ly0 || 1)) * (h - pad.t - pad.b)
    : (v) => h - pad.b - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * (h - pad.t - pad.b);
  const k = font / 11;
  const axes = svgEl("g", { class: "chart-axes" });
  for (const v of log ? logTicks(yr[0], yr[1]) : ticks(yr[0], yr[1], count)) {
    axes.append(
      svgEl("line", { class: "chart-grid", x1: pad.l, x2: w - pad.r, y1: sy(v), y2: sy(v) }),
      sized(svgEl("text", { class: "chart-tick", x: pad.l - 6 * k, y: sy(v) + 4 * k, "text-anchor": "end", text: fmtNumber(v, 3) }), font),
    );
  }
  for (const v of ticks(xr[0], xr[1], count)) {
    axes.append(sized(svgEl("text", { class: "chart-tick", x: sx(v), y: h - pad.b + 16 * k, "text-anchor": "middle", text: fmtNumber(v, 3) }), font));
  }
  const ly = (pad.t + h - pad.b) / 2;
  axes.append(
    svgEl("line", { class: "chart-axis", x1: pad.l, x2: w - pad.r, y1: h - pad.b, y2: h - pad.b }),
    svgEl("line", { class: "chart-axis", x1: pad.l, x2: pad.l, y1: pad.t, y2: h - pad.b }),
    sized(svgEl("text", { class: "chart-axis-label", x: (pad.l + w - pad.r) / 2, y: h - 4 * k, "text-anchor": "middle", text: labels.x }), font, 1.08),
    sized(svgEl("text", { class: "chart-axis-label", x: 12 * k, y: ly, "text-anchor": "middle",
      transform: `rotate(-90 ${12 * k} ${ly})`, text: labels.y }), font, 1.08),
  );
  svg.appendChild(axes);
  return { sx, sy };
}

const SMALL = { w: 340, h: 200, font: 12 };

/** The least text size on screen, in CSS px (larger when presenting; see graphview.js). */
export function minTextPx() {
  return document.body.classList.contains("presenting") ? PRESENT_TEXT_PX : MIN_TEXT_PX;
}

/** The font, in a chart's own units, that is drawn no smaller than the least readable size
 * once the chart (`w` units wide) is scaled to its box on screen; `font` when not laid out. */
export function readableFont(svg, w, font) {
  const shown = svg.getBoundingClientRect().width;
  return shown > 0 ? Math.max(font, (minTextPx() * w) / shown + 0.05) : font;
}

/** A chart box: the size given or the side panel's default; the paddings follow the font,
 * which is raised as far as the chart's scale on screen needs. */
function box(svg, size, h) {
  const s = { ...SMALL, h, ...(size || {}) };
  s.font = readableFont(svg, s.w, s.font);
  const k = s.font / 11;
  return { ...s, k, pad: { l: 56 * k, r: 12 * k, t: 26 * k, b: 34 * k } };
}

function empty(svg, b, t) {
  svg.appendChild(sized(svgEl("text", { class: "chart-empty", x: b.w / 2, y: b.h / 2, "text-anchor": "middle", text: t("chart.empty") }), b.font));
}

/**
 * Loss curves. `rows`: [{epoch, train_loss, test_loss}], `epochs`: the planned number (x range).
 */
export function drawLossChart(svg, rows, { epochs, t, size = null }) {
  clear(svg);
  const b = box(svg, size, 200);
  const { w, h, pad, k } = b;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const values = rows.flatMap((r) => [r.train_loss, r.test_loss]).filter(finite);
  if (!rows.length || !values.length) {
    empty(svg, b, t);
    return;
  }
  const lastEpoch = Math.max(epochs || 0, ...rows.map((r) => r.epoch));
  const firstEpoch = Math.min(...rows.map((r) => r.epoch));
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values);
  const { sx, sy } = frame(svg, w, h, pad, [Math.min(firstEpoch, 1), Math.max(lastEpoch, 2)], [lo, hi * 1.05 || 1], {
    x: t("chart.epoch"), y: t("chart.loss"),
  }, { font: b.font });
  const line = (key, cls) => {
    const pts = rows.filter((r) => finite(r[key])).map((r) => `${sx(r.epoch).toFixed(1)},${sy(r[key]).toFixed(1)}`);
    if (pts.length) svg.appendChild(svgEl("polyline", { class: `chart-line ${cls}`, points: pts.join(" "), "data-series": key, "data-points": pts.length }));
    return pts.length;
  };
  const hasTrain = line("train_loss", "chart-line--train");
  const hasTest = line("test_loss", "chart-line--test");
  const legend = svgEl("g", { class: "chart-legend", transform: `translate(${pad.l + 8 * k} ${14 * k})` });
  let x = 0;
  for (const [key, cls, present] of [["chart.train", "train", hasTrain], ["chart.test", "test", hasTest]]) {
    if (!present) continue;
    legend.append(
      svgEl("line", { class: `chart-line chart-line--${cls}`, x1: x, x2: x + 18 * k, y1: 0, y2: 0 }),
      sized(svgEl("text", { class: "chart-legend-text", x: x + 24 * k, y: 4 * k, text: t(key) }), b.font, 1.05),
    );
    x += 110 * k;
  }
  svg.appendChild(legend);
}

/**
 * Several trainings on one chart: `series` = [{key, label, rows: [{epoch, value}], attrs}]
 * (one line each, in the order given), `reference` = {label, value} drawn as a dashed level.
 * `log`: a logarithmic loss axis (when every value is positive), so that a fast early fall
 * does not flatten the end where the trainings differ.
 */
export function drawSeriesChart(svg, series, { t, epochs = 0, reference = null, yLabel, size = null, log = false }) {
  clear(svg);
  const b = box(svg, size, 240);
  const { w, h, k } = b;
  const pad = { ...b.pad, t: (18 + 22 * Math.max(1, series.length + (reference ? 1 : 0))) * k };
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const values = series.flatMap((s) => s.rows.map((r) => r.value)).filter(finite);
  if (reference && finite(reference.value)) values.push(reference.value);
  if (!values.length) {
    empty(svg, b, t);
    return;
  }
  const last = Math.max(epochs, 2, ...series.flatMap((s) => s.rows.map((r) => r.epoch)));
  const useLog = log && values.every((v) => v > 0);
  const lo = useLog ? Math.min(...values) / 1.15 : Math.min(0, ...values);
  const hi = useLog ? Math.max(...values) * 1.15 : Math.max(...values) * 1.05 || 1;
  const { sx, sy } = frame(svg, w, h, pad, [1, last], [lo, hi], { x: t("chart.epoch"), y: yLabel || t("chart.loss") },
    { font: b.font, log: useLog });
  svg.setAttribute("data-scale", useLog ? "log" : "linear");
  const legend = svgEl("g", { class: "chart-legend", transform: `translate(${pad.l + 8 * k} ${16 * k})` });
  const legendRow = (i, cls, label, attrs = {}) => {
    const y = i * 22 * k;
    legend.append(
      svgEl("line", { class: cls, x1: 0, x2: 26 * k, y1: y, y2: y, ...attrs }),
      sized(svgEl("text", { class: "chart-legend-text", x: 34 * k, y: y + 5 * k, text: label }), b.font, 1.05),
    );
  };
  series.forEach((s, i) => {
    const pts = s.rows.filter((r) => finite(r.value)).map((r) => `${sx(r.epoch).toFixed(1)},${sy(r.value).toFixed(1)}`);
    const cls = `chart-line chart-line--series chart-line--s${i}`;
    if (pts.length) {
      svg.appendChild(svgEl("polyline", { class: cls, points: pts.join(" "), "data-role": "series", "data-series": s.key, "data-points": pts.length, ...(s.attrs || {}) }));
    }
    legendRow(i, cls, s.label);
  });
  if (reference && finite(reference.value)) {
    const y = sy(reference.value);
    svg.appendChild(svgEl("line", { class: "chart-reference", x1: pad.l, x2: w - pad.r, y1: y, y2: y, "data-role": "reference" }));
    legendRow(series.length, "chart-reference", `${reference.label} = ${fmtNumber(reference.value, 4)}`);
  }
  svg.appendChild(legend);
}

/** Predicted against true values with the residual lines of the course's plots. */
export function drawScatter(svg, predictions, { t, size = null }) {
  clear(svg);
  const b = box(svg, size, 240);
  const { w, h, k } = b;
  const pad = { ...b.pad, t: 14 * k };
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const yt = (predictions && predictions.y_true) || [];
  const yp = (predictions && predictions.y_pred) || [];
  const pairs = [];
  const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
  const a = flat(yt);
  const bb = flat(yp);
  for (let i = 0; i < Math.min(a.length, bb.length); i++) if (finite(a[i]) && finite(bb[i])) pairs.push([a[i], bb[i]]);
  if (!pairs.length) {
    empty(svg, b, t);
    return;
  }
  const all = pairs.flat();
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const { sx, sy } = frame(svg, w, h, pad, [lo, hi], [lo, hi], { x: t("chart.true"), y: t("chart.predicted") }, { font: b.font });
  svg.appendChild(svgEl("line", { class: "chart-diagonal", x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi) }));
  const g = svgEl("g", { class: "chart-points" });
  for (const [truth, pred] of pairs) {
    g.append(
      svgEl("line", { class: "chart-residual", x1: sx(truth), x2: sx(truth), y1: sy(truth), y2: sy(pred) }),
      svgEl("circle", { class: "chart-point", cx: sx(truth), cy: sy(pred), r: 3 * k, "data-role": "prediction" }),
    );
  }
  svg.appendChild(g);
}
