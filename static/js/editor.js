// Editing a graph in its page (the editor's browser only; followers see each change through
// the event stream). The page never validates maths: every edit builds the new spec from the
// current one (GET export) and sends it whole (PUT /spec with If-Match); the engine answers
// with the new graph or with a sentence that names the node, shown next to that node.
//
// A node whose inputs are not all connected yet (an op just taken from the palette, the
// consumers of a deleted node) cannot be part of a valid spec: it is a draft, drawn dashed
// over the graph until its last slot is connected, and only then sent. The working spec is
// the sent spec plus the drafts; undo and redo walk a stack of working specs.

import { ApiError, detailMessage, errorNodeName } from "./api.js";
import { svgEl, clear, el } from "./dom.js";
import { checkSpec, putPositions, putSpec, readSpec, relayout, setTarget } from "./editapi.js";
import { FieldsForm, Picker } from "./palette.js";

const LEAVES = new Set(["input", "param", "const"]);
const LEAF_VALUE = { input: 1.0, param: 0.5, const: 1.0 };
const DRAFT = { w: 184, h: 92 };
const PORT_R = 9;
const SNAP = 46; // how near (world units) a dropped edge must end to a slot
const UNDO_MAX = 100;
const ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// a new node is named after its op, except a loss, named for what it is: loss, loss1, ...
const LOSSES = new Set(["mse", "bce", "cross_entropy"]);
export const defaultName = (op) => (LOSSES.has(op) ? "loss" : op);

const clone = (x) => JSON.parse(JSON.stringify(x));

/** The nodes of a working spec that are sent: every input filled, by a node that is sent
 * too (the largest such set). A loop closed by the last edge is sent as well, so that the
 * engine refuses it and names it, rather than the loop's nodes silently becoming drafts. */
export function committedIds(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const keep = new Set(nodes.filter((n) => (n.inputs || []).every((i) => i !== null && byId.has(i))).map((n) => n.id));
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of [...keep]) {
      if ((byId.get(id).inputs || []).some((i) => !keep.has(i))) {
        keep.delete(id);
        changed = true;
      }
    }
  }
  return keep;
}

/** The output of the sent part: the old one while it has no consumer, else a sink below it. */
function chooseOutput(nodes, oldOutput) {
  const consumers = new Map(nodes.map((n) => [n.id, 0]));
  for (const n of nodes) for (const i of n.inputs || []) consumers.set(i, (consumers.get(i) || 0) + 1);
  const sinks = nodes.filter((n) => !consumers.get(n.id)).map((n) => n.id);
  if (sinks.length === 1) return null;
  if (oldOutput && sinks.includes(oldOutput)) return oldOutput;
  if (oldOutput && consumers.has(oldOutput)) {
    // the old output feeds something now: its newest sink downstream takes over
    const below = new Set([oldOutput]);
    for (const n of nodes) if ((n.inputs || []).some((i) => below.has(i))) below.add(n.id);
    const down = sinks.filter((s) => below.has(s));
    if (down.length) return down[down.length - 1];
  }
  return sinks[sinks.length - 1];
}

export function freshId(nodes, base) {
  const clean = String(base).replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=\d)/, "n");
  const taken = new Set(nodes.map((n) => n.id));
  if (!taken.has(clean)) return clean;
  for (let i = 1; ; i++) if (!taken.has(`${clean}${i}`)) return `${clean}${i}`;
}

/** A value typed by hand: a number or a JSON array of numbers; null when neither. */
export function parseValue(text) {
  const raw = String(text).trim();
  if (!raw) return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith("[")) {
    try {
      const v = JSON.parse(raw);
      const ok = (x) => (Array.isArray(x) ? x.every(ok) : typeof x === "number" && Number.isFinite(x));
      return ok(v) ? v : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** "2, 3" -> [2, 3]; "" or "scalar" -> []; null when not a shape. */
export function parseShape(text) {
  const raw = String(text).trim().replace(/[()[\]]/g, "");
  if (!raw || raw === "scalar") return [];
  const dims = raw.split(/[\s,x×]+/).filter(Boolean).map(Number);
  return dims.every((d) => Number.isInteger(d) && d >= 1 && d <= 4096) ? dims : null;
}

function filled(shape, v) {
  if (!shape.length) return v;
  return Array.from({ length: shape[0] }, () => filled(shape.slice(1), v));
}

function firstNumber(v) {
  if (typeof v === "number") return v;
  if (Array.isArray(v) && v.length) return firstNumber(v[0]);
  return 0;
}

export class Editor {
  /** page: {graphId, token, store, session, view, say, t, select(id), canvas (element)} */
  constructor(page) {
    Object.assign(this, page);
    this.on = false;
    this.working = null; // {name, output, nodes[]}: the sent spec plus the drafts
    this.sentKey = null;
    this.draftPos = new Map(); // draft id -> world point (centre)
    this.undo = [];
    this.redo = [];
    this.error = null; // {node, text}
    this.wire = null; // the rubber-band edge being dragged: {source, from, to}
    this.moving = null; // a node dragged or moved by arrow keys: {id, dx, dy, draft}
    this.pending = Promise.resolve();
    this.picker = new Picker({ t: this.t });
    this.form = new FieldsForm({ t: this.t });
    this.layer = svgEl("g", { class: "edit-layer" });
    this.view.viewport.appendChild(this.layer);
    this.view.spacing = { x: 160, y: 80 }; // the server's layout grid (app/layout.py)
    this.view.onPointerDown = (ev, id, p) => this.pointerDown(ev, id, p);
    this.layer.addEventListener("pointerdown", (ev) => this.layerPointerDown(ev));
    this.bar = this.makeBar();
    this.canvas.appendChild(this.bar);
  }

  get state() {
    return this.store.state;
  }

  // ---- the spec -----------------------------------------------------------------------------

  /** The current spec from the server, with this page's drafts added. */
  async base() {
    const { spec } = await readSpec(this.graphId);
    const nodes = clone(spec.nodes || []);
    const ids = new Set(nodes.map((n) => n.id));
    const drafts = this.working ? this.drafts().map((n) => clone(n)) : [];
    for (const d of drafts) ids.add(d.id);
    for (const d of drafts) d.inputs = d.inputs.map((i) => (i !== null && ids.has(i) ? i : null));
    return { name: spec.name, output: spec.output || (this.state.graph && this.state.graph.output) || null, nodes: [...nodes, ...drafts] };
  }

  drafts() {
    if (!this.working) return [];
    const done = committedIds(this.working.nodes);
    return this.working.nodes.filter((n) => !done.has(n.id));
  }

  /** The spec that the server is sent for a working spec. */
  sendable(working) {
    const done = committedIds(working.nodes);
    const nodes = working.nodes.filter((n) => done.has(n.id));
    const spec = { name: working.name, nodes };
    const output = chooseOutput(nodes, working.output);
    if (output) spec.output = output;
    return spec;
  }

  /** Apply one edit (a function of the working spec), send what changed, keep it undoable.
   * Edits run one after another. */
  edit(change, { undoable = true } = {}) {
    this.pending = this.pending.then(() => this.runEdit(change, undoable)).catch((err) => this.say.error(err));
    return this.pending;
  }

  async runEdit(change, undoable, retried = false) {
    const before = await this.base();
    const after = change(clone(before));
    if (!after) return false;
    const ok = await this.send(before, after, retried);
    if (ok === "stale" && !retried) return this.runEdit(change, undoable, true);
    if (ok !== true) return false;
    if (undoable) {
      this.undo.push(before);
      if (this.undo.length > UNDO_MAX) this.undo.shift();
      this.redo = [];
    }
    return true;
  }

  /** Put `after` in place of `before`; true, "stale" (412) or false (refused, shown). */
  async send(before, after, quiet = false) {
    const spec = this.sendable(after);
    const same = JSON.stringify(spec) === JSON.stringify(this.sendable(before));
    if (!same) {
      const version = this.state.graph ? this.state.graph.version : null;
      try {
        const res = await putSpec(this.graphId, this.token, spec, version);
        await this.session.apply(res);
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          await this.session.reload();
          if (!quiet) return "stale";
          this.say.info(this.t("editor.stale"));
          return false;
        }
        this.showError(err, after);
        return false;
      }
    }
    for (const n of after.nodes) {
      if (!this.draftPos.has(n.id) && !committedIds(after.nodes).has(n.id)) this.draftPos.set(n.id, this.placeFor(n.id));
    }
    this.working = after;
    this.error = null;
    this.store.set({});
    requestAnimationFrame(() => this.showDrafts());
    return true;
  }

  /** A whole body (an expression, a network) in place of the graph; drafts go with it. */
  async sendBody(body) {
    const version = this.state.graph ? this.state.graph.version : null;
    try {
      await this.session.apply(await putSpec(this.graphId, this.token, body, version));
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) await this.session.reload();
      throw err;
    }
    this.working = null;
    this.working = await this.base();
    this.error = null;
    this.store.set({});
    return true;
  }

  showError(err, after) {
    const body = err instanceof ApiError ? err.body : null;
    const text = err instanceof ApiError ? detailMessage(err.detail) : String(err.message || err);
    let node = null;
    if (body && Array.isArray(body.cycle) && body.cycle.length) node = body.cycle[0];
    else if (body && body.detail && Array.isArray(body.detail.cycle)) node = body.detail.cycle[0];
    node = node || (err instanceof ApiError ? errorNodeName(err.detail) : null);
    this.error = { node, text, nodes: after ? after.nodes.map((n) => n.id) : [] };
    this.store.set({});
  }

  undoEdit() {
    return this.walk(this.undo, this.redo, "editor.nothingUndo");
  }

  redoEdit() {
    return this.walk(this.redo, this.undo, "editor.nothingRedo");
  }

  /** Undo or redo: take a step from one stack, put its opposite on the other. */
  walk(from, to, empty) {
    this.pending = this.pending.then(async () => {
      const step = from.pop();
      if (!step) return this.say.info(this.t(empty));
      if (step.positions || step.values) {
        // a move or a value: put them back as they were (a move keeps the timeline)
        try {
          if (step.positions) await this.session.apply(await putPositions(this.graphId, this.token, step.positions));
          else await this.session.setValues(step.values);
          to.push(step.positions ? { positions: step.reverse, reverse: step.positions } : { values: step.reverse, reverse: step.values });
        } catch (err) {
          from.push(step);
          this.say.error(err);
        }
        this.store.set({});
        return null;
      }
      const cur = await this.base();
      if ((await this.send(cur, step, true)) === true) to.push(cur);
      else from.push(step);
      return null;
    }).catch((err) => this.say.error(err));
    return this.pending;
  }

  // ---- the edits ----------------------------------------------------------------------------

  arity(op) {
    const info = this.state.ops ? this.state.ops[op] : null;
    return info && Number.isInteger(info.arity) ? info.arity : LEAVES.has(op) ? 0 : 1;
  }

  addNode(op) {
    let made = null;
    const near = this.state.selected;
    return this.edit((w) => {
      const id = freshId(w.nodes, defaultName(op));
      const node = { id, op, inputs: Array(this.arity(op)).fill(null) };
      if (LEAVES.has(op)) node.value = LEAF_VALUE[op];
      // an op added with a node selected takes that node as its first input
      if (node.inputs.length && near && w.nodes.some((n) => n.id === near)) node.inputs[0] = near;
      w.nodes.push(node);
      made = id;
      this.draftPos.set(id, this.placeFor(id, near));
      return w;
    }).then(() => {
      if (made) this.select(made);
    });
  }

  connect(source, target, slot) {
    return this.edit((w) => {
      const node = w.nodes.find((n) => n.id === target);
      if (!node || slot >= (node.inputs || []).length) return null;
      node.inputs[slot] = source;
      return w;
    });
  }

  removeNode(id) {
    return this.edit((w) => {
      if (!w.nodes.some((n) => n.id === id)) return null;
      w.nodes = w.nodes.filter((n) => n.id !== id);
      for (const n of w.nodes) n.inputs = (n.inputs || []).map((i) => (i === id ? null : i));
      if (w.output === id) w.output = null;
      this.draftPos.delete(id);
      return w;
    }).then(() => {
      if (this.state.selected === id) this.select(null);
    });
  }

  changeOp(id, op) {
    return this.edit((w) => {
      const node = w.nodes.find((n) => n.id === id);
      if (!node || node.op === op) return null;
      const arity = this.arity(op);
      const old = node.inputs || [];
      node.inputs = Array.from({ length: arity }, (_, i) => (i < old.length ? old[i] : null));
      node.op = op;
      delete node.attrs;
      if (LEAVES.has(op)) {
        if (node.value === undefined || node.value === null) node.value = LEAF_VALUE[op];
      } else {
        delete node.value;
        delete node.bind;
      }
      return w;
    });
  }

  rename(id, newId, label) {
    const wasSelected = this.state.selected === id;
    return this.edit((w) => {
      const node = w.nodes.find((n) => n.id === id);
      if (!node) return null;
      if (newId !== id) {
        node.id = newId;
        for (const n of w.nodes) n.inputs = (n.inputs || []).map((i) => (i === id ? newId : i));
        if (w.output === id) w.output = newId;
        if (this.draftPos.has(id)) this.draftPos.set(newId, this.draftPos.get(id));
      }
      if (label && label !== newId) node.label = label;
      else delete node.label;
      return w;
    }).then((ok) => {
      if (ok && wasSelected) this.select(newId);
    });
  }

  setValue(id, value, old = null) {
    const sent = this.state.graph && this.state.graph.nodes.some((n) => n.id === id) && !this.draftPos.has(id);
    const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []).join(",");
    if (sent && old !== null && shapeOf(old) === shapeOf(value)) {
      // the same shape: PUT /values (a param's value in a spec would be kept, not replaced)
      this.pending = this.pending.then(async () => {
        await this.session.setValues({ [id]: value });
        this.undo.push({ values: { [id]: old }, reverse: { [id]: value } });
        this.redo = [];
        this.error = null;
        this.store.set({});
      }).catch((err) => this.showError(err, null));
      return this.pending;
    }
    return this.edit((w) => {
      const node = w.nodes.find((n) => n.id === id);
      if (!node || !LEAVES.has(node.op)) return null;
      node.value = value;
      delete node.bind;
      return w;
    });
  }

  /** A node placed by hand: pinned there (PUT /positions keeps the timeline), undoable. */
  placeNode(id, point) {
    const g = this.state.graph;
    const node = g ? g.nodes.find((n) => n.id === id) : null;
    if (!node) return this.pending;
    const before = { [id]: node.pinned ? { x: node.x, y: node.y } : null };
    const after = { [id]: { x: Math.round(point.x * 10) / 10, y: Math.round(point.y * 10) / 10 } };
    this.pending = this.pending.then(async () => {
      await this.session.apply(await putPositions(this.graphId, this.token, after));
      this.undo.push({ positions: before, reverse: after });
      this.redo = [];
      this.store.set({});
    }).catch((err) => {
      this.redraw();
      this.say.error(err);
    });
    return this.pending;
  }

  /** Lay the graph out again (hand positions dropped); undo pins them back. */
  layout() {
    const g = this.state.graph;
    if (!g) return this.pending;
    const pinned = Object.fromEntries(g.nodes.filter((n) => n.pinned).map((n) => [n.id, { x: n.x, y: n.y }]));
    this.pending = this.pending.then(async () => {
      await this.session.apply(await relayout(this.graphId, this.token));
      await this.session.reload();
      if (Object.keys(pinned).length) {
        this.undo.push({ positions: pinned, reverse: Object.fromEntries(Object.keys(pinned).map((k) => [k, null])) });
        this.redo = [];
      }
      this.store.set({});
    }).catch((err) => this.say.error(err));
    return this.pending;
  }

  /** An expression or a network in place of the graph (undoable); rejects with the
   * engine's answer so that the dialog can show it. */
  applyBody(body) {
    const run = async () => {
      const before = await this.base();
      await this.sendBody(body);
      this.undo.push(before);
      this.redo = [];
    };
    const job = this.pending.then(run);
    this.pending = job.catch(() => {});
    return job;
  }

  async setTargetNode(id) {
    try {
      const res = await setTarget(this.graphId, this.token, id);
      await this.session.apply(res);
      if (!res || !res.nodes) await this.session.reload();
    } catch (err) {
      this.say.error(err);
    }
  }

  // ---- drawing over the graph ---------------------------------------------------------------

  /** Where a draft appears: right of the node it was made near, else in the middle of view. */
  placeFor(id, near = null) {
    // a node that was drawn (a consumer of a deleted node) stays where it was
    const own = this.view.nodes.get(id);
    if (own) return { x: own.box.x + own.box.w / 2, y: own.box.y + own.box.h / 2 };
    const rec = near ? this.view.nodes.get(near) : null;
    const pos = near ? this.draftPos.get(near) : null;
    const b = this.view.bounds;
    let want;
    if (rec) want = { x: rec.box.x + rec.box.w + 90 + DRAFT.w / 2, y: rec.box.y + rec.box.h / 2 };
    else if (pos) want = { x: pos.x + DRAFT.w + 90, y: pos.y };
    else want = { x: b.x + b.w + 90 + DRAFT.w / 2, y: b.y + b.h / 2 };
    return this.freeSpot(want, id);
  }

  /** The point nearest to `want` where a draft overlaps no node and no other draft. */
  freeSpot(want, id) {
    const boxes = [];
    for (const rec of this.view.nodes.values()) boxes.push(rec.box);
    for (const [other, p] of this.draftPos) if (other !== id) boxes.push({ x: p.x - DRAFT.w / 2, y: p.y - DRAFT.h / 2, w: DRAFT.w, h: DRAFT.h });
    const m = 24;
    const free = (c) => boxes.every((q) =>
      c.x + DRAFT.w / 2 + m <= q.x || c.x - DRAFT.w / 2 - m >= q.x + q.w || c.y + DRAFT.h / 2 + m <= q.y || c.y - DRAFT.h / 2 - m >= q.y + q.h);
    if (free(want)) return want;
    const step = 40;
    for (let r = 1; r <= 40; r++) {
      let best = null;
      for (let i = -r; i <= r; i++) {
        for (const c of [{ x: want.x + i * step, y: want.y - r * step }, { x: want.x + i * step, y: want.y + r * step },
          { x: want.x - r * step, y: want.y + i * step }, { x: want.x + r * step, y: want.y + i * step }]) {
          if (c.x - DRAFT.w / 2 < 0) continue; // not left of the inputs' column
          if (free(c) && (!best || Math.hypot(c.x - want.x, c.y - want.y) < Math.hypot(best.x - want.x, best.y - want.y))) best = c;
        }
      }
      if (best) return best;
    }
    return want;
  }

  /** Fit the drawing to the graph and its drafts when a draft lies outside the view. */
  showDrafts() {
    if (!this.draftPos.size) return;
    const { k, x, y } = this.view.view;
    const size = this.view.size();
    const pad = this.view.padding();
    let out = false;
    const b = { ...this.view.bounds };
    let right = b.x + b.w;
    let bottom = b.y + b.h;
    for (const p of this.draftPos.values()) {
      const l = p.x - DRAFT.w / 2;
      const t = p.y - DRAFT.h / 2;
      b.x = Math.min(b.x, l);
      b.y = Math.min(b.y, t);
      right = Math.max(right, l + DRAFT.w);
      bottom = Math.max(bottom, t + DRAFT.h);
      const sx = l * k + x;
      const sy = t * k + y;
      if (sx < pad.left || sy < pad.top || sx + DRAFT.w * k > size.w - pad.right || sy + DRAFT.h * k > size.h - pad.bottom) out = true;
    }
    if (!out) return;
    this.view.bounds = { x: b.x, y: b.y, w: right - b.x, h: bottom - b.y };
    this.view.fit();
  }

  /** The box of a node (drawn by the view) or of a draft (drawn here), in world units. */
  boxOf(id) {
    const rec = this.view.nodes.get(id);
    if (rec && !this.draftPos.has(id)) {
      const m = this.moving && this.moving.id === id ? this.moving : null;
      return m ? { ...rec.box, x: rec.box.x + m.dx, y: rec.box.y + m.dy } : rec.box;
    }
    const p = this.draftPos.get(id);
    if (!p) return null;
    return { x: p.x - DRAFT.w / 2, y: p.y - DRAFT.h / 2, w: DRAFT.w, h: DRAFT.h };
  }

  slotPoint(box, slot, arity) {
    return { x: box.x - 2, y: box.y + (box.h * (slot + 1)) / (arity + 1) };
  }

  /** The keyboard's walk ([ ], Tab in the drawing): the server's topological order, then
   * the drafts on show in the order they were made (they have no place in it yet). */
  walkOrder(order) {
    if (!this.on) return order;
    const drafts = this.drafts().map((d) => d.id).filter((id) => this.draftPos.has(id));
    return drafts.length ? [...order, ...drafts] : order;
  }

  /** The find box's nodes: the graph's, then the drafts on show (as {id, op}). */
  findable(graph) {
    if (!this.on || !graph) return graph;
    const drafts = this.drafts().filter((d) => this.draftPos.has(d.id)).map((d) => ({ id: d.id, op: d.op, draft: true }));
    return drafts.length ? { ...graph, nodes: [...graph.nodes, ...drafts] } : graph;
  }

  /** A draft as the keyboard's walk reads and rings it: {node, box, element}, else null. */
  draftFor(id) {
    if (!this.on || !this.draftPos.has(id)) return null;
    const d = this.drafts().find((n) => n.id === id);
    if (!d) return null;
    const element = [...this.layer.querySelectorAll("[data-draft-id]")].find((g) => g.getAttribute("data-draft-id") === id) || null;
    return { node: d, box: this.boxOf(id), element };
  }

  /** Bring a draft into view when it is not (the view knows only the sent nodes). */
  showNode(id) {
    const box = this.draftPos.has(id) ? this.boxOf(id) : null;
    if (!box) return false;
    const { k, x, y } = this.view.view;
    const size = this.view.size();
    const left = box.x * k + x;
    const top = box.y * k + y;
    const inView = left >= 0 && top >= 0 && left + box.w * k <= size.w && top + box.h * k <= size.h;
    if (!inView) this.view.centerAt(box.x + box.w / 2, box.y + box.h / 2);
    return true;
  }

  /** Every node with input slots, drafts included: [{id, op, inputs}] */
  allNodes() {
    const g = this.state.graph;
    const drafts = this.drafts();
    const draftIds = new Set(drafts.map((d) => d.id));
    const sent = g ? g.nodes.filter((n) => !draftIds.has(n.id)).map((n) => ({ id: n.id, op: n.op, inputs: n.inputs || [] })) : [];
    return [...sent, ...drafts.map((d) => ({ id: d.id, op: d.op, inputs: d.inputs, draft: true }))];
  }

  render() {
    const st = this.state;
    // drafts of nodes that were sent (or deleted by someone else) are no longer drafts
    const draftIds = new Set(this.drafts().map((d) => d.id));
    for (const id of [...this.draftPos.keys()]) if (!draftIds.has(id)) this.draftPos.delete(id);
    this.view.svg.classList.toggle("is-editing", this.on);
    const toggle = document.querySelector("[data-action=edit-mode]");
    if (toggle) {
      toggle.classList.toggle("is-on", this.on);
      toggle.setAttribute("aria-pressed", String(this.on));
    }
    this.renderBar();
    const g = st.graph;
    // drawn again only when something it shows changed (hover and pointer targets stay put)
    const key = JSON.stringify([this.on, g && g.id, g && g.version, g && g.target, this.view.structure, st.selected, st.lang,
      this.working && this.drafts(), [...this.draftPos], this.error, this.wire, this.moving]);
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    clear(this.layer);
    // a sentence no longer shown is read out again when it comes back
    if (!this.error && !(this.wire && this.wire.verdict && !this.wire.verdict.ok)) this.announced = null;
    if (!g) return;
    const target = g.target && g.target !== g.output ? g.target : null;
    if (target) this.drawTarget(target);
    if (!this.on) {
      if (this.error) this.drawError();
      return;
    }
    const nodes = this.allNodes();
    for (const d of nodes.filter((n) => n.draft)) this.drawDraft(d);
    for (const n of nodes) this.drawPorts(n);
    if (this.moving && !this.moving.draft) this.dragNodeDrawing(this.moving);
    if (this.wire) {
      const { from, to } = this.wire;
      const dx = Math.max(30, Math.abs(to.x - from.x) / 2);
      this.layer.appendChild(svgEl("path", {
        class: "wire", "data-role": "wire",
        d: `M${from.x},${from.y} C${from.x + dx},${from.y} ${to.x - dx},${to.y} ${to.x},${to.y}`,
      }));
      const v = this.wire.verdict;
      if (v && !v.ok) this.drawNote(v.text, { x: to.x + 18, y: to.y + 18 }, "wire-problem");
    }
    if (this.error) this.drawError();
  }

  /** A node being moved, and its edges, drawn where it is going (the server lays it out on drop). */
  dragNodeDrawing(m) {
    const rec = this.view.nodes.get(m.id);
    if (!rec || !rec.g) return;
    const box = { ...rec.box, x: rec.box.x + m.dx, y: rec.box.y + m.dy };
    rec.g.setAttribute("transform", `translate(${box.x.toFixed(1)} ${box.y.toFixed(1)})`);
    const curve = (a, b) => {
      const dx = Math.max(30, Math.abs(b.x - a.x) / 2);
      return `M${a.x.toFixed(1)},${a.y.toFixed(1)} C${(a.x + dx).toFixed(1)},${a.y.toFixed(1)} ${(b.x - dx).toFixed(1)},${b.y.toFixed(1)} ${b.x.toFixed(1)},${b.y.toFixed(1)}`;
    };
    for (const e of rec.inEdges) {
      const s = this.view.nodes.get(e.source);
      if (!s || !e.path) continue;
      e.path.setAttribute("d", curve({ x: s.box.x + s.box.w, y: s.box.y + s.box.h / 2 }, this.slotPoint(box, e.slot, rec.inEdges.length)));
      if (e.label) e.label.setAttribute("visibility", "hidden");
    }
    for (const e of rec.outEdges) {
      const tg = this.view.nodes.get(e.target);
      if (!tg || !e.path) continue;
      e.path.setAttribute("d", curve({ x: box.x + box.w, y: box.y + box.h / 2 }, this.slotPoint(tg.box, e.slot, tg.inEdges.length)));
      if (e.label) e.label.setAttribute("visibility", "hidden");
    }
  }

  /** Draw the graph again from the state (a move that did not go through). */
  redraw() {
    this.moving = null;
    this.view.structure = null;
    this.store.set({});
  }

  drawTarget(id) {
    const box = this.boxOf(id);
    if (!box) return;
    this.layer.append(
      svgEl("rect", { class: "target-ring", x: box.x - 10, y: box.y - 10, width: box.w + 20, height: box.h + 20, rx: 18, "data-role": "target-ring", "data-node": id }),
      svgEl("g", { class: "target-badge", transform: `translate(${box.x + box.w - 96} ${box.y - 30})` },
        svgEl("rect", { width: 106, height: 28, rx: 14 }),
        svgEl("text", { x: 53, y: 19, "text-anchor": "middle", text: this.t("target.badge") })),
    );
  }

  drawDraft(d) {
    const box = this.boxOf(d.id);
    if (!box) return;
    const sel = this.state.selected === d.id;
    const g = svgEl("g", { class: `draft${sel ? " is-selected" : ""}`, "data-draft-id": d.id, transform: `translate(${box.x} ${box.y})` },
      svgEl("rect", { class: "draft-box", width: box.w, height: box.h, rx: 11 }),
      svgEl("text", { class: "node-label", x: 12, y: 26, text: d.id }),
      svgEl("text", { class: "node-op", x: box.w - 12, y: 25, "text-anchor": "end", text: d.op }),
      svgEl("text", { class: "draft-hint", x: 12, y: 66, text: this.t("editor.draftHint") }));
    this.layer.appendChild(g);
    // the edges already connected into a draft
    d.inputs.forEach((src, slot) => {
      if (src === null) return;
      const sb = this.boxOf(src);
      if (!sb) return;
      const a = { x: sb.x + sb.w, y: sb.y + sb.h / 2 };
      const b = this.slotPoint(box, slot, d.inputs.length);
      const dx = Math.max(30, Math.abs(b.x - a.x) / 2);
      this.layer.insertBefore(svgEl("path", { class: "draft-edge", d: `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}` }), this.layer.firstChild);
    });
  }

  drawPorts(n) {
    const box = this.boxOf(n.id);
    if (!box) return;
    const arity = n.inputs.length;
    const names = this.argNames(n.op);
    for (let slot = 0; slot < arity; slot++) {
      const p = this.slotPoint(box, slot, arity);
      const empty = n.inputs[slot] === null || n.inputs[slot] === undefined;
      const hot = this.wire && this.wire.hit && this.wire.hit.id === n.id && this.wire.hit.slot === slot;
      const verdict = hot && this.wire.verdict ? (this.wire.verdict.ok ? " is-ok" : " is-refused") : "";
      this.layer.appendChild(svgEl("circle", {
        class: `port port--in${empty ? " is-empty" : ""}${hot ? " is-hot" : ""}${verdict}`, cx: p.x, cy: p.y, r: hot ? PORT_R * 1.7 : PORT_R,
        "data-port": "in", "data-node": n.id, "data-slot": slot,
      }, svgEl("title", { text: `${this.t("editor.slot", { slot: slot + 1, node: n.id })}${names[slot] ? ` (${names[slot]})` : ""}` })));
    }
    this.layer.appendChild(svgEl("circle", {
      class: "port port--out", cx: box.x + box.w + 2, cy: box.y + box.h / 2, r: PORT_R + 2,
      "data-port": "out", "data-node": n.id,
    }, svgEl("title", { text: this.t("editor.outPort", { node: n.id }) })));
  }

  /** The engine's sentence next to the node it names (a callout that pans and zooms along). */
  drawError() {
    const { node, text } = this.error;
    const box = node ? this.boxOf(node) : null;
    const { k, x, y } = this.view.view;
    const at = box ? { x: box.x, y: box.y + box.h + 16 } : { x: (24 - x) / k, y: (120 - y) / k };
    if (box) {
      this.layer.insertBefore(svgEl("rect", { class: "error-ring", x: box.x - 8, y: box.y - 8, width: box.w + 16, height: box.h + 16, rx: 16 }), this.layer.firstChild);
    }
    this.drawNote(text, at, "edit-error", node, box ? Math.min(box.w / 2, 60) : null, box ? box.y - 8 : null);
  }

  /** A sentence in a box at a world point, wrapped to lines; `tip` = where its arrow points up.
   * The box is whole on screen: its text no smaller than 15 px, its lines as wide as the
   * drawing's box allows, moved left or up as little as needed. A screen reader hears it
   * (the page's alert region). */
  drawNote(text, at, role, node = "", tip = null, above = null) {
    const { k, x: vx, y: vy } = this.view.view;
    const size = this.view.size();
    const pad = this.view.padding();
    const s = Math.max(1, 15 / 19 / k); // note units per world unit (its text is 19 units)
    const z = k * s; // screen px per note unit
    const width = Math.min(440, Math.max(160, (size.w - 16) / z));
    const perLine = Math.max(12, Math.floor(((width - 32) * 42) / 408));
    const words = String(text).split(/\s+/);
    const lines = [];
    let line = "";
    for (const w of words) {
      if ((line + " " + w).trim().length > perLine && line) {
        lines.push(line);
        line = w;
      } else line = `${line} ${w}`.trim();
    }
    if (line) lines.push(line);
    const height = 22 + lines.length * 24 + 8;
    // the part of the drawing no overlay covers (legend, tools, edit bar, caption)
    const h = height * z;
    const fits = pad.top + h + pad.bottom <= size.h;
    const top = fits ? pad.top : 8;
    const bottom = fits ? size.h - pad.bottom : size.h - 8;
    const sx = at.x * k + vx;
    let sy = at.y * k + vy;
    let side = "below";
    // no room under the node: over it, the arrow pointing down
    if (sy + h > bottom && above !== null && above * k + vy - 16 - h >= top) {
      sy = above * k + vy - 16 - h;
      side = "above";
    }
    const x = Math.max(8, Math.min(sx, size.w - 8 - width * z));
    const y = Math.max(top, Math.min(sy, bottom - h));
    const g = svgEl("g", {
      class: "edit-error", "data-role": role, "data-node": node || "", "data-side": side,
      transform: `translate(${((x - vx) / k).toFixed(1)} ${((y - vy) / k).toFixed(1)}) scale(${s.toFixed(4)})`,
    });
    // the arrow to the node, while the box is just under or over it
    const tipAt = tip === null ? null : (sx + tip * k - x) / z;
    if (tipAt !== null && y === sy && tipAt >= 20 && tipAt <= width - 20) {
      const d = side === "below" ? `M${tipAt.toFixed(1)},-14 l14,14 h-28 z` : `M${tipAt.toFixed(1)},${height + 14} l14,-14 h-28 z`;
      g.appendChild(svgEl("path", { class: "edit-error-tip", d }));
    }
    g.appendChild(svgEl("rect", { width, height, rx: 10 }));
    lines.forEach((l, i) => g.appendChild(svgEl("text", { x: 16, y: 30 + i * 24, text: l })));
    this.layer.appendChild(g);
    if (`${role}|${text}` !== this.announced) {
      this.announced = `${role}|${text}`;
      // a drawing too short for it (a phone, its sheet open): the message box shows it too
      if (fits) this.say.announce(text);
      else this.say.error(new Error(text));
    }
  }

  // ---- pointer: drag a node, draw an edge -----------------------------------------------

  toWorld(p) {
    const { k, x, y } = this.view.view;
    return { x: (p.x - x) / k, y: (p.y - y) / k };
  }

  localOf(ev) {
    const r = this.view.svg.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }

  /** The view's hook: in edit mode a press on a node moves it (a click still selects). */
  pointerDown(ev, id, p) {
    if (!this.on || !id || !this.state.editable) return false;
    this.track(ev, { kind: "move", id, start: p, draft: false });
    return true;
  }

  layerPointerDown(ev) {
    if (!this.on) return;
    const port = ev.target.closest("[data-port]");
    const draft = ev.target.closest("[data-draft-id]");
    if (!port && !draft) return;
    ev.stopPropagation();
    ev.preventDefault();
    const p = this.localOf(ev);
    if (port && port.getAttribute("data-port") === "out") {
      const source = port.getAttribute("data-node");
      const box = this.boxOf(source);
      const from = { x: box.x + box.w + 2, y: box.y + box.h / 2 };
      this.wire = { source, from, to: from, base: this.base().catch(() => null) };
      this.track(ev, { kind: "wire", source, start: p });
    } else if (port) {
      // pulling from a connected slot starts from its source: re-wire it elsewhere or drop
      const id = port.getAttribute("data-node");
      this.select(id);
    } else {
      this.track(ev, { kind: "move", id: draft.getAttribute("data-draft-id"), start: p, draft: true });
    }
  }

  track(ev, drag) {
    const svg = this.view.svg;
    try {
      svg.setPointerCapture(ev.pointerId);
    } catch {
      /* synthetic events */
    }
    drag.moved = false;
    const move = (e) => {
      if (e.pointerId !== ev.pointerId) return;
      const p = this.localOf(e);
      const k = this.view.view.k;
      if (!drag.moved && Math.hypot(p.x - drag.start.x, p.y - drag.start.y) > 4) drag.moved = true;
      if (!drag.moved) return;
      if (drag.kind === "wire") {
        this.wire.to = this.toWorld(p);
        const hit = this.slotNear(this.wire.to, drag.source); // the slot a drop here would fill
        const key = hit ? `${hit.id}#${hit.slot}` : null;
        if (key !== (this.wire.hit ? `${this.wire.hit.id}#${this.wire.hit.slot}` : null)) {
          this.wire.hit = hit;
          this.wire.verdict = null;
          if (hit) this.checkWire(this.wire, hit);
        }
      }
      else if (drag.draft) {
        const w = this.toWorld(p);
        this.draftPos.set(drag.id, w);
      } else this.moving = { id: drag.id, dx: (p.x - drag.start.x) / k, dy: (p.y - drag.start.y) / k, draft: false };
      this.render();
    };
    const up = (e) => {
      if (e.pointerId !== ev.pointerId) return;
      svg.removeEventListener("pointermove", move);
      svg.removeEventListener("pointerup", up);
      svg.removeEventListener("pointercancel", up);
      const p = this.localOf(e);
      if (drag.kind === "wire") {
        const hit = e.type === "pointerup" ? this.slotNear(this.toWorld(p), drag.source) : null;
        this.wire = null;
        this.render();
        if (hit) this.connect(drag.source, hit.id, hit.slot);
      } else if (!drag.moved) {
        this.select(drag.id);
      } else if (!drag.draft) {
        const m = this.moving;
        this.moving = null;
        const rec = this.view.nodes.get(drag.id);
        if (rec && m && this.view.unmapPoint) {
          const c = this.view.unmapPoint(rec.box.x + m.dx + rec.box.w / 2, rec.box.y + m.dy + rec.box.h / 2);
          this.placeNode(drag.id, c);
        }
      } else this.render();
    };
    svg.addEventListener("pointermove", move);
    svg.addEventListener("pointerup", up);
    svg.addEventListener("pointercancel", up);
  }

  /** Live validation while an edge is dragged: would the engine take it? (POST /spec/check) */
  async checkWire(wire, hit) {
    const base = await wire.base;
    if (!base || this.wire !== wire || wire.hit !== hit) return;
    const after = clone(base);
    const node = after.nodes.find((n) => n.id === hit.id);
    if (!node) return;
    node.inputs[hit.slot] = wire.source;
    const spec = this.sendable(after);
    let verdict = { ok: true };
    if (JSON.stringify(spec) !== JSON.stringify(this.sendable(base))) {
      try {
        await checkSpec(this.graphId, this.token, spec);
      } catch (err) {
        verdict = { ok: false, text: err instanceof ApiError ? detailMessage(err.detail) : String(err.message || err) };
      }
    }
    if (this.wire !== wire || wire.hit !== hit) return; // the pointer moved on
    wire.verdict = verdict;
    this.render();
  }

  /** The input slot a dropped edge ends on: the nearest slot, or the first free one of the node under it. */
  slotNear(w, source) {
    let best = null;
    let bestD = Infinity;
    for (const n of this.allNodes()) {
      if (n.id === source) continue;
      const box = this.boxOf(n.id);
      if (!box || !n.inputs.length) continue;
      const inside = w.x >= box.x - 10 && w.x <= box.x + box.w && w.y >= box.y && w.y <= box.y + box.h;
      n.inputs.forEach((_, slot) => {
        const p = this.slotPoint(box, slot, n.inputs.length);
        let d = Math.hypot(p.x - w.x, p.y - w.y);
        if (inside) d = Math.min(d, Math.abs(p.y - w.y) + (n.inputs[slot] === null ? 0 : 8));
        if ((d < SNAP || inside) && d < bestD) {
          best = { id: n.id, slot };
          bestD = d;
        }
      });
    }
    return best;
  }

  // ---- the bar and the keyboard --------------------------------------------------------

  makeBar() {
    const t = this.t;
    const b = (action, key, title) => el("button", { type: "button", class: "btn", "data-edit-action": action, title: t(title) }, t(key));
    const bar = el("div", { class: "edit-bar", "data-role": "edit-bar", hidden: true },
      b("add", "editor.add", "editor.addKey"),
      b("op", "editor.op", "editor.opKey"),
      b("rename", "editor.rename", "editor.renameKey"),
      b("value", "editor.valueButton", "editor.valueKey"),
      b("connect", "editor.connect", "editor.connectKey"),
      b("delete", "editor.delete", "editor.deleteKey"),
      b("undo", "editor.undo", "editor.undoKey"),
      b("redo", "editor.redo", "editor.redoKey"),
      b("layout", "editor.layout", "editor.layoutKey"),
      b("expression", "editor.expression", "editor.expressionKey"),
      b("done", "editor.done", "editor.toggleKey"));
    bar.addEventListener("click", (ev) => {
      const btn = ev.target.closest("[data-edit-action]");
      if (btn) this.run(btn.getAttribute("data-edit-action"));
    });
    return bar;
  }

  renderBar() {
    this.bar.hidden = !this.on;
    const keys = {
      add: ["editor.add", "editor.addKey"], op: ["editor.op", "editor.opKey"], rename: ["editor.rename", "editor.renameKey"],
      value: ["editor.valueButton", "editor.valueKey"], connect: ["editor.connect", "editor.connectKey"],
      delete: ["editor.delete", "editor.deleteKey"], undo: ["editor.undo", "editor.undoKey"], redo: ["editor.redo", "editor.redoKey"],
      layout: ["editor.layout", "editor.layoutKey"], expression: ["editor.expression", "editor.expressionKey"],
      network: ["editor.network", "editor.networkKey"], done: ["editor.done", "editor.toggleKey"],
    };
    const sel = Boolean(this.state.selected);
    const off = { undo: !this.undo.length, redo: !this.redo.length, op: !sel, rename: !sel, value: !sel, connect: !sel, delete: !sel };
    for (const btn of this.bar.querySelectorAll("[data-edit-action]")) {
      const a = btn.getAttribute("data-edit-action");
      btn.disabled = Boolean(off[a]);
      const [text, title] = keys[a].map((k) => this.t(k));
      if (btn.textContent !== text) btn.textContent = text;
      if (btn.title !== title) btn.title = title;
    }
  }

  toggle(on = !this.on) {
    if (on && !this.state.editable) {
      this.say.info(this.t("follow.readOnly"));
      return;
    }
    this.on = on;
    this.wire = null;
    this.moving = null;
    if (!on) this.error = null;
    this.store.set({ editing: on });
  }

  /** Keyboard actions (edit mode) and the bar's buttons. */
  run(action) {
    const sel = this.state.selected;
    const t = this.t;
    switch (action) {
      case "toggle":
      case "done":
        return this.toggle(action === "done" ? false : undefined);
      case "add":
        return this.openPalette((op) => this.addNode(op), t("editor.addTitle"));
      case "op":
        if (!this.need(sel)) return null;
        return this.openPalette((op) => this.changeOp(sel, op), t("editor.opTitle", { node: sel }));
      case "rename":
        return this.need(sel) && this.openRename(sel);
      case "value":
        return this.need(sel) && this.openValue(sel);
      case "delete":
        return this.need(sel) && this.removeNode(sel);
      case "connect":
        return this.need(sel) && this.openConnect(sel);
      case "move":
        if (!this.need(sel) || this.draftPos.has(sel)) return null;
        this.moving = { id: sel, dx: 0, dy: 0, draft: false, keys: true };
        this.say.info(t("editor.moving", { node: sel }));
        this.render();
        return null;
      case "undo":
        return this.undoEdit();
      case "redo":
        return this.redoEdit();
      case "layout":
        return this.layout();
      case "expression":
        return this.onExpression && this.onExpression();
      case "network":
        return this.onNetwork && this.onNetwork();
      default:
        return null;
    }
  }

  need(sel) {
    if (sel) return true;
    this.say.info(this.t("editor.selectFirst"));
    return false;
  }

  /** A key of the page: true when the editor took it. */
  key(ev) {
    if (this.picker.isOpen || this.form.isOpen) return false;
    if (ev.key === "e" && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      this.toggle();
      return true;
    }
    // the expression and the network builder replace the whole graph: no need for edit mode
    if ((ev.key === "x" || ev.key === "N") && this.state.editable && !this.moving) {
      ev.preventDefault();
      this.run(ev.key === "x" ? "expression" : "network");
      return true;
    }
    if (!this.on) return false;
    if (this.moving && this.moving.keys) {
      const step = ev.shiftKey ? 4 : 24;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
      if (d) {
        this.moving.dx += d[0];
        this.moving.dy += d[1];
        this.render();
        return true;
      }
      if (ev.key === "Enter" || ev.key === "m") {
        const m = this.moving;
        this.moving = null;
        const rec = this.view.nodes.get(m.id);
        if (rec && this.view.unmapPoint && (m.dx || m.dy)) this.placeNode(m.id, this.view.unmapPoint(rec.box.x + m.dx + rec.box.w / 2, rec.box.y + m.dy + rec.box.h / 2));
        else this.store.set({});
        return true;
      }
      if (ev.key === "Escape") {
        this.redraw(); // the node back where it was
        return true;
      }
      return true; // other keys wait until the move is done
    }
    if (ev.key === "Escape" && (this.error || this.wire)) {
      this.error = null;
      this.wire = null;
      this.store.set({});
      return true;
    }
    const map = { a: "add", Enter: "op", o: "op", F2: "rename", n: "rename", Delete: "delete", Backspace: "delete", v: "value", w: "connect", m: "move", L: "layout", x: "expression", N: "network" };
    const action = map[ev.key];
    if (!action) return false;
    ev.preventDefault();
    this.run(action);
    return true;
  }

  /** Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y: anywhere but in a text field (which has its own undo). */
  ctrlKey(ev) {
    if (!(ev.ctrlKey || ev.metaKey) || !this.on) return false;
    const field = ev.target && ev.target.closest ? ev.target.closest("input, textarea, select, [contenteditable]") : null;
    if (field) return false;
    const k = ev.key.toLowerCase();
    if (k === "z" && !ev.shiftKey) this.undoEdit();
    else if ((k === "z" && ev.shiftKey) || k === "y") this.redoEdit();
    else return false;
    ev.preventDefault();
    return true;
  }

  // ---- dialogs -------------------------------------------------------------------------

  openPalette(onChoose, title) {
    const ops = Object.values(this.state.ops || {});
    const items = ops.map((op) => ({
      key: op.name,
      title: op.name,
      detail: op.formula || op.description || "",
      search: op.description || "",
    }));
    this.picker.open(title, items, (item) => onChoose(item.key), this.t("editor.paletteHint"));
  }

  openRename(id) {
    const node = this.allNodes().find((n) => n.id === id);
    const g = this.state.graph;
    const full = g ? g.nodes.find((n) => n.id === id) : null;
    const label = full && full.label && full.label !== id ? full.label : "";
    this.form.open(this.t("editor.renameTitle", { node: id }), [
      { name: "id", label: this.t("editor.id"), value: node ? node.id : id },
      { name: "label", label: this.t("editor.label"), value: label },
    ], (v) => {
      const newId = v.id.trim();
      if (!ID_RE.test(newId) || newId.length > 64) return this.t("editor.badId");
      if (newId !== id && this.allNodes().some((n) => n.id === newId)) return this.t("editor.idTaken", { node: newId });
      this.rename(id, newId, v.label.trim());
      return null;
    });
  }

  async openValue(id) {
    const w = await this.base();
    const node = w.nodes.find((n) => n.id === id);
    if (!node || !LEAVES.has(node.op)) {
      this.say.info(this.t("editor.notLeaf", { node: id }));
      return;
    }
    const shape = [];
    for (let v = node.value; Array.isArray(v); v = v[0]) shape.push(v.length);
    this.form.open(this.t("editor.valueTitle", { node: id }), [
      { name: "value", label: this.t("editor.value"), value: JSON.stringify(node.value ?? 0) },
      { name: "shape", label: this.t("editor.shape"), value: shape.join(", ") },
    ], (v) => {
      const value = parseValue(v.value);
      const wanted = parseShape(v.shape);
      if (wanted === null) return this.t("editor.badShape");
      if (value === null) return this.t("editor.badValue");
      const have = [];
      for (let x = value; Array.isArray(x); x = x[0]) have.push(x.length);
      // a new shape with the same value typed: that shape, filled with the value's first number
      const out = have.join(",") === wanted.join(",") || v.shape.trim() === shape.join(", ") ? value : filled(wanted, firstNumber(value));
      this.setValue(id, out, node.value ?? null);
      return null;
    });
  }

  /** The names of an op's arguments, from its formula: "mse(y, yhat) = ..." -> [y, yhat]. */
  argNames(op) {
    const info = this.state.ops ? this.state.ops[op] : null;
    const m = info && info.formula ? /^\s*[\w.]+\(([^)]*)\)/.exec(info.formula) : null;
    return m ? m[1].split(",").map((a) => a.trim()) : [];
  }

  openConnect(source) {
    // keyboard wiring: the selected node feeds the chosen slot of another node
    const items = [];
    for (const n of this.allNodes()) {
      if (n.id === source) continue;
      const names = this.argNames(n.op);
      n.inputs.forEach((cur, slot) => items.push({
        key: `${n.id}:${slot + 1}`,
        title: `${n.id} \u00b7 ${this.t("editor.slotShort", { slot: slot + 1 })}${names[slot] ? ` (${names[slot]})` : ""}`,
        detail: cur === null ? this.t("editor.free") : `\u2190 ${cur}`,
        search: n.op,
        target: n.id,
        slot,
      }));
    }
    this.picker.open(this.t("editor.connectTitle", { node: source }), items, (it) => this.connect(source, it.target, it.slot), this.t("editor.connectHint"));
  }
}
