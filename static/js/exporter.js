// Export the drawing as a standalone SVG (the graph's stylesheet inlined) or as a PNG.

import { ApiError, request } from "./api.js";
import { download, svgEl } from "./dom.js";

const PAD = 24;
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

/** A standalone copy of the drawing: the whole graph, not just what is on screen. */
export async function standaloneSvg(svg, bounds) {
  const css = await graphCss();
  const clone = svg.cloneNode(true);
  const w = Math.ceil(bounds.w + 2 * PAD);
  const h = Math.ceil(bounds.h + 2 * PAD);
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  clone.setAttribute("xmlns:xlink", "http://www.w3.org/1999/xlink");
  clone.setAttribute("viewBox", `0 0 ${w} ${h}`);
  clone.setAttribute("width", String(w));
  clone.setAttribute("height", String(h));
  clone.classList.remove("lod-low", "is-panning");
  clone.removeAttribute("style");
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

export async function exportSvg(svg, bounds, base) {
  const { text } = await standaloneSvg(svg, bounds);
  download(new Blob([text], { type: "image/svg+xml" }), `${base}.svg`);
}

export async function exportPng(svg, bounds, base, scale = 2) {
  const { text, w, h } = await standaloneSvg(svg, bounds);
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("The drawing could not be rasterised."));
      img.src = url;
    });
    const canvas = document.createElement("canvas");
    const k = Math.min(scale, 16000 / Math.max(w, h));
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
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
