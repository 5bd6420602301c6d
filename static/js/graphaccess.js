// The graph for a keyboard and a screen reader. The drawing is one tab stop: an element of
// role "application" (the keys [ ] Tab and the arrows belong to the page, not to a screen
// reader's browse mode) whose aria-activedescendant names the node the keyboard is on,
// the page's selected node. Each node reads as "name, op, value v, gradient g". A graph
// drawn on the canvas (a large one) has no element for most nodes: the node is announced
// through a polite live region instead. The order of the walk is the server's topological
// order (state.order), plus the editor's drafts after it; it is never recomputed here.

import { el } from "./dom.js";
import { fmtShort } from "./format.js";
import { opLabel, t } from "./i18n.js";

/** What a screen reader says for a node: its name, its op, its value and its gradient
 * (the numbers as the node shows them). `node` is a state node or a draft ({id, op}). */
export function nodeSpeech(node, { draft = false } = {}) {
  const name = node.label || node.id;
  const op = opLabel(node.op);
  const value = node.value === null || node.value === undefined ? t("a11y.none") : fmtShort(node.value);
  const grad = node.grad === null || node.grad === undefined ? t("a11y.none") : fmtShort(node.grad);
  if (draft) return t("a11y.draft", { name, op });
  return name === op ? t("a11y.leaf", { name, value, grad }) : t("a11y.node", { name, op, value, grad });
}

export class GraphAccess {
  /** `view`: the GraphView; its svg becomes the tab stop. */
  constructor(view) {
    this.view = view;
    const svg = view.svg;
    svg.setAttribute("role", "application");
    svg.setAttribute("tabindex", "0");
    this.live = el("div", { class: "visually-hidden", "data-role": "graph-live", "aria-live": "polite", "aria-atomic": "true" });
    svg.parentElement.appendChild(this.live);
    this.focusRing = null;
    this.activeEl = null;
    this.spoken = null;
    this.lang = null;
    // the ring shows while the drawing has the keyboard's focus
    svg.addEventListener("focus", () => this.refresh(this.focused()));
    svg.addEventListener("blur", () => this.refresh(false));
    this.selected = null;
    this.extra = () => null; // the editor's drafts: id -> {element, node} or null
  }

  /** The drawing has the keyboard's focus (a click that focuses it shows no ring). */
  focused() {
    const svg = this.view.svg;
    if (document.activeElement !== svg) return false;
    try {
      return svg.matches(":focus-visible");
    } catch {
      return true;
    }
  }

  /** After each render: the active node follows the page's selection. */
  update(selected) {
    this.selected = selected || null;
    this.refresh(this.focused());
  }

  refresh(hasFocus) {
    const svg = this.view.svg;
    const lang = document.documentElement.lang;
    if (lang !== this.lang) {
      this.lang = lang;
      svg.setAttribute("aria-roledescription", t("a11y.graphRole"));
    }
    const id = this.selected;
    const rec = id ? this.view.nodes.get(id) : null;
    const draft = !rec && id ? this.extra(id) : null;
    const node = rec ? rec.node : draft ? draft.node : null;
    const element = rec ? rec.g : draft ? draft.element : null;
    const speech = node ? nodeSpeech(node, { draft: Boolean(draft) }) : null;
    // the element the name sits on: the node's own group while the SVG draws it
    if (this.activeEl && this.activeEl !== element) {
      this.activeEl.removeAttribute("aria-label");
      this.activeEl.removeAttribute("role");
      this.activeEl.removeAttribute("aria-roledescription");
      this.activeEl.removeAttribute("id");
    }
    // a large graph's SVG makes and drops node elements as the camera moves: the live region only
    this.activeEl = element && element.isConnected && !this.view.big ? element : null;
    if (this.activeEl && speech) {
      this.activeEl.setAttribute("id", "sg-active-node");
      this.activeEl.setAttribute("role", "img");
      this.activeEl.setAttribute("aria-roledescription", t("a11y.nodeRole"));
      this.activeEl.setAttribute("aria-label", speech);
      svg.setAttribute("aria-activedescendant", "sg-active-node");
    } else svg.removeAttribute("aria-activedescendant");
    svg.setAttribute("data-active-node", id || "");
    svg.setAttribute("data-active-name", speech || "");
    // a node with no element of its own (a large graph's canvas) is said in the live region
    const say = hasFocus && speech && (this.view.big || !this.activeEl) ? speech : "";
    if (say !== this.spoken) {
      this.spoken = say;
      if (say) this.live.textContent = say;
    }
    this.ring(hasFocus ? (rec ? rec.box : draft ? draft.box : null) : null);
  }

  /** The focus ring around the active node (in the halo layer, so it pans and zooms along). */
  ring(box) {
    if (!box) {
      if (this.focusRing) this.focusRing.setAttribute("visibility", "hidden");
      return;
    }
    if (!this.focusRing) {
      this.focusRing = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      this.focusRing.setAttribute("class", "focus-ring");
      this.focusRing.setAttribute("rx", "18");
      this.focusRing.setAttribute("data-role", "focus-ring");
      this.view.haloLayer.appendChild(this.focusRing);
    }
    const r = this.focusRing;
    r.setAttribute("x", (box.x - 12).toFixed(1));
    r.setAttribute("y", (box.y - 12).toFixed(1));
    r.setAttribute("width", String(box.w + 24));
    r.setAttribute("height", String(box.h + 24));
    r.setAttribute("visibility", "visible");
  }
}

/** `[` `]` anywhere, and Tab / Shift+Tab while the drawing has the focus, move the selection
 * along `order` (the server's topological order, drafts after it). Tab past the last node
 * (Shift+Tab before the first) is left to the browser: the focus leaves the drawing.
 * Returns true when it took the key. */
export function walkKey(ev, { order, selected, select, svg }) {
  const tab = ev.key === "Tab";
  if (!tab && ev.key !== "[" && ev.key !== "]") return false;
  if (tab && document.activeElement !== svg) return false;
  if (!order || !order.length) return false;
  const delta = ev.key === "]" || (tab && !ev.shiftKey) ? 1 : -1;
  const i = selected ? order.indexOf(selected) : -1;
  let j;
  if (i < 0) j = delta > 0 ? 0 : order.length - 1;
  else j = i + delta;
  if (j < 0 || j >= order.length) {
    if (tab) return false; // out of the graph, to the next (or previous) control
    j = Math.max(0, Math.min(order.length - 1, j));
  }
  if (tab && i < 0 && delta < 0) return false; // Shift+Tab onto the drawing with no node: leave
  ev.preventDefault();
  // [ and ] bring the focus to the drawing (from a button, say), where the node is read
  if (!tab && document.activeElement !== svg) svg.focus();
  select(order[j]);
  return true;
}
