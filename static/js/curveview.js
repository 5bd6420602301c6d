// Day 2's curve: a node's vector value against another's (the model over x), the target as
// dots, and a slider per param. A slider sends its value to the server (PUT /values, then a
// forward pass there) and the curve is redrawn from the values the API returns: the page
// evaluates nothing.

import { finite, frame, readableFont } from "./charts.js";
import { clear, el, setText, svgEl } from "./dom.js";
import { fmtNumber } from "./format.js";

const W = 820;
const H = 470;
const FONT = 17;

function nodeOf(graph, id) {
  return graph ? graph.nodes.find((n) => n.id === id) : null;
}

/** A leaf's number: its value once the forward pass has shown it, else what it is fed. */
export function leafNumber(node) {
  if (!node) return null;
  if (typeof node.value === "number") return node.value;
  return typeof node.fed === "number" ? node.fed : null;
}

function vector(node) {
  const v = node ? node.value : null;
  return Array.isArray(v) ? v.flat(Infinity) : null;
}

export class CurveView {
  constructor(pane, { t, onSlide }) {
    this.t = t;
    this.onSlide = onSlide;
    this.pane = pane;
    this.svg = svgEl("svg", { class: "data-svg curve-svg", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "xMidYMid meet", "data-chart": "curve", role: "img" });
    this.status = el("p", { class: "curve-status", "data-role": "curve-status", "aria-live": "polite" });
    this.sliderBox = el("div", { class: "sliders", "data-role": "sliders" });
    clear(pane).append(this.svg, this.status, this.sliderBox);
    this.range = null;
    this.sliderKey = null;
    this.inputs = new Map();
  }

  /** A new step: axes are fixed again from what it first shows, sliders are made anew. */
  reset() {
    this.range = null;
    this.sliderKey = null;
  }

  /**
   * `graph`: the API state (values computed); `curve`: {x, y, target}; `sliders`: param ids;
   * `status`: a line of text (training, loss).
   */
  draw({ graph, curve, sliders, status, key }) {
    const t = this.t;
    setText(this.status, status || "");
    const xs = vector(nodeOf(graph, curve.x));
    const ys = vector(nodeOf(graph, curve.y));
    const target = curve.target ? vector(nodeOf(graph, curve.target)) : null;
    clear(this.svg);
    this.svg.setAttribute("aria-label", t("curve.title", { x: curve.x, y: curve.y }));
    if (!xs || !ys) {
      this.svg.appendChild(svgEl("text", { class: "chart-empty", x: W / 2, y: H / 2, "text-anchor": "middle", text: t("lesson.loading") }));
      this.renderSliders(graph, sliders, key);
      return;
    }
    if (!this.range) {
      // the axes hold still while the sliders move: the curve changes, not the frame
      const all = [...(target || []), ...ys].filter(finite);
      const lo = Math.min(...all);
      const hi = Math.max(...all);
      const margin = Math.max((hi - lo) * 0.35, 0.5);
      this.range = { x: [Math.min(...xs), Math.max(...xs)], y: [lo - margin, hi + margin] };
    }
    // on a small screen the chart is scaled down: its text grows in its own units to stay
    // readable, and the margins with it
    const font = readableFont(this.svg, W, FONT);
    const u = font / FONT;
    const pad = { l: 80 * u, r: 24, t: 20, b: 60 * u };
    const { sx, sy } = frame(this.svg, W, H, pad, this.range.x, this.range.y, { x: curve.x, y: curve.y }, { font, count: u > 1.3 ? 4 : 6 });
    this.svg.appendChild(svgEl("defs", {}, svgEl("clipPath", { id: "curve-clip" },
      svgEl("rect", { x: pad.l, y: pad.t, width: W - pad.l - pad.r, height: H - pad.t - pad.b }))));
    if (target) {
      const dots = svgEl("g", { class: "curve-targets" });
      target.forEach((v, i) => {
        if (finite(v) && finite(xs[i])) dots.appendChild(svgEl("circle", { class: "curve-target", cx: sx(xs[i]), cy: sy(v), r: 5.5, "data-role": "target" }));
      });
      this.svg.appendChild(dots);
    }
    const pts = [];
    ys.forEach((v, i) => {
      if (finite(v) && finite(xs[i])) pts.push(`${sx(xs[i]).toFixed(1)},${sy(v).toFixed(1)}`);
    });
    this.svg.appendChild(svgEl("polyline", { class: "curve-line", points: pts.join(" "), "clip-path": "url(#curve-clip)",
      "data-role": "curve-line", "data-points": pts.length, "data-node": curve.y }));
    const legend = svgEl("g", { class: "chart-legend", transform: `translate(${pad.l + 16} ${pad.t + 22 * u}) scale(${u.toFixed(3)})` });
    legend.append(
      svgEl("line", { class: "curve-line", x1: 0, x2: 30, y1: 0, y2: 0 }),
      svgEl("text", { class: "chart-legend-text", x: 40, y: 6, text: t("curve.model", { node: curve.y }) }),
    );
    if (target) {
      legend.append(
        svgEl("circle", { class: "curve-target", cx: 15, cy: 28, r: 5.5 }),
        svgEl("text", { class: "chart-legend-text", x: 40, y: 34, text: t("curve.target", { node: curve.target }) }),
      );
    }
    this.svg.appendChild(legend);
    this.renderSliders(graph, sliders, key);
  }

  renderSliders(graph, sliders, key) {
    const t = this.t;
    const ids = sliders || [];
    this.sliderBox.hidden = !ids.length;
    if (this.sliderKey !== key) {
      this.sliderKey = key;
      clear(this.sliderBox);
      this.inputs.clear();
      for (const id of ids) {
        const v = leafNumber(nodeOf(graph, id)) ?? 0;
        const half = Math.max(5, Math.ceil(Math.abs(v) * 2));
        const input = el("input", { type: "range", min: -half, max: half, step: "0.05", value: v, id: `slider-${id}`,
          "data-param": id, "aria-label": t("curve.slider", { node: id }) });
        const out = el("output", { class: "slider-value num", for: `slider-${id}`, "data-role": "slider-value" });
        input.addEventListener("input", () => {
          setText(out, fmtNumber(Number(input.value), 3));
          this.onSlide(id, Number(input.value));
        });
        this.inputs.set(id, { input, out });
        this.sliderBox.appendChild(el("label", { class: "slider", "data-slider": id },
          el("span", { class: "slider-name", text: id }), input, out));
      }
    }
    for (const [id, { input, out }] of this.inputs) {
      const v = leafNumber(nodeOf(graph, id));
      if (v === null || document.activeElement === input) continue;
      input.value = String(v);
      setText(out, fmtNumber(v, 3));
    }
  }
}
