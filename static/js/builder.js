// The network builder: inputs (a count, or a dataset whose features feed them), hidden
// layers with + and - for layers and for neurons, activation, loss, tensor or unrolled
// scalar form. It creates a graph (POST) or replaces the current one (PUT /spec, which keeps
// the params that keep their id and shape). The engine builds the graph; the page only
// sends the description and shows the engine's sentence when it refuses (the scalar form's
// size cap, for one).

import { ApiError, detailMessage, rememberGraph, setToken } from "./api.js";
import { clear, el } from "./dom.js";
import { createGraph, listDatasets, putSpec } from "./editapi.js";

const MAX_LAYERS = 6;
const MAX_NEURONS = 64;
const ACTIVATIONS = ["tanh", "relu", "sigmoid"];
const LOSSES = ["bce", "mse", "cross_entropy"];
export const SYNTHETIC = ["xor", "moons", "circles", "spiral"];

export class NetworkBuilder {
  /** opts: {t, onApply?(body) -> Promise (the graph page's PUT); without it, Create only} */
  constructor({ t, onApply = null }) {
    this.t = t;
    this.onApply = onApply;
    this.net = { source: "dataset", inputs: 2, dataset: "moons", hidden: [16, 16], activation: "tanh", loss: "bce", form: "tensor", seed: 0 };
    this.datasets = null;
    this.dialog = el("dialog", { class: "dialog builder", id: "builder-dialog", "data-role": "builder" });
    document.body.appendChild(this.dialog);
    this.dialog.addEventListener("click", (ev) => this.click(ev));
    this.dialog.addEventListener("change", (ev) => this.change(ev));
  }

  async open(preset = {}) {
    Object.assign(this.net, preset);
    if (preset.dataset) this.net.source = "dataset";
    if (!this.datasets) {
      try {
        this.datasets = await listDatasets();
      } catch {
        this.datasets = [];
      }
    }
    this.error = "";
    this.draw();
    if (!this.dialog.open) this.dialog.showModal();
    const first = this.dialog.querySelector("[data-builder=create]") || this.dialog.querySelector("button");
    if (first) first.focus();
  }

  body() {
    const n = this.net;
    const network = { hidden: n.hidden.slice(), activation: n.activation, loss: n.loss, form: n.form, seed: n.seed };
    if (n.source === "dataset") network.dataset = n.dataset;
    else network.inputs = n.inputs;
    return { network };
  }

  /** The layer sizes as the class reads them: 2-16-16-1. */
  sizes() {
    const n = this.net;
    let inputs = n.inputs;
    if (n.source === "dataset") {
      const ds = (this.datasets || []).find((d) => d.name === n.dataset);
      inputs = ds ? (ds.inputs ?? (ds.feature_names || []).length) : "?";
    }
    return [inputs, ...n.hidden, 1].join("\u2013");
  }

  draw() {
    const t = this.t;
    const n = this.net;
    const d = this.dialog;
    clear(d);
    const pm = (what, i, delta, label) =>
      el("button", { type: "button", class: "btn btn--icon btn--small", "data-builder": what, "data-index": i, "data-delta": delta, "aria-label": label, title: label }, delta > 0 ? "+" : "\u2212");
    const dsOptions = (this.datasets || []).map((ds) =>
      el("option", { value: ds.name, selected: ds.name === n.dataset }, `${ds.title || ds.name}${ds.task ? ` \u00b7 ${t(`builder.task.${ds.task}`)}` : ""}`));
    const layers = el("ol", { class: "builder-layers", "data-role": "layers" });
    n.hidden.forEach((size, i) => {
      layers.appendChild(el("li", { class: "builder-layer", "data-layer": i },
        el("span", { class: "builder-layer-name", text: t("builder.layer", { n: i + 1 }) }),
        pm("neurons", i, -1, t("builder.fewer")),
        el("input", { type: "number", min: 1, max: MAX_NEURONS, value: size, class: "builder-size", "data-builder": "size", "data-index": i, "aria-label": t("builder.neurons") }),
        pm("neurons", i, 1, t("builder.more")),
        el("span", { class: "builder-dots", "aria-hidden": "true", text: "\u25cf".repeat(Math.min(size, 16)) + (size > 16 ? "\u2026" : "") })));
    });
    const radio = (name, value, checked, label) =>
      el("label", { class: "builder-radio" }, el("input", { type: "radio", name, value, checked, "data-builder": name }), ` ${label}`);
    const select = (name, values, current, label) =>
      el("select", { "data-builder": name, "aria-label": label }, values.map((v) => el("option", { value: v, selected: v === current }, t(`builder.${name}.${v}`))));
    d.append(
      el("h2", { text: t("builder.title") }),
      el("p", { class: "builder-sizes", "data-role": "builder-sizes", text: this.sizes() }),
      el("fieldset", { class: "builder-group" },
        el("legend", { text: t("builder.inputs") }),
        el("div", { class: "row" }, radio("source", "dataset", n.source === "dataset", t("builder.fromDataset")),
          el("select", { "data-builder": "dataset", disabled: n.source !== "dataset", "aria-label": t("builder.dataset") }, dsOptions)),
        el("div", { class: "row" }, radio("source", "inputs", n.source === "inputs", t("builder.count")),
          el("input", { type: "number", min: 1, max: 64, value: n.inputs, "data-builder": "inputs", disabled: n.source !== "inputs", class: "builder-size", "aria-label": t("builder.count") }))),
      el("fieldset", { class: "builder-group" },
        el("legend", { text: t("builder.hidden") }),
        layers,
        el("div", { class: "row" },
          el("button", { type: "button", class: "btn", "data-builder": "add-layer", disabled: n.hidden.length >= MAX_LAYERS }, `+ ${t("builder.addLayer")}`),
          el("button", { type: "button", class: "btn", "data-builder": "remove-layer", disabled: !n.hidden.length }, `\u2212 ${t("builder.removeLayer")}`))),
      el("div", { class: "grid2" },
        el("label", { text: t("builder.activationLabel") }), select("activation", ACTIVATIONS, n.activation, t("builder.activationLabel")),
        el("label", { text: t("builder.lossLabel") }), select("loss", LOSSES, n.loss, t("builder.lossLabel")),
        el("label", { text: t("builder.formLabel") }),
        el("div", { class: "builder-choices" }, radio("form", "tensor", n.form === "tensor", t("builder.form.tensor")), radio("form", "scalar", n.form === "scalar", t("builder.form.scalar")))),
      el("p", { class: "hint", text: t(n.form === "scalar" ? "builder.scalarHint" : "builder.tensorHint") }),
      el("p", { class: "form-error", role: "alert", "data-role": "builder-error", text: this.error || "" }),
      el("div", { class: "row builder-actions" },
        el("button", { type: "button", class: "btn", "data-builder": "close", text: t("dialog.close") }),
        el("span", { class: "spacer" }),
        this.onApply ? el("button", { type: "button", class: "btn", "data-builder": "apply", text: t("builder.apply") }) : null,
        el("button", { type: "button", class: "btn btn--primary", "data-builder": "create", text: t("builder.create") })),
    );
  }

  change(ev) {
    const f = ev.target.getAttribute("data-builder");
    const n = this.net;
    const v = ev.target.value;
    if (f === "size") n.hidden[Number(ev.target.getAttribute("data-index"))] = clampInt(v, 1, MAX_NEURONS, 1);
    else if (f === "inputs") n.inputs = clampInt(v, 1, 64, 2);
    else if (f === "source" || f === "form" || f === "dataset" || f === "activation" || f === "loss") n[f] = v;
    else return;
    this.draw();
    const again = this.dialog.querySelector(`[data-builder="${f}"]${f === "size" ? `[data-index="${ev.target.getAttribute("data-index")}"]` : ""}`);
    if (again && again.type !== "radio") again.focus();
  }

  async click(ev) {
    const b = ev.target.closest("[data-builder]");
    if (!b || b.tagName !== "BUTTON") return;
    const what = b.getAttribute("data-builder");
    const n = this.net;
    if (what === "neurons") {
      const i = Number(b.getAttribute("data-index"));
      n.hidden[i] = Math.max(1, Math.min(MAX_NEURONS, n.hidden[i] + Number(b.getAttribute("data-delta"))));
    } else if (what === "add-layer") n.hidden.push(n.hidden.length ? n.hidden[n.hidden.length - 1] : 4);
    else if (what === "remove-layer") n.hidden.pop();
    else if (what === "close") return this.dialog.close();
    else if (what === "create") return this.create();
    else if (what === "apply") return this.apply();
    this.draw();
    // keep the keyboard where it was: the same button after the redraw
    const same = this.dialog.querySelector(`[data-builder="${what}"]${b.hasAttribute("data-index") ? `[data-index="${b.getAttribute("data-index")}"][data-delta="${b.getAttribute("data-delta")}"]` : ""}`);
    if (same && !same.disabled) same.focus();
  }

  fail(err) {
    this.error = err instanceof ApiError ? detailMessage(err.detail) : String(err.message || err);
    const box = this.dialog.querySelector("[data-role=builder-error]");
    if (box) box.textContent = this.error;
  }

  async create() {
    try {
      const res = await createGraph({ name: this.t("builder.name", { sizes: this.sizes(), act: this.net.activation }), ...this.body() });
      const g = res.state || res;
      setToken(g.id, res.edit_token);
      rememberGraph(g.id, g.name);
      location.assign(`/g/${encodeURIComponent(g.id)}?tab=train`);
    } catch (err) {
      this.fail(err);
    }
  }

  async apply() {
    try {
      await this.onApply(this.body());
      this.dialog.close();
    } catch (err) {
      this.fail(err);
    }
  }
}

function clampInt(v, lo, hi, fallback) {
  const x = Math.round(Number(v));
  return Number.isFinite(x) ? Math.max(lo, Math.min(hi, x)) : fallback;
}

/** The graph page's PUT of a network: the current graph becomes it. */
export function applyNetwork(graphId, token, version, body) {
  return putSpec(graphId, token, body, version);
}
