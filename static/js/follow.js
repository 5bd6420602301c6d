// Follow the teacher: the teacher's page sends the node it selected and, when it shares its
// view (a lesson, or presenting), the part of the drawing it shows; followers mirror both
// until they break away (key t, or the button), and snap back to the teacher's current focus
// when they rejoin.
//
// The view is sent in the graph's own coordinates (the layout's x and y): the centre of the
// free area and the width and height it shows. A phone and a projector show the same part
// of the graph by fitting that box into their own screens.

import { ApiError, request } from "./api.js";

const SEND_EVERY = 150; // ms: the teacher's page looks for a change this often
const SAME = 0.5; // graph units: a smaller move of the view is not worth an event

/** The part of the drawing a GraphView shows, in graph coordinates. */
export function viewportOf(view) {
  const { w, h } = view.size();
  const pad = view.padding();
  const { k, x, y } = view.view;
  const aw = Math.max(w - pad.left - pad.right, 1);
  const ah = Math.max(h - pad.top - pad.bottom, 1);
  return {
    cx: (pad.left + aw / 2 - x) / k,
    cy: (pad.top + ah / 2 - y) / k,
    width: aw / k,
    height: ah / k,
  };
}

/** Show the same part of the drawing: fit the teacher's box into this view's free area, when
 * its text can be read there. On a smaller screen (a phone following a projector) that box
 * would draw every name under the legible size: then the teacher's node (`node`: the one the
 * teacher selected, or stepped to; else the step's) is shown at the zoom of legible text, with
 * the highlighted path whole when it fits there. */
export function showViewport(view, vp, node = null) {
  const { w, h } = view.size();
  const pad = view.padding();
  const aw = Math.max(w - pad.left - pad.right, 1);
  const ah = Math.max(h - pad.top - pad.bottom, 1);
  const k = Math.max(view.minZoom(), Math.min(4, aw / vp.width, ah / vp.height));
  const legible = view.readableZoom(true);
  if (k >= legible || view.big) {
    view.centerAt(vp.cx, vp.cy, k);
    return;
  }
  const m = view.marks || {};
  const lit = (m.highlight || []).map((id) => view.nodes.get(id)).filter(Boolean);
  const one = view.nodes.get(node || m.current || m.selected || m.next);
  const boxes = lit.length ? lit.map((r) => r.box) : one ? [one.box] : [];
  if (!boxes.length) {
    view.centerAt(vp.cx, vp.cy, legible);
    return;
  }
  const x0 = Math.min(...boxes.map((b) => b.x));
  const y0 = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.w));
  const y1 = Math.max(...boxes.map((b) => b.y + b.h));
  const whole = Math.min(4, aw / (x1 - x0 + 14), ah / (y1 - y0 + 14));
  // the path when it reads whole here (as large as it fits, at most with all its text), else
  // the node with its neighbourhood, every text of it readable
  if (lit.length && (whole >= legible || !one)) {
    view.centerAt((x0 + x1) / 2, (y0 + y1) / 2, Math.max(legible, Math.min(whole, view.readableZoom())));
  } else {
    view.centerAt(one.box.x + one.box.w / 2, one.box.y + one.box.h / 2, view.readableZoom());
  }
}

function differs(a, b) {
  if (!a || !b) return a !== b;
  return ["cx", "cy", "width", "height"].some((f) => Math.abs(a[f] - b[f]) > SAME);
}

/** The teacher's side: PUT /focus when the selection or the shared view changes, one call
 * at a time, the newest winning. `shareView()` says whether to send the view now. */
export class FocusSender {
  constructor({ api, view, selected, shareView = () => false }) {
    this.api = api;
    this.view = view;
    this.selected = selected;
    this.shareView = shareView;
    this.sent = null; // {graph, node, viewport}
    this.busy = false;
    this.timer = setInterval(() => this.tick(), SEND_EVERY);
  }

  current() {
    const a = this.api();
    if (!a || !a.token || !this.view.structure) return null;
    const viewport = this.shareView() ? viewportOf(this.view) : null;
    return { graph: a.id, node: this.selected() || null, viewport };
  }

  tick() {
    if (this.busy || document.hidden) return;
    const now = this.current();
    if (!now) return;
    const last = this.sent;
    if ((!last || last.graph !== now.graph) && !now.node && !now.viewport) {
      this.sent = now; // nothing chosen yet: nothing to tell the class
      return;
    }
    if (last && last.graph === now.graph && last.node === now.node && !differs(last.viewport, now.viewport)) return;
    const a = this.api();
    this.busy = true;
    const body = { node: now.node, viewport: now.viewport };
    request("PUT", `${a.base}/focus`, { body, token: a.token })
      .then(
        () => {
          this.sent = now;
        },
        (err) => {
          // a refusal is not asked again every tick; a failed connection is
          if (err instanceof ApiError) this.sent = now;
        },
      )
      .finally(() => {
        this.busy = false;
      });
  }
}

/** A follower's side: applies the teacher's focus while `on`. */
export class FocusFollower {
  constructor({ view, select, onChange = () => {} }) {
    this.view = view;
    this.select = select;
    this.onChange = onChange;
    this.on = true;
    this.pending = false;
    this.focus = null; // the teacher's last focus
  }

  /** An `event: focus` from the stream. */
  take(focus) {
    if (!focus || (this.focus && focus.graph_id === this.focus.graph_id && focus.seq < this.focus.seq)) return;
    this.focus = focus;
    if (this.on) this.apply();
    this.onChange();
  }

  /** The teacher shares a view and we follow it (the camera's own following steps aside). */
  get drivesView() {
    return this.on && Boolean(this.focus && this.focus.viewport);
  }

  apply() {
    const f = this.focus;
    if (!f) return;
    this.select(f.node || null);
    // before the first drawing (a follower who just connected) the view waits for it
    this.pending = Boolean(f.viewport && !this.view.structure);
    if (f.viewport && this.view.structure) showViewport(this.view, f.viewport, f.node || null);
  }

  /** The teacher stepped to `node`: a follower whose screen cannot read the teacher's box
   * keeps that node in view (showViewport). */
  stepped(node) {
    const f = this.focus;
    if (this.on && f && f.viewport && this.view.structure) showViewport(this.view, f.viewport, node);
  }

  /** The page drew: a view that waited for the drawing is shown now. */
  drawn() {
    if (this.pending && this.on && this.view.structure) this.apply();
  }

  /** Break away, or rejoin (snapping back to the teacher's current focus). */
  toggle() {
    this.on = !this.on;
    if (this.on) this.apply();
    this.onChange();
    return this.on;
  }
}
