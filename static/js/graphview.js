// The DAG drawn as SVG from the server's layout. One `render(state)` call draws the graph
// the first time and afterwards only touches what changed: text of values and gradients,
// CSS classes of nodes and edges, edge labels. Pan and zoom with pointer events.
//
// A large graph (more than BIG_GRAPH nodes) is drawn on a canvas under the SVG
// (graphcanvas.js), and the SVG holds only the nodes in view once they are large enough to
// read: the page stays responsive at 10,000 nodes, and what a node shows up close is the
// same as in a small graph. A state that says which nodes and edges a change touched
// (`state.touched`, from a patch) updates only those.

import { clear, setText, svgEl } from "./dom.js";
import { GraphAccess } from "./graphaccess.js";
import { GraphCanvas, Minimap, readPalette } from "./graphcanvas.js";
import { opLabel } from "./i18n.js";
import { edgeKey } from "./patch.js"; // the keys a patch's `touched.edges` names
import {
  asMatrix,
  displayRange,
  fmtNumber,
  fmtRange,
  fmtShape,
  fmtShort,
  isNonFinite,
  shapeOf,
  summaryOf,
  valueKey,
} from "./format.js";

const SCALAR = { w: 184, h: 92 };
const TENSOR = { w: 240, h: 164 };
const GAP_X = 136; // room between layers for the edge labels
// structure only (the lesson's topological sort): small boxes with a name, no numbers
const COMPACT = { w: 124, h: 76 };
const COMPACT_GAP_X = 92;
// presenting, the gap between the server's columns shrinks down to this before the text does
// (the edge labels are small text, not drawn at the zoom of the main text)
const PRESENT_MIN_GAP_X = 48;
const GAP_Y = 30;
const SERVER_ROW = 80; // the server's row: a scalar node's height and its gap (app/live/layout.py SPACING_Y)
const MAX_ZOOM = 2.6;
const MIN_ZOOM = 0.02; // the zoom-out limit of a graph that fits above it; larger ones fit lower
// Legibility: no text is drawn smaller on screen than MIN_TEXT_PX (PRESENT_TEXT_PX in
// presentation mode, read from the back of a room). Node text comes in two sizes (graph.css):
// the name, value and gradient (TEXT_MAIN) and the rest (TEXT_SMALL: op badge, captions,
// tensor shapes, cells and ranges, edge labels). Below the zoom that keeps a size readable
// that text is not drawn at all, and a small graph is fitted no smaller than the zoom that
// keeps all of its text readable: if it is wider than the screen, it is panned instead.
export const MIN_TEXT_PX = 12;
export const PRESENT_TEXT_PX = 20;
const PRESENT_WIDTH = 1920; // the projector's width PRESENT_TEXT_PX is meant for
const TEXT_MAIN = 20;
const TEXT_SMALL = 16;
const LOW_DETAIL_ZOOM = MIN_TEXT_PX / TEXT_MAIN; // the least zoom at which a big graph's SVG nodes are drawn
const FAR_ZOOM = 0.15; // below this, edges are lightened so that the shape reads
// measured in Chromium (bench/browser_render.py): past a few hundred SVG nodes, building and
// panning slow down; a canvas draws 10,000 within a frame
export const BIG_GRAPH = 400;
const MAX_DETAIL_NODES = 700; // SVG nodes in view at most (a large screen at the detail zoom)
export const FOLLOW_ZOOM = 0.8; // the camera following the steps zooms in at least this far
const LABEL_CHARS = 13;
const EDGE_LABELS_ALL_MAX = 80; // with more edges, only the active ones are labelled

const indexes = new WeakMap();

/** Lookups over a graph by id, made once per structure and not once per render: a patch
 * keeps the state's `order` array and every node and edge at its place, so the positions
 * found for one version hold for the next (a whole state brings a new `order`).
 * `byId.get(id)` is the node; `consumers.get(id)` / `inputs.get(id)` the edges out of and
 * into it, in the state's order. */
export function graphIndex(g) {
  const key = g.order || g.nodes;
  let idx = indexes.get(key);
  if (!idx || idx.nodes !== g.nodes.length || idx.edges !== g.edges.length) {
    const pos = new Map(g.nodes.map((n, i) => [n.id, i]));
    const outOf = new Map();
    const into = new Map();
    const add = (map, id, i) => (map.has(id) ? map.get(id).push(i) : map.set(id, [i]));
    g.edges.forEach((e, i) => {
      add(outOf, e.source, i);
      add(into, e.target, i);
    });
    idx = { pos, outOf, into, nodes: g.nodes.length, edges: g.edges.length };
    indexes.set(key, idx);
  }
  const edgesOf = (map) => ({ get: (id) => (map.has(id) ? map.get(id).map((i) => g.edges[i]) : undefined) });
  return {
    byId: { get: (id) => (idx.pos.has(id) ? g.nodes[idx.pos.get(id)] : undefined) },
    consumers: edgesOf(idx.outOf),
    inputs: edgesOf(idx.into),
  };
}

export function nodeKind(node, graph) {
  if (node.op === "input" || node.op === "param" || node.op === "const") return node.op;
  return node.id === graph.output ? "output" : "op";
}

/** A node's tooltip, made on first hover (one element fewer per node when drawing). */
function nodeTitle(rec) {
  const op = opLabel(rec.op);
  return rec.label === rec.id ? `${rec.label} (${op})` : `${rec.label} \u2014 ${rec.id} (${op})`;
}

function signature(graph) {
  const parts = [graph.id, graph.nodes.length, graph.edges.length];
  for (const n of graph.nodes) parts.push(n.id, n.op, (n.shape || []).length ? "t" : "s", n.x, n.y);
  for (const e of graph.edges) parts.push(e.source, e.target, e.slot);
  return parts.join("|");
}

function truncate(text, max) {
  const chars = Array.from(String(text));
  return chars.length > max ? chars.slice(0, max - 1).join("") + "\u2026" : chars.join("");
}

let measureCtx = null;

/** The width of a text in a CSS font, measured without touching the page's layout. */
function textWidth(text, font) {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

/** The longest start of `text` (ending with an ellipsis when cut) that fits in `room` px. */
function fitText(text, font, room) {
  const chars = Array.from(String(text));
  if (textWidth(chars.join(""), font) <= room) return chars.join("");
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(chars.slice(0, mid).join("") + "\u2026", font) <= room) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? chars.slice(0, lo).join("") + "\u2026" : "\u2026";
}

/** Waypoints of an edge that spans several layers, as sent by the server (if any). */
function edgePoints(e) {
  const raw = e.points || e.waypoints || [];
  if (!Array.isArray(raw)) return [];
  return raw
    .map((p) => (Array.isArray(p) ? { x: p[0], y: p[1] } : p))
    .filter((p) => p && Number.isFinite(p.x) && Number.isFinite(p.y));
}

/** Blue (negative) / white / orange (positive) heatmap of a matrix, as a data URL. */
function heatmapUrl(matrix) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, matrix.cols);
  canvas.height = Math.max(1, matrix.rows);
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  let scale = 0;
  for (const c of matrix.cells) if (typeof c === "number" && Number.isFinite(c)) scale = Math.max(scale, Math.abs(c));
  matrix.cells.forEach((c, i) => {
    let r;
    let g;
    let b;
    if (typeof c === "number" && Number.isFinite(c)) {
      const t = scale > 0 ? c / scale : 0;
      if (t >= 0) {
        // white -> orange (#d35400)
        r = 255 - t * (255 - 211);
        g = 255 - t * (255 - 84);
        b = 255 - t * 255;
      } else {
        // white -> blue (#1f5fa8)
        const u = -t;
        r = 255 - u * (255 - 31);
        g = 255 - u * (255 - 95);
        b = 255 - u * (255 - 168);
      }
    } else {
      r = 220; g = 0; b = 60; // non-finite: red
    }
    img.data.set([r, g, b, 255], i * 4);
  });
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL("image/png");
}

export class GraphView {
  constructor(svg, { onSelect = () => {}, t = (k) => k } = {}) {
    this.svg = svg;
    this.canvasLayer = new GraphCanvas(svg.parentElement, svg);
    this.minimap = new Minimap(svg.parentElement, { onMove: (p) => this.centerAt(p.x, p.y) });
    this.big = false;
    this.marks = {};
    this.onSelect = onSelect;
    this.t = t;
    this.defs = svgEl("defs", {},
      svgEl("marker", { id: "sg-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
        markerWidth: "13", markerHeight: "13", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse", class: "arrow" },
        svgEl("path", { d: "M0,0 L10,5 L0,10 z" })));
    this.viewport = svgEl("g", { class: "viewport" });
    this.edgeLayer = svgEl("g", { class: "edges" });
    this.haloLayer = svgEl("g", { class: "halos", "aria-hidden": "true" });
    this.nodeLayer = svgEl("g", { class: "nodes" });
    this.labelLayer = svgEl("g", { class: "edge-labels" });
    this.fxLayer = svgEl("g", { class: "fx", "aria-hidden": "true" });
    // the dot travelling along an edge passes under the nodes and the edge labels, which stay readable
    this.viewport.append(this.edgeLayer, this.fxLayer, this.haloLayer, this.nodeLayer, this.labelLayer);
    // one halo for the node the last step visited and one for the next: two elements, not one per node
    this.haloNext = svgEl("rect", { class: "halo halo--next", rx: 16, visibility: "hidden" });
    this.haloCurrent = svgEl("rect", { class: "halo halo--current", rx: 16, visibility: "hidden" });
    this.haloLayer.append(this.haloNext, this.haloCurrent);
    this.sizeCache = null;
    // the drawing stays fitted to its box (panels shown or hidden, window resized) until the
    // user pans or zooms; "fit" (key 0) fits it again
    this.autoFit = true;
    if (window.ResizeObserver) {
      new ResizeObserver((entries) => {
        const r = entries[entries.length - 1].contentRect;
        const size = { w: Math.max(r.width, 1), h: Math.max(r.height, 1) };
        const changed = !this.sizeCache || this.sizeCache.w !== size.w || this.sizeCache.h !== size.h;
        this.sizeCache = size;
        // presenting, a new width may want another gap between the columns: drawn again
        if (changed && this.structure && this.lastState && this.lastState.graph
          && this.columnGap(this.lastState.graph, this.compact) !== this.gapX) this.render(this.lastState);
        else if (changed && this.autoFit && this.structure) this.fit();
        else if (changed) {
          // a sheet opened over part of the drawing: the step's node stays in what is left
          if (this.marks.current || this.marks.next) this.ensureVisible(this.marks.current || this.marks.next);
          this.applyView();
        }
      }).observe(svg);
    }
    clear(svg).append(this.defs, this.viewport);
    this.view = { k: 1, x: 0, y: 0 };
    this.structure = null;
    this.nodes = new Map();
    this.edges = new Map();
    this.bounds = { x: 0, y: 0, w: 1, h: 1 };
    this.lang = null;
    this.prevPosition = null;
    this.framePending = false;
    // the editor's hooks: `onPointerDown(ev, nodeId, point)` returning true takes the drag
    // (moving a node, drawing an edge) instead of panning; `spacing` ({x, y} of the server's
    // layout grid) scales by the grid rather than by the closest pair, which a node placed
    // by hand would shrink
    this.onPointerDown = null;
    this.spacing = null;
    this.installPointer();
    // one tab stop for a keyboard and a screen reader (graphaccess.js)
    this.access = new GraphAccess(this);
    // the canvas of a large graph reads its colours from CSS: again when the theme changes
    document.addEventListener("sg:theme", () => this.repaintTheme());
  }

  /** The theme changed (theme.js): the canvas and the minimap take the new colours. */
  repaintTheme() {
    if (!this.big) return;
    const palette = readPalette(this.svg);
    this.canvasLayer.setGraph([...this.nodes.values()], [...this.edges.values()], this.nodes, palette);
    this.minimap.setGraph([...this.nodes.values()], this.bounds, palette);
    this.applyView();
  }

  // ---- drawing ---------------------------------------------------------------------------

  render(state) {
    const graph = state.graph;
    if (!graph) return;
    const t0 = performance.now();
    // a patch that moved nothing keeps the drawing's structure: no need to compare it
    const touched = state.touched && !state.touched.layout && this.structure && graph.id === this.graphId ? state.touched : null;
    this.lastState = state;
    this.gapX = this.columnGap(graph, Boolean(state.compact));
    const sig = touched ? this.structure : `${signature(graph)}|${state.compact ? "compact" : ""}|${this.gapX}`;
    const built = sig !== this.structure;
    if (built) {
      this.graphId = graph.id;
      this.compact = Boolean(state.compact);
      this.build(graph);
      this.structure = sig;
      performance.measure("sg:build-dom", { start: t0, end: performance.now() });
    }
    const tu = performance.now();
    this.update(state, built, built ? null : touched);
    if (built) {
      performance.measure("sg:build-update", { start: tu, end: performance.now() });
      const tf = performance.now();
      this.fit();
      performance.measure("sg:build-fit", { start: tf, end: performance.now() });
    }
    const t1 = performance.now();
    performance.measure(built ? "sg:render-build" : "sg:render-update", { start: t0, end: t1 });
  }

  build(graph) {
    this.nodes.clear();
    this.edges.clear();
    this.prevPosition = null;
    clear(this.edgeLayer);
    clear(this.nodeLayer);
    clear(this.labelLayer);
    clear(this.fxLayer);
    this.haloNext.setAttribute("visibility", "hidden");
    this.haloCurrent.setAttribute("visibility", "hidden");
    this.haloKey = null;
    const geometry = this.layout(graph);
    this.big = graph.nodes.length > BIG_GRAPH && !this.compact;
    this.nodeIndex = new Map();
    this.edgeIndex = new Map();
    this.detail = new Set(); // the nodes the SVG draws (all of them in a small graph)
    this.detailCamera = null;
    const nodeFrag = document.createDocumentFragment();
    graph.nodes.forEach((node, i) => {
      const rec = this.nodeRecord(node, graph, geometry.get(node.id));
      this.nodes.set(node.id, rec);
      this.nodeIndex.set(node.id, i);
      if (!this.big) nodeFrag.appendChild(this.materialise(rec));
    });
    const edgeFrag = document.createDocumentFragment();
    const arity = new Map();
    for (const e of graph.edges) arity.set(e.target, Math.max(arity.get(e.target) || 0, e.slot + 1));
    // a node feeding several edges spreads them along its right side, in the order of their
    // targets from top to bottom, so that parallel edges (x*x) and their labels stay apart
    const outs = new Map();
    graph.edges.forEach((e, i) => {
      if (!outs.has(e.source)) outs.set(e.source, []);
      outs.get(e.source).push(i);
    });
    const sourcePort = new Map();
    for (const list of outs.values()) {
      const ty = (i) => {
        const e = graph.edges[i];
        const tg = this.nodes.get(e.target);
        return tg ? tg.box.y + (tg.box.h * (e.slot + 1)) / ((arity.get(e.target) || 1) + 1) : 0;
      };
      list.sort((a, b) => ty(a) - ty(b));
      list.forEach((i, j) => sourcePort.set(i, list.length > 1 ? (j + 1) / (list.length + 1) : 0.5));
    }
    graph.edges.forEach((e, i) => {
      const s = this.nodes.get(e.source);
      const tg = this.nodes.get(e.target);
      if (!s || !tg) return;
      const rec = this.buildEdge(e, i, s, tg, arity.get(e.target) || 1, sourcePort.get(i));
      this.edges.set(rec.key, rec);
      this.edgeIndex.set(rec.key, i);
      s.outEdges.push(rec);
      tg.inEdges.push(rec);
      if (rec.path) edgeFrag.appendChild(rec.path);
    });
    this.edgeLayer.appendChild(edgeFrag);
    this.nodeLayer.appendChild(nodeFrag);
    this.manyEdges = graph.edges.length > EDGE_LABELS_ALL_MAX;
    this.svg.classList.toggle("many-edges", this.manyEdges);
    this.svg.classList.toggle("is-big", this.big);
    const palette = this.big ? readPalette(this.svg) : null;
    this.canvasLayer.setGraph([...this.nodes.values()], [...this.edges.values()], this.nodes, palette);
    this.canvasLayer.show(this.big);
    this.minimap.show(this.big);
    if (this.big) this.minimap.setGraph([...this.nodes.values()], this.bounds, palette);
  }

  /** Node boxes from the server's x, y: spaced so that boxes and edge labels never overlap. */
  layout(graph) {
    const scalar = this.compact ? COMPACT : SCALAR;
    const size = (n) => ((n.shape || []).length && !this.compact ? TENSOR : scalar);
    let maxW = scalar.w;
    let maxH = scalar.h;
    for (const n of graph.nodes) {
      const s = size(n);
      maxW = Math.max(maxW, s.w);
      maxH = Math.max(maxH, s.h);
    }
    const hasXY = graph.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y));
    const pts = new Map();
    if (hasXY) {
      for (const n of graph.nodes) pts.set(n.id, { x: n.x, y: n.y });
    } else {
      // no layout from the server: stack each layer
      const count = new Map();
      for (const n of graph.nodes) {
        const layer = Number.isFinite(n.layer) ? n.layer : 0;
        const i = count.get(layer) || 0;
        count.set(layer, i + 1);
        pts.set(n.id, { x: layer, y: i });
      }
    }
    const xs = [...new Set([...pts.values()].map((p) => p.x))].sort((a, b) => a - b);
    let minDx = Infinity;
    for (let i = 1; i < xs.length; i++) minDx = Math.min(minDx, xs[i] - xs[i - 1]);
    const byX = new Map();
    const waypoints = hasXY ? graph.edges.flatMap(edgePoints) : [];
    for (const p of [...pts.values(), ...waypoints]) {
      if (!byX.has(p.x)) byX.set(p.x, []);
      byX.get(p.x).push(p.y);
    }
    let minDy = Infinity;
    for (const ys of byX.values()) {
      ys.sort((a, b) => a - b);
      for (let i = 1; i < ys.length; i++) if (ys[i] - ys[i - 1] > 1e-9) minDy = Math.min(minDy, ys[i] - ys[i - 1]);
    }
    if (this.spacing) {
      minDx = this.spacing.x;
      minDy = this.spacing.y;
    }
    const sx = Number.isFinite(minDx) && minDx > 0 ? (maxW + (this.gapX || (this.compact ? COMPACT_GAP_X : GAP_X))) / minDx : 1;
    // the server stacks a column by its nodes' heights in rows of SERVER_ROW (app/live/layout.py):
    // a row is a scalar node and the gap under it; without its layout, the tallest node's
    const sy = hasXY ? (scalar.h + GAP_Y) / (this.spacing ? this.spacing.y : SERVER_ROW)
      : Number.isFinite(minDy) && minDy > 0 ? (maxH + GAP_Y) / minDy : 1;
    const minX = xs.length ? xs[0] : 0;
    let minY = Infinity;
    for (const p of [...pts.values(), ...waypoints]) minY = Math.min(minY, p.y);
    this.mapPoint = (x, y) => ({ x: (x - minX) * sx + maxW / 2, y: (y - minY) * sy + maxH / 2 });
    this.unmapPoint = (x, y) => ({ x: (x - maxW / 2) / sx + minX, y: (y - maxH / 2) / sy + minY });
    const out = new Map();
    let right = 0;
    let bottom = 0;
    for (const n of graph.nodes) {
      const p = pts.get(n.id);
      const s = size(n);
      const cx = (p.x - minX) * sx + maxW / 2;
      const cy = (p.y - minY) * sy + maxH / 2;
      const box = { x: cx - s.w / 2, y: cy - s.h / 2, w: s.w, h: s.h };
      out.set(n.id, box);
      right = Math.max(right, box.x + box.w);
      bottom = Math.max(bottom, box.y + box.h);
    }
    for (const p of waypoints) bottom = Math.max(bottom, this.mapPoint(p.x, p.y).y + 10);
    this.bounds = { x: 0, y: 0, w: Math.max(right, 1), h: Math.max(bottom, 1) };
    return out;
  }

  /** The room between two of the server's columns, in drawing px: the usual gap, but
   * presenting a graph that would not fit the stage whole at the zoom of its main text, less
   * (down to PRESENT_MIN_GAP_X), so that it does. The server's columns and their order stay;
   * only the scale of x changes. */
  columnGap(graph, compact) {
    const base = compact ? COMPACT_GAP_X : GAP_X;
    if (compact || !this.presentingFit() || graph.nodes.length > BIG_GRAPH) return base;
    if (!graph.nodes.every((n) => Number.isFinite(n.x))) return base;
    const xs = [...new Set(graph.nodes.map((n) => n.x))].sort((a, b) => a - b);
    if (xs.length < 2) return base;
    let minDx = Infinity;
    for (let i = 1; i < xs.length; i++) minDx = Math.min(minDx, xs[i] - xs[i - 1]);
    const span = xs[xs.length - 1] - xs[0];
    const maxW = graph.nodes.some((n) => (n.shape || []).length) ? TENSOR.w : SCALAR.w;
    const r = this.svg.getBoundingClientRect();
    const pad = this.padding();
    const room = (r.width - pad.left - pad.right - 14) / this.readableZoom(true);
    if (room <= 0) return base;
    const gap = Math.floor(((room - maxW) * minDx) / span - maxW);
    return Math.max(PRESENT_MIN_GAP_X, Math.min(base, gap));
  }

  /** What the view keeps of a node: its box, kind and state; its SVG is made by materialise. */
  nodeRecord(node, graph, box) {
    const kind = nodeKind(node, graph);
    const tensor = (node.shape || []).length > 0;
    const label = node.label || node.id;
    return {
      id: node.id, op: node.op, label, g: null, box, kind, tensor, inEdges: [], outEdges: [],
      cls: "", valueKey: null, gradKey: null, node, hasValue: false, hasGrad: false,
    };
  }

  /** The name and the op badge (in the page's language) as they fit the top line: both
   * measured, the badge keeps at most half of it and the name what is left, cut with an
   * ellipsis (the full name is in the tooltip and the inspector). */
  titleTexts(rec) {
    const { box, tensor, label } = rec;
    const family = this.fontFamily();
    const opFont = `600 ${TEXT_SMALL}px ${family}`;
    const opRaw = rec.op === label ? "" : opLabel(rec.op);
    const opText = opRaw ? fitText(opRaw, opFont, (box.w - 24) / 2) : "";
    const opW = opText ? textWidth(opText, opFont) + Array.from(opText).length * 0.02 * TEXT_SMALL : 0;
    const room = box.w - 24 - (opText ? opW + 10 : 0);
    const shown = fitText(truncate(label, tensor ? LABEL_CHARS + 2 : LABEL_CHARS), `700 ${TEXT_MAIN}px ${family}`, room);
    return [shown, opText];
  }

  /** The node's SVG group, filled with what the record holds. */
  materialise(rec) {
    const { box, kind, tensor, label } = rec;
    const node = { op: rec.op };
    const g = svgEl("g", {
      class: `node node--${kind}${tensor ? " node--tensor" : ""}`,
      "data-node-id": rec.id,
      "data-kind": kind,
      transform: `translate(${box.x.toFixed(1)} ${box.y.toFixed(1)})`,
    });
    g.appendChild(svgEl("rect", { class: "node-box", width: box.w, height: box.h, rx: 11 }));
    const [shown, opText] = this.titleTexts(rec);
    rec.labelEl = svgEl("text", { class: "node-label", x: 12, y: 26, "data-role": "label", text: shown });
    g.appendChild(rec.labelEl);
    rec.opEl = node.op === label ? null : svgEl("text", { class: "node-op", x: box.w - 12, y: 25, "text-anchor": "end", text: opText });
    if (rec.opEl) g.appendChild(rec.opEl);
    g.appendChild(svgEl("line", { class: "node-rule", x1: 8, x2: box.w - 8, y1: 36, y2: 36 }));
    rec.g = g;
    rec.titled = false;
    if (tensor) {
      // two columns with a clear gap, so that the value's shape and the gradient's caption
      // do not read as one line
      const half = (box.w - 44) / 2;
      rec.valueCol = this.buildTensorColumn(g, 10, half, "value");
      rec.gradCol = this.buildTensorColumn(g, 34 + half, half, "grad");
      rec.captions = [rec.valueCol.caption, rec.gradCol.caption];
    } else {
      const vCap = svgEl("text", { class: "node-caption", x: 12, y: 60 });
      const gCap = svgEl("text", { class: "node-caption node-caption--grad", x: 12, y: 83 });
      rec.valueText = svgEl("text", { class: "node-value", x: box.w - 12, y: 61, "text-anchor": "end", "data-role": "value" });
      rec.gradText = svgEl("text", { class: "node-grad", x: box.w - 12, y: 84, "text-anchor": "end", "data-role": "grad" });
      g.append(vCap, rec.valueText, gCap, rec.gradText);
      rec.captions = [vCap, gCap];
    }
    setText(rec.captions[0], this.t("node.value"));
    setText(rec.captions[1], this.t("node.grad"));
    if (rec.cls) g.setAttribute("class", rec.cls);
    rec.valueKey = null;
    rec.gradKey = null;
    this.paintNode(rec, false);
    this.detail.add(rec);
    return g;
  }

  /** A node's group as the drawing makes it, for a copy of the whole drawing (the export of a
   * large graph, whose SVG holds only the nodes in view): the view does not keep it. */
  nodeCopy(rec) {
    if (rec.g) return rec.g.cloneNode(true);
    const copy = { ...rec, g: null, titled: false };
    const g = this.materialise(copy);
    this.detail.delete(copy);
    return g;
  }

  fontFamily() {
    if (!this.family) this.family = getComputedStyle(this.svg).fontFamily || "sans-serif";
    return this.family;
  }

  /** The smallest text size on screen, in CSS px: larger when presenting to a room. */
  minText() {
    if (!document.body.classList.contains("presenting")) return MIN_TEXT_PX;
    // a projector stretches the screen to the wall: PRESENT_TEXT_PX at 1920 px wide, the same
    // share of the width on a smaller screen, never under MIN_TEXT_PX
    return Math.max(MIN_TEXT_PX, Math.min(PRESENT_TEXT_PX, (PRESENT_TEXT_PX * window.innerWidth) / PRESENT_WIDTH));
  }

  /** The least zoom at which every text of a node is readable, and that for its main text. */
  readableZoom(main = false) {
    return this.minText() / (main ? TEXT_MAIN : TEXT_SMALL);
  }

  /** Drop a node's SVG (out of view in a large graph); the record keeps its state. */
  dematerialise(rec) {
    if (!rec.g) return;
    rec.g.remove();
    rec.g = null;
    rec.valueCol = rec.gradCol = rec.valueText = rec.gradText = rec.captions = rec.opEl = rec.labelEl = rec.titleEl = null;
    this.detail.delete(rec);
  }

  buildTensorColumn(g, x, w, role) {
    const col = svgEl("g", { class: `tensor-col tensor-col--${role}`, transform: `translate(${x} 42)`, "data-role": role });
    const caption = svgEl("text", { class: `node-caption${role === "grad" ? " node-caption--grad" : ""}`, x: 0, y: 13 });
    const shape = svgEl("text", { class: "tensor-shape", x: w, y: 13, "text-anchor": "end" });
    const body = svgEl("g", { class: "tensor-body", transform: "translate(0 20)" });
    // the range under a heatmap, one label: [least, greatest]
    const range = svgEl("text", { class: "tensor-range", x: w / 2, y: 116, "text-anchor": "middle" });
    col.append(caption, shape, body, range);
    g.appendChild(col);
    return { col, caption, shape, body, range, w, h: 80 };
  }

  buildEdge(e, i, s, tg, arity, port = 0.5) {
    const start = { x: s.box.x + s.box.w, y: s.box.y + s.box.h * port };
    const end = { x: tg.box.x - 2, y: tg.box.y + (tg.box.h * (e.slot + 1)) / (arity + 1) };
    // edges spanning several layers pass through the server's waypoints (between the nodes)
    const pts = [start, ...edgePoints(e).map((p) => this.mapPoint(p.x, p.y)), end];
    let d = `M${start.x.toFixed(1)},${start.y.toFixed(1)}`;
    let seg = null;
    const segs = [];
    const bbox = { x: Infinity, y: Infinity, w: 0, h: 0 };
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const q of pts) {
      bbox.x = Math.min(bbox.x, q.x);
      bbox.y = Math.min(bbox.y, q.y);
      maxX = Math.max(maxX, q.x);
      maxY = Math.max(maxY, q.y);
    }
    bbox.w = maxX - bbox.x;
    bbox.h = maxY - bbox.y;
    for (let j = 1; j < pts.length; j++) {
      const a = pts[j - 1];
      const b = pts[j];
      const dx = Math.max(30, Math.abs(b.x - a.x) / 2);
      seg = b.x > a.x
        ? { a, c1: { x: a.x + dx, y: a.y }, c2: { x: b.x - dx, y: b.y }, b }
        // a segment running back to the left (an edge closing a cycle, drawn through
        // waypoints): a straight stretch, not an S-curve that loops over itself
        : { a, c1: { x: a.x + (b.x - a.x) / 3, y: a.y + (b.y - a.y) / 3 }, c2: { x: a.x + (2 * (b.x - a.x)) / 3, y: a.y + (2 * (b.y - a.y)) / 3 }, b };
      segs.push(seg);
      if (!this.big) d += ` C${seg.c1.x.toFixed(1)},${seg.c1.y.toFixed(1)} ${seg.c2.x.toFixed(1)},${seg.c2.y.toFixed(1)} ${b.x.toFixed(1)},${b.y.toFixed(1)}`;
    }
    const id = `sg-edge-${i}`;
    // a large graph's edges are drawn on the canvas
    const path = this.big ? null : svgEl("path", {
      id, class: "edge", d, "marker-end": "url(#sg-arrow)",
      "data-source": e.source, "data-target": e.target, "data-slot": e.slot,
    });
    // the label sits in the middle of the last segment, where the contribution leaves the consumer
    const tt = 0.5;
    const mt = 1 - tt;
    const bez = (k) => mt ** 3 * seg.a[k] + 3 * mt * mt * tt * seg.c1[k] + 3 * mt * tt * tt * seg.c2[k] + tt ** 3 * seg.b[k];
    const at = { x: bez("x"), y: bez("y") };
    // the label (a pill with the contribution) is made when first needed
    return { key: edgeKey(e), id, source: e.source, target: e.target, slot: e.slot, path, at, segs, bbox,
      label: null, rect: null, text: null, labelText: "", cls: "", lcls: "", gradKey: null, active: false };
  }

  ensureLabel(rec) {
    if (rec.label) return rec.label;
    rec.label = svgEl("g", {
      class: "edge-label", transform: `translate(${rec.at.x.toFixed(1)} ${rec.at.y.toFixed(1)})`,
      "data-source": rec.source, "data-target": rec.target, "data-slot": rec.slot,
    });
    rec.rect = svgEl("rect", { class: "edge-label-box", x: -30, y: -14, width: 60, height: 28, rx: 14 });
    rec.text = svgEl("text", { class: "edge-label-text", x: 0, y: 6, "text-anchor": "middle", "data-role": "edge-grad" });
    rec.label.append(rec.rect, rec.text);
    this.labelLayer.appendChild(rec.label);
    this.setLabelText(rec, rec.labelText);
    return rec.label;
  }

  setLabelText(rec, text) {
    rec.labelText = text;
    if (!rec.label) return;
    setText(rec.text, text);
    const w = Math.max(44, Array.from(text).length * 10 + 18);
    rec.rect.setAttribute("x", String(-w / 2));
    rec.rect.setAttribute("width", String(w));
  }

  setColumn(col, v, cls) {
    setText(col.shape, v === null || v === undefined ? "" : fmtShape(shapeOf(v)));
    clear(col.body);
    col.col.classList.toggle("is-empty", v === null || v === undefined);
    if (v === null || v === undefined) {
      col.body.appendChild(svgEl("text", { class: "tensor-empty", x: col.w / 2, y: 44, "text-anchor": "middle", text: "\u2014" }));
      this.setRange(col, "");
      return;
    }
    const summary = summaryOf(v);
    if (summary) {
      const lines = [["stat.min", summary.min], ["stat.mean", summary.mean], ["stat.max", summary.max]];
      lines.forEach(([name, v], i) => {
        col.body.appendChild(svgEl("text", { class: "tensor-cell", x: 0, y: 22 + i * 24, text: this.t(name) }));
        col.body.appendChild(svgEl("text", { class: "tensor-cell", x: col.w, y: 22 + i * 24, "text-anchor": "end", text: fmtNumber(v, 3) }));
      });
      this.setRange(col, "");
      return;
    }
    const m = asMatrix(v);
    if (m.rows <= 4 && m.cols === 1) {
      const cw = col.w / m.cols;
      const rh = 80 / Math.max(m.rows, 3);
      m.cells.forEach((c, i) => {
        const r = Math.floor(i / m.cols);
        const k = i % m.cols;
        col.body.appendChild(svgEl("text", {
          class: `tensor-cell ${cls}${isNonFinite(c) ? " is-nonfinite" : ""}`,
          x: (k + 0.5) * cw, y: r * rh + rh * 0.7, "text-anchor": "middle", text: fmtNumber(c, 3),
        }));
      });
      this.setRange(col, "");
      return;
    }
    // heatmap, fitted into the column keeping cells square-ish
    const maxW = col.w;
    const maxH = 80;
    const cell = Math.min(maxW / m.cols, maxH / m.rows);
    const w = Math.max(4, m.cols * cell);
    const h = Math.max(4, m.rows * cell);
    col.body.appendChild(svgEl("rect", { class: "heatmap-frame", x: (maxW - w) / 2 - 1, y: (maxH - h) / 2 - 1, width: w + 2, height: h + 2 }));
    col.body.appendChild(svgEl("image", {
      class: "heatmap", href: heatmapUrl(m), x: (maxW - w) / 2, y: (maxH - h) / 2, width: w, height: h,
      preserveAspectRatio: "none",
    }));
    const r = displayRange(v);
    // two significant digits, one if that is too wide for the column
    const font = `${TEXT_SMALL}px ${this.fontFamily()}`;
    let text = fmtRange(r.min, r.max, 2);
    if (textWidth(text, font) > col.w) text = fmtRange(r.min, r.max, 1);
    this.setRange(col, text, textWidth(text, font) > col.w);
  }

  /** The range label of a tensor column; `squeeze`: narrowed to the column's width (its
   * height, what makes it readable, stays). */
  setRange(col, text, squeeze = false) {
    setText(col.range, text);
    if (squeeze) {
      col.range.setAttribute("textLength", String(col.w));
      col.range.setAttribute("lengthAdjust", "spacingAndGlyphs");
    } else col.range.removeAttribute("textLength");
  }

  update(state, built, touched = null) {
    const graph = state.graph;
    // the step just done, as the server says (a backward target skips nodes: never recomputed)
    const step = graph.cursor ? graph.cursor.last : null;
    const next = graph.cursor ? graph.cursor.node : null;
    const selected = state.selected;
    const t = this.t;
    const langChanged = this.lang !== state.lang;
    if (built || langChanged) {
      this.lang = state.lang;
      for (const rec of this.detail) {
        setText(rec.captions[0], t("node.value"));
        setText(rec.captions[1], t("node.grad"));
        if (rec.opEl) {
          const [shown, opText] = this.titleTexts(rec);
          setText(rec.labelEl, shown);
          setText(rec.opEl, opText);
        }
        if (rec.titleEl) setText(rec.titleEl, nodeTitle(rec));
        if (rec.tensor) rec.valueKey = rec.gradKey = null; // summaries name min, mean, max
      }
    }
    // extra classes a page puts on nodes and edges (the lesson's highlight, Kahn's steps)
    const highlight = state.highlight instanceof Set ? state.highlight : new Set(state.highlight || []);
    const marks = state.marks || {};
    const nodeMarks = marks.nodes || new Map();
    const edgeMarks = marks.edges || new Map();
    const current = { current: step ? step.node : null, phase: step ? step.phase : null, next, selected, highlight: [...highlight] };
    // which nodes and edges to look at: all of them, or those a patch touched and those whose
    // marks (the step's node, the next one, the selection) move
    let nodeList;
    let edgeList;
    const prev = this.marks;
    const partial = touched && !built && !state.marks && highlight.size === 0 && !(prev.highlight || []).length;
    if (partial) {
      const ids = new Set(touched.nodes || []);
      for (const id of [prev.current, prev.next, prev.selected, current.current, current.next, selected]) if (id) ids.add(id);
      nodeList = [];
      const edgeKeys = new Set(touched.edges || []);
      for (const id of ids) {
        const i = this.nodeIndex.get(id);
        if (i === undefined) continue;
        nodeList.push(graph.nodes[i]);
        const rec = this.nodes.get(id);
        for (const e of rec.inEdges) edgeKeys.add(e.key);
        for (const e of rec.outEdges) edgeKeys.add(e.key);
      }
      edgeList = [];
      for (const key of edgeKeys) {
        const i = this.edgeIndex.get(key);
        if (i !== undefined) edgeList.push(graph.edges[i]);
      }
    } else {
      nodeList = graph.nodes;
      edgeList = graph.edges;
    }
    this.marks = current;
    const changedValue = [];
    const changedGrad = [];
    for (const node of nodeList) {
      const rec = this.nodes.get(node.id);
      if (!rec) continue;
      rec.node = node;
      const hasValue = node.value !== null && node.value !== undefined;
      const hasGrad = node.grad !== null && node.grad !== undefined;
      if (hasValue !== rec.hasValue || hasGrad !== rec.hasGrad) {
        rec.hasValue = hasValue;
        rec.hasGrad = hasGrad;
        if (this.big) this.canvasLayer.touch(rec);
      }
      let cls = `node node--${rec.kind}`;
      if (rec.tensor) cls += " node--tensor";
      if (rec.hasValue) cls += " has-value";
      if (rec.hasGrad) cls += " has-grad";
      if (step && step.node === node.id) cls += ` is-current is-current--${step.phase}`;
      if (next === node.id) cls += " is-next";
      if (selected === node.id) cls += " is-selected";
      if (isNonFinite(node.value) || isNonFinite(node.grad)) cls += " is-nonfinite";
      if (highlight.has(node.id)) cls += " is-highlighted";
      if (nodeMarks.has(node.id)) cls += ` ${nodeMarks.get(node.id)}`;
      if (cls !== rec.cls) {
        rec.cls = cls;
        if (rec.g) rec.g.setAttribute("class", cls);
      }
      if (!rec.g) continue;
      const changed = this.paintNode(rec, !built);
      if (changed.value) changedValue.push(rec);
      if (changed.grad) changedGrad.push(rec);
    }
    const haloKey = `${step ? `${step.node}|${step.phase}` : ""}|${next}`;
    if (haloKey !== this.haloKey) {
      this.haloKey = haloKey;
      this.placeHalo(this.haloCurrent, step ? this.nodes.get(step.node) : null, `halo halo--current halo--${step ? step.phase : "forward"}`);
      this.placeHalo(this.haloNext, next && (!step || next !== step.node) ? this.nodes.get(next) : null, "halo halo--next");
    }
    const showAll = !this.manyEdges;
    for (const e of edgeList) {
      const rec = this.edges.get(edgeKey(e));
      if (!rec) continue;
      const hasGrad = e.grad !== null && e.grad !== undefined;
      const gk = valueKey(e.grad);
      if (gk !== rec.gradKey) {
        rec.gradKey = gk;
        // a number for a scalar edge; for a tensor its shape (the inspector has the numbers)
        const text = !hasGrad ? "" : Array.isArray(e.grad) || typeof e.grad === "object" ? `[${fmtShape(shapeOf(e.grad))}]` : fmtShort(e.grad);
        this.setLabelText(rec, text);
      }
      const active = Boolean(step && step.node === e.target);
      rec.active = active;
      const near = selected && (selected === e.source || selected === e.target);
      let cls = "edge";
      if (hasGrad) cls += " has-grad";
      if (active) cls += ` is-active is-active--${step.phase}`;
      if (near) cls += " is-near-selected";
      if (highlight.has(e.source) && highlight.has(e.target)) cls += " is-highlighted";
      const mark = edgeMarks.get(`${e.source}>${e.target}`);
      if (mark) cls += ` ${mark}`;
      if (cls !== rec.cls) {
        rec.cls = cls;
        if (rec.path) rec.path.setAttribute("class", cls);
      }
      const visible = hasGrad && (showAll || (active && step.phase === "backward") || near);
      let lcls = visible ? "edge-label is-visible" : "edge-label";
      if (visible && active && step.phase === "backward") lcls += " is-active";
      if (lcls !== rec.lcls) {
        rec.lcls = lcls;
        if (!visible && this.big && rec.label) {
          // a large graph keeps only the labels on show
          rec.label.remove();
          rec.label = null;
        } else if (visible || rec.label) this.ensureLabel(rec).setAttribute("class", lcls);
      }
    }
    const position = graph.cursor ? graph.cursor.position : null;
    const oneStep = this.prevPosition !== null && position === this.prevPosition + 1;
    const moved = this.prevPosition !== null && position !== this.prevPosition;
    this.prevPosition = position;
    // a camera nobody has moved keeps the step's node on screen when the graph is shown in part
    if (!built && moved && this.autoFit && (step || next)) this.ensureVisible(step ? step.node : next);
    if (!built && !state.reducedMotion) {
      for (const rec of changedValue) this.pulse(rec.tensor ? rec.valueCol.col : rec.valueText);
      for (const rec of changedGrad) this.pulse(rec.tensor ? rec.gradCol.col : rec.gradText);
      if (oneStep && step && !this.big) this.travel(step);
    }
    // drawn in this frame (a render runs in one), not the next: a step shows a frame sooner
    if (this.big && !built) this.drawFrame();
    else if (this.big) this.applyView();
    this.access.update(selected);
  }

  /** Write a node's value and gradient into its SVG when they changed; says which did. */
  paintNode(rec, report) {
    const node = rec.node;
    const changed = { value: false, grad: false };
    const vk = valueKey(node.value);
    if (vk !== rec.valueKey) {
      rec.valueKey = vk;
      if (rec.tensor) this.setColumn(rec.valueCol, node.value, "is-value");
      else setText(rec.valueText, node.value === null || node.value === undefined ? "\u2014" : fmtShort(node.value));
      changed.value = report && node.value !== null && node.value !== undefined;
    }
    const gk = valueKey(node.grad);
    if (gk !== rec.gradKey) {
      rec.gradKey = gk;
      if (rec.tensor) this.setColumn(rec.gradCol, node.grad, "is-grad");
      else setText(rec.gradText, node.grad === null || node.grad === undefined ? "\u2014" : fmtShort(node.grad));
      changed.grad = report && node.grad !== null && node.grad !== undefined;
    }
    return changed;
  }

  placeHalo(halo, rec, cls) {
    if (!rec) {
      halo.setAttribute("visibility", "hidden");
      return;
    }
    halo.setAttribute("x", (rec.box.x - 7).toFixed(1));
    halo.setAttribute("y", (rec.box.y - 7).toFixed(1));
    halo.setAttribute("width", String(rec.box.w + 14));
    halo.setAttribute("height", String(rec.box.h + 14));
    halo.setAttribute("class", cls);
    halo.setAttribute("visibility", "visible");
  }

  pulse(target) {
    if (target.animate) {
      target.animate([{ opacity: 0.15 }, { opacity: 1 }], { duration: 450, easing: "ease-out" });
    }
  }

  /** A dot travelling along each input edge of the step's node: into it (forward) or out (backward). */
  travel(step) {
    const rec = this.nodes.get(step.node);
    if (!rec) return;
    for (const edge of rec.inEdges) {
      if (step.phase === "backward" && !edge.gradKey) continue;
      const dot = svgEl("circle", { class: `travel travel--${step.phase}`, r: 8 });
      const anim = svgEl("animateMotion", {
        dur: "0.55s", fill: "freeze", begin: "indefinite", calcMode: "linear",
        keyPoints: step.phase === "backward" ? "1;0" : "0;1", keyTimes: "0;1",
      });
      const mpath = svgEl("mpath");
      mpath.setAttribute("href", `#${edge.id}`);
      anim.appendChild(mpath);
      dot.appendChild(anim);
      this.fxLayer.appendChild(dot);
      try {
        anim.beginElement();
      } catch {
        /* SMIL not available: no dot */
      }
      setTimeout(() => dot.remove(), 700);
    }
  }

  // ---- view: pan, zoom, fit ------------------------------------------------------------------

  /** Draw the camera's view in the next frame (once, however often it is asked). */
  applyView() {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      this.drawFrame();
    });
  }

  drawFrame() {
    const { k, x, y } = this.view;
    this.viewport.setAttribute("transform", `translate(${x.toFixed(2)} ${y.toFixed(2)}) scale(${k.toFixed(5)})`);
    // text that would be drawn under the least readable size is not drawn at all
    this.svg.classList.toggle("lod-low", k < this.readableZoom(true));
    this.svg.classList.toggle("lod-mid", k < this.readableZoom());
    this.svg.classList.toggle("lod-far", k < FAR_ZOOM);
    if (!this.big) return;
    const size = this.size();
    this.syncDetail(size);
    this.canvasLayer.minText = this.minText();
    this.canvasLayer.draw(this.view, size, this.marks, Math.max(LOW_DETAIL_ZOOM, this.readableZoom(true)));
    const step = this.marks.current ? this.nodes.get(this.marks.current) : null;
    this.minimap.draw(this.view, size, step);
  }

  /** In a large graph, the SVG draws the nodes in view once they can be read, and no others. */
  syncDetail(size) {
    const { k, x, y } = this.view;
    // the same camera keeps the same nodes in view (a step does not move them)
    const camera = `${k}|${x}|${y}|${size.w}|${size.h}`;
    if (camera === this.detailCamera) return;
    this.detailCamera = camera;
    const keep = new Set();
    if (k >= Math.max(LOW_DETAIL_ZOOM, this.readableZoom(true))) {
      const left = -x / k;
      const top = -y / k;
      const right = (size.w - x) / k;
      const bottom = (size.h - y) / k;
      const frag = document.createDocumentFragment();
      for (const rec of this.nodes.values()) {
        const b = rec.box;
        if (b.x + b.w < left || b.x > right || b.y + b.h < top || b.y > bottom) continue;
        if (keep.size >= MAX_DETAIL_NODES) break;
        keep.add(rec);
        if (!rec.g) frag.appendChild(this.materialise(rec));
      }
      this.nodeLayer.appendChild(frag);
    }
    for (const rec of [...this.detail]) if (!keep.has(rec)) this.dematerialise(rec);
  }

  size() {
    // the ResizeObserver's figure avoids forcing a layout of a freshly built drawing
    if (this.sizeCache) return this.sizeCache;
    const r = this.svg.getBoundingClientRect();
    return { w: Math.max(r.width, 1), h: Math.max(r.height, 1) };
  }

  /** The zoom that shows the whole drawing inside the padding. */
  fitZoom() {
    const { w, h } = this.size();
    const pad = this.padding();
    const b = this.bounds;
    const aw = Math.max(w - pad.left - pad.right, 40);
    const ah = Math.max(h - pad.top - pad.bottom, 40);
    return Math.min(MAX_ZOOM, aw / (b.w + 14), ah / (b.h + 14));
  }

  /** Presenting to a room: fitting may go down to the zoom of the main text. */
  presentingFit() {
    return document.body.classList.contains("presenting");
  }

  /** How far out one may zoom: a little past the whole drawing, however large it is. */
  minZoom() {
    return Math.min(MIN_ZOOM, this.fitZoom() / 2);
  }

  /** True when the whole graph does not fit at a size where its labels can be read. */
  tooLargeToRead() {
    return this.fitZoom() < this.readableZoom();
  }

  /** The whole graph, as large as the box allows; but a small graph no smaller than its text
   * can be read at: one wider or taller than the box is shown in part, around the step's
   * node (else from its inputs at the left), and panned or followed from there. A large
   * graph (the canvas) is fitted whole, as a shape. */
  fit() {
    this.autoFit = true;
    const { w, h } = this.size();
    const pad = this.padding();
    const b = this.bounds;
    const aw = Math.max(w - pad.left - pad.right, 40);
    const ah = Math.max(h - pad.top - pad.bottom, 40);
    const whole = this.fitZoom();
    // presenting, the whole graph with its names, values and gradients readable beats a part
    // of it with every text: the small text (op badges, edge labels) is then not drawn (lod)
    const least = this.presentingFit() ? this.readableZoom(true) : this.readableZoom();
    const k = this.big ? whole : Math.max(whole, least);
    // what to keep in view: a path the page highlights (the lesson's point), else the step's node
    const m = this.marks || {};
    const lit = (m.highlight || []).map((id) => this.nodes.get(id)).filter(Boolean);
    const one = this.nodes.get(m.current || m.next || m.selected);
    let focus = one ? one.box : null;
    if (lit.length) {
      const x0 = Math.min(...lit.map((r) => r.box.x));
      const y0 = Math.min(...lit.map((r) => r.box.y));
      const x1 = Math.max(...lit.map((r) => r.box.x + r.box.w));
      const y1 = Math.max(...lit.map((r) => r.box.y + r.box.h));
      focus = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
      // a path longer than the screen (a phone): the node the page selected on it, in view
      const chosen = this.nodes.get(m.selected);
      if (chosen && (focus.w * k > aw || focus.h * k > ah)) focus = chosen.box;
    }
    const place = (size, avail, start, lead, centre) => {
      if (size * k <= avail) return lead + (avail - size * k) / 2 - start * k;
      // as near the focus as the drawing's edges allow
      const want = centre === null ? lead - start * k : lead + avail / 2 - centre * k;
      return Math.min(lead - start * k, Math.max(lead + avail - (start + size) * k, want));
    };
    this.view = {
      k,
      x: place(b.w, aw, b.x, pad.left, focus ? focus.x + focus.w / 2 : null),
      y: place(b.h, ah, b.y, pad.top, focus ? focus.y + focus.h / 2 : b.y + b.h / 2),
    };
    this.applyView();
  }

  zoomAt(factor, cx, cy) {
    const { k, x, y } = this.view;
    const nk = Math.max(this.minZoom(), Math.min(MAX_ZOOM * 2, k * factor));
    const f = nk / k;
    this.view = { k: nk, x: cx - (cx - x) * f, y: cy - (cy - y) * f };
    this.applyView();
  }

  zoomBy(factor) {
    const { w, h } = this.size();
    this.zoomAt(factor, w / 2, h / 2);
    this.autoFit = false;
  }

  panBy(dx, dy) {
    this.view = { ...this.view, x: this.view.x + dx, y: this.view.y + dy };
    this.applyView();
  }

  /** Put a world point in the middle of the free area (the minimap). */
  centerAt(wx, wy, k = this.view.k) {
    const { w, h } = this.size();
    const pad = this.padding();
    const cx = pad.left + (w - pad.left - pad.right) / 2;
    const cy = pad.top + (h - pad.top - pad.bottom) / 2;
    this.autoFit = false;
    this.view = { k, x: cx - wx * k, y: cy - wy * k };
    this.applyView();
  }

  /** Centre a node, zoomed in at least to `minZoom` (the find box); false if there is none. */
  centerOn(id, minZoom = FOLLOW_ZOOM) {
    const rec = this.nodes.get(id);
    if (!rec) return false;
    const k = Math.min(MAX_ZOOM, Math.max(this.view.k, minZoom));
    this.centerAt(rec.box.x + rec.box.w / 2, rec.box.y + rec.box.h / 2, k);
    return true;
  }

  /** Keep a node being stepped in view: zoomed in far enough to read it, panned as little
   * as needed while it stays readable. */
  follow(id) {
    const rec = this.nodes.get(id);
    if (!rec) return;
    if (this.view.k < this.readableZoom()) this.centerOn(id, Math.max(FOLLOW_ZOOM, this.readableZoom()));
    else this.ensureVisible(id);
  }

  /** The node under a point of the drawing (a large graph's canvas has no elements to hit). */
  nodeAt(px, py) {
    const { k, x, y } = this.view;
    const wx = (px - x) / k;
    const wy = (py - y) / k;
    const slack = 6 / k;
    let best = null;
    let bestD = Infinity;
    for (const rec of this.nodes.values()) {
      const b = rec.box;
      const dx = Math.max(b.x - wx, 0, wx - b.x - b.w);
      const dy = Math.max(b.y - wy, 0, wy - b.y - b.h);
      const d = Math.hypot(dx, dy);
      if (d <= slack && d < bestD) {
        best = rec;
        bestD = d;
      }
    }
    return best ? best.id : null;
  }

  /** Pan as little as needed so that a node is on screen (stepping through a large graph). */
  ensureVisible(id) {
    const rec = this.nodes.get(id);
    if (!rec) return;
    const { w, h } = this.size();
    const { k, x, y } = this.view;
    const pad = this.padding();
    const left = rec.box.x * k + x;
    const top = rec.box.y * k + y;
    const right = left + rec.box.w * k;
    const bottom = top + rec.box.h * k;
    let dx = 0;
    let dy = 0;
    if (right > w - pad.right) dx = w - pad.right - right;
    if (left + dx < pad.left) dx = pad.left - left;
    if (bottom > h - pad.bottom) dy = h - pad.bottom - bottom;
    if (top + dy < pad.top) dy = pad.top - top;
    if (dx || dy) this.panBy(dx, dy);
  }

  /** Room kept free around the drawing for the overlays (legend, tools, caption). */
  padding() {
    return this.overlayPadding || { top: 24, right: 24, bottom: 24, left: 24 };
  }

  installPointer() {
    const svg = this.svg;
    const pointers = new Map();
    let drag = null;
    let pinch = null;
    const local = (ev) => {
      const r = svg.getBoundingClientRect();
      return { x: ev.clientX - r.left, y: ev.clientY - r.top };
    };
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== undefined && ev.button > 0) return;
      pointers.set(ev.pointerId, local(ev));
      try {
        svg.setPointerCapture(ev.pointerId);
      } catch {
        /* synthetic events */
      }
      if (pointers.size === 1) {
        const p = local(ev);
        const nodeEl = ev.target.closest && ev.target.closest("[data-node-id]");
        const id = nodeEl ? nodeEl.getAttribute("data-node-id") : this.big ? this.nodeAt(p.x, p.y) : null;
        if (this.onPointerDown && this.onPointerDown(ev, id, p)) {
          pointers.delete(ev.pointerId);
          return;
        }
        drag = { start: p, last: p, moved: false, node: id };
      } else if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { dist: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
        drag = null;
      }
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!pointers.has(ev.pointerId)) return;
      const p = local(ev);
      pointers.set(ev.pointerId, p);
      if (pinch && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const dist = Math.hypot(a.x - b.x, a.y - b.y);
        const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
        this.autoFit = false;
        if (pinch.dist > 0) this.zoomAt(dist / pinch.dist, mid.x, mid.y);
        this.panBy(mid.x - pinch.mid.x, mid.y - pinch.mid.y);
        pinch = { dist, mid };
      } else if (drag) {
        if (!drag.moved && Math.hypot(p.x - drag.start.x, p.y - drag.start.y) > 4) {
          drag.moved = true;
          svg.classList.add("is-panning");
        }
        if (drag.moved) {
          this.autoFit = false;
          this.panBy(p.x - drag.last.x, p.y - drag.last.y);
        }
        drag.last = p;
      }
    });
    const end = (ev) => {
      if (!pointers.has(ev.pointerId)) return;
      pointers.delete(ev.pointerId);
      if (pointers.size < 2) pinch = null;
      if (drag && pointers.size === 0) {
        if (!drag.moved && ev.type === "pointerup") this.onSelect(drag.node);
        drag = null;
        svg.classList.remove("is-panning");
      }
    };
    svg.addEventListener("pointerover", (ev) => {
      const nodeEl = ev.target.closest && ev.target.closest("[data-node-id]");
      const rec = nodeEl ? this.nodes.get(nodeEl.getAttribute("data-node-id")) : null;
      if (rec && !rec.titled) {
        rec.titled = true;
        rec.titleEl = svgEl("title", { text: nodeTitle(rec) });
        rec.g.insertBefore(rec.titleEl, rec.g.firstChild);
      }
    });
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      this.autoFit = false;
      const p = local(ev);
      if (ev.ctrlKey || Math.abs(ev.deltaY) >= Math.abs(ev.deltaX)) {
        this.zoomAt(Math.exp(-ev.deltaY * (ev.ctrlKey ? 0.01 : 0.0015)), p.x, p.y);
      } else {
        this.panBy(-ev.deltaX, 0);
      }
    }, { passive: false });
  }
}
