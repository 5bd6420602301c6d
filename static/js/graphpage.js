// The graph view page (/g/{id}): one state object in a store, one render function, keyboard
// first. The graph itself (calls, queue, states and patches, the live connection) is a
// GraphSession; this page composes it with the drawing, the inspector and the panels.

import { ApiError, api, detailMessage, forgetToken, getToken, rememberGraph, setToken } from "./api.js";
import { drawLossChart, drawScatter } from "./charts.js";
import { $, $$, download, el, safeFileName, setText } from "./dom.js";
import { exportPng, exportSvg } from "./exporter.js";
import { FocusFollower, FocusSender } from "./follow.js";
import { fmtNumber } from "./format.js";
import {
  historyRows, listenClicks, listenFind, listenKeys, renderCaption, renderFinal, renderGradcheck,
  renderMessage, renderTrainStatus, viewActions,
} from "./graphparts.js";
import { walkKey } from "./graphaccess.js";
import { GraphView, graphIndex } from "./graphview.js";
import { applyI18n, currentLang, t } from "./i18n.js";
import { installThemeToggle } from "./theme.js";
import { Inspector } from "./inspector.js";
import { GRAPH_KEYS } from "./keys.js";
import { NetworkBuilder } from "./builder.js";
import { Editor } from "./editor.js";
import { readSpec } from "./editapi.js";
import { ExpressionPanel } from "./exprpanel.js";
import { QuizCard, quantityFor, quizRoom } from "./quiz.js";
import { GraphSession } from "./session.js";
import { shareBases, shareWarning } from "./share.js";
import { installSheet } from "./sheet.js";
import { createStore, messages } from "./store.js";

const root = $("#app");
const graphId = root.getAttribute("data-graph-id");

// the edit token: from the address (#edit=...) once, then from this browser's storage
function takeToken() {
  const m = /(?:^#|&)edit=([^&]+)/.exec(location.hash);
  if (m) {
    setToken(graphId, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return getToken(graphId);
}
const token = takeToken();

// ---- the one state object ------------------------------------------------------------------

const store = createStore({
  graph: null,
  touched: null, // what changed since the last render: {nodes, edges} from patches; null = all
  ops: null,
  opsLoaded: false,
  selected: null,
  token,
  editable: Boolean(token),
  lang: currentLang(),
  presentation: false,
  overlay: false, // the inspector over the graph in presentation mode
  follow: true, // the camera keeps the node being stepped in view
  tab: "node",
  busy: 0,
  playing: false,
  playInterval: 600, // ms between two steps when playing; the speed control sets it
  live: "connecting", // connecting | live | offline
  message: null, // {kind: "error" | "info", text}
  training: { running: false, rows: [], epochs: 0, final: null, predictions: null, result: null, progressEvents: 0 },
  gradcheck: null,
  reducedMotion: window.matchMedia("(prefers-reduced-motion: reduce)").matches,
  loadError: null,
  sliderDragging: false,
  share: { server: null, base: null, asked: null }, // where students can reach this server
  specCache: { version: null, spec: null },
  firstRenderDone: false,
  chartKey: null,
}, render);
const state = store.state;
const say = messages(store);

const session = new GraphSession(graphId, token, {
  onChange: (g, touched) => takeGraph(g, touched),
  onError: (err) => say.error(err),
  onDenied: () => dropToken(),
  // busy from the key press until the frame that shows the answer; the last answer of a
  // burst is drawn at once rather than in the next frame, which saves a frame per key press
  onBusy: (busy) => {
    if (busy) root.classList.add("is-busy");
    store.set({});
    if (!busy) store.flush();
  },
});

const view = new GraphView($("#graph-svg"), { t, onSelect: (id) => select(id) });
// keep the drawing clear of the legend and tools (top) and of the step caption (bottom)
const NORMAL_PADDING = { top: 56, right: 20, bottom: 64, left: 20 };
const PRESENT_PADDING = { top: 16, right: 16, bottom: 84, left: 16 };
const OVERLAY_WIDTH = 440; // the inspector over the drawing in presentation mode (see app.css)

/** Keep the drawing clear of what lies over it, and refit when that changes. */
function updatePadding() {
  const base = state.presentation ? PRESENT_PADDING : NORMAL_PADDING;
  const right = state.presentation && state.overlay ? OVERLAY_WIDTH + 24 : base.right;
  // edit mode's bar of buttons lies over the top of the drawing
  const top = base.top + (state.editing ? 56 : 0);
  const next = { ...base, right, top };
  // presenting, the quiz card sits at the bottom left, large (see quiz.css): the drawing keeps
  // clear of it
  const card = quizRoom(quiz, state.presentation, $("#graph-svg"));
  if (card) next.bottom = Math.max(next.bottom, card);
  const changed = JSON.stringify(next) !== JSON.stringify(view.overlayPadding);
  view.overlayPadding = next;
  // the box of the drawing changes with the panels: the view's ResizeObserver refits it
  if (changed && view.autoFit) requestAnimationFrame(() => view.fit());
}
view.overlayPadding = NORMAL_PADDING;
// on a narrow screen the panel is a bottom sheet under the drawing, closed at first; it
// opens on the inspector when a node is tapped
const sheet = installSheet($(".panel"));

// the class quiz (a card beside the drawing); the teacher's focus, sent by the teacher's page and
// mirrored by followers
const quiz = new QuizCard($("section.canvas"), {
  t,
  api: () => (state.editable ? session.api : readOnlyApi()),
  label: (id) => nodeLabel(id),
  onError: (err) => say.error(err),
  onShow: () => store.set({}), // presenting, the drawing makes room for the card
  studentLink: () => (state.editable ? viewLink() : null),
  linkWarning: () => shareWarning(share.server, t),
});
const follower = new FocusFollower({
  view,
  select: (id) => store.set({ selected: id }),
  onChange: () => store.set({}),
});
const focusSender = new FocusSender({
  api: () => (state.editable && state.graph ? session.api : null),
  view,
  selected: () => state.selected,
  shareView: () => state.presentation, // presenting, the teacher drives the class's view
});

function readOnlyApi() {
  return { id: session.api.id, base: session.api.base, token: null };
}

function nodeLabel(id) {
  const node = state.graph ? graphIndex(state.graph).byId.get(id) : null;
  return node ? node.label || node.id : id;
}

const inspector = new Inspector($("#inspector"), {
  t,
  onSelect: (id) => select(id),
  onSetValue: (id, value, showError) => setLeafValue(id, value, showError),
  leafValue: (id) => specLeafValue(id),
  onTarget: (id) => editor.setTargetNode(id),
});

// editing the graph in the page (editor.js): edit mode, the palette, drafts, undo
const editor = new Editor({ graphId, token, store, session, view, say, t, select: (id) => select(id), canvas: $(".canvas") });
view.access.extra = (id) => editor.draftFor(id);
const expressionPanel = new ExpressionPanel({ t, apply: (body) => editor.applyBody(body) });
const builder = new NetworkBuilder({ t, onApply: (body) => editor.applyBody(body).then(() => store.set({ tab: "train" })) });
editor.onExpression = async () => {
  const { spec } = await readSpec(graphId).catch(() => ({ spec: null }));
  expressionPanel.open(state.graph ? state.graph.source : null, spec);
};
editor.onNetwork = () => {
  const src = state.graph && state.graph.source && state.graph.source.network;
  return builder.open(src ? networkPreset(src) : {});
};

/** The builder's fields from a graph's own network description. */
function networkPreset(net) {
  const p = { hidden: Array.isArray(net.hidden) ? net.hidden.slice() : undefined, activation: net.activation, loss: net.loss, form: net.form, seed: net.seed };
  if (net.dataset) Object.assign(p, { source: "dataset", dataset: net.dataset });
  else if (Number.isInteger(net.inputs)) Object.assign(p, { source: "inputs", inputs: net.inputs });
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
}

// the spec (GET export) gives the leaves' values before the forward pass computes them
async function specLeafValue(id) {
  const version = state.graph ? state.graph.version : null;
  if (state.specCache.version !== version || !state.specCache.spec) {
    store.settle({ specCache: { version, spec: session.api.exportSpec("json").catch(() => null) } });
  }
  const spec = await state.specCache.spec;
  const node = spec && Array.isArray(spec.nodes) ? spec.nodes.find((n) => n.id === id) : null;
  return node && node.value !== undefined ? node.value : null;
}

// ---- rendering -----------------------------------------------------------------------------

function render() {
  const g = state.graph;
  updatePadding();
  document.body.classList.toggle("presenting", state.presentation);
  document.body.classList.toggle("overlay-open", state.presentation && state.overlay);
  root.classList.toggle("is-editable", state.editable);
  root.classList.toggle("is-following", !state.editable);
  // the key list shows a teacher's keys or a student's, not both (t means one or the other)
  document.body.classList.toggle("is-following", !state.editable);
  root.classList.toggle("is-busy", state.busy > 0 || session.busy);
  renderMessage($("[data-role=message]"), state.message);
  if (!g) {
    if (state.loadError) setText($("[data-role=graph-name]"), state.loadError);
    return;
  }
  view.render(state);
  editor.render();
  view.access.update(state.selected); // a draft's element is drawn by the editor
  follower.drawn();
  store.settle({ touched: { nodes: [], edges: [] } }); // drawn: nothing is pending
  if (!state.firstRenderDone) firstRender();
  inspector.render(state);
  renderTopbar(g);
  renderTransport(g);
  renderCaption($("[data-role=caption]"), g, t);
  renderTraining();
  renderGradcheck($("[data-role=gradcheck-result]"), state.gradcheck, state.graph, t, state.lang);
  renderTabs();
  const follow = $("[data-action=follow]");
  follow.classList.toggle("is-on", state.follow);
  follow.setAttribute("aria-pressed", String(state.follow));
  renderFollowTeacher();
  renderSpeed();
  quiz.render();
  root.setAttribute("data-version", String(g.version));
}

function firstRender() {
  store.settle({ firstRenderDone: true });
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

function renderTopbar(g) {
  setText($("[data-role=graph-name]"), g.name || t("graph.untitled"));
  document.title = `${g.name || t("graph.untitled")} \u2014 stepgrad`;
  const mode = $("[data-role=mode]");
  // "Editing" while the editor is on; the owner's page otherwise, a follower's live view
  const kind = !state.editable ? "follow" : state.editing ? "edit" : "own";
  setText(mode, t(`mode.${kind}`));
  mode.className = `mode-badge mode-badge--${kind}`;
  const live = $("[data-role=live]");
  setText(live, t(`live.${state.live}`));
  live.className = `live-dot live-dot--${state.live}`;
}

function renderTransport(g) {
  const c = g.cursor;
  const n = g.order.length;
  setText($("[data-role=position]"), `${c.position} / ${c.total}`);
  const slider = $("[data-role=timeline]");
  // not under the teacher's hand: while the slider has the focus and its seeks are on their
  // way, the value it shows is the one asked for
  if (document.activeElement !== slider || !(state.sliderDragging || session.busy)) {
    slider.max = String(c.total);
    slider.value = String(c.position);
  }
  slider.disabled = !state.editable;
  slider.style.setProperty("--split", `${(n / Math.max(c.total, 1)) * 100}%`);
  slider.style.setProperty("--done", `${(c.position / Math.max(c.total, 1)) * 100}%`);
  const phase = $("[data-role=phase]");
  setText(phase, t(`phase.${c.phase}`));
  phase.className = `phase phase--${c.phase}`;
  const next = c.node ? graphIndex(g).byId.get(c.node) : null;
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

function renderFollowTeacher() {
  const b = $("[data-action=follow-teacher]");
  b.classList.toggle("is-on", follower.on);
  b.setAttribute("aria-pressed", String(follower.on));
  setText(b, t(follower.on ? "teacher.following" : "teacher.away"));
  root.classList.toggle("is-away", !follower.on);
}

function renderSpeed() {
  setText($("[data-role=speed]"), t("speed.value", { n: fmtSpeed(1000 / playInterval()) }));
  $("[data-action=slower]").disabled = playInterval() >= SPEEDS[0];
  $("[data-action=faster]").disabled = playInterval() <= SPEEDS[SPEEDS.length - 1];
}

function renderTabs() {
  for (const b of $$("[data-tab-button]")) {
    const on = b.getAttribute("data-tab-button") === state.tab;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.classList.toggle("is-active", on);
  }
  for (const s of $$("[data-tab]")) s.hidden = s.getAttribute("data-tab") !== state.tab;
}

function renderTraining() {
  const tr = state.training;
  const g = state.graph;
  renderTrainStatus(root, tr, t, tr.running ? t("train.starting") : (g.params || []).length ? "" : t("train.noParams"));
  const key = `${tr.rows.length}|${tr.epochs}|${state.lang}|${tr.predictions ? tr.predictions.y_true.length : 0}`;
  if (key === state.chartKey) return;
  store.settle({ chartKey: key });
  drawLossChart($("#loss-chart"), tr.rows, { epochs: tr.epochs, t });
  const scatter = $("#scatter-chart");
  scatter.closest("figure").hidden = !tr.predictions;
  if (tr.predictions) drawScatter(scatter, tr.predictions, { t });
  renderFinal($("[data-role=train-final]"), tr.final, t);
}

// ---- applying what the server says ----------------------------------------------------------

/** What patches touched between two renders adds up; a whole state touches everything. */
function addTouched(a, b) {
  if (!a || !b) return null;
  return { nodes: [...a.nodes, ...b.nodes], edges: [...a.edges, ...b.edges], layout: a.layout || b.layout };
}

function takeGraph(g, touched) {
  if (!g) {
    store.set({});
    return;
  }
  const cur = state.graph;
  const moved = cur && cur.id === g.id && cur.cursor.position !== g.cursor.position;
  const patch = { graph: g, touched: cur === g ? state.touched : addTouched(state.touched, touched) };
  if (state.selected && !touched && !g.nodes.some((n) => n.id === state.selected)) patch.selected = null;
  if (g.training && !state.training.running && !state.training.rows.length && g.training.final) {
    patch.training = { ...state.training, final: g.training.final };
  }
  if (!cur || cur.name !== g.name) rememberGraph(g.id, g.name);
  store.set(patch);
  const step = g.cursor.last;
  if (step && moved && state.follow && !follower.drivesView) view.follow(step.node);
  else if (step && moved && follower.drivesView) follower.stepped(step.node);
  if (moved) quiz.stepped(g);
}

/** The server refused this browser's token: continue as a follower. */
function dropToken() {
  forgetToken(graphId);
  store.set({ token: null, editable: false, playing: false });
}

function requireEdit() {
  if (!state.editable) {
    say.info(t("follow.readOnly"));
    return false;
  }
  return Boolean(state.graph);
}

// ---- actions ---------------------------------------------------------------------------------

/** An editing action: only with the edit token and a graph. */
const editing = (fn) => (...args) => (requireEdit() ? fn(...args) : null);

const actions = {
  next: editing(() => session.next()),
  prev: editing(() => session.prev()),
  home: editing(() => session.home()),
  end: editing(() => session.end()),
  seek: editing((position) => session.seek(position)),
  "run-forward": editing(() => session.runForward()),
  "run-backward": editing(() => session.runBackward()),
  reset: editing(() => session.reset()),
  update: editing(() => {
    const lr = readNumber("#lr-input", 0.1);
    if (lr === null) return null;
    if (state.graph.cursor && state.graph.cursor.phase !== "done") {
      say.info(t("update.needGradients"));
      return null;
    }
    return session.update(lr).then((res) => {
      if (res) say.info(t("update.done", { lr: fmtNumber(lr) }));
      return res;
    });
  }),
  play() {
    if (state.playing) {
      store.set({ playing: false });
      return null;
    }
    if (!requireEdit()) return null;
    store.set({ playing: true });
    (async () => {
      while (state.playing && state.graph.cursor.position < state.graph.cursor.total) {
        await actions.next();
        await new Promise((r) => setTimeout(r, playInterval()));
      }
      store.set({ playing: false });
    })();
    return null;
  },
  train: editing(() => train()),
  gradcheck() {
    return session.gradcheck().then(
      (report) => store.set({ gradcheck: report, tab: "check" }),
      (err) => say.error(err),
    );
  },
  fork() {
    return fork();
  },
  share() {
    openShare();
  },
  slower() {
    changeSpeed(-1);
  },
  faster() {
    changeSpeed(1);
  },
  quiz() {
    return quizKey();
  },
  "follow-teacher"() {
    if (state.editable) return;
    const on = follower.toggle();
    say.info(t(on ? "teacher.rejoined" : "teacher.left"));
  },
  presentation() {
    view.autoFit = true; // the whole graph, as large as the new box allows
    store.set({ presentation: !state.presentation, overlay: false });
  },
  ...viewActions(store, view, inspector, say),
  "export-svg"() {
    if (view.big) say.info(t("export.working", { n: state.graph.nodes.length }));
    return exportSvg(view, fileBase()).catch(say.error);
  },
  "export-png"() {
    // a large graph's drawing takes a while to write and paint: say so
    if (view.big) say.info(t("export.working", { n: state.graph.nodes.length }));
    return exportPng(view, fileBase()).catch(say.error);
  },
  async "export-json"() {
    try {
      const spec = await session.api.exportSpec("json");
      download(new Blob([JSON.stringify(spec, null, 2)], { type: "application/json" }), `${fileBase()}.json`);
    } catch (err) {
      say.error(err);
    }
  },
  async "export-dot"() {
    try {
      const dot = await session.api.exportSpec("dot");
      download(new Blob([typeof dot === "string" ? dot : JSON.stringify(dot)], { type: "text/vnd.graphviz" }), `${fileBase()}.dot`);
    } catch (err) {
      say.error(err);
    }
  },
  "copy-view"() {
    copy(viewLink());
  },
  "edit-mode"() {
    editor.toggle();
  },
  network() {
    return editor.onNetwork();
  },
  "copy-edit"() {
    if (state.token) copy(editLink());
  },
};

// the play speeds, as milliseconds between two steps: 0.5 to 10 steps a second
const SPEEDS = [2000, 1000, 600, 300, 150, 100];

function fmtSpeed(perSecond) {
  return perSecond >= 2 ? String(Math.round(perSecond)) : String(Math.round(perSecond * 10) / 10);
}

/** One notch slower (-1) or faster (+1) on the list of speeds. */
function changeSpeed(delta) {
  const now = playInterval();
  const i = SPEEDS.findIndex((ms) => ms <= now);
  const at = i < 0 ? SPEEDS.length - 1 : i;
  const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, at + delta))];
  store.set({ playInterval: next });
  say.info(t("speed.now", { n: fmtSpeed(1000 / next) }));
}

/** The teacher's `q`: a question on the selected node (else the node the next step
 * visits), then the reveal, then put it away. */
function quizKey() {
  if (!state.editable) {
    const input = $("[data-role=quiz-answer]");
    if (input) input.focus();
    return null;
  }
  if (quiz.status !== "none") return quiz.keyPress();
  const g = state.graph;
  if (!g) return null;
  const node = state.selected || g.cursor.node;
  const quantity = quantityFor(g, node);
  if (!node || !quantity) {
    say.info(t("quiz.nothingToAsk", { node: node ? nodeLabel(node) : "" }));
    return null;
  }
  // presenting, the inspector would show the way to the answer: the card takes its place
  if (state.presentation) store.set({ overlay: false });
  loadShareInfo().then(() => quiz.render()); // the students' link on an address they reach
  return quiz.keyPress(node, quantity);
}

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
    say.error(new Error(t("form.positive", { field: input.getAttribute("aria-label") || selector })));
    input.focus();
    return null;
  }
  return v;
}

function select(id) {
  const patch = { selected: id || null }; // a click on the background unpins
  if (id) {
    patch.tab = "node";
    if (state.presentation) patch.overlay = true;
    sheet.set(true);
  }
  store.set(patch);
}

function setLeafValue(id, value, showFieldError) {
  if (!requireEdit()) return;
  store.set({ busy: state.busy + 1 });
  session
    .setValues({ [id]: value })
    .then(() => say.info(t("editor.applied", { node: id })))
    .catch((err) => showFieldError(err instanceof ApiError ? err.message : String(err)))
    .finally(() => store.set({ busy: state.busy - 1 }));
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
      say.error(new Error(t("form.positive", { field: t("train.batch") })));
      return;
    }
    body.batch_size = b;
  }
  Object.assign(tr, { running: true, rows: [], epochs, final: null, predictions: null, result: null });
  store.set({ tab: "train" });
  try {
    // the progress of each epoch comes on the page's own live connection (onProgress)
    const res = await session.train(body);
    Object.assign(tr, { rows: historyRows(res.history), epochs: res.epochs || epochs, final: res.final || null, predictions: res.predictions || null, result: res });
  } catch (err) {
    say.error(err);
  } finally {
    tr.running = false;
    store.set({ training: tr });
  }
}

function onProgress(row) {
  const tr = state.training;
  tr.progressEvents += 1;
  if (!tr.running && !state.editable) {
    // a follower sees the editor's training start
    Object.assign(tr, { running: true, rows: [], final: null, predictions: null });
  }
  const last = tr.rows[tr.rows.length - 1];
  if (!tr.running && state.editable && last && row.epoch <= last.epoch) {
    // an event of the run whose answer already gave the whole history: it landed late
    store.set({ training: tr });
    return;
  }
  if (row.epoch === 1 || (last && row.epoch < last.epoch)) tr.rows = [];
  tr.epochs = row.epochs || tr.epochs;
  tr.rows.push(row);
  if (!state.editable && row.epoch >= row.epochs) {
    // the editor's run is over: fetch its whole history and predictions
    tr.running = false;
    setTimeout(() => loadLastTraining(true), 300);
  }
  store.set({ training: tr });
}

async function fork() {
  try {
    store.set({ busy: state.busy + 1 });
    const res = await session.api.fork();
    const g = res.state || res;
    setToken(g.id, res.edit_token);
    rememberGraph(g.id, g.name);
    location.assign(`/g/${encodeURIComponent(g.id)}`);
  } catch (err) {
    store.set({ busy: state.busy - 1 });
    say.error(err);
  }
}

// ---- share links -----------------------------------------------------------------------------

// Where students can reach this server (GET /api/server), asked once per page; `base` is the
// address the links use, chosen in the dialog when there are several.
const share = state.share;

function loadShareInfo() {
  if (!share.asked) {
    share.asked = api.server().then(
      (server) => {
        share.server = server;
        if (!share.base) share.base = shareBases(server)[0];
        return server;
      },
      () => {
        share.asked = null; // ask again next time; meanwhile links use this page's address
        return null;
      },
    );
  }
  return share.asked;
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
  const parts = shareWarning(server, t);
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
    say.info(t("share.copied"));
  } catch {
    // no clipboard permission: select the text for Ctrl+C
    const input = [$("#share-view"), $("#share-edit")].find((i) => i.value === text);
    if (input) {
      input.focus();
      input.select();
    }
    say.info(t("share.selectCopy"));
  }
}

// ---- keyboard --------------------------------------------------------------------------------

listenKeys(GRAPH_KEYS, actions, {
  before(ev) {
    if (editor.key(ev)) return true;
    if (ev.key === "t" && state.editable && state.graph) {
      // the chosen node becomes the target of backward; t again (or on the target) returns to the output
      const g = state.graph;
      const sel = state.selected;
      editor.setTargetNode(!sel || g.target === sel || sel === g.output ? null : sel);
      return true;
    }
    if (ev.key === "Escape") {
      if (state.overlay) store.set({ overlay: false });
      else if (state.selected) store.set({ selected: null });
      else if (state.presentation) {
        view.autoFit = true;
        store.set({ presentation: false });
      }
      return true;
    }
    // [ ] and, in the drawing, Tab walk the nodes in the server's order, the editor's drafts after
    const walk = { order: state.graph ? editor.walkOrder(state.graph.order) : [], selected: state.selected, svg: view.svg };
    if (walkKey(ev, { ...walk, select: (id) => {
      select(id);
      if (!editor.showNode(id)) view.ensureVisible(id);
    } })) return true;
    if (ev.key === "i") {
      store.set({ overlay: !state.overlay }); // the inspector follows the last step unless a node is pinned
      return true;
    }
    return false;
  },
});

document.addEventListener("keydown", (ev) => editor.ctrlKey(ev));
listenClicks(actions, (ev) => {
  const tab = ev.target.closest("[data-tab-button]");
  if (tab) store.set({ tab: tab.getAttribute("data-tab-button") });
});
listenFind(store, view, say, select, { graph: () => editor.findable(state.graph), show: (id) => editor.showNode(id) || view.centerOn(id) });

// the timeline slider seeks (debounced while dragging)
const slider = $("[data-role=timeline]");
slider.addEventListener("input", () => {
  store.set({ sliderDragging: true });
  setText($("[data-role=position]"), `${slider.value} / ${slider.max}`);
  clearTimeout(slider.seekTimer);
  slider.seekTimer = setTimeout(() => actions.seek(Number(slider.value)), 80);
});
slider.addEventListener("change", () => {
  store.set({ sliderDragging: false });
  clearTimeout(slider.seekTimer);
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

// ---- live events and the last training ---------------------------------------------------

async function loadLastTraining(force = false) {
  try {
    const res = await session.lastTraining();
    const tr = state.training;
    if (!force && (tr.running || tr.rows.length)) return;
    tr.rows = historyRows(res.history);
    tr.epochs = res.epochs || (tr.rows.length ? tr.rows[tr.rows.length - 1].epoch : 0);
    tr.final = res.final || null;
    tr.predictions = res.predictions || null;
    store.set({ training: tr });
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
  installThemeToggle();
  performance.mark("sg:start");
  try {
    const [, ops] = await Promise.all([session.load(), api.ops().catch(() => [])]);
    store.set({ ops: Object.fromEntries((ops || []).map((op) => [op.name, op])), opsLoaded: true });
    performance.mark("sg:state-loaded");
    store.flush(); // draw now: the open time is measured to this first drawing
    prefillTraining(state.graph);
    if (state.graph.training) loadLastTraining();
  } catch (err) {
    const loadError = err instanceof ApiError && err.status === 404 ? t("graph.notFound") : detailMessage(err.message);
    if (err instanceof ApiError && err.status === 404) forgetToken(graphId);
    root.setAttribute("data-ready", "error");
    store.set({ loadError });
    return;
  }
  session.connect({
    onLive: (live) => store.set({ live }),
    onProgress,
    onQuiz: (view) => quiz.take(view),
    onFocus: (focus) => {
      if (!state.editable) follower.take(focus);
    },
  });
  // a graph made to be built in the page (the start page's "new graph") opens in edit mode
  const query = new URLSearchParams(location.search);
  if (query.get("mode") === "edit" && state.editable) editor.toggle(true);
  if (query.get("tab") === "train") store.set({ tab: "train" }); // a network just built: train it next
}

window.stepgrad = {
  state, store, session, view, actions, editor, quiz, follower, focusSender, render: () => store.flush(),
};
start();
