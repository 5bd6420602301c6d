// Small SVG charts: the loss curves (train and test) and predicted-vs-true with residuals.
// They draw the numbers the API sends; the only arithmetic is placing them on the axes.

import { clear, svgEl } from "./dom.js";
import { fmtNumber } from "./format.js";

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function finite(v) {
  return typeof v === "number" && Number.isFinite(v);
}

function frame(svg, w, h, pad, xr, yr, labels) {
  const sx = (v) => pad.l + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * (w - pad.l - pad.r);
  const sy = (v) => h - pad.b - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * (h - pad.t - pad.b);
  const axes = svgEl("g", { class: "chart-axes" });
  for (const v of ticks(yr[0], yr[1])) {
    axes.append(
      svgEl("line", { class: "chart-grid", x1: pad.l, x2: w - pad.r, y1: sy(v), y2: sy(v) }),
      svgEl("text", { class: "chart-tick", x: pad.l - 6, y: sy(v) + 4, "text-anchor": "end", text: fmtNumber(v, 3) }),
    );
  }
  for (const v of ticks(xr[0], xr[1])) {
    axes.append(svgEl("text", { class: "chart-tick", x: sx(v), y: h - pad.b + 16, "text-anchor": "middle", text: fmtNumber(v, 3) }));
  }
  axes.append(
    svgEl("line", { class: "chart-axis", x1: pad.l, x2: w - pad.r, y1: h - pad.b, y2: h - pad.b }),
    svgEl("line", { class: "chart-axis", x1: pad.l, x2: pad.l, y1: pad.t, y2: h - pad.b }),
    svgEl("text", { class: "chart-axis-label", x: (pad.l + w - pad.r) / 2, y: h - 4, "text-anchor": "middle", text: labels.x }),
    svgEl("text", { class: "chart-axis-label", x: 12, y: (pad.t + h - pad.b) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(pad.t + h - pad.b) / 2})`, text: labels.y }),
  );
  svg.appendChild(axes);
  return { sx, sy };
}

/**
 * Loss curves. `rows`: [{epoch, train_loss, test_loss}], `epochs`: the planned number (x range).
 */
export function drawLossChart(svg, rows, { epochs, t }) {
  clear(svg);
  const w = 340;
  const h = 200;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const pad = { l: 56, r: 12, t: 26, b: 34 };
  const values = rows.flatMap((r) => [r.train_loss, r.test_loss]).filter(finite);
  if (!rows.length || !values.length) {
    svg.appendChild(svgEl("text", { class: "chart-empty", x: w / 2, y: h / 2, "text-anchor": "middle", text: t("chart.empty") }));
    return;
  }
  const lastEpoch = Math.max(epochs || 0, ...rows.map((r) => r.epoch));
  const firstEpoch = Math.min(...rows.map((r) => r.epoch));
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values);
  const { sx, sy } = frame(svg, w, h, pad, [Math.min(firstEpoch, 1), Math.max(lastEpoch, 2)], [lo, hi * 1.05 || 1], {
    x: t("chart.epoch"), y: t("chart.loss"),
  });
  const line = (key, cls) => {
    const pts = rows.filter((r) => finite(r[key])).map((r) => `${sx(r.epoch).toFixed(1)},${sy(r[key]).toFixed(1)}`);
    if (pts.length) svg.appendChild(svgEl("polyline", { class: `chart-line ${cls}`, points: pts.join(" "), "data-series": key }));
    return pts.length;
  };
  const hasTrain = line("train_loss", "chart-line--train");
  const hasTest = line("test_loss", "chart-line--test");
  const legend = svgEl("g", { class: "chart-legend", transform: `translate(${pad.l + 8} 14)` });
  let x = 0;
  for (const [key, cls, present] of [["chart.train", "train", hasTrain], ["chart.test", "test", hasTest]]) {
    if (!present) continue;
    legend.append(
      svgEl("line", { class: `chart-line chart-line--${cls}`, x1: x, x2: x + 18, y1: 0, y2: 0 }),
      svgEl("text", { class: "chart-legend-text", x: x + 24, y: 4, text: t(key) }),
    );
    x += 110;
  }
  svg.appendChild(legend);
}

/** Predicted against true values with the residual lines of the course's plots. */
export function drawScatter(svg, predictions, { t }) {
  clear(svg);
  const w = 340;
  const h = 240;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const pad = { l: 56, r: 12, t: 14, b: 34 };
  const yt = (predictions && predictions.y_true) || [];
  const yp = (predictions && predictions.y_pred) || [];
  const pairs = [];
  const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
  const a = flat(yt);
  const b = flat(yp);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (finite(a[i]) && finite(b[i])) pairs.push([a[i], b[i]]);
  if (!pairs.length) {
    svg.appendChild(svgEl("text", { class: "chart-empty", x: w / 2, y: h / 2, "text-anchor": "middle", text: t("chart.empty") }));
    return;
  }
  const all = pairs.flat();
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const { sx, sy } = frame(svg, w, h, pad, [lo, hi], [lo, hi], { x: t("chart.true"), y: t("chart.predicted") });
  svg.appendChild(svgEl("line", { class: "chart-diagonal", x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi) }));
  const g = svgEl("g", { class: "chart-points" });
  for (const [truth, pred] of pairs) {
    g.append(
      svgEl("line", { class: "chart-residual", x1: sx(truth), x2: sx(truth), y1: sy(truth), y2: sy(pred) }),
      svgEl("circle", { class: "chart-point", cx: sx(truth), cy: sy(pred), r: 3 }),
    );
  }
  svg.appendChild(g);
}
