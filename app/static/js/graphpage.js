// The graph view page (/g/{id}): one state object, one render function, keyboard first.

import { ApiError, GraphApi, api, detailMessage, forgetToken, getToken, rememberGraph, setToken } from "./api.js";
import { drawLossChart, drawScatter } from "./charts.js";
import { $, $$, clear, download, el, safeFileName, setText } from "./dom.js";
import { exportPng, exportSvg } from "./exporter.js";
import { fmtNumber } from "./format.js";
import { historyRows, renderCaption as renderCaptionInto, renderGradcheck as renderGradcheckInto, viewActions, wantsFullValues } from "./graphparts.js";
import { GraphView, lastStep } from "./graphview.js";
import { applyI18n, currentLang, t } from "./i18n.js";
import { Inspector } from "./inspector.js";

const root = $("#app");
const graphId = root.getAttribute("data-graph-id");

// ---- the one state object ------------------------------------------------------------------

const state = {
  graph: null,
  ops: null,
  opsLoaded: false,
  selected: null,
  token: null,
  editable: false,
  lang: currentLang(),
  presentation: false,
  overlay: false, // the inspector over the graph in presentation mode
  tab: "node",
  busy: 0,
  playing: false,
  playInterval: 600,
  live: "connecting", // connecting | live | offline
  message: null, // {kind: "error" | "info", text}
  training: { running: false, rows: [], epochs: 0, final: null, predictions: null, result: null, progressEvents: 0 },
  gradcheck: null,
  reducedMotion: window.matchMedia("(prefers-reduced-motion: reduce)").matches,
  loadError: null,
};

// the edit token: from the address (#edit=...) once, then from this browser's storage
(function takeToken() {
  const m = /(?:^#|&)edit=([^&]+)/.exec(location.hash);
  if (m) {
    setToken(graphId, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = getToken(graphId);
  state.editable = Boolean(state.token);
})();

const graphApi = new GraphApi(graphId, state.token);

const view = new GraphView($("#graph-svg"), {
  t,
  onSelect: (id) => select(id),
});
// keep the drawing clear of the legend and tools (top) and of the step caption (bottom)
const NORMAL_PADDING = { top: 56, right: 20, bottom: 64, left: 20 };
const PRESENT_PADDING = { top: 16, right: 16, bottom: 84, left: 16 };
const OVERLAY_WIDTH = 440; // the inspector over the drawing in presentation mode (see app.css)

/** Keep the drawing clear of what lies over it, and refit when that changes. */
function updatePadding(refit = true) {
  const base = state.presentation ? PRESENT_PADDING : NORMAL_PADDING;
  const right = state.presentation && state.overlay ? OVERLAY_WIDTH + 24 : base.right;
  const next = { ...base, right };
  const changed = JSON.stringify(next) !== JSON.stringify(view.overlayPadding);
  view.overlayPadding = next;
  // the box of the drawing changes with the panels: the view's ResizeObserver refits it
  if (changed && refit && view.autoFit) requestAnimationFrame(() => view.fit());
}
view.overlayPadding = NORMAL_PADDING;

const inspector = new Inspector($("#inspector"), {
  t,
  onSelect: (id) => select(id),
  onSetValue: (id, value, showError) => setLeafValue(id, value, showError),
  leafValue: (id) => specLeafValue(id),
});

// the spec (GET export) gives the leaves' values before the forward pass computes them
let specCache = { version: null, spec: null };
async function specLeafValue(id) {
  const version = state.graph ? state.graph.version : null;
  if (specCache.version !== version || !specCache.spec) {
    specCache = { version, spec: graphApi.exportSpec("json").catch(() => null) };
  }
  const spec = await specCache.spec;
  const node = spec && Array.isArray(spec.nodes) ? spec.nodes.find((n) => n.id === id) : null;
  return node && node.value !== undefined ? node.value : null;
}

// ---- rendering -----------------------------------------------------------------------------

let firstRenderDone = false;

function render() {
  const g = state.graph;
  updatePadding();
  document.body.classList.toggle("presenting", state.presentation);
  document.body.classList.toggle("overlay-open", state.presentation && state.overlay);
  root.classList.toggle("is-editable", state.editable);
  root.classList.toggle("is-following", !state.editable);
  root.classList.toggle("is-busy", state.busy > 0);
  renderMessage();
  if (!g) {
    if (state.loadError) setText($("[data-role=graph-name]"), state.loadError);
    return;
  }
  view.render(state);
  if (!firstRenderDone) {
    firstRenderDone = true;
    performance.mark("sg:first-render");
    performance.measure("sg:open", { start: 0, end: performance.now() });
    root.setAttribute("data-ready", "true");
    // the browser styles, lays out and paints the drawing after this task: measure to the
    // frame after the first one that shows it
    requestAnimationFrame(() =>
      setTimeout(() => {
        performance.mark("sg:first-paint");
        performance.measure("sg:open-painted", { start: 0, end: performance.now() });
        root.setAttribute("data-painted", "true");
      }, 0),
    );
  }
  inspector.render(state);
  renderTopbar(g);
  renderTransport(g);
  renderCaption(g);
  renderTraining();
  renderGradcheck();
  renderTabs();
}

function renderTopbar(g) {
  setText($("[data-role=graph-name]"), g.name || t("graph.untitled"));
  document.title = `${g.name || t("graph.untitled")} \u2014 stepgrad`;
  const mode = $("[data-role=mode]");
  setText(mode, state.editable ? t("mode.edit") : t("mode.follow"));
  mode.className = `mode-badge ${state.editable ? "mode-badge--edit" : "mode-badge--follow"}`;
  const live = $("[data-role=live]");
  setText(live, t(`live.${state.live}`));
  live.className = `live-dot live-dot--${state.live}`;
}

function renderTransport(g) {
  const c = g.cursor;
  const n = g.order.length;
  setText($("[data-role=position]"), `${c.position} / ${c.total}`);
  const slider = $("[data-role=timeline]");
  if (document.activeElement !== slider || !sliderDragging) {
    slider.max = String(c.total);
    slider.value = String(c.position);
  }
  slider.disabled = !state.editable;
  slider.style.setProperty("--split", `${(n / Math.max(c.total, 1)) * 100}%`);
  slider.style.setProperty("--done", `${(c.position / Math.max(c.total, 1)) * 100}%`);
  const phase = $("[data-role=phase]");
  setText(phase, t(`phase.${c.phase}`));
  phase.className = `phase phase--${c.phase}`;
  const byId = nodeMap();
  const next = c.node ? byId.get(c.node) : null;
  setText($("[data-role=next]"), next ? t("transport.next", { node: next.label || next.id }) : "");
  const atStart = c.position <= 0;
  const atEnd = c.position >= c.total;
  const disable = (action, off) => {
    const b = $(`[data-action=${action}]`);
    if (b) b.disabled = off || !state.editable;
  };
  disable("home", atStart);
  disable("prev", atStart);
  disable("next", atEnd);
  disable("end", atEnd);
  disable("run-forward", c.position >= n);
  disable("run-backward", atEnd);
  disable("play", atEnd && !state.playing);
  setText($("[data-action=play] .label"), state.playing ? t("transport.pause") : t("transport.play"));
  disable("update", c.phase !== "done");
  disable("train", state.training.running || !(g.params || []).length);
}

function nodeMap() {
  return new Map(state.graph.nodes.map((n) => [n.id, n]));
}

function renderCaption(g) {
  renderCaptionInto($("[data-role=caption]"), g, t);
}

function renderMessage() {
  const box = $("[data-role=message]");
  if (!state.message) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.className = `message message--${state.message.kind}`;
  setText(box, state.message.text);
}

function renderTabs() {
  for (const b of $$("[data-tab-button]")) {
    const on = b.getAttribute("data-tab-button") === state.tab;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.classList.toggle("is-active", on);
  }
  for (const s of $$("[data-tab]")) s.hidden = s.getAttribute("data-tab") !== state.tab;
}

let chartKey = null;
function renderTraining() {
  const tr = state.training;
  const g = state.graph;
  const progress = $("[data-role=train-progress]");
  const last = tr.rows[tr.rows.length - 1];
  progress.max = tr.epochs || 1;
  progress.value = last ? last.epoch : 0;
  const status = $("[data-role=train-status]");
  if (last) {
    setText(status, t("train.progress", {
      epoch: last.epoch, epochs: tr.epochs || last.epochs || "?",
      train: fmtNumber(last.train_loss), test: last.test_loss === null || last.test_loss === undefined ? "\u2014" : fmtNumber(last.test_loss),
    }));
  } else {
    setText(status, tr.running ? t("train.starting") : (g.params || []).length ? "" : t("train.noParams"));
  }
  const key = `${tr.rows.length}|${tr.epochs}|${state.lang}|${tr.predictions ? tr.predictions.y_true.length : 0}`;
  if (key !== chartKey) {
    chartKey = key;
    drawLossChart($("#loss-chart"), tr.rows, { epochs: tr.epochs, t });
    const scatter = $("#scatter-chart");
    scatter.closest("figure").hidden = !tr.predictions;
    if (tr.predictions) drawScatter(scatter, tr.predictions, { t });
    const final = $("[data-role=train-final]");
    clear(final);
    if (tr.final) {
      for (const [k, v] of Object.entries(tr.final)) {
        if (v === null || v === undefined) continue;
        final.append(el("dt", { text: t(`train.final.${k}`, {}, k) }), el("dd", { class: "num", text: fmtNumber(v, 6) }));
      }
    }
  }
}

function renderGradcheck() {
  renderGradcheckInto($("[data-role=gradcheck-result]"), state.gradcheck, state.graph, t, state.lang);
}

// ---- applying what the server says ----------------------------------------------------------

let fullInFlight = null;

function fetchFull(g) {
  if (fullInFlight) {
    fullInFlight.latest = g;
    return;
  }
  const job = { latest: g };
  fullInFlight = job;
  graphApi
    .state(true)
    .then((full) => {
      fullInFlight = null;
      // a GET carries no events: keep those of the change that produced this version
      if (full.version === job.latest.version) full.events = job.latest.events;
      if (full.version >= job.latest.version) applyGraph(full, true);
      else fetchFull(job.latest);
    })
    .catch(() => {
      fullInFlight = null;
      applyGraph(job.latest, true);
    });
}

function applyGraph(g, whole = false) {
  if (!g || !g.nodes) return;
  const cur = state.graph;
  if (cur && cur.id === g.id && typeof g.version === "number" && g.version < cur.version) return; // stale
  // the same version again (this page's own change echoed by the event stream): nothing new,
  // unless it brings the events of the change (a step's answer) that a GET does not carry
  if (cur && cur.id === g.id && g.version === cur.version && !whole && !(g.events || []).length) return;
  if (!whole && wantsFullValues(g)) {
    fetchFull(g); // draw once the whole values are here (no flicker from summary to heatmap)
    return;
  }
  const followed = !state.editable && cur && lastStep(g);
  state.graph = g;
  if (state.selected && !g.nodes.some((n) => n.id === state.selected)) state.selected = null;
  if (g.training && !state.training.running && !state.training.rows.length && g.training.final) {
    state.training.final = g.training.final;
  }
  rememberGraph(g.id, g.name);
  render();
  const step = lastStep(g);
  if (step && (state.editable || followed)) view.ensureVisible(step.node);
}

function showError(err) {
  const text = err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
  state.message = { kind: "error", text };
  render();
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => {
    state.message = null;
    render();
  }, 6000);
}

function info(text) {
  state.message = { kind: "info", text };
  render();
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => {
    state.message = null;
    render();
  }, 3000);
}

// Calls are serialised: a held arrow key queues a few steps, not a flood.
let queue = Promise.resolve();
let queued = 0;
function enqueue(fn) {
  if (queued > 3) return queue;
  queued += 1;
  state.busy += 1;
  const run = queue.then(async () => {
    try {
      const res = await fn();
      if (res && res.nodes) applyGraph(res);
      else if (res && res.state && res.state.nodes) applyGraph(res.state);
      return res;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) dropToken();
      showError(err);
      return null;
    } finally {
      queued -= 1;
      state.busy -= 1;
      render();
    }
  });
  queue = run.catch(() => null);
  return run;
}

/** The server refused this browser's token: continue as a follower. */
function dropToken() {
  forgetToken(graphId);
  state.token = null;
  state.editable = false;
  state.playing = false;
  graphApi.token = null;
}

function requireEdit() {
  if (!state.editable) {
    info(t("follow.readOnly"));
    return false;
  }
  return Boolean(state.graph);
}

// ---- actions ---------------------------------------------------------------------------------

const actions = {
  next() {
    if (!requireEdit()) return null;
    return enqueue(() => {
      const c = state.graph.cursor;
      const n = state.graph.order.length;
      if (c.position >= c.total) return null;
      return c.position < n ? graphApi.forward(1) : graphApi.backward(1);
    });
  },
  prev() {
    if (!requireEdit()) return null;
    return enqueue(() => {
      const c = state.graph.cursor;
      return c.position > 0 ? graphApi.seek(c.position - 1) : null;
    });
  },
  home() {
    if (!requireEdit()) return null;
    return enqueue(() => graphApi.seek(0));
  },
  end() {
    if (!requireEdit()) return null;
    return enqueue(() => graphApi.seek(state.graph.cursor.total));
  },
  seek(position) {
    if (!requireEdit()) return null;
    return enqueue(() => graphApi.seek(position));
  },
  "run-forward"() {
    if (!requireEdit()) return null;
    return enqueue(() => (state.graph.cursor.position < state.graph.order.length ? graphApi.forward("all") : null));
  },
  "run-backward"() {
    if (!requireEdit()) return null;
    return enqueue(async () => {
      const n = state.graph.order.length;
      if (state.graph.cursor.position < n) applyGraph(await graphApi.forward("all"));
      return state.graph.cursor.position < state.graph.cursor.total ? graphApi.backward("all") : null;
    });
  },
  reset() {
    if (!requireEdit()) return null;
    return enqueue(() => graphApi.reset());
  },
  update() {
    if (!requireEdit()) return null;
    const lr = readNumber("#lr-input", 0.1);
    if (lr === null) return null;
    return enqueue(async () => {
      const res = await graphApi.update(lr);
      info(t("update.done", { lr: fmtNumber(lr) }));
      return res;
    });
  },
  play() {
    if (state.playing) {
      state.playing = false;
      render();
      return null;
    }
    if (!requireEdit()) return null;
    state.playing = true;
    render();
    (async () => {
      while (state.playing && state.graph.cursor.position < state.graph.cursor.total) {
        await actions.next();
        await new Promise((r) => setTimeout(r, playInterval()));
      }
      state.playing = false;
      render();
    })();
    return null;
  },
  train() {
    if (!requireEdit()) return null;
    return train();
  },
  gradcheck() {
    return enqueue(async () => {
      const r = await graphApi.gradcheck();
      state.gradcheck = { ...r, at: Date.now() };
      state.tab = "check";
      return null;
    });
  },
  fork() {
    return fork();
  },
  share() {
    openShare();
  },
  presentation() {
    state.presentation = !state.presentation;
    state.overlay = false;
    view.autoFit = true; // the whole graph, as large as the new box allows
    render();
  },
  ...viewActions(state, view, inspector, () => render()),
  "export-svg"() {
    return exportSvg($("#graph-svg"), view.bounds, fileBase()).catch(showError);
  },
  "export-png"() {
    return exportPng($("#graph-svg"), view.bounds, fileBase()).catch(showError);
  },
  async "export-json"() {
    try {
      const spec = await graphApi.exportSpec("json");
      download(new Blob([JSON.stringify(spec, null, 2)], { type: "application/json" }), `${fileBase()}.json`);
    } catch (err) {
      showError(err);
    }
  },
  async "export-dot"() {
    try {
      const dot = await graphApi.exportSpec("dot");
      download(new Blob([typeof dot === "string" ? dot : JSON.stringify(dot)], { type: "text/vnd.graphviz" }), `${fileBase()}.dot`);
    } catch (err) {
      showError(err);
    }
  },
  "copy-view"() {
    copy(viewLink());
  },
  "copy-edit"() {
    if (state.token) copy(editLink());
  },
};

/** Milliseconds between two steps when playing (scripts may set state.playInterval). */
function playInterval() {
  const v = Number(state.playInterval);
  return Number.isFinite(v) && v >= 0 ? v : 600;
}

function fileBase() {
  return safeFileName(state.graph ? state.graph.name : "", "stepgrad-graph");
}

function readNumber(selector, fallback) {
  const input = $(selector);
  const raw = input.value.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) {
    showError(new Error(t("form.positive", { field: input.getAttribute("aria-label") || selector })));
    input.focus();
    return null;
  }
  return v;
}

function select(id) {
  state.selected = id || null; // a click on the background unpins
  if (id) {
    state.tab = "node";
    if (state.presentation) state.overlay = true;
  }
  render();
}

function selectRelative(delta) {
  if (!state.graph) return;
  const order = state.graph.order;
  const i = state.selected ? order.indexOf(state.selected) : delta > 0 ? -1 : order.length;
  const j = Math.max(0, Math.min(order.length - 1, i + delta));
  select(order[j]);
  view.ensureVisible(order[j]);
}

function setLeafValue(id, value, showFieldError) {
  if (!requireEdit()) return;
  state.busy += 1;
  graphApi
    .setValues({ [id]: value })
    .then((res) => {
      applyGraph(res);
      info(t("editor.applied", { node: id }));
    })
    .catch((err) => showFieldError(err instanceof ApiError ? err.message : String(err)))
    .finally(() => {
      state.busy -= 1;
      render();
    });
}

async function train() {
  const tr = state.training;
  if (tr.running) return;
  const epochs = Math.round(readNumber("#epochs-input", 50));
  const lr = readNumber("#train-lr-input", 0.1);
  if (epochs === null || lr === null) return;
  const batchRaw = $("#batch-input").value.trim();
  const body = { epochs, learning_rate: lr, optimizer: $("#optimizer-select").value };
  if (batchRaw) {
    const b = Number(batchRaw);
    if (!Number.isInteger(b) || b < 1) {
      showError(new Error(t("form.positive", { field: t("train.batch") })));
      return;
    }
    body.batch_size = b;
  }
  Object.assign(tr, { running: true, rows: [], epochs, final: null, predictions: null, result: null });
  state.tab = "train";
  render();
  try {
    const res = await graphApi.train(body);
    tr.rows = historyRows(res.history);
    tr.epochs = res.epochs || epochs;
    tr.final = res.final || null;
    tr.predictions = res.predictions || null;
    tr.result = res;
    if (res.state) applyGraph(res.state);
  } catch (err) {
    showError(err);
  } finally {
    tr.running = false;
    render();
  }
}

function onProgress(row) {
  const tr = state.training;
  tr.progressEvents += 1;
  if (!tr.running && !state.editable) {
    // a follower sees the editor's training start
    Object.assign(tr, { running: true, rows: [], final: null, predictions: null });
  }
  if (row.epoch === 1 || (tr.rows.length && row.epoch < tr.rows[tr.rows.length - 1].epoch)) tr.rows = [];
  tr.epochs = row.epochs || tr.epochs;
  tr.rows.push(row);
  if (!state.editable && row.epoch >= row.epochs) {
    // the editor's run is over: fetch its whole history and predictions
    tr.running = false;
    setTimeout(() => loadLastTraining(true), 300);
  }
  scheduleRender();
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

async function fork() {
  try {
    state.busy += 1;
    render();
    const res = await graphApi.fork();
    const g = res.state || res;
    setToken(g.id, res.edit_token);
    rememberGraph(g.id, g.name);
    location.assign(`/g/${encodeURIComponent(g.id)}`);
  } catch (err) {
    state.busy -= 1;
    showError(err);
  }
}

// ---- share links -----------------------------------------------------------------------------

// Where students can reach this server (GET /api/server), asked once per page; `base` is the
// address the links use, chosen in the dialog when there are several.
const share = { server: null, base: null };
let shareInfo = null;

function loadShareInfo() {
  if (!shareInfo) {
    shareInfo = api.server().then(
      (server) => {
        share.server = server;
        if (!share.base) share.base = shareBases(server)[0];
        return server;
      },
      () => {
        shareInfo = null; // ask again next time; meanwhile links use this page's address
        return null;
      },
    );
  }
  return shareInfo;
}

function isLoopbackHost(host) {
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

/** Base URLs for links, best first: this page's own address when other machines can reach it
 * (it was opened on a network address), then the server's network addresses, else this page's. */
function shareBases(server) {
  const bases = isLoopbackHost(location.hostname) ? [] : [location.origin];
  for (const url of (server && server.share_urls) || []) if (!bases.includes(url)) bases.push(url);
  if (!bases.length) bases.push(location.origin);
  return bases;
}

/** The warning that students cannot open the links (text and nodes), or null. */
function shareWarning(server) {
  if (!server) return null;
  if (server.loopback_only) {
    return [t("share.loopback", { listen: server.listen }), " ", el("code", { text: "stepgrad serve --lan" })];
  }
  if (!server.share_urls.length && isLoopbackHost(location.hostname)) return [t("share.noAddress")];
  return null;
}

function viewLink() {
  return `${share.base || location.origin}/g/${encodeURIComponent(graphId)}`;
}

function editLink() {
  return `${viewLink()}#edit=${encodeURIComponent(state.token)}`;
}

function fillShareLinks() {
  $("#share-view").value = viewLink();
  const edit = $("#share-edit");
  edit.value = state.token ? editLink() : "";
  edit.closest(".share-row").hidden = !state.token;
  // the QR code is of the view link only: the edit link is not for the class to see
  const qr = $("#share-qr");
  qr.src = api.qrUrl(viewLink());
  qr.alt = t("share.qrAlt");
}

function showShare(server) {
  const bases = shareBases(server);
  if (!bases.includes(share.base)) share.base = bases[0];
  const select = $("#share-base");
  select.replaceChildren(...bases.map((b) => el("option", { value: b, text: b, selected: b === share.base })));
  $("[data-role=share-address]").hidden = bases.length < 2;
  const warning = $("[data-role=share-warning]");
  const parts = shareWarning(server);
  warning.hidden = !parts;
  warning.replaceChildren(...(parts || []));
  fillShareLinks();
}

function openShare() {
  // at once with what is known (asked when the page loaded), again if the answer comes later
  showShare(share.server);
  const dialog = $("#share-dialog");
  if (!dialog.open) dialog.showModal();
  if (!share.server) {
    loadShareInfo().then((server) => {
      if (server && dialog.open) showShare(server);
    });
  }
}

$("#share-base").addEventListener("change", (event) => {
  share.base = event.target.value;
  fillShareLinks();
});
loadShareInfo();

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    info(t("share.copied"));
  } catch {
    // no clipboard permission: select the text for Ctrl+C
    const input = [$("#share-view"), $("#share-edit")].find((i) => i.value === text);
    if (input) {
      input.focus();
      input.select();
    }
    info(t("share.selectCopy"));
  }
}

// ---- keyboard --------------------------------------------------------------------------------

const KEYS = {
  ArrowRight: "next",
  PageDown: "next",
  ArrowLeft: "prev",
  PageUp: "prev",
  Home: "home",
  End: "end",
  f: "run-forward",
  b: "run-backward",
  u: "update",
  r: "reset",
  " ": "play",
  p: "presentation",
  l: "lang",
  "?": "help",
  h: "help",
  0: "fit",
  "+": "zoom-in",
  "=": "zoom-in",
  "-": "zoom-out",
  g: "gradcheck",
};

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const target = ev.target;
  const typing = target && (target.closest("input, textarea, select, [contenteditable]") || (target.tagName === "BUTTON" && (ev.key === " " || ev.key === "Enter")));
  if (typing) return;
  if (ev.key === "Escape") {
    if (state.overlay) state.overlay = false;
    else if (state.selected) state.selected = null;
    else if (state.presentation) {
      state.presentation = false;
      view.autoFit = true;
    }
    render();
    return;
  }
  if (ev.key === "]") return selectRelative(1);
  if (ev.key === "[") return selectRelative(-1);
  if (ev.key === "i") {
    state.overlay = !state.overlay; // the inspector follows the last step unless a node is pinned
    render();
    return;
  }
  const action = KEYS[ev.key];
  if (!action) return;
  ev.preventDefault();
  actions[action]();
});

// buttons: data-action="name"
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("[data-action]");
  if (b && actions[b.getAttribute("data-action")]) {
    ev.preventDefault();
    actions[b.getAttribute("data-action")]();
    return;
  }
  const tab = ev.target.closest("[data-tab-button]");
  if (tab) {
    state.tab = tab.getAttribute("data-tab-button");
    render();
  }
});

// the timeline slider seeks (debounced while dragging)
let sliderDragging = false;
let sliderTimer = null;
const slider = $("[data-role=timeline]");
slider.addEventListener("input", () => {
  sliderDragging = true;
  setText($("[data-role=position]"), `${slider.value} / ${slider.max}`);
  clearTimeout(sliderTimer);
  sliderTimer = setTimeout(() => actions.seek(Number(slider.value)), 80);
});
slider.addEventListener("change", () => {
  sliderDragging = false;
  clearTimeout(sliderTimer);
  if (state.graph && Number(slider.value) !== state.graph.cursor.position) actions.seek(Number(slider.value));
});

$("#train-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  actions.train();
});
$("#update-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  actions.update();
});


// ---- live events -----------------------------------------------------------------------------

function connect() {
  const source = new EventSource(graphApi.eventsUrl());
  source.addEventListener("open", () => {
    state.live = "live";
    render();
  });
  source.addEventListener("state", (ev) => {
    try {
      applyGraph(JSON.parse(ev.data));
    } catch {
      /* a malformed event: the next one resyncs */
    }
  });
  source.addEventListener("progress", (ev) => {
    try {
      onProgress(JSON.parse(ev.data));
    } catch {
      /* ignore */
    }
  });
  source.addEventListener("error", () => {
    state.live = source.readyState === EventSource.CLOSED ? "offline" : "connecting";
    render();
  });
  return source;
}

async function loadLastTraining(force = false) {
  try {
    const res = await graphApi.get("/train");
    const tr = state.training;
    if (!force && (tr.running || tr.rows.length)) return;
    tr.rows = historyRows(res.history);
    tr.epochs = res.epochs || (tr.rows.length ? tr.rows[tr.rows.length - 1].epoch : 0);
    tr.final = res.final || null;
    tr.predictions = res.predictions || null;
    render();
  } catch {
    /* no training yet */
  }
}

// ---- start -----------------------------------------------------------------------------------

// The graph's optimizer (an example starts with the settings that train it) fills the
// update and training forms once, on load.
function prefillTraining(g) {
  const opt = g.optimizer;
  if (!opt) return;
  if (typeof opt.learning_rate === "number") {
    for (const id of ["#lr-input", "#train-lr-input"]) $(id).value = String(opt.learning_rate);
  }
  if ($(`#optimizer-select option[value="${opt.name}"]`)) $("#optimizer-select").value = opt.name;
}

async function start() {
  applyI18n(document);
  performance.mark("sg:start");
  try {
    const [g, ops] = await Promise.all([graphApi.state(), api.ops().catch(() => [])]);
    state.ops = Object.fromEntries((ops || []).map((op) => [op.name, op]));
    state.opsLoaded = true;
    performance.mark("sg:state-loaded");
    applyGraph(g);
    prefillTraining(g);
    if (g.training) loadLastTraining();
  } catch (err) {
    state.loadError = err instanceof ApiError && err.status === 404 ? t("graph.notFound") : detailMessage(err.message);
    if (err instanceof ApiError && err.status === 404) forgetToken(graphId);
    root.setAttribute("data-ready", "error");
    render();
    return;
  }
  connect();
}

window.stepgrad = { state, view, actions, render };
start();
