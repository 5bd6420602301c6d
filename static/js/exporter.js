// Export the drawing as a standalone SVG (the graph's stylesheet inlined) or as a PNG.
//
// A small graph's SVG holds every node: the export is a copy of it. A large graph is drawn
// on a canvas, and its SVG holds only the nodes in view (none when zoomed out), so its export
// is written from the state: every node as the drawing makes it (GraphView's own node
// groups, at the server's positions) and every edge along the drawing's curves.

import { ApiError, request } from "./api.js";
import { download, svgEl } from "./dom.js";

const PAD = 24;
// Chromium's canvas limits: no side past 16,384 px here (its own bound is higher, but
// toBlob and the image viewers that open the file are happier below it), and no more pixels
// in all than its area limit
export const PNG_MAX_SIDE = 16384;
export const PNG_MAX_AREA = 268435456; // 2^28 px, Chromium's canvas area limit
let cssText = null;

async function graphCss() {
  if (cssText === null) {
    // relative to this module, so the stylesheet comes from the same (versioned) tree
    const url = new URL("../css/graph.css", import.meta.url).href;
    cssText = await request("GET", url, { accept: "text/css" }).catch((err) => {
      if (err instanceof ApiError) return ""; // no stylesheet: the drawing as it is
      throw err;
    });
  }
  return cssText;
}

/** An edge of a large graph (drawn on the canvas, so with no path of its own) along the
 * curve the canvas draws. */
function edgePath(rec) {
  const f = (p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`;
  let d = `M${f(rec.segs[0].a)}`;
  for (const s of rec.segs) d += ` C${f(s.c1)} ${f(s.c2)} ${f(s.b)}`;
  return svgEl("path", {
    class: rec.cls || "edge", d, "marker-end": "url(#sg-arrow)",
    "data-source": rec.source, "data-target": rec.target, "data-slot": rec.slot,
  });
}

/** The viewport of a large graph with all of it: edges, every node, the edge labels shown. */
function wholeViewport(view) {
  const viewport = svgEl("g", { class: "viewport" });
  const edges = svgEl("g", { class: "edges" });
  for (const rec of view.edges.values()) if (rec.segs && rec.segs.length) edges.appendChild(edgePath(rec));
  const nodes = svgEl("g", { class: "nodes" });
  for (const rec of view.nodes.values()) nodes.appendChild(view.nodeCopy(rec));
  viewport.append(edges, nodes, view.labelLayer.cloneNode(true));
  return viewport;
}

/** A standalone copy of the drawing: the whole graph, not just what is on screen. `view` is
 * the page's GraphView. */
export async function standaloneSvg(view) {
  const css = await graphCss();
  const svg = view.svg;
  const bounds = view.bounds;
  const w = Math.ceil(bounds.w + 2 * PAD);
  const h = Math.ceil(bounds.h + 2 * PAD);
  // a large graph: the element itself without its children, filled from the state
  const clone = svg.cloneNode(!view.big);
  if (view.big) clone.append(view.defs.cloneNode(true), wholeViewport(view));
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  clone.setAttribute("xmlns:xlink", "http://www.w3.org/1999/xlink");
  clone.setAttribute("viewBox", `0 0 ${w} ${h}`);
  clone.setAttribute("width", String(w));
  clone.setAttribute("height", String(h));
  // the whole graph at full detail, whatever the zoom on screen
  clone.classList.remove("lod-low", "lod-mid", "lod-far", "is-panning", "is-big");
  clone.removeAttribute("style");
  // a file is a picture: the page's keyboard focus and its screen-reader wiring stay behind
  for (const name of ["role", "tabindex", "aria-roledescription", "aria-activedescendant", "aria-label", "data-active-node", "data-active-name"]) clone.removeAttribute(name);
  for (const el of clone.querySelectorAll("[data-role=focus-ring]")) el.remove();
  const viewport = clone.querySelector(".viewport");
  viewport.setAttribute("transform", `translate(${PAD - bounds.x} ${PAD - bounds.y})`);
  const fx = clone.querySelector(".fx");
  if (fx) fx.remove();
  const style = svgEl("style");
  style.textContent = css;
  clone.insertBefore(style, clone.firstChild);
  clone.insertBefore(svgEl("rect", { class: "export-background", x: 0, y: 0, width: w, height: h }), style.nextSibling);
  return { text: new XMLSerializer().serializeToString(clone), w, h };
}

export async function exportSvg(view, base) {
  const { text } = await standaloneSvg(view);
  download(new Blob([text], { type: "image/svg+xml" }), `${base}.svg`);
}

/** The scale of a PNG of w x h CSS px: `scale` device pixels per CSS pixel, less when a side
 * would pass PNG_MAX_SIDE or the whole PNG_MAX_AREA. */
export function pngScale(w, h, scale = 2) {
  return Math.min(scale, PNG_MAX_SIDE / w, PNG_MAX_SIDE / h, Math.sqrt(PNG_MAX_AREA / (w * h)));
}

export async function exportPng(view, base, scale = 2) {
  const { text, w, h } = await standaloneSvg(view);
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("The drawing could not be rasterised."));
      img.src = url;
    });
    const canvas = document.createElement("canvas");
    const k = pngScale(w, h, scale);
    canvas.width = Math.min(PNG_MAX_SIDE, Math.floor(w * k));
    canvas.height = Math.min(PNG_MAX_SIDE, Math.floor(h * k));
    const ctx = canvas.getContext("2d");
    ctx.scale(k, k);
    ctx.drawImage(img, 0, 0, w, h);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    if (!blob) throw new Error("The drawing is too large for a PNG.");
    download(blob, `${base}.png`);
  } finally {
    URL.revokeObjectURL(url);
  }
}
