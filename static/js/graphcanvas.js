// A large graph drawn on a canvas under the SVG, and its minimap. One SVG element per node
// stops being usable past a few hundred nodes (building 10,000 takes seconds, panning drops
// to a few frames a second), while a canvas redraws ten thousand boxes and edges within a
// frame. The SVG above keeps the nodes in view once they are large enough to read, so the
// page's detail (values, tensors, classes, `data-node-id`) is the same as for a small graph.
//
// Level of detail, by the screen size of a node box:
// - far out: every node a dot of at least 2 px, its colour saying what it holds (nothing
//   yet, a value, a gradient), edges as faint lines: the whole graph reads as a shape and
//   the forward and backward passes as waves across it;
// - nearer: boxes with their label in a 12 px font once a label fits;
// - near: the SVG draws the nodes in view in full (the caller, GraphView).
// The colours come from the drawing's CSS custom properties (graph.css).

const KINDS = ["input", "param", "const", "op", "output"];
// the label's size is the page's least readable text size (larger when presenting), never less
const LABEL_FAMILY = "\"Segoe UI\", \"Helvetica Neue\", Arial, \"Liberation Sans\", \"Noto Sans CJK SC\", sans-serif";
const LABEL_MIN_BOX_PX = 56; // a box narrower on screen has no room for a label (at 12 px)
const LABELS_MAX = 2500; // more boxes in view than this: no labels (they would not be read)
const DOT_PX = 2.2; // the smallest a node is drawn, in CSS pixels

/** The drawing's colours from its CSS custom properties (read once per build). */
export function readPalette(svg) {
  const css = getComputedStyle(svg);
  const get = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const palette = {
    edge: get("--sg-edge", "#8f99a8"),
    grad: get("--sg-grad", "#be123c"),
    current: get("--sg-current", "#f5b700"),
    select: get("--sg-select", "#0284c7"),
    highlight: get("--sg-highlight", "#059669"),
    backward: "#fb7185",
    // the dark theme (dark.css) sets these; the light one keeps the fallbacks
    label: get("--sg-label", "#0f172a"),
    next: get("--sg-muted", "#64748b"),
    mapBg: get("--sg-op-fill", "#ffffff"),
    stroke: {},
    fill: {},
  };
  for (const kind of KINDS) {
    palette.stroke[kind] = get(`--sg-${kind}`, "#334155");
    palette.fill[kind] = get(`--sg-${kind}-fill`, "#ffffff");
  }
  return palette;
}

/** Fill and stroke of a node: light until it holds a value, then its kind's colour, then the
 * gradient's colour once the backward pass has reached it. */
function nodeStyle(rec, palette, dots) {
  if (rec.hasGrad) return `g|${palette.grad}|${palette.grad}|1`;
  if (rec.hasValue) return `v|${palette.stroke[rec.kind]}|${palette.stroke[rec.kind]}|1`;
  // a dot too small for an outline: its kind's colour, faint
  if (dots) return `e|${palette.stroke[rec.kind]}|${palette.stroke[rec.kind]}|0.35`;
  return `e|${palette.fill[rec.kind]}|${palette.stroke[rec.kind]}|1`;
}

function truncateTo(text, chars) {
  const all = Array.from(text);
  if (all.length <= chars) return text;
  return chars <= 1 ? "" : `${all.slice(0, chars - 1).join("")}\u2026`;
}

const DIRTY_MAX = 256; // more changed nodes than this in one frame: repaint the whole layer

/** A world rectangle grown by `m` on every side. */
function grow(b, m) {
  return { x: b.x - m, y: b.y - m, w: b.w + 2 * m, h: b.h + 2 * m };
}

function overlaps(a, b) {
  return a.x + a.w >= b.x && a.x <= b.x + b.w && a.y + a.h >= b.y && a.y <= b.y + b.h;
}

// Two layers. The graph itself (edges, nodes, labels) is painted into an offscreen canvas
// once per camera; a step repaints only the boxes of the nodes whose look it changed, under
// a clip, so its cost follows what it touched and not the size of the graph. What moves
// every step (the step's edges, the rings) is drawn over a copy of that layer.
export class GraphCanvas {
  constructor(host, before) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "graph-canvas";
    this.canvas.setAttribute("aria-hidden", "true");
    host.insertBefore(this.canvas, before);
    this.ctx = this.canvas.getContext("2d");
    this.layer = document.createElement("canvas");
    this.layerCtx = this.layer.getContext("2d");
    this.nodes = [];
    this.edges = [];
    this.byId = new Map();
    this.palette = null;
    this.hidden = true;
    this.dirty = new Set(); // node records whose look changed since the last paint
    this.camera = null; // the camera the layer was painted for
    this.marksKey = null;
    this.labels = false;
  }

  setGraph(nodes, edges, byId, palette) {
    this.nodes = nodes;
    this.edges = edges;
    this.byId = byId;
    this.palette = palette;
    this.camera = null;
    this.dirty.clear();
  }

  /** A node's fill or outline changed: repaint its box at the next draw. */
  touch(rec) {
    if (this.camera !== null) this.dirty.add(rec);
  }

  show(on) {
    this.hidden = !on;
    this.canvas.classList.toggle("is-on", on);
    this.camera = null;
    if (!on) this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  resize(w, h) {
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(w * dpr);
    const ch = Math.round(h * dpr);
    for (const c of [this.canvas, this.layer]) {
      if (c.width !== cw || c.height !== ch) {
        c.width = cw;
        c.height = ch;
      }
    }
    return dpr;
  }

  /** Draw what changed. `view` is the camera {k, x, y}; `marks` the step's nodes. Nothing
   * to do (the same camera, marks and nodes: a busy flag toggled) costs nothing. */
  draw(view, size, marks, detailZoom) {
    if (this.hidden || !this.palette) return;
    const dpr = this.resize(size.w, size.h);
    const camera = `${view.k}|${view.x}|${view.y}|${size.w}|${size.h}|${dpr}|${detailZoom}`;
    const marksKey = `${marks.current}|${marks.phase}|${marks.next}|${marks.selected}|${(marks.highlight || []).join(",")}`;
    if (camera === this.camera && marksKey === this.marksKey && !this.dirty.size) return;
    if (camera !== this.camera || this.dirty.size > DIRTY_MAX) this.paintLayer(view, size, dpr, detailZoom, null);
    else if (this.dirty.size) this.paintLayer(view, size, dpr, detailZoom, [...this.dirty]);
    this.dirty.clear();
    this.camera = camera;
    this.marksKey = marksKey;
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.layer, 0, 0);
    this.paintMarks(view, size, dpr, marks, detailZoom);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  /** The graph into the offscreen layer: all of it in view, or (`changed`, node records)
   * only the boxes of those nodes, with whatever else crosses them, under a clip. */
  paintLayer(view, size, dpr, detailZoom, changed) {
    const ctx = this.layerCtx;
    const { k, x, y } = view;
    const p = this.palette;
    const dot = DOT_PX / k;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.save();
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
    // the world rectangle on screen, with a margin for strokes
    const m = 20 / k;
    const screen = { x: -x / k - m, y: -y / k - m, w: size.w / k + 2 * m, h: size.h / k + 2 * m };
    let inView = (b) => overlaps(b, screen);
    if (changed) {
      // a box, its dot and its outline, with a pixel to spare for antialiasing
      const regions = changed.map((rec) => grow(rec.box, dot + 3 / k)).filter(inView);
      if (!regions.length) {
        ctx.restore();
        return;
      }
      let all = regions[0];
      for (const r of regions) {
        const x0 = Math.min(all.x, r.x);
        const y0 = Math.min(all.y, r.y);
        all = { x: x0, y: y0, w: Math.max(all.x + all.w, r.x + r.w) - x0, h: Math.max(all.y + all.h, r.y + r.h) - y0 };
      }
      // the clip on whole device pixels: a pixel half inside would blend old and new paint
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.beginPath();
      for (const r of regions) {
        const x0 = Math.floor(dpr * (r.x * k + x));
        const y0 = Math.floor(dpr * (r.y * k + y));
        ctx.rect(x0, y0, Math.ceil(dpr * ((r.x + r.w) * k + x)) - x0, Math.ceil(dpr * ((r.y + r.h) * k + y)) - y0);
      }
      ctx.clip();
      ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
      inView = (b) => overlaps(b, all) && regions.some((r) => overlaps(b, r));
    }
    // clearRect keeps to the clip: only the changed boxes are wiped
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.layer.width, this.layer.height);
    ctx.restore();

    // edges: faint when far out, one path for all of them
    const far = k < 0.12;
    ctx.lineWidth = (far ? 0.8 : 1.4) / k;
    ctx.strokeStyle = p.edge;
    ctx.globalAlpha = far ? 0.45 : 0.85;
    ctx.beginPath();
    for (const e of this.edges) if (inView(e.bbox)) this.tracePath(ctx, e, far);
    ctx.stroke();
    ctx.globalAlpha = 1;

    // nodes: one path per style; never smaller than a dot. Close up the SVG draws them.
    const groups = new Map();
    const shown = [];
    const outlined = (this.nodes.length ? this.nodes[0].box.w : 0) * k >= 10;
    for (const rec of k < detailZoom ? this.nodes : []) {
      if (!inView(rec.box)) continue;
      shown.push(rec);
      const key = nodeStyle(rec, p, !outlined);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(rec);
    }
    for (const [key, list] of groups) {
      const [, fill, stroke, alpha] = key.split("|");
      ctx.globalAlpha = Number(alpha);
      ctx.beginPath();
      for (const rec of list) {
        const b = rec.box;
        if (b.w * k >= DOT_PX) ctx.rect(b.x, b.y, b.w, b.h);
        else ctx.rect(b.x + b.w / 2 - dot / 2, b.y + b.h / 2 - dot / 2, dot, dot);
      }
      ctx.fillStyle = fill;
      ctx.fill();
      ctx.globalAlpha = 1;
      if (outlined) {
        ctx.lineWidth = Math.min(2.5, 1.5 / k);
        ctx.strokeStyle = stroke;
        ctx.stroke();
      }
    }

    // labels, in screen pixels, once a box has room for a few characters; a partial paint
    // keeps the whole paint's decision (it sees only a few boxes)
    const px = Math.max(12, this.minText || 12);
    if (!changed) this.labels = shown.length > 0 && shown[0].box.w * k >= (LABEL_MIN_BOX_PX * px) / 12 && shown.length <= LABELS_MAX;
    if (this.labels && shown.length) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.font = `600 ${px}px ${LABEL_FAMILY}`;
      ctx.textBaseline = "middle";
      for (const rec of shown) {
        const b = rec.box;
        // a label too short to name the node is not drawn, rather than drawn smaller
        if (b.h * k < px + 4) continue;
        const room = b.w * k - 10;
        const chars = Math.floor(room / (0.6 * px));
        if (chars < 2) continue;
        ctx.fillStyle = rec.hasValue || rec.hasGrad ? p.mapBg : p.label;
        ctx.fillText(truncateTo(rec.label, chars), b.x * k + x + 5, (b.y + Math.min(b.h / 2, 20)) * k + y);
      }
    }
    ctx.restore();
  }

  /** What moves with every step, over the layer: the step's edges and the rings around the
   * step's nodes and the selection, which keep a size on screen so they can be found at
   * any zoom. */
  paintMarks(view, size, dpr, marks, detailZoom) {
    const ctx = this.ctx;
    const { k, x, y } = view;
    const p = this.palette;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
    const current = marks.current ? this.byId.get(marks.current) : null;
    if (current && current.inEdges.length) {
      const far = k < 0.12;
      ctx.lineWidth = Math.max(5, 3 / k);
      ctx.strokeStyle = marks.phase === "backward" ? p.grad : p.stroke.input;
      ctx.beginPath();
      for (const e of current.inEdges) this.tracePath(ctx, e, far);
      ctx.stroke();
    }
    if (k >= detailZoom) return;
    const ring = (id, color, width, dashed) => {
      const rec = id ? this.byId.get(id) : null;
      if (!rec) return;
      const b = rec.box;
      const r = Math.max(Math.hypot(b.w, b.h) / 2 + 8, 11 / k);
      ctx.beginPath();
      ctx.arc(b.x + b.w / 2, b.y + b.h / 2, r, 0, 2 * Math.PI);
      ctx.lineWidth = width / k;
      ctx.strokeStyle = color;
      ctx.setLineDash(dashed ? [6 / k, 5 / k] : []);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    for (const id of marks.highlight || []) ring(id, p.highlight, 3, false);
    if (marks.next && marks.next !== marks.current) ring(marks.next, p.next, 2, true);
    ring(marks.current, marks.phase === "backward" ? p.backward : p.current, 4, false);
    ring(marks.selected, p.select, 3, false);
  }

  tracePath(ctx, e, straight) {
    const s = e.segs;
    ctx.moveTo(s[0].a.x, s[0].a.y);
    for (const seg of s) {
      if (straight) ctx.lineTo(seg.b.x, seg.b.y);
      else ctx.bezierCurveTo(seg.c1.x, seg.c1.y, seg.c2.x, seg.c2.y, seg.b.x, seg.b.y);
    }
  }
}

/** The whole graph small, with the part on screen as a rectangle; a click or a drag on it
 * moves the camera there (pointer events: mouse, pen and touch alike). */
export class Minimap {
  constructor(host, { onMove }) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "minimap";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("data-i18n-aria", "minimap.aria");
    this.canvas.hidden = true;
    host.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d");
    this.onMove = onMove;
    this.base = null;
    this.bounds = null;
    this.scale = 1;
    this.dragging = null;
    const toWorld = (ev) => {
      const r = this.canvas.getBoundingClientRect();
      return { x: (ev.clientX - r.left - this.ox) / this.scale + this.bounds.x, y: (ev.clientY - r.top - this.oy) / this.scale + this.bounds.y };
    };
    this.canvas.addEventListener("pointerdown", (ev) => {
      if (!this.bounds || (ev.button !== undefined && ev.button > 0)) return;
      ev.preventDefault();
      ev.stopPropagation();
      this.dragging = ev.pointerId;
      try {
        this.canvas.setPointerCapture(ev.pointerId);
      } catch {
        /* synthetic events */
      }
      this.onMove(toWorld(ev));
    });
    this.canvas.addEventListener("pointermove", (ev) => {
      if (this.dragging === ev.pointerId) this.onMove(toWorld(ev));
    });
    const end = (ev) => {
      if (this.dragging === ev.pointerId) this.dragging = null;
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    this.canvas.addEventListener("wheel", (ev) => ev.preventDefault(), { passive: false });
  }

  show(on) {
    this.canvas.hidden = !on;
  }

  /** Draw the graph's nodes once (a structure change); the camera is drawn over it. */
  setGraph(nodes, bounds, palette) {
    const r = this.canvas.getBoundingClientRect();
    const w = Math.max(40, Math.round(r.width || 220));
    const h = Math.max(30, Math.round(r.height || 140));
    const dpr = window.devicePixelRatio || 1;
    this.w = w;
    this.h = h;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.bounds = bounds;
    this.scale = Math.min((w - 8) / bounds.w, (h - 8) / bounds.h);
    this.ox = (w - bounds.w * this.scale) / 2;
    this.oy = (h - bounds.h * this.scale) / 2;
    this.palette = palette;
    this.nodes = nodes;
    this.base = document.createElement("canvas");
    this.base.width = this.canvas.width;
    this.base.height = this.canvas.height;
    const ctx = this.base.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = palette.mapBg;
    ctx.fillRect(0, 0, w, h);
    const byKind = new Map();
    for (const rec of nodes) {
      if (!byKind.has(rec.kind)) byKind.set(rec.kind, []);
      byKind.get(rec.kind).push(rec);
    }
    for (const [kind, list] of byKind) {
      ctx.fillStyle = palette.stroke[kind];
      ctx.globalAlpha = kind === "op" ? 0.45 : 0.9;
      ctx.beginPath();
      for (const rec of list) {
        const c = this.toMap(rec.box.x + rec.box.w / 2, rec.box.y + rec.box.h / 2);
        ctx.rect(c.x - 0.75, c.y - 0.75, 1.5, 1.5);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  toMap(x, y) {
    return { x: this.ox + (x - this.bounds.x) * this.scale, y: this.oy + (y - this.bounds.y) * this.scale };
  }

  /** The camera's rectangle and the step's node over the drawn graph. */
  draw(view, size, current) {
    if (this.canvas.hidden || !this.base) return;
    const dpr = window.devicePixelRatio || 1;
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.base, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const a = this.toMap(-view.x / view.k, -view.y / view.k);
    const b = this.toMap((size.w - view.x) / view.k, (size.h - view.y) / view.k);
    const rx = Math.max(0, a.x);
    const ry = Math.max(0, a.y);
    const rw = Math.min(this.w, b.x) - rx;
    const rh = Math.min(this.h, b.y) - ry;
    ctx.fillStyle = "rgba(2, 132, 199, 0.12)";
    ctx.strokeStyle = this.palette.select;
    ctx.lineWidth = 2;
    ctx.fillRect(rx, ry, Math.max(rw, 2), Math.max(rh, 2));
    ctx.strokeRect(rx, ry, Math.max(rw, 2), Math.max(rh, 2));
    this.viewRect = { x: rx, y: ry, w: Math.max(rw, 2), h: Math.max(rh, 2) };
    if (current) {
      const c = this.toMap(current.box.x + current.box.w / 2, current.box.y + current.box.h / 2);
      ctx.beginPath();
      ctx.arc(c.x, c.y, 4, 0, 2 * Math.PI);
      ctx.fillStyle = this.palette.current;
      ctx.fill();
      ctx.strokeStyle = this.palette.label;
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  }
}
