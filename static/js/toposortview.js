// Day 3's topological sort made visible. Kahn's algorithm runs on the server (GET
// /api/graphs/{id}/toposort, or POST /api/toposort for any directed graph, cycles allowed);
// this module shows its steps one at a time on the shared GraphView: the ready set, the node
// taken, the edges removed (fading), and for a cyclic graph where no node is ready any more
// and the cycle that blocks it. With `choose_order` the student takes any ready node next;
// then the server runs forward and backward in that order and in the graph's own, and the
// page sets the two sets of gradients side by side.

import { clear, el, setText, svgEl } from "./dom.js";
import { fmtShort } from "./format.js";

const LOOP = 150; // how far below (back edges) or above (long edges) the row an edge detours

/**
 * A directed graph given as nodes and [source, target] edges, as a state the GraphView can
 * draw: the nodes in a row in the order given; an edge back to the left (which closes a
 * cycle) runs under the row, an edge skipping nodes runs over it.
 */
export function freeGraph(spec) {
  const index = new Map(spec.nodes.map((id, i) => [id, i]));
  const slots = new Map();
  const edges = spec.edges.map(([source, target]) => {
    const slot = slots.get(target) || 0;
    slots.set(target, slot + 1);
    const i = index.get(source);
    const j = index.get(target);
    let points = [];
    if (j < i) points = [[i + 0.5, LOOP], [j - 0.5, LOOP]];
    else if (j > i + 1) points = [[i + 0.5, -LOOP], [j - 0.5, -LOOP]];
    return { source, target, slot, grad: null, points };
  });
  const nodes = spec.nodes.map((id, i) => ({
    id, op: id, label: id, trainable: false, shape: [], value: null, grad: null, layer: i, x: i, y: 0,
    inputs: edges.filter((e) => e.target === id).map((e) => e.source),
  }));
  return { id: `toposort:${spec.nodes.join(",")}|${spec.edges.map((e) => e.join(">")).join(",")}`, name: "", output: null,
    order: spec.nodes.slice(), cursor: null, nodes, edges, events: [] };
}

/** The graph's structure only: no values, no cursor (Kahn's algorithm needs neither). */
function structureOf(graph) {
  return {
    ...graph, cursor: null, events: [],
    nodes: graph.nodes.map((n) => ({ ...n, value: null, grad: null })),
    edges: graph.edges.map((e) => ({ ...e, grad: null })),
  };
}

export class ToposortView {
  /**
   * `strip`: the box under the drawing (ready set, order, stuck); `orderBox`: where the two
   * orders' gradients are compared; `load(choose)`: the API's Kahn result with these picks;
   * `runOrders(order)`: {theirs, mine} graph states after forward and backward in the
   * graph's order and in `order`; `onChange()`: redraw.
   */
  constructor(strip, orderBox, { t, onChange }) {
    this.strip = strip;
    this.orderBox = orderBox;
    this.t = t;
    this.onChange = onChange;
    this.clear();
  }

  clear() {
    this.loads = (this.loads || 0) + 1; // answers to an earlier step's requests are dropped
    this.source = null; // {kind: "graph", graph} | {kind: "free", graph}
    this.result = null;
    this.position = 0;
    this.choose = false;
    this.chosen = [];
    this.compare = null; // {status: "running" | "done" | "error", rows, same, error}
    this.fetch = null;
    this.runOrders = null;
    this.version = 0;
  }

  /** Show a step: `graph` (an API state) or `spec` ({nodes, edges}); `fetch(choose)`. */
  async show({ graph = null, spec = null, choose = false, fetch, runOrders = null }) {
    this.clear();
    this.source = spec ? { kind: "free", graph: freeGraph(spec) } : { kind: "graph", graph: structureOf(graph) };
    this.choose = choose;
    this.fetch = fetch;
    this.runOrders = runOrders;
    const my = this.loads;
    const result = await fetch([]);
    if (my !== this.loads) return;
    this.result = result;
    this.changed();
  }

  /** The graph's structure changed (a new state arrived): keep drawing the latest. */
  setGraph(graph) {
    if (this.source && this.source.kind === "graph" && graph) this.source.graph = structureOf(graph);
  }

  changed() {
    this.version += 1;
    this.onChange();
  }

  get total() {
    return this.result ? this.result.steps.length : 0;
  }

  ready() {
    const r = this.result;
    return r && this.position < r.steps.length ? r.steps[this.position].ready : [];
  }

  stuck() {
    const r = this.result;
    return r && !r.complete && r.stuck && this.position >= r.steps.length ? r.stuck : null;
  }

  // ---- moving through the steps ---------------------------------------------------------------
  // Keys come faster than the server answers: each move starts from the last one's result.

  queued(fn) {
    const run = (this.queue || Promise.resolve()).then(fn);
    this.queue = run.catch(() => null);
    return run;
  }

  next() {
    return this.queued(() => this.nextNow());
  }

  prev() {
    return this.queued(() => this.prevNow());
  }

  home() {
    return this.queued(() => this.homeNow());
  }

  end() {
    return this.queued(() => this.endNow());
  }

  pick(id) {
    return this.queued(() => this.pickNow(id));
  }

  pickNumber(k) {
    return this.queued(() => {
      const ready = this.ready();
      return this.choose && k >= 1 && k <= ready.length ? this.pickNow(ready[k - 1]) : null;
    });
  }

  async nextNow() {
    if (!this.result) return;
    if (this.choose) {
      const ready = this.ready();
      if (ready.length) await this.pickNow(ready[0]);
      return;
    }
    if (this.position < this.total) {
      this.position += 1;
      this.changed();
    }
  }

  async prevNow() {
    if (!this.result || this.position <= 0) return;
    if (this.choose) {
      await this.repick(this.chosen.slice(0, -1));
      return;
    }
    this.position -= 1;
    this.changed();
  }

  async homeNow() {
    if (!this.result) return;
    if (this.choose) {
      await this.repick([]);
      return;
    }
    this.position = 0;
    this.changed();
  }

  async endNow() {
    if (!this.result) return;
    if (this.choose) {
      await this.repick(this.result.order.slice());
      return;
    }
    this.position = this.total;
    this.changed();
  }

  /** The student takes `id` next (it must be ready). */
  async pickNow(id) {
    if (!this.choose || !this.ready().includes(id)) return;
    await this.repick([...this.chosen, id]);
  }

  async repick(chosen) {
    const my = this.loads;
    this.chosen = chosen;
    this.compare = null;
    const result = await this.fetch(chosen);
    if (my !== this.loads || this.chosen !== chosen) return;
    this.result = result;
    this.position = chosen.length;
    this.changed();
    const n = this.source.graph.nodes.length;
    if (chosen.length === n && this.runOrders) await this.runBoth(chosen);
  }

  async runBoth(order) {
    this.compare = { status: "running", order };
    this.changed();
    try {
      const { theirs, mine } = await this.runOrders(order);
      if (!this.compare || this.compare.order !== order) return; // the order changed meanwhile
      const grad = (g, id) => {
        const node = g.nodes.find((m) => m.id === id);
        return node ? node.grad : null;
      };
      const rows = theirs.order.map((id) => ({ id, theirs: grad(theirs, id), mine: grad(mine, id) }));
      // the same numbers from the server, whichever order it ran in
      const same = rows.every((r) => JSON.stringify(r.theirs) === JSON.stringify(r.mine));
      this.compare = { status: "done", order, rows, same, theirOrder: theirs.order, myOrder: mine.order };
    } catch (err) {
      if (!this.compare || this.compare.order !== order) return;
      this.compare = { status: "error", order, error: err.message || String(err) };
    }
    this.changed();
  }

  // ---- drawing --------------------------------------------------------------------------------

  /** The state for GraphView.render: the structure and the classes of this step. */
  display() {
    const nodes = new Map();
    const edges = new Map();
    const r = this.result;
    if (r) {
      r.steps.slice(0, this.position).forEach((s, i) => {
        const now = i === this.position - 1;
        nodes.set(s.take, now ? "topo-taken topo-current" : "topo-taken");
        for (const [a, b] of s.removed) edges.set(`${a}>${b}`, now ? "topo-removed topo-removed--now" : "topo-removed");
      });
      for (const id of this.ready()) nodes.set(id, "topo-ready");
      const stuck = this.stuck();
      if (stuck) {
        for (const id of stuck.remaining) nodes.set(id, "topo-stuck");
        stuck.cycle.forEach((id, i) => edges.set(`${id}>${stuck.cycle[(i + 1) % stuck.cycle.length]}`, "topo-cycle"));
      }
    }
    return { graph: this.source ? this.source.graph : null, marks: { nodes, edges } };
  }

  /** A tag in the lower half of each node box: its place in the order, or "ready". */
  decorate(view) {
    const t = this.t;
    const r = this.result;
    const place = new Map();
    if (r) r.steps.slice(0, this.position).forEach((s, i) => place.set(s.take, i + 1));
    const ready = new Set(this.ready());
    const stuck = this.stuck();
    const waiting = new Set(stuck ? stuck.remaining : []);
    for (const rec of view.nodes.values()) {
      let tag = rec.g.querySelector(".topo-tag");
      if (!tag) {
        tag = svgEl("text", { class: "topo-tag", x: rec.box.w / 2, y: rec.box.h - 16, "text-anchor": "middle", "data-role": "topo-tag" });
        rec.g.appendChild(tag);
      }
      const text = place.has(rec.id) ? `#${place.get(rec.id)}` : ready.has(rec.id) ? t("topo.readyTag") : waiting.has(rec.id) ? t("topo.waitingTag") : "";
      setText(tag, text);
    }
  }

  /** The strip under the drawing: the step, the ready set (numbered when choosing), the order. */
  renderStrip() {
    const t = this.t;
    const box = this.strip;
    clear(box);
    const r = this.result;
    if (!r) {
      box.appendChild(el("p", { class: "kahn-hint", text: t("lesson.loading") }));
      return;
    }
    const ready = this.ready();
    const head = el("div", { class: "kahn-row" },
      el("span", { class: "kahn-step", "data-role": "topo-position", text: t("topo.step", { k: this.position, n: r.steps.length }) }),
      el("span", { class: "kahn-label", text: t("topo.ready") }));
    const chips = el("span", { class: "kahn-chips", "data-role": "topo-ready-set" });
    ready.forEach((id, i) => {
      const chip = el("button", { type: "button", class: "chip chip--ready", "data-role": "topo-ready", "data-node": id, tabindex: "-1",
        on: { click: () => this.pick(id) } });
      if (this.choose && i < 9) chip.appendChild(el("kbd", { text: String(i + 1) }));
      chip.append(id);
      chip.disabled = !this.choose;
      chips.appendChild(chip);
    });
    if (!ready.length) chips.appendChild(el("span", { class: "muted", text: "\u2205" }));
    head.appendChild(chips);
    box.appendChild(head);
    const taken = r.steps.slice(0, this.position).map((s) => s.take);
    box.appendChild(el("div", { class: "kahn-row" },
      el("span", { class: "kahn-label", text: t("topo.order") }),
      el("span", { class: "kahn-order", "data-role": "topo-order", text: taken.length ? taken.join(" \u2192 ") : t("topo.nothingYet") })));
    const stuck = this.stuck();
    if (stuck) {
      const cycle = [...stuck.cycle, stuck.cycle[0]].join(" \u2192 ");
      box.appendChild(el("div", { class: "kahn-stuck", "data-role": "topo-stuck", "data-cycle": stuck.cycle.join(","), role: "alert" },
        el("strong", { text: t("topo.stuck", { remaining: stuck.remaining.join(", ") }) }), " ",
        t("topo.cycle", { cycle })));
    } else if (r.complete && this.position >= r.steps.length) {
      box.appendChild(el("div", { class: "kahn-done", "data-role": "topo-done", text: t("topo.done") }));
    }
    box.appendChild(el("p", { class: "kahn-hint", text: t(this.choose ? "topo.chooseHint" : "topo.hint") }));
  }

  /** The gradients of the graph's order and of the student's, side by side (choose_order). */
  renderOrderBox() {
    const t = this.t;
    const box = this.orderBox;
    clear(box);
    if (!this.choose) return;
    box.appendChild(el("h3", { text: t("topo.compareTitle") }));
    const c = this.compare;
    if (!c) {
      box.appendChild(el("p", { class: "hint", text: t("topo.chooseFirst", { k: this.chosen.length, n: this.source ? this.source.graph.nodes.length : 0 }) }));
      return;
    }
    if (c.status === "running") {
      box.appendChild(el("p", { class: "hint", "data-role": "order-running", text: t("topo.running") }));
      return;
    }
    if (c.status === "error") {
      // the server's sentence, in English whatever the page's language
      box.appendChild(el("p", { class: "form-error", lang: "en", text: c.error }));
      return;
    }
    box.append(
      el("p", { class: "order-line" }, el("span", { class: "muted", text: `${t("topo.theirOrder")}: ` }), c.theirOrder.join(" \u2192 ")),
      el("p", { class: "order-line", "data-role": "my-order" }, el("span", { class: "muted", text: `${t("topo.myOrder")}: ` }), c.myOrder.join(" \u2192 ")),
    );
    const table = el("table", { class: "check-table order-table", "data-role": "order-compare" });
    table.appendChild(el("tr", {}, el("th", { text: t("topo.node") }), el("th", { text: t("topo.theirGrad") }), el("th", { text: t("topo.myGrad") })));
    for (const row of c.rows) {
      table.appendChild(el("tr", { "data-node": row.id },
        el("td", { text: row.id }),
        el("td", { class: "num is-grad", "data-role": "their-grad", text: fmtShort(row.theirs, 6) }),
        el("td", { class: "num is-grad", "data-role": "my-grad", text: fmtShort(row.mine, 6) })));
    }
    box.append(el("p", { class: `verdict ${c.same ? "verdict--ok" : "verdict--bad"}`, "data-role": "order-verdict",
      "data-same": c.same ? "true" : "false", text: t(c.same ? "topo.same" : "topo.different") }), table);
  }
}
