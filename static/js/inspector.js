// The inspector: one node's op, formula, inputs, value, gradient and the chain rule written
// out with the numbers the API reports (values, gradients, edge contributions). It shows
// derivative formulas from /api/ops; it never computes a derivative itself.

import { clear, el } from "./dom.js";
import { graphIndex } from "./graphview.js";
import { opLabel, opText } from "./i18n.js";
import {
  asMatrix,
  derivName,
  fmtNumber,
  fmtShape,
  fmtShort,
  isScalar,
  isSummary,
  shapeOf,
  summaryOf,
} from "./format.js";

const MAX_PATHS = 3;
const MAX_TABLE_CELLS = 64;

function has(v) {
  return v !== null && v !== undefined;
}

/** A value as a block: a number, a small table, or a summary line. */
export function valueBlock(v, t, cls = "") {
  if (!has(v)) return el("span", { class: `muted ${cls}`, text: t("inspector.notYet") });
  if (isScalar(v)) return el("span", { class: `num ${cls}`, text: fmtNumber(v, 6) });
  const shape = shapeOf(v);
  const summary = summaryOf(v);
  if (summary) {
    return el("span", { class: `num ${cls}` },
      `${fmtShape(shape)}: ${t("stat.min")} ${fmtNumber(summary.min)}, ${t("stat.mean")} ${fmtNumber(summary.mean)}, ${t("stat.max")} ${fmtNumber(summary.max)}`);
  }
  const m = asMatrix(v);
  if (m.cells.length > MAX_TABLE_CELLS) {
    return el("span", { class: `num ${cls}`, text: `${fmtShape(shape)} (${t("inspector.tooLarge")})` });
  }
  const table = el("table", { class: `matrix ${cls}` });
  for (let r = 0; r < m.rows; r++) {
    const tr = el("tr");
    for (let c = 0; c < m.cols; c++) tr.appendChild(el("td", { text: fmtNumber(m.cells[r * m.cols + c], 4) }));
    table.appendChild(tr);
  }
  return el("div", { class: "matrix-wrap" }, el("div", { class: "matrix-shape", text: fmtShape(shape) }), table);
}

/** Up to MAX_PATHS paths (lists of edges) from a node to the output, by an explicit stack. */
function pathsToOutput(graph, from, consumers) {
  const paths = [];
  const stack = [[from, []]];
  let budget = 5000;
  const goal = graph.target || graph.output; // the node backward differentiates
  while (stack.length && paths.length < MAX_PATHS && budget-- > 0) {
    const [id, path] = stack.pop();
    if (id === goal) {
      paths.push(path);
      continue;
    }
    const outs = consumers.get(id) || [];
    for (let i = outs.length - 1; i >= 0; i--) stack.push([outs[i].target, [...path, outs[i]]]);
  }
  return { paths, more: stack.length > 0 };
}

function dname(node) {
  return derivName(node ? node.label || node.id : "?");
}

/** ∂out/∂node as text. */
function partial(outNode, node) {
  return `\u2202${dname(outNode)}/\u2202${dname(node)}`;
}

export class Inspector {
  constructor(root, { t, onSelect, onSetValue, leafValue, onTarget = null }) {
    this.root = root;
    this.onTarget = onTarget; // (id | null) => choose the node backward differentiates
    this.leafValue = leafValue; // async (id) => the leaf's value from the spec (before forward)
    this.t = t;
    this.onSelect = onSelect;
    this.onSetValue = onSetValue;
    this.key = null;
    this.info = el("div", { class: "inspector-info" });
    this.editor = el("div", { class: "inspector-editor" });
    clear(root).append(this.info, this.editor);
    this.editorKey = null;
  }

  render(state) {
    const { graph } = state;
    // without a selection the inspector follows the node of the last step
    const following = !state.selected && graph && graph.cursor ? graph.cursor.last : null;
    const selected = state.selected || (following ? following.node : null);
    const key = [graph && graph.id, graph && graph.version, graph && graph.cursor && graph.cursor.position,
      selected, Boolean(following), state.lang, state.editable, state.opsLoaded].join("|");
    if (key === this.key) return;
    this.key = key;
    const t = this.t;
    const node = graph && selected ? graphIndex(graph).byId.get(selected) : null;
    clear(this.info);
    this.root.setAttribute("data-node", node ? node.id : "");
    if (!node) {
      this.info.appendChild(el("p", { class: "hint", text: t("inspector.empty") }));
      const keys = el("dl", { class: "key-hints" });
      for (const [k, text] of [["\u2192 / \u2190", "help.next"], ["f / b", "help.runs"], ["p", "help.present"], ["?", "help.title"]]) {
        keys.append(el("dt", {}, el("kbd", { text: k })), el("dd", { text: t(text) }));
      }
      this.info.appendChild(keys);
      clear(this.editor);
      this.editorKey = null;
      return;
    }
    if (following) {
      this.info.appendChild(el("p", { class: "following-note", "data-role": "following" }, t("inspector.following")));
    }
    const { byId } = graphIndex(graph);
    const op = state.ops ? state.ops[node.op] : null;
    const title = el("div", { class: "inspector-title" },
      el("h2", { class: "inspector-label", "data-role": "inspector-label", text: node.label || node.id }),
      el("span", { class: `badge badge--${node.op}`, "data-op": node.op, text: opLabel(node.op) }));
    this.info.appendChild(title);
    if (this.onTarget && state.editable) {
      const isTarget = (graph.target || graph.output) === node.id;
      const back = isTarget && graph.target && graph.target !== graph.output;
      if (!isTarget || back) {
        this.info.appendChild(el("button", {
          type: "button", class: "btn btn--small target-button", "data-role": "set-target", title: t("target.key"),
          text: back ? t("target.reset") : t("target.set"),
          on: { click: () => this.onTarget(back ? null : node.id) },
        }));
      }
    }
    if (node.label && node.label !== node.id) {
      this.info.appendChild(el("div", { class: "muted small" }, `${t("inspector.id")}: `, el("code", { text: node.id })));
    }
    if (op) {
      this.info.appendChild(el("p", { class: "op-description", text: opText(op, "description") }));
      this.info.appendChild(el("div", { class: "formula", "data-role": "formula", text: opText(op, "formula") }));
    }

    const dl = el("dl", { class: "facts" });
    dl.append(
      el("dt", { text: t("inspector.value") }), el("dd", {}, valueBlock(node.value, t, "is-value")),
      el("dt", { text: t("inspector.grad") }), el("dd", {}, valueBlock(node.grad, t, "is-grad")),
    );
    if (node.shape) dl.append(el("dt", { text: t("inspector.shape") }), el("dd", { text: fmtShape(node.shape) }));
    this.info.appendChild(dl);

    // inputs, with their local derivative formula
    if (node.inputs && node.inputs.length) {
      this.info.appendChild(el("h3", { text: t("inspector.inputs") }));
      const list = el("ul", { class: "input-list" });
      node.inputs.forEach((inputId, slot) => {
        const input = byId.get(inputId);
        const deriv = op ? opText(op, "derivatives")[slot] : null;
        list.appendChild(el("li", {},
          el("button", { class: "link", type: "button", "data-select": inputId, text: input ? input.label || inputId : inputId,
            on: { click: () => this.onSelect(inputId) } }),
          " = ", valueBlock(input ? input.value : null, t, "is-value"),
          deriv ? el("div", { class: "formula small", text: deriv }) : null));
      });
      this.info.appendChild(list);
    }

    this.info.appendChild(this.chainRule(graph, node, byId, state.ops || {}));

    const consumers = graphIndex(graph).consumers.get(node.id) || [];
    if (consumers.length) {
      this.info.appendChild(el("h3", { text: t("inspector.consumers") }));
      const ul = el("ul", { class: "consumer-list" });
      for (const e of consumers) {
        const c = byId.get(e.target);
        ul.appendChild(el("li", {}, el("button", { class: "link", type: "button", text: c ? c.label || c.id : e.target,
          on: { click: () => this.onSelect(e.target) } })));
      }
      this.info.appendChild(ul);
    }
    this.renderEditor(state, node);
  }

  chainRule(graph, node, byId, ops) {
    const t = this.t;
    const box = el("section", { class: "chain", "data-role": "chain-rule" });
    box.appendChild(el("h3", { text: t("chain.title") }));
    const goal = graph.target || graph.output;
    const out = byId.get(goal);
    if (node.id === goal) {
      box.appendChild(el("div", { class: "eq" }, `${partial(out, node)} = 1`));
      box.appendChild(el("p", { class: "hint", text: t("chain.output") }));
      return box;
    }
    const { consumers } = graphIndex(graph);
    const mine = consumers.get(node.id) || [];
    if (!mine.length) {
      box.appendChild(el("p", { class: "hint", text: t("chain.unused") }));
      return box;
    }
    const { paths, more } = pathsToOutput(graph, node.id, consumers);
    if (!paths.length && !more) {
      // feeds something, but not the target chosen for backward
      box.appendChild(el("p", { class: "hint", text: t("chain.unused") }));
      return box;
    }
    const factorsOf = (path) => {
      const factors = [];
      for (let i = path.length - 1; i >= 0; i--) {
        const e = path[i];
        const below = i === 0 ? node : byId.get(path[i - 1].target);
        factors.push({ edge: e, consumer: byId.get(e.target), input: below });
      }
      return factors; // from the output down to the node
    };
    const formulaOf = (f) => {
      const cop = f.consumer ? ops[f.consumer.op] : null;
      return cop ? opText(cop, "derivatives")[f.edge.slot] || "" : "";
    };

    // 1. the chain: one product per path to the output (their sum when there are several)
    const headline = el("div", { class: "eq eq--headline", "data-role": "chain-path" });
    headline.append(el("span", { class: "eq-lhs", text: partial(out, node) }), " = ");
    headline.append(paths.map((path) => factorsOf(path).map((f) => partial(f.consumer, f.input)).join(" \u00b7 ")).join("  +  "));
    if (more) headline.append("  + \u2026");
    box.appendChild(headline);
    if (paths.length === 1) {
      const factors = factorsOf(paths[0]);
      if (factors.every((f) => has(f.edge.local))) {
        box.appendChild(el("div", { class: "eq eq--numbers" }, " = ", factors.map((f) => `(${fmtShort(f.edge.local, 4)})`).join(" \u00b7 ")));
      }
    }
    if (has(node.grad)) {
      box.appendChild(el("div", { class: "eq eq--result" }, " = ", el("strong", { class: "is-grad", text: fmtShort(node.grad, 6) })));
    } else {
      box.appendChild(el("p", { class: "hint", text: t("chain.waiting") }));
    }

    // 2. backpropagation's way: from the output down, each step multiplies the gradient that
    //    arrived (a number from the server) by a local derivative (a formula from /api/ops)
    // with a node other than the output as the target, backward starts from that node
    const fromTarget = graph.target && graph.target !== graph.output;
    box.appendChild(el("h4", { text: fromTarget ? t("chain.stepsTarget", { node: out.label || out.id }) : t("chain.steps") }));
    const seen = new Set();
    const list = el("ol", { class: "chain-steps" });
    for (const path of paths) {
      for (const f of factorsOf(path)) {
        const key = `${f.edge.source}>${f.edge.target}#${f.edge.slot}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const c = f.consumer;
        const up = c && c.id === goal ? null : c;
        const item = el("li", { class: "chain-step", "data-edge": key });
        const lhs = `${partial(out, f.input)}`;
        // "via c" where the input feeds several nodes: this is only c's share of its gradient
        const shared = (consumers.get(f.input.id) || []).length > 1;
        item.appendChild(el("div", { class: "eq" },
          el("span", { class: "eq-lhs", text: lhs }),
          shared ? el("span", { class: "muted", text: ` (${t("chain.via")} ${c ? c.label || c.id : ""})` }) : "",
          up ? ` = ${partial(out, up)} \u00b7 ${partial(c, f.input)}` : ""));
        const numbers = el("div", { class: "eq eq--numbers" }, " = ");
        if (up) numbers.append(valueBlock(up.grad, t, "is-grad"), " \u00b7 ");
        numbers.append(el("span", { class: "formula small", text: formulaOf(f) || partial(c, f.input) }));
        if (has(f.edge.local)) numbers.append(" = ", el("span", { class: "num", text: fmtShort(f.edge.local, 5) }));
        item.appendChild(numbers);
        item.appendChild(el("div", { class: "eq eq--numbers" }, " = ", valueBlock(f.edge.grad, t, "is-grad")));
        if (c && ((f.input.shape || []).length || (c.shape || []).length)) item.appendChild(this.receipt(c, f.input, f.edge, byId));
        list.appendChild(item);
      }
    }
    box.appendChild(list);
    if (more) box.appendChild(el("p", { class: "hint", text: t("chain.morePaths") }));

    // 3. several consumers: the gradient is the sum of what each of them sent back
    if (mine.length > 1) {
      const sum = el("div", { class: "eq", "data-role": "chain-sum" });
      sum.append(el("span", { class: "eq-lhs", text: partial(out, node) }), " = ",
        mine.map((e) => `${partial(out, byId.get(e.target))} \u00b7 ${partial(byId.get(e.target), node)}`).join(" + "));
      box.append(el("h4", { text: t("chain.sum") }), sum);
      if (mine.every((e) => has(e.grad))) {
        box.appendChild(el("div", { class: "eq eq--numbers" }, " = ", mine.map((e) => fmtShort(e.grad, 5)).join(" + ")));
      }
      if (has(node.grad)) box.appendChild(el("div", { class: "eq eq--result" }, " = ", el("strong", { class: "is-grad", text: fmtShort(node.grad, 6) })));
    }
    return box;
  }

  /** `dw = x^T @ dY` with the real shapes of the operands and of the result. */
  receipt(consumer, node, edge, byId) {
    const t = this.t;
    const parts = el("div", { class: "receipt-body" });
    const operands = (consumer.inputs || []).map((id) => {
      const n = byId.get(id);
      return `${n ? n.label || id : id} ${fmtShape(n && n.shape ? n.shape : shapeOf(n && n.value))}`;
    });
    parts.append(
      el("span", { class: "muted", text: `${t("chain.receipt")}: ` }),
      `d${dname(consumer)} ${fmtShape(consumer.shape || shapeOf(consumer.grad))}`,
      `; ${operands.join(", ")}`,
      ` \u2192 d${dname(node)} ${fmtShape(shapeOf(edge.grad) || node.shape)}`,
    );
    if (has(edge.grad) && !isScalar(edge.grad) && !isSummary(edge.grad)) {
      const m = asMatrix(edge.grad);
      if (m && m.cells.length <= 36) parts.appendChild(valueBlock(edge.grad, t, "is-grad"));
    }
    return parts;
  }

  renderEditor(state, node) {
    const t = this.t;
    const leaf = node.op === "input" || node.op === "param" || node.op === "const";
    const key = `${node.id}|${state.lang}|${state.editable}|${state.graph.version}`;
    if (!leaf || !state.editable) {
      clear(this.editor);
      this.editorKey = null;
      return;
    }
    const active = this.editor.contains(document.activeElement);
    if (this.editorKey === key || (active && this.editorKey && this.editorKey.startsWith(`${node.id}|`))) return;
    this.editorKey = key;
    clear(this.editor);
    const leafValue = node.value;
    const initial = has(leafValue) && !isSummary(leafValue) ? JSON.stringify(leafValue) : "";
    if (!has(leafValue) && this.leafValue) {
      // not computed yet at this position: the value the leaf will take comes from the spec
      this.leafValue(node.id).then((v) => {
        if (has(v) && !input.value && this.editorKey === key) input.value = JSON.stringify(v);
      });
    }
    const input = el("textarea", { class: "value-input", rows: isScalar(leafValue) ? 1 : 3, spellcheck: "false",
      "data-role": "value-input", "aria-label": t("inspector.newValue") });
    input.value = initial;
    const error = el("div", { class: "form-error", "data-role": "value-error", role: "alert" });
    const apply = () => {
      let parsed;
      try {
        parsed = JSON.parse(input.value);
      } catch {
        error.removeAttribute("lang");
        error.textContent = t("editor.notJson");
        return;
      }
      error.textContent = "";
      input.blur(); // the keyboard goes back to stepping
      this.onSetValue(node.id, parsed, (message) => {
        error.setAttribute("lang", "en"); // the server's sentence, in English
        error.textContent = message;
      });
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) {
        ev.preventDefault();
        apply();
      }
      ev.stopPropagation();
    });
    this.editor.append(
      el("h3", { text: t("editor.title") }),
      el("p", { class: "hint", text: isSummary(leafValue) ? t("editor.summarised") : t("editor.hint") }),
      input,
      el("button", { class: "btn", type: "button", "data-action": "set-value", text: t("editor.apply"), on: { click: apply } }),
      error,
    );
  }
}
