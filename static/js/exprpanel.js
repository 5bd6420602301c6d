// The expression that made a graph (state.source), reopened for editing and applied again
// in place of the graph (PUT /spec with the expression form). Inputs and params are written
// one per line, `name = value`, as on the start page.

import { ApiError, detailMessage, errorLocation } from "./api.js";
import { el } from "./dom.js";

function linesOf(values) {
  return Object.entries(values || {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
}

function parseLines(text) {
  const out = {};
  for (const raw of String(text).split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(line);
    if (!m) return { error: line };
    try {
      out[m[1]] = JSON.parse(m[2]);
    } catch {
      return { error: line };
    }
  }
  return { values: out };
}

export class ExpressionPanel {
  /** apply(body) -> Promise: PUT /spec with {expression, inputs, params}. */
  constructor({ t, apply }) {
    this.t = t;
    this.apply = apply;
    this.dialog = el("dialog", { class: "dialog expr-dialog", "data-role": "expr-dialog" });
    document.body.appendChild(this.dialog);
  }

  /** source: {expression, inputs, params} of the graph, or null; spec: the current spec. */
  open(source, spec) {
    const t = this.t;
    let expression = source && typeof source.expression === "string" ? source.expression : "";
    let inputs = source && source.inputs ? source.inputs : null;
    let params = source && source.params ? source.params : null;
    if (!inputs || !params) {
      // the current leaf values (after training, the params have moved on)
      inputs = {};
      params = {};
      for (const n of (spec && spec.nodes) || []) {
        if (n.op === "input" && n.value !== undefined) inputs[n.id] = n.value;
        if (n.op === "param" && n.value !== undefined) params[n.id] = n.value;
      }
    }
    const text = el("textarea", { rows: 6, spellcheck: "false", "data-role": "expr-source", class: "expr-source" });
    text.value = expression;
    const ins = el("textarea", { rows: 3, spellcheck: "false", "data-role": "expr-inputs" });
    ins.value = linesOf(inputs);
    const pars = el("textarea", { rows: 3, spellcheck: "false", "data-role": "expr-params" });
    pars.value = linesOf(params);
    const error = el("p", { class: "form-error", role: "alert", "data-role": "expr-error" });
    const applyBtn = el("button", { type: "submit", class: "btn btn--primary", "data-role": "expr-apply", text: t("expr.apply") });
    const form = el("form", { class: "form" },
      el("h2", { text: t("expr.title") }),
      source && source.network ? el("p", { class: "hint", text: t("expr.fromNetwork") }) : null,
      !expression && !(source && source.network) ? el("p", { class: "hint", text: t("expr.none") }) : null,
      el("label", { text: t("start.program") }), text,
      el("div", { class: "values-grid" },
        el("div", {}, el("label", { text: t("start.inputs") }), ins),
        el("div", {}, el("label", { text: t("start.params") }), pars)),
      error,
      el("div", { class: "row" },
        el("button", { type: "button", class: "btn", "data-role": "expr-cancel", text: t("editor.cancel") }),
        el("span", { class: "spacer" }), applyBtn));
    form.querySelector("[data-role=expr-cancel]").addEventListener("click", () => this.dialog.close());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const a = parseLines(ins.value);
      const b = parseLines(pars.value);
      if (a.error || b.error) {
        error.textContent = t("expr.badLine", { line: a.error || b.error });
        return;
      }
      try {
        await this.apply({ expression: text.value, inputs: a.values, params: b.values });
        this.dialog.close();
      } catch (err) {
        const where = err instanceof ApiError ? errorLocation(err.body) : null;
        error.textContent = (where ? `${t("expr.line", { line: where.line })} ` : "") + (err instanceof ApiError ? detailMessage(err.detail) : String(err.message || err));
      }
    });
    this.dialog.replaceChildren(form);
    if (!this.dialog.open) this.dialog.showModal();
    text.focus();
  }
}
