// Pieces of the graph page shared with the lesson page: the caption of the last step, the
// gradient-check table, the training history as rows, when to ask for whole tensors, the
// message box, the training status, finding a node, and the keys and actions both share.
// They show what the API sends; nothing here computes model maths.

import { $, clear, el, setText } from "./dom.js";
import { derivName, fmtNumber, fmtShort } from "./format.js";
import { graphIndex } from "./graphview.js";
import { applyI18n, currentLang, setLang, t } from "./i18n.js";
import { valueBlock } from "./inspector.js";
import { boundAction, keyContext } from "./keys.js";

// The server summarises tensors past a threshold; for graphs of a moderate total size the
// pages ask for whole values (GET ?full=true) so that nodes can show heatmaps and tables.
export const FULL_VALUES_LIMIT = 50000; // elements, values and gradients of all nodes together

function summarised(g) {
  const big = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  return g.nodes.some((n) => big(n.value) || big(n.grad));
}

function totalElements(g) {
  let total = 0;
  for (const n of g.nodes) total += 2 * (n.shape || []).reduce((a, b) => a * b, 1);
  return total;
}

/** True when the state has summarised tensors that are worth asking for whole. */
export function wantsFullValues(g) {
  return summarised(g) && totalElements(g) <= FULL_VALUES_LIMIT;
}

/** The API sends the history by columns; the charts want rows. */
export function historyRows(history) {
  if (!history) return [];
  if (Array.isArray(history)) return history;
  const epochs = history.epoch || [];
  return epochs.map((epoch, i) => ({
    epoch,
    train_loss: history.train_loss ? history.train_loss[i] : null,
    test_loss: history.test_loss ? history.test_loss[i] : null,
  }));
}

/** What the last step did, in one line under the drawing (the server's numbers). */
export function renderCaption(box, g, t) {
  clear(box);
  const step = g.cursor ? g.cursor.last : null;
  const { byId, inputs } = graphIndex(g);
  const update = (g.events || []).find((e) => e.phase === "update");
  if (!step && update && update.params) {
    // what the descent step did: the new params, as the server computed them
    box.appendChild(el("span", { class: "phase-chip phase-chip--done", text: t("caption.update") }));
    Object.entries(update.params).forEach(([id, v], i) => {
      const node = byId.get(id);
      box.append(i ? ", " : " ", node ? node.label || node.id : id, " = ", el("span", { class: "is-value num", text: fmtShort(v) }));
    });
    return;
  }
  if (!step) {
    box.append(el("span", { class: "phase-chip phase-chip--forward", text: t("phase.forward") }), " ", t("caption.start"));
    return;
  }
  const node = byId.get(step.node);
  const name = node ? node.label || node.id : step.node;
  box.appendChild(el("span", { class: `phase-chip phase-chip--${step.phase}`, text: t(`phase.${step.phase}`) }));
  if (step.phase === "forward") {
    box.append(" ", el("strong", { text: name }), " = ");
    if (node && node.inputs && node.inputs.length) {
      // the op applied to its inputs' values, as the server reports them
      box.append(`${node.op}(`);
      node.inputs.forEach((id, i) => {
        const input = byId.get(id);
        box.append(i ? ", " : "", el("span", { class: "is-value num", text: fmtShort(input && input.value) }));
      });
      box.append(") = ");
    }
    box.append(el("span", { class: "is-value num caption-result", text: fmtShort(node && node.value) }));
  } else {
    const out = byId.get(g.target || g.output); // the node backward differentiates
    box.append(" ", `\u2202${derivName(out ? out.label || out.id : "")}/\u2202`, el("strong", { text: derivName(name) }), " = ",
      el("span", { class: "is-grad num", text: fmtShort(node && node.grad) }));
    const sent = (inputs.get(step.node) || []).filter((e) => e.grad !== null && e.grad !== undefined);
    if (sent.length) {
      // what the step sent to each input, added to the input's running total
      box.append(` \u2192 `);
      sent.forEach((e, i) => {
        const input = byId.get(e.source);
        if (i) box.append(", ");
        box.append(input ? input.label || input.id : e.source, " += ", el("span", { class: "is-grad num", text: fmtShort(e.grad) }));
      });
    }
  }
}

/** Why the check could not agree. In English, the server's sentence (with its numbers); in
 * other languages the page's own sentence for each node the server gives a reason for. */
function checkReason(r, t, lang) {
  if (lang === "en") return r.reason;
  const rows = (r.nodes || []).filter((row) => row.reason);
  if (!rows.length) return r.reason;
  // one sentence per kind of reason, naming all of its nodes
  const groups = new Map();
  for (const row of rows) {
    const key = row.verdict === "disagree" ? "check.reasonNonFinite" : "check.reasonUnresolved";
    groups.set(key, [...(groups.get(key) || []), row.node]);
  }
  return [...groups].map(([key, nodes]) => t(key, { node: nodes.join(t("list.separator")) })).join(" ");
}

/** The gradient check as the server reports it: a verdict and one row per checked node.
 * `report` is GET /gradcheck's body plus `at` (when it was asked), or null. */
export function renderGradcheck(box, report, g, t, lang) {
  const r = report;
  const key = r ? `${lang}|${r.max_rel_error}|${r.nodes.length}|${r.at}` : `${lang}|none`;
  if (box.getAttribute("data-key") === key) return;
  box.setAttribute("data-key", key);
  clear(box);
  if (!r) return;
  const byId = new Map(g ? g.nodes.map((n) => [n.id, n]) : []);
  // the server judges (agree, disagree, inconclusive); the page only says so
  const verdict = r.verdict || "disagree";
  const ok = verdict === "agree";
  const key2 = { agree: "check.ok", disagree: "check.bad", inconclusive: "check.inconclusive" }[verdict];
  box.appendChild(el("p", { class: `verdict ${ok ? "verdict--ok" : "verdict--bad"}`, "data-verdict": ok ? "ok" : verdict === "disagree" ? "bad" : verdict },
    t(key2), " ", t("check.maxRel"), " ", el("span", { class: "num", text: fmtNumber(r.max_rel_error, 3) })));
  if (r.reason) box.appendChild(el("p", { class: "hint", "data-role": "check-reason", text: checkReason(r, t, lang) }));
  const table = el("table", { class: "check-table" });
  table.appendChild(el("tr", {}, ...["check.node", "check.analytic", "check.numeric", "check.relError"].map((k) => el("th", { text: t(k) }))));
  for (const row of r.nodes) {
    const node = byId.get(row.node);
    table.appendChild(el("tr", { "data-check-node": row.node },
      el("td", { text: node ? node.label || node.id : row.node }),
      el("td", {}, valueBlock(row.analytic, t, "is-grad")),
      el("td", {}, valueBlock(row.numeric, t)),
      el("td", { class: "num", text: fmtNumber(row.max_rel_error, 3) })));
  }
  box.appendChild(table);
}

/** The message box under the top bar: `message` is {kind: "error" | "info", text} or null. */
export function renderMessage(box, message) {
  box.hidden = !message;
  if (!message) return;
  box.className = `message message--${message.kind}`;
  // a sentence of the server is in English: say so, for screen readers (and the Chinese test)
  if (message.server) box.setAttribute("lang", "en");
  else box.removeAttribute("lang");
  setText(box, message.text);
}

/** The training's progress bar, its status line (`idle` when no epoch has come yet) and the
 * final losses once it is over. */
export function renderTrainStatus(root, tr, t, idle) {
  const last = tr && tr.rows.length ? tr.rows[tr.rows.length - 1] : null;
  const progress = $("[data-role=train-progress]", root);
  progress.max = (tr && tr.epochs) || 1;
  progress.value = last ? last.epoch : 0;
  const status = $("[data-role=train-status]", root);
  if (!last) setText(status, idle);
  else {
    setText(status, t("train.progress", {
      epoch: last.epoch, epochs: tr.epochs || last.epochs || "?", train: fmtNumber(last.train_loss),
      test: last.test_loss === null || last.test_loss === undefined ? "\u2014" : fmtNumber(last.test_loss),
    }));
  }
  return status;
}

export function renderFinal(box, final, t) {
  clear(box);
  for (const [k, v] of Object.entries(final || {})) {
    if (v === null || v === undefined) continue;
    box.append(el("dt", { text: t(`train.final.${k}`, {}, k) }), el("dd", { class: "num", text: fmtNumber(v, 6) }));
  }
}

/** The node of a graph a teacher means by some text: its id, else its label, else the first
 * whose id or label contains the text (ignoring case). */
export function findNode(graph, text) {
  const q = String(text || "").trim();
  if (!graph || !q) return null;
  const lower = q.toLowerCase();
  const name = (n) => n.label || n.id;
  const hit = graph.nodes.find((n) => n.id === q) || graph.nodes.find((n) => name(n) === q)
    || graph.nodes.find((n) => n.id.toLowerCase() === lower || name(n).toLowerCase() === lower)
    || graph.nodes.find((n) => n.id.toLowerCase().includes(lower) || name(n).toLowerCase().includes(lower));
  return hit ? hit.id : null;
}

/** Keys to actions (the tables and the rules are keys.js). `before(ev, slider)` takes the
 * keys a page handles itself (returns true when it did). */
export function listenKeys(keys, actions, { fromSlider = new Set(), before = () => false } = {}) {
  document.addEventListener("keydown", (ev) => {
    const target = ev.target;
    const field = target && target.closest ? target.closest("input, textarea, select, [contenteditable]") : null;
    const focus = { field: Boolean(field), slider: Boolean(field && field.matches("input[type=range]")), button: Boolean(target && target.tagName === "BUTTON") };
    const context = keyContext(ev, focus, fromSlider);
    if (!context) return;
    if (before(ev, context.slider)) return;
    const action = boundAction(keys, ev.key, context.slider, fromSlider);
    if (!action) return;
    ev.preventDefault();
    if (context.slider) target.blur();
    actions[action]();
  });
}

/** Buttons: a click on [data-action=name] runs actions[name]; `other(ev)` sees the rest. */
export function listenClicks(actions, other = () => {}) {
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-action]");
    if (b && actions[b.getAttribute("data-action")]) {
      ev.preventDefault();
      actions[b.getAttribute("data-action")]();
      return;
    }
    other(ev);
  });
}

// The key actions both pages share: switch language, show the help, fit and zoom the graph,
// find a node, let the camera follow the steps.
export function viewActions(store, view, inspector, say) {
  const state = store.state;
  return {
    lang() {
      setLang(state.lang === "en" ? "zh" : "en");
      applyI18n(document);
      inspector.key = null;
      store.set({ lang: currentLang() });
    },
    help() {
      const d = $("#help-dialog");
      if (d.open) d.close();
      else d.showModal();
    },
    fit() {
      view.fit();
    },
    "zoom-in"() {
      view.zoomBy(1.25);
    },
    "zoom-out"() {
      view.zoomBy(0.8);
    },
    "find-focus"() {
      const input = $("[data-role=find]");
      if (input) {
        input.focus();
        input.select();
      }
    },
    follow() {
      store.set({ follow: !state.follow });
      say.info(t(state.follow ? "follow.on" : "follow.off"));
    },
  };
}

/** The find box: Enter centres the node it names, selects it and gives the focus to the
 * graph, so that the arrows step and the keys work at once. `graph()` is what it searches
 * (the editor adds its drafts), `show(id)` brings the node into view. */
export function listenFind(store, view, say, select, { graph = () => store.state.graph, show = (id) => view.centerOn(id) } = {}) {
  const input = $("[data-role=find]");
  if (!input) return;
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      input.blur();
      return;
    }
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    const id = findNode(graph(), input.value);
    if (!id) {
      say.info(t("find.none", { text: input.value.trim() }));
      return;
    }
    select(id);
    show(id);
    // the drawing (a tab stop of its own, graphaccess.js) takes the focus
    view.svg.focus({ preventScroll: true });
  });
}
