// The lesson page (/lessons/{id}): a lesson's steps, one at a time, with the view each step
// declares in the main area and its notes beside it. The teacher drives it from the keyboard:
// PageDown / n and PageUp / Shift+N move through the lesson (a presentation clicker sends the
// page keys); the arrows keep stepping the graph's timeline, as on the graph page.
//
// Each step applies what it declares, through the API: it creates the lesson's graphs (once
// per visit) and reuses them, sets run options, seeks, selects, highlights, opens a panel,
// draws a chart, runs trainings (on forks when several are compared). The page draws what
// the API returns and computes no maths.
//
// The teacher's page keeps a room (contract v1.2): one link, /r/{id}, that the class opens
// once and that follows every step, graph, view and panel (room.js). Opened on /r/{id}, this
// page is a follower's: read-only, it shows the room's step with the teacher's graph (by id,
// following that graph's events) and never creates a graph or moves a cursor.

import { ApiError, api, detailMessage, setToken } from "./api.js";
import { drawLossChart, drawScatter, drawSeriesChart, finite } from "./charts.js";
import { CurveView } from "./curveview.js";
import { drawHeatmap, drawKnnCost, drawScatterPlot, drawTable } from "./dataviews.js";
import { $, $$, clear, el, setText } from "./dom.js";
import { fmtNumber } from "./format.js";
import {
  historyRows, listenClicks, listenKeys, renderCaption, renderFinal, renderGradcheck, renderMessage,
  renderTrainStatus, viewActions,
} from "./graphparts.js";
import { walkKey } from "./graphaccess.js";
import { GraphView } from "./graphview.js";
import { applyI18n, currentLang, t } from "./i18n.js";
import { installThemeToggle } from "./theme.js";
import { FocusFollower, FocusSender } from "./follow.js";
import { Inspector } from "./inspector.js";
import { knnPane } from "./knncontrols.js";
import { LESSON_FROM_SLIDER, LESSON_KEYS } from "./keys.js";
import { QuizCard, quantityFor, quizRoom } from "./quiz.js";
import { drawRace } from "./raceview.js";
import { RoomSender, followRoom, readRoom } from "./room.js";
import { classBase, shareBases, shareWarning } from "./share.js";
import { GraphSession } from "./session.js";
import { installSheet } from "./sheet.js";
import { createStore, messages } from "./store.js";
import { ToposortView } from "./toposortview.js";

const root = $("#lesson");
const lessonId = root.getAttribute("data-lesson-id");
// on /r/{id}: a follower of the teacher's room
const roomId = root.getAttribute("data-room-id") || "";
const following = Boolean(roomId);
document.body.classList.toggle("is-room-follower", following);

// ---- the one state object ------------------------------------------------------------------

const store = createStore({
  lesson: null,
  index: -1,
  lang: currentLang(),
  presentation: false,
  notesHidden: false,
  view: null,
  stepState: "loading", // loading | ready | error
  selected: null,
  highlight: new Set(),
  panelOverride: null, // g opens the gradient check on any graph step
  rec: null, // the current step's graph record
  ops: null,
  opsLoaded: false,
  message: null,
  training: null, // {running, rows, epochs, final, predictions, optimizer, steps}
  compare: null, // {runs: [{body, rows, status, result}], reference, done}
  gradcheck: null,
  data: null, // what the data view draws
  race: null,
  reducedMotion: window.matchMedia("(prefers-reduced-motion: reduce)").matches,
  loadError: null,
  // the visit's own bookkeeping
  records: new Map(), // the lesson's graphs, by their key in the lesson
  cache: new Map(), // answers kept for the visit (datasets, examples, baselines)
  examples: null, // id -> the example's title and description (GET /api/examples)
  entry: 0, // counts step changes: an older step's work stops touching the page
  raceRun: null,
  playTimer: null,
  sliding: { pending: null, busy: false, applied: 0 },
  drawn: { train: null, compare: null, data: null }, // what the charts last drew
  room: null, // a follower's: the room as the server last said it
  live: following ? "connecting" : null, // a follower's connection to the room
  share: { server: null, base: null }, // where students reach this server (the Share dialog)
}, render);
const state = store.state;
const say = messages(store);
const showError = (err) => say.error(err);

const CANVAS_PADDING = {
  graph: { top: 60, right: 20, bottom: 70, left: 20 },
  toposort: { top: 24, right: 20, bottom: 150, left: 20 },
};

const view = new GraphView($("#graph-svg"), {
  t,
  onSelect: (id) => {
    if (state.view === "toposort") {
      if (id) topo.pick(id).catch(showError);
      return;
    }
    store.set({ selected: id || null });
  },
});
view.overlayPadding = CANVAS_PADDING.graph;
// on a narrow screen the notes are a bottom sheet under the drawing, open at first
installSheet($(".notes"), { open: true });

const inspector = new Inspector($("#inspector"), {
  t,
  onSelect: (id) => store.set({ selected: id }),
  onSetValue: () => {},
  leafValue: null,
});

// where students' devices reach this server (a network address when this page is on 127.0.0.1)
let studentBase = location.origin;
let studentServer = null;
api.server().then((server) => {
  studentBase = classBase(server);
  studentServer = server;
  quiz.render();
}, () => {});

// the class quiz over the drawing: this page holds the lesson graphs' edit tokens, so it is
// the teacher's; students answer on the graph's view link, and a learner alone answers here
const currentApi = () => (state.rec && state.rec.session && state.view === "graph" ? state.rec.session.api : null);
const quiz = new QuizCard($("[data-pane=canvas]"), {
  t,
  api: currentApi,
  label: (id) => {
    const node = state.rec && state.rec.graph ? state.rec.graph.nodes.find((n) => n.id === id) : null;
    return node ? node.label || node.id : id;
  },
  studentLink: () => {
    if (following || !currentApi()) return null;
    return roomSender && roomSender.path ? `${studentBase}${roomSender.path}` : `${studentBase}/g/${encodeURIComponent(currentApi().id)}`;
  },
  onError: showError,
  linkWarning: () => shareWarning(studentServer, t),
  onShow: () => store.set({}), // presenting, the drawing makes room for the card
  answerToo: true,
  autofocus: following, // a follower's keys step nothing; the teacher's must keep working
});
// followers of a lesson graph see what the teacher selects and the part of the graph shown
const focusSender = following ? null : new FocusSender({ api: currentApi, view, selected: () => state.selected, shareView: () => true });
// a follower mirrors the teacher's selection and view
const focusFollower = following ? new FocusFollower({ view, select: (id) => store.set({ selected: id || null }) }) : null;
// the teacher's room: made once the lesson is known
let roomSender = null;
let roomTold = null;

/** Hear the graph's quiz events (the live count of answers) from the first question on it. */
function listen(rec) {
  if (rec.source) return;
  rec.source = rec.session.connect({ onQuiz: (v) => quiz.take(v) });
}

/** Open a question on the step's graph (the step's own, or `q` on the selected node). */
async function openQuiz(node, quantity) {
  const rec = state.rec;
  if (!rec || !rec.session) return;
  listen(rec);
  await quiz.open(node, quantity);
}

function quizKey() {
  if (quiz.status !== "none") return quiz.keyPress();
  const rec = state.rec;
  const g = rec && rec.graph;
  if (!g || state.view !== "graph") return null;
  const s = step();
  const node = state.selected || (s && s.quiz ? s.quiz.node : null) || g.cursor.node;
  const quantity = s && s.quiz && s.quiz.node === node ? s.quiz.quantity : quantityFor(g, node);
  if (!node || !quantity || quantityFor(g, node) === null) {
    say.info(t("quiz.nothingToAsk", { node: node || "" }));
    return null;
  }
  return openQuiz(node, quantity);
}

const curveView = new CurveView($("[data-pane=curve]"), { t, onSlide: (id, value) => slide(id, value) });

const topo = new ToposortView($("[data-role=kahn]"), $("[data-role=order-box]"), { t, onChange: () => store.schedule() });

// ---- small helpers -------------------------------------------------------------------------

function text(obj) {
  if (!obj) return "";
  return obj[state.lang] || obj.en || "";
}

function step() {
  return state.lesson && state.index >= 0 ? state.lesson.steps[state.index] : null;
}

/** A promise per key for the whole visit (a failure is forgotten, so it can be retried). */
function cached(key, fn) {
  const cache = state.cache;
  if (!cache.has(key)) {
    const p = fn();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return cache.get(key);
}

function trainBody(train) {
  const body = { epochs: train.epochs, optimizer: train.optimizer, learning_rate: train.learning_rate };
  if (train.batch_size !== null && train.batch_size !== undefined) body.batch_size = train.batch_size;
  if (train.options) body.options = train.options;
  return body;
}

function positionOf(p, g) {
  if (p === "start") return 0;
  if (p === "forward") return g.order.length;
  if (p === "end") return g.cursor.total; // a backward target visits fewer than all the nodes
  return p;
}

// ---- the lesson's graphs: created once per visit, reused by every step that names them --------

function recordFor(key) {
  const records = state.records;
  if (!records.has(key)) {
    const example = state.lesson.graphs[key];
    const rec = {
      key, example, session: null, order: [], trained: new Map(), compares: new Map(), lastTraining: null,
      get graph() {
        return this.session ? this.session.graph : null;
      },
      get api() {
        return this.session.api;
      },
    };
    // named by the example's title in the page's language, as the graph page shows it
    const info = state.examples && state.examples.get(example);
    const body = info ? { example, name: (currentLang() === "zh" && info.title_zh) || info.title } : { example };
    rec.ready = api.create(body).then(async (res) => {
      const id = res.id || (res.state && res.state.id);
      setToken(id, res.edit_token); // the graph page opens it editable ("open in the graph page")
      rec.session = new GraphSession(id, res.edit_token, {
        onChange: (g) => {
          if (state.rec === rec && state.view === "toposort") topo.setGraph(g);
          if (state.rec === rec) quiz.stepped(g);
          store.schedule();
        },
        onError: showError,
      });
      await rec.session.apply(res);
      return rec;
    });
    rec.ready.catch(() => records.delete(key));
    records.set(key, rec);
  }
  return records.get(key).ready;
}

async function applyOptions(rec, s) {
  const fanout = Boolean(s.options && s.options.fanout_bug);
  const order = s.options && Array.isArray(s.options.order) ? s.options.order : [];
  const body = {};
  if (fanout !== Boolean(rec.graph.fanout_bug)) body.fanout_bug = fanout;
  if (JSON.stringify(order) !== JSON.stringify(rec.order)) body.order = order;
  if (!Object.keys(body).length) return;
  await rec.session.setOptions(body);
  rec.order = order;
}

async function seek(rec, position) {
  await rec.session.run((g) => (g.cursor.position !== position ? rec.api.seek(position, true) : null));
}

/** The curve view needs the values: run the forward pass on the server if it has not run. */
async function ensureForward(rec) {
  await rec.session.run((g) => (g.cursor.position < g.order.length ? rec.api.forward("all", true) : null));
}

// ---- what each step does ---------------------------------------------------------------------

async function go(i) {
  const steps = state.lesson ? state.lesson.steps : [];
  if (i < 0 || i >= steps.length) return;
  const my = state.entry + 1;
  const alive = () => my === state.entry;
  stopPlaying();
  const s = steps[i];
  store.set({
    entry: my,
    index: i, view: s.view, stepState: "loading", selected: s.select || null, highlight: new Set(s.highlight || []),
    panelOverride: null, rec: null, training: null, compare: null, gradcheck: null, data: null,
    message: null, // a note about the previous step is not about this one
  });
  quiz.reset(); // a question belongs to the step that asked it
  topo.clear();
  curveView.reset();
  view.autoFit = true;
  history.replaceState(null, "", `#step-${i + 1}`);
  try {
    await applyStep(s, i, alive);
    if (!alive()) return;
    store.set({ stepState: "ready" });
    // the room hears the step first: leaving the last step closed its question on the server
    tellRoom();
    if (roomSender) await roomSender.settled();
    if (!alive()) return;
    if (s.quiz && state.rec && quantityFor(state.rec.graph, s.quiz.node) !== null) openQuiz(s.quiz.node, s.quiz.quantity);
  } catch (err) {
    if (!alive()) return;
    store.set({ stepState: "error" });
    showError(err);
  }
  store.set({});
}

async function applyStep(s, i, alive) {
  let rec = null;
  if (s.graph) {
    rec = await recordFor(s.graph);
    if (!alive()) return;
    store.set({ rec });
    tellRoom(); // followers switch to the step and its graph now, not once it is computed
    await applyOptions(rec, s);
    if (!alive()) return;
    if (s.position !== null && s.position !== undefined) await seek(rec, positionOf(s.position, rec.graph));
    if (!alive()) return;
    store.set({});
  }
  if (s.view === "graph") await graphStep(s, i, rec, alive);
  else if (s.view === "data") await dataStep(s, i, rec, alive);
  else if (s.view === "curve") await curveStep(s, i, rec, alive);
  else if (s.view === "toposort") await toposortStep(s, rec, alive);
  else if (s.view === "race") await raceStep();
}

async function graphStep(s, i, rec, alive) {
  if (s.panel === "gradcheck") {
    const report = await rec.api.gradcheck();
    if (!alive()) return;
    store.set({ gradcheck: { ...report, at: Date.now() } });
  }
  if (s.train) await trainStep(s, i, rec, alive);
  else if (s.chart === "loss" || s.chart === "predictions" || s.panel === "train") await lastTraining(s, i, rec, alive);
  if (s.compare) await compareStep(s, i, rec, alive);
}

/** Run the step's training on its graph (once per visit), showing each epoch as it comes. */
async function trainStep(s, i, rec, alive) {
  const done = rec.trained.get(i);
  if (done) {
    if (alive()) store.set({ training: done });
    await done.finished;
    return;
  }
  const body = trainBody(s.train);
  const tr = { running: true, rows: [], epochs: body.epochs, final: null, predictions: null, optimizer: body.optimizer, steps: null };
  rec.trained.set(i, tr);
  store.set(alive() ? { training: tr } : {});
  tr.finished = rec.session.train(body, (row) => {
    if (!tr.running) return;
    if (row.epoch === 1) tr.rows = [];
    tr.rows.push(row);
    store.schedule();
  }).then((res) => {
    Object.assign(tr, { rows: historyRows(res.history), epochs: res.epochs, final: res.final, predictions: res.predictions, steps: res.steps, running: false });
    rec.lastTraining = tr;
  });
  tr.finished.catch(() => {
    tr.running = false;
    rec.trained.delete(i);
  });
  await tr.finished;
  store.set({});
}

/** A chart of the graph's training that this step does not run: the one an earlier step ran. */
async function lastTraining(s, i, rec, alive) {
  if (rec.lastTraining) {
    store.set({ training: rec.lastTraining });
    return;
  }
  const steps = state.lesson.steps;
  for (let j = i - 1; j >= 0; j--) {
    if (steps[j].graph === s.graph && steps[j].train) {
      await trainStep(steps[j], j, rec, alive);
      if (alive()) store.set({ training: rec.lastTraining });
      return;
    }
  }
  try {
    const res = await rec.api.get("/train");
    if (!alive()) return;
    store.set({ training: { running: false, rows: historyRows(res.history), epochs: res.epochs, final: res.final, predictions: res.predictions, optimizer: res.optimizer, steps: res.steps } });
  } catch {
    /* never trained: the chart says so */
  }
}

/** The least-squares optimum on the same split as the graph's dataset binding (a reference). */
async function referenceFor(rec) {
  const feat = rec.graph.nodes.find((n) => n.bind && n.bind.dataset && n.bind.role === "features");
  if (!feat) return null;
  const b = feat.bind;
  const params = { standardize: String(Boolean(b.standardize)) };
  if (Array.isArray(b.columns) && b.columns.length) params.features = b.columns.join(",");
  if (typeof b.test_fraction === "number") params.test_fraction = b.test_fraction;
  if (typeof b.seed === "number") params.seed = b.seed;
  const report = await cached(`baselines:${b.dataset}:${JSON.stringify(params)}`, () => api.baselines(b.dataset, params));
  const ls = report.least_squares;
  return { value: ls.test_mse, weights: ls.weights, bias: ls.bias, features: ls.features };
}

/** Trainings side by side, each on its own fork of the step's graph (run once per visit). */
function startCompare(s, rec) {
  const key = JSON.stringify(s.compare);
  let cmp = rec.compares.get(key);
  if (cmp) return cmp;
  cmp = { runs: s.compare.map((c) => ({ body: trainBody(c), rows: [], status: "waiting", result: null })), reference: null };
  rec.compares.set(key, cmp);
  cmp.done = (async () => {
    cmp.reference = await referenceFor(rec).catch(() => null);
    for (const run of cmp.runs) {
      run.status = "running";
      store.schedule();
      const fork = await rec.api.fork();
      const forked = new GraphSession(fork.id || fork.state.id, fork.edit_token);
      const res = await forked.train(run.body, (row) => {
        if (run.status !== "running") return;
        if (row.epoch === 1) run.rows = [];
        run.rows.push(row);
        store.schedule();
      });
      Object.assign(run, { rows: historyRows(res.history), result: res, status: "done" });
      store.schedule();
    }
  })();
  cmp.done.catch(() => rec.compares.delete(key));
  return cmp;
}

async function compareStep(s, i, rec, alive) {
  const cmp = startCompare(s, rec);
  store.set(alive() ? { compare: cmp } : {});
  await cmp.done;
  if (alive()) tellCompare(i, cmp);
}

const finiteOr = (v) => (Number.isFinite(v) ? v : null);

/** The class draws the chart the projector shows: the finished trainings go to the room. */
function tellCompare(i, cmp) {
  if (!roomSender) return;
  const ref = cmp.reference;
  roomSender.say({
    compare: {
      step: i,
      reference: ref && Number.isFinite(ref.value) ? { value: ref.value, weights: ref.weights || [], bias: finiteOr(ref.bias), features: ref.features || [] } : null,
      runs: cmp.runs.map((r) => ({
        optimizer: r.body.optimizer,
        epochs: r.body.epochs,
        steps: r.result.steps,
        final: { train_loss: finiteOr(r.result.final.train_loss), test_loss: finiteOr(r.result.final.test_loss) },
        params: Object.fromEntries(Object.entries(r.result.params || {}).filter(([, v]) => Number.isFinite(v))),
        rows: r.rows.map((row) => ({ epoch: row.epoch, train_loss: finiteOr(row.train_loss), test_loss: finiteOr(row.test_loss) })),
      })),
    },
  });
}

/** The teacher's compared trainings as the room carries them, shaped as startCompare's. */
function compareFromRoom(c) {
  return {
    reference: c.reference,
    runs: c.runs.map((r) => ({ body: { optimizer: r.optimizer, epochs: r.epochs }, rows: r.rows, status: "done", result: { steps: r.steps, final: r.final, params: r.params || {} } })),
  };
}

/** A follower's chart of the teacher's trainings at step i, once the room carries them. */
function followCompare(room, i) {
  const s = state.lesson.steps[i];
  if (!s || !s.compare || !room.compare || room.compare.step !== i) return;
  const cmp = compareFromRoom(room.compare);
  if (s.view === "data" && state.data) {
    store.set({ data: { ...state.data, compare: cmp, version: state.data.version + 1 } });
  } else {
    store.set({ compare: cmp });
  }
}

async function datasetName(rec) {
  const named = (nodes) => {
    const n = (nodes || []).find((m) => m.bind && m.bind.dataset);
    return n ? n.bind.dataset : null;
  };
  if (rec && named(rec.graph.nodes)) return named(rec.graph.nodes);
  for (const example of Object.values(state.lesson.graphs)) {
    const ex = await cached(`example:${example}`, () => api.example(example));
    const name = named(ex.spec && ex.spec.nodes);
    if (name) return name;
  }
  throw new Error(t("lesson.noDataset"));
}

async function dataStep(s, i, rec, alive) {
  const name = await datasetName(rec);
  const d = { chart: s.chart, name, version: 0 };
  const bump = () => {
    d.version += 1;
    store.schedule();
  };
  if (alive()) store.set({ data: d });
  if (s.chart === "table" || s.chart === "heatmap") d.view = await cached(`view:${name}`, () => api.dataset(name));
  if (s.chart === "scatter" || s.chart === "knn" || s.chart === "lines") {
    const x = s.scatter && s.scatter.x;
    const y = (s.scatter && s.scatter.y) || null;
    d.scatter = await cached(`scatter:${name}:${x}:${y}`, () => api.scatter(name, x, y));
  }
  if (s.chart === "knn" && s.knn) d.knn = await cached(`knn:${name}:${JSON.stringify(s.knn)}`, () => api.knn(name, s.knn));
  if (s.chart === "knn_cost") d.cost = await api.knnCost(name); // measured now, every time
  bump();
  if (s.chart === "lines" && s.compare && rec) {
    d.compare = startCompare(s, rec);
    bump();
    await d.compare.done;
    bump();
    if (alive()) tellCompare(i, d.compare);
  }
}

async function curveStep(s, i, rec, alive) {
  if (s.train) await trainStep(s, i, rec, alive);
  if (!alive()) return;
  await ensureForward(rec);
}

async function toposortStep(s, rec, alive) {
  const fetch = s.toposort
    ? (choose) => api.toposort({ nodes: s.toposort.nodes, edges: s.toposort.edges, ...(choose.length ? { choose } : {}) })
    : (choose) => rec.api.toposort(choose);
  const runOrders = s.choose_order && rec ? (order) => runInOrders(rec, order) : null;
  if (!alive()) return;
  await topo.show({ graph: rec && !s.toposort ? rec.graph : null, spec: s.toposort || null, choose: Boolean(s.choose_order), fetch, runOrders });
}

/** Forward and backward in the graph's own order, then in the student's: both states. */
function runInOrders(rec, order) {
  const session = rec.session;
  return session.run(async () => {
    await session.apply(await rec.api.setOptions({ order: [] }));
    rec.order = [];
    await rec.api.forward("all");
    const theirs = await rec.api.backward("all");
    await session.apply(await rec.api.setOptions({ order }));
    rec.order = order;
    await rec.api.forward("all");
    const mine = await session.apply(await rec.api.backward("all"));
    return { theirs, mine };
  }, false);
}

async function raceStep() {
  if (!state.raceRun || state.raceRun.status === "error") {
    store.set({ raceRun: { status: "running" }, race: { status: "running" } });
    let run;
    try {
      run = { status: "done", result: await api.race({}) };
    } catch (err) {
      run = { status: "error", error: err.message || String(err) };
    }
    store.set({ raceRun: run });
  }
  store.set({ race: state.raceRun });
  // the class sees the result the projector shows
  if (roomSender && state.raceRun.status === "done") roomSender.say({ race: state.raceRun.result });
}

// ---- the sliders of the curve view -----------------------------------------------------------

function slide(id, value) {
  if (following) return; // the teacher's sliders move the graph; a follower's page shows it
  const rec = state.rec;
  const sliding = state.sliding;
  if (!rec || !rec.graph) return;
  sliding.pending = { ...(sliding.pending || {}), [id]: value };
  if (!sliding.busy) pump(rec);
}

/** Send the latest slider values, one request at a time, then redraw from the API's values. */
async function pump(rec) {
  const sliding = state.sliding;
  sliding.busy = true;
  while (sliding.pending) {
    const values = sliding.pending;
    sliding.pending = null;
    try {
      await rec.session.run(async () => {
        await rec.api.setValues(values, true);
        return rec.api.forward("all", true);
      });
      sliding.applied += 1;
    } catch (err) {
      showError(err);
    }
    store.set({});
  }
  sliding.busy = false;
  root.setAttribute("data-slides", String(sliding.applied));
}

// ---- rendering -------------------------------------------------------------------------------

function render() {
  document.body.classList.toggle("presenting", state.presentation);
  root.setAttribute("data-step", String(state.index + 1));
  root.setAttribute("data-step-state", state.stepState);
  root.setAttribute("data-view", state.view || "");
  root.setAttribute("data-lang", state.lang);
  renderMessage($("[data-role=message]"), state.message);
  if (!state.lesson) {
    if (state.loadError) {
      setText($("[data-role=step-title]"), state.loadError);
      setText($("[data-role=lesson-title]"), "");
    }
    return;
  }
  renderHeader();
  renderNotes();
  renderStage();
  renderPanel();
  quiz.render(); // cheap when nothing changed; rebuilt in the new language after a switch
  renderRoom();
  if (focusFollower) focusFollower.drawn();
  tellRoom();
}

function renderHeader() {
  const lesson = state.lesson;
  setText($("[data-role=day]"), t("lesson.day", { day: lesson.day }));
  setText($("[data-role=lesson-title]"), text(lesson.title));
  document.title = `${text(lesson.title)} \u2014 stepgrad`;
}

function renderNotes() {
  const s = step();
  const n = state.lesson.steps.length;
  setText($("[data-role=step-count]"), t("lesson.stepOf", { k: state.index + 1, n }));
  setText($("[data-role=step-title]"), s ? text(s.title) : "");
  setText($("[data-role=step-text]"), s ? text(s.text) : "");
  $("[data-action=prev-step]").disabled = state.index <= 0;
  $("[data-action=next-step]").disabled = state.index >= n - 1;
  const dots = $("[data-role=dots]");
  if (dots.childElementCount !== n) {
    clear(dots);
    for (let k = 0; k < n; k++) {
      dots.appendChild(el("li", {}, el("button", { type: "button", class: "dot", "data-goto": k, tabindex: "-1" })));
    }
  }
  $$("[data-goto]", dots).forEach((b, k) => {
    b.classList.toggle("is-current", k === state.index);
    b.classList.toggle("is-done", k < state.index);
    b.setAttribute("aria-label", `${t("lesson.stepOf", { k: k + 1, n })}: ${text(state.lesson.steps[k].title)}`);
    b.setAttribute("title", text(state.lesson.steps[k].title));
  });
  const hint = state.view === "toposort" ? (s && s.choose_order ? "lesson.hintChoose" : "lesson.hintTopo")
    : state.view === "graph" ? "lesson.hintGraph" : state.view === "curve" && s && s.sliders ? "lesson.hintCurve" : "lesson.hint";
  setText($("[data-role=key-hint]"), t(hint));
}

// presenting, the chart a step is about (the panel's figure) is moved onto the stage, large,
// with the graph beside it; it goes back to its panel otherwise
const FIGURES = Object.fromEntries(["compare", "train"].map((panel) => {
  const fig = $(`[data-panel-body=${panel}] figure.chart`);
  return [panel, { fig, home: fig.parentElement, next: fig.nextElementSibling }];
}));

/** The panel whose chart is on the stage (presenting a step whose point is a chart), or null. */
function stagedChart(s = step()) {
  const panel = panelOf(s);
  return state.presentation && s && s.chart && FIGURES[panel] ? panel : null;
}

/** A staged chart is drawn at its size on screen (its legend whole, its text large). */
function chartSize(svg, fallback) {
  if (!svg.closest("[data-pane=chart]")) return fallback;
  const r = svg.getBoundingClientRect();
  return r.width > 100 && r.height > 100 ? { w: Math.round(r.width), h: Math.round(r.height), font: 20 } : fallback;
}

function renderStage() {
  const s = step();
  const v = state.view;
  const canvas = v === "graph" || v === "toposort";
  const staged = stagedChart(s);
  const chartPane = $("[data-pane=chart]");
  chartPane.hidden = !staged;
  for (const [panel, f] of Object.entries(FIGURES)) {
    const there = staged === panel ? chartPane : f.home;
    if (f.fig.parentElement !== there) there.insertBefore(f.fig, staged === panel ? null : f.next);
  }
  $("[data-pane=canvas]").hidden = !canvas;
  $("[data-pane=data]").hidden = v !== "data";
  $("[data-pane=curve]").hidden = v !== "curve";
  $("[data-pane=race]").hidden = v !== "race";
  const stage = $("[data-role=stage]");
  stage.setAttribute("data-view", v || "");
  stage.classList.toggle("has-chart", Boolean(staged));
  stage.setAttribute("data-graph-id", state.rec && state.rec.api ? state.rec.api.id : "");
  stage.classList.toggle("is-loading", state.stepState === "loading");
  const rec = state.rec;
  const svg = $("#graph-svg");
  // while the step's graph is being made, not the previous step's drawing
  $("[data-pane=canvas]").classList.toggle("is-empty", v === "graph" ? !(rec && rec.graph) : !topo.source);
  svg.classList.toggle("topo-mode", v === "toposort");
  // a highlighted path is the step's point: the halos of the last step would compete with it
  svg.classList.toggle("has-highlight", v === "graph" && state.highlight.size > 0);
  $("[data-role=kahn]").hidden = v !== "toposort";
  $("[data-role=caption]").hidden = v !== "graph";
  $("[data-role=graph-status]").hidden = v !== "graph";
  $(".canvas .legend").hidden = v !== "graph";
  if (canvas) {
    const room = v === "graph" ? quizRoom(quiz, state.presentation, $("#graph-svg")) : 0;
    const padding = room ? { ...CANVAS_PADDING[v], bottom: Math.max(CANVAS_PADDING[v].bottom, room) } : CANVAS_PADDING[v];
    if (JSON.stringify(view.overlayPadding) !== JSON.stringify(padding)) {
      view.overlayPadding = padding;
      if (view.autoFit) requestAnimationFrame(() => view.fit());
    }
  }
  if (v === "graph" && rec && rec.graph) {
    view.render({ graph: rec.graph, selected: state.selected, lang: state.lang, highlight: state.highlight, reducedMotion: state.reducedMotion });
    renderCaption($("[data-role=caption]"), rec.graph, t);
    renderGraphStatus(rec);
  } else if (v === "toposort") {
    const shown = topo.display();
    if (shown.graph) {
      view.render({ graph: shown.graph, selected: null, lang: state.lang, marks: shown.marks, compact: true, reducedMotion: state.reducedMotion });
      topo.decorate(view);
    }
    topo.renderStrip();
  } else if (v === "data") {
    renderData();
  } else if (v === "curve" && rec && rec.graph && s.curve) {
    curveView.draw({ graph: rec.graph, curve: s.curve, sliders: s.sliders, status: curveStatus(rec, s), key: `${state.index}|${state.lang}|${rec.graph.id}` });
    // a follower's sliders show the teacher's values and move with them
    if (following) for (const { input } of curveView.inputs.values()) input.disabled = true;
    $("[data-chart=curve]").setAttribute("data-version", String(rec.graph.version));
  } else if (v === "race") {
    const key = `${state.lang}|${state.race ? state.race.status : "none"}`;
    const pane = $("[data-pane=race]");
    if (pane.getAttribute("data-key") !== key) {
      pane.setAttribute("data-key", key);
      // a follower runs no race of its own: it shows the teacher's result once the room has it
      if (following && !(state.race && state.race.status === "done")) {
        clear(pane).appendChild(el("p", { class: "race-running", "data-role": "on-teacher" }, el("span", { class: "spinner", "aria-hidden": "true" }), t("room.raceOnTeacher")));
      } else drawRace(pane, state.race, { t, onCopy: copy });
    }
  }
}

function renderGraphStatus(rec) {
  const g = rec.graph;
  const c = g.cursor;
  const phase = $("[data-role=phase]");
  setText(phase, t(`phase.${c.phase}`));
  phase.className = `phase phase--${c.phase}`;
  setText($("[data-role=position]"), `${c.position} / ${c.total}`);
  const open = $("[data-role=open-graph]");
  open.setAttribute("href", `/g/${encodeURIComponent(g.id)}`);
  const bug = $("[data-role=fanout-bug]");
  bug.hidden = !g.fanout_bug;
}

function curveStatus(rec, s) {
  const parts = [];
  const tr = state.training;
  if (s.train && tr) {
    const last = tr.rows[tr.rows.length - 1];
    if (tr.running) parts.push(last ? t("curve.training", { epoch: last.epoch, epochs: tr.epochs, loss: fmtNumber(last.train_loss) }) : t("train.starting"));
    else if (tr.final) parts.push(t("curve.trained", { optimizer: t(`opt.${tr.optimizer}`), epochs: tr.epochs }));
  }
  const out = rec.graph.nodes.find((n) => n.id === rec.graph.output);
  if (out && typeof out.value === "number") parts.push(t("curve.loss", { node: out.label || out.id, loss: fmtNumber(out.value, 4) }));
  return parts.join(" \u00b7 ");
}

function renderData() {
  const d = state.data;
  const pane = $("[data-pane=data]");
  const runs = d && d.compare ? d.compare.runs.map((r) => r.status).join(",") : "";
  const key = d ? `${state.index}|${state.lang}|${d.version}|${runs}` : `${state.index}|none`;
  if (key === state.drawn.data) return;
  store.settle({ drawn: { ...state.drawn, data: key } });
  if (!d || !d.version) {
    clear(pane).appendChild(el("p", { class: "pane-loading", text: t("lesson.loading") }));
    return;
  }
  const opts = { t, chart: d.chart };
  if (d.chart === "table") drawTable(pane, d.view, opts);
  else if (d.chart === "heatmap") drawHeatmap(pane, d.view, opts);
  else if (d.chart === "scatter") drawScatterPlot(pane, d.scatter, opts);
  else if (d.chart === "knn") {
    // k and the query house can be changed: the server's KNN answers, the plot redraws
    const onAnswer = (res) => {
      d.knn = res;
      d.version += 1;
      store.schedule();
    };
    drawScatterPlot(knnPane(pane, d, { t, onAnswer, onError: showError }), d.scatter, { ...opts, knn: d.knn });
  }
  else if (d.chart === "knn_cost") drawKnnCost(pane, d.cost, opts);
  else if (d.chart === "lines") drawScatterPlot(pane, d.scatter, { ...opts, lines: fittedLines(d) });
  // a follower draws the teacher's trainings once the room carries them (followCompare)
  const s = step();
  const status = d.compare ? compareStatus(d.compare) : following && s && s.compare ? t("room.compareOnTeacher") : "";
  if (status) pane.appendChild(el("p", { class: "pane-status", "data-role": "compare-status", text: status }));
}

/** The lines the trainings found (their params, from the API) and the least-squares line. */
function fittedLines(d) {
  const cmp = d.compare;
  const rec = state.rec;
  if (!cmp || !rec) return [];
  const line = rec.graph.nodes.find((n) => n.op === "linear" && n.inputs.length === 3);
  const lines = [];
  cmp.runs.forEach((run) => {
    if (!run.result || !line) return;
    const p = run.result.params || {};
    const slope = p[line.inputs[1]];
    const intercept = p[line.inputs[2]];
    lines.push({ key: run.body.optimizer, slope, intercept,
      label: t("data.fitLine", { name: t(`opt.${run.body.optimizer}`), k: fmtNumber(slope), b: fmtNumber(intercept), mse: fmtNumber(run.result.final.test_loss) }) });
  });
  const ref = cmp.reference;
  if (ref && ref.weights && ref.weights.length === 1) {
    lines.push({ key: "least_squares", slope: ref.weights[0], intercept: ref.bias,
      label: t("data.fitLine", { name: t("compare.leastSquares"), k: fmtNumber(ref.weights[0]), b: fmtNumber(ref.bias), mse: fmtNumber(ref.value) }) });
  }
  return lines;
}

function compareStatus(cmp) {
  const i = cmp.runs.findIndex((r) => r.status !== "done");
  if (i < 0) return "";
  const run = cmp.runs[i];
  const last = run.rows[run.rows.length - 1];
  return t("compare.running", { i: i + 1, n: cmp.runs.length, name: t(`opt.${run.body.optimizer}`), epoch: last ? last.epoch : 0, epochs: run.body.epochs });
}

function panelOf(s) {
  if (state.panelOverride) return state.panelOverride;
  if (!s) return null;
  if (s.panel) return s.panel;
  if (s.view === "graph" && s.chart === "compare") return "compare";
  if (s.view === "toposort" && s.choose_order) return "order";
  return null;
}

function renderPanel() {
  const s = step();
  const panel = panelOf(s);
  // a chart beside the graph needs a wider column; i folds the notes away
  const main = $(".lesson-main");
  main.classList.toggle("wide-notes", ((panel === "compare" || panel === "train") && !stagedChart(s)) || panel === "code");
  main.classList.toggle("notes-hidden", Boolean(state.notesHidden));
  const box = $("[data-role=panel]");
  box.setAttribute("data-panel", panel || "");
  for (const section of $$("[data-panel-body]", box)) section.hidden = section.getAttribute("data-panel-body") !== panel;
  const rec = state.rec;
  if (panel === "inspector" && rec && rec.graph) {
    inspector.render({ graph: rec.graph, selected: state.selected, lang: state.lang, editable: false, ops: state.ops, opsLoaded: state.opsLoaded });
  } else if (panel === "gradcheck") {
    renderGradcheck($("[data-role=gradcheck-result]"), state.gradcheck, rec ? rec.graph : null, t, state.lang);
    setText($("[data-role=gradcheck-status]"), state.gradcheck ? "" : t("check.running"));
  } else if (panel === "code") {
    setText($("[data-role=code]"), (s && s.code) || "");
  } else if (panel === "train") {
    renderTraining(s);
  } else if (panel === "compare") {
    renderCompare();
  } else if (panel === "order") {
    topo.renderOrderBox();
  }
}

function renderTraining(s) {
  const tr = state.training;
  const chart = s && s.chart === "predictions" ? "predictions" : "loss";
  const panel = $("[data-panel-body=train]");
  const status = renderTrainStatus(panel, tr, t, t(tr ? "train.starting" : "train.none"));
  $("[data-role=train-progress]", panel).hidden = !(tr && tr.running);
  status.setAttribute("data-running", tr && tr.running ? "true" : "false");
  const svg = $("#lesson-train-chart");
  const size = chartSize(svg, { w: 440, h: 310, font: 14 });
  const key = `${state.index}|${state.lang}|${tr ? tr.rows.length : -1}|${tr && tr.predictions ? "p" : ""}|${tr && tr.running}|${size.w}x${size.h}`;
  if (key === state.drawn.train) return;
  store.settle({ drawn: { ...state.drawn, train: key } });
  svg.setAttribute("data-chart", chart);
  setText($("[data-role=train-chart-title]"), t(chart === "predictions" ? "chart.scatterTitle" : "chart.lossTitle"));
  if (chart === "predictions") drawScatter(svg, tr && !tr.running ? tr.predictions : null, { t, size });
  else drawLossChart(svg, tr ? tr.rows : [], { epochs: tr ? tr.epochs : 0, t, size });
  renderFinal($("[data-role=train-final]"), tr && !tr.running ? tr.final : null, t);
}

function renderCompare() {
  const cmp = state.compare;
  // the trainings compared run on the teacher's forks: a follower waits for the room to carry them
  setText($("[data-role=compare-status]"), cmp ? compareStatus(cmp) : t(following ? "room.compareOnTeacher" : "lesson.loading"));
  const svg = $("#compare-chart");
  const size = chartSize(svg, { w: 470, h: 330, font: 14 });
  const key = cmp ? `${state.index}|${state.lang}|${cmp.runs.map((r) => `${r.status}:${r.rows.length}`).join(",")}|${Boolean(cmp.reference)}|${size.w}x${size.h}` : "none";
  if (key === state.drawn.compare) return;
  store.settle({ drawn: { ...state.drawn, compare: key } });
  if (!cmp) {
    clear(svg);
    return;
  }
  // the test loss, when every training reports one: then the least-squares test MSE is the reference
  const useTest = cmp.runs.every((r) => !r.rows.length || r.rows.some((row) => finite(row.test_loss)));
  const series = cmp.runs.map((r) => {
    const name = t(`opt.${r.body.optimizer}`);
    const final = r.result ? (useTest ? r.result.final.test_loss : r.result.final.train_loss) : null;
    return {
      key: r.body.optimizer,
      label: r.result ? t("compare.legend", { name, steps: r.result.steps, loss: fmtNumber(final, 4) }) : t("compare.legendRunning", { name }),
      rows: r.rows.map((row) => ({ epoch: row.epoch, value: useTest ? row.test_loss : row.train_loss })),
      attrs: r.result ? { "data-steps": r.result.steps, "data-final": final } : {},
    };
  });
  const reference = useTest && cmp.reference ? { label: t("compare.leastSquares"), value: cmp.reference.value } : null;
  const epochs = Math.max(...cmp.runs.map((r) => r.body.epochs));
  drawSeriesChart(svg, series, { t, epochs, reference, log: true, yLabel: t(useTest ? "compare.testLoss" : "compare.trainLoss"), size });
}

async function copy(textToCopy) {
  try {
    await navigator.clipboard.writeText(textToCopy);
    say.info(t("code.copied"));
  } catch {
    // no clipboard permission: select the code for Ctrl+C
    const code = $("[data-role=code]");
    const range = document.createRange();
    range.selectNodeContents(code);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    say.info(t("code.selectCopy"));
  }
}

// ---- actions: the lesson, the graph's timeline, Kahn's steps -----------------------------------

/** The current step's graph, when the keys may step it (a graph step, not loading). */
function current() {
  if (following) return null; // a follower's keys never move the teacher's cursor
  const rec = state.rec;
  if (!rec || !rec.graph || state.view !== "graph" || state.stepState === "loading") return null;
  return rec.session;
}

function stopPlaying() {
  clearInterval(state.playTimer);
  store.set({ playTimer: null });
}

/** On Kahn's steps `topo`, else the step's graph through its session (if it may step). */
const timeline = (topoAction, graphAction) => () => {
  if (state.view === "toposort") return topoAction ? topo[topoAction]().catch(showError) : null;
  const session = current();
  return session ? graphAction(session) : null;
};

const actions = {
  "next-step": () => go(state.index + 1),
  "prev-step": () => go(state.index - 1),
  next: timeline("next", (session) => session.next()),
  prev: timeline("prev", (session) => session.prev()),
  home: timeline("home", (session) => session.home()),
  end: timeline("end", (session) => session.end()),
  "run-forward": timeline(null, (session) => session.runForward()),
  "run-backward": timeline(null, (session) => session.runBackward()),
  update: timeline(null, (session) =>
    session.update(0.1).then((res) => {
      if (res) say.info(t("update.done", { lr: "0.1" }));
    })),
  async gradcheck() {
    const rec = state.rec;
    if (!rec || !rec.graph || state.view !== "graph") return;
    store.set({ panelOverride: "gradcheck", gradcheck: null });
    try {
      store.set({ gradcheck: await rec.session.gradcheck() });
    } catch (err) {
      showError(err);
    }
  },
  play() {
    if (state.view !== "toposort") return;
    if (state.playTimer) {
      stopPlaying();
      return;
    }
    store.set({
      playTimer: setInterval(() => {
        if (topo.position >= topo.total || state.view !== "toposort") stopPlaying();
        else topo.next().catch(showError);
      }, 900),
    });
  },
  notes() {
    view.autoFit = true;
    store.set({ notesHidden: !state.notesHidden });
  },
  presentation() {
    view.autoFit = true;
    store.set({ presentation: !state.presentation });
  },
  ...viewActions(store, view, inspector, say),
  quiz() {
    return quizKey();
  },
  "copy-code"() {
    const s = step();
    if (s && s.code) copy(s.code);
  },
};

listenKeys(LESSON_KEYS, actions, {
  fromSlider: LESSON_FROM_SLIDER,
  before(ev, slider) {
    if (ev.key === "Escape") {
      if (state.selected) store.set({ selected: null });
      else if (state.panelOverride) store.set({ panelOverride: null });
      else if (state.presentation) store.set({ presentation: false });
      return true;
    }
    if (slider) return false;
    if (/^[1-9]$/.test(ev.key) && state.view === "toposort") {
      ev.preventDefault();
      topo.pickNumber(Number(ev.key)).catch(showError);
      return true;
    }
    // [ ] and, in the drawing, Tab walk the nodes in the server's order
    const onGraph = state.rec && state.view === "graph";
    if (onGraph && walkKey(ev, { order: state.rec.graph.order, selected: state.selected, svg: view.svg, select: (id) => {
      store.set({ selected: id });
      view.ensureVisible(id);
    } })) return true;
    if (ev.key === "]" || ev.key === "[") return true;
    return false;
  },
});

if (following) {
  // read-only: what changes the lesson, the graph or the class's question is the teacher's
  for (const name of ["next-step", "prev-step", "run-forward", "run-backward", "update", "gradcheck", "quiz", "share"]) delete actions[name];
} else {
  actions.share = () => openShare();
  actions["copy-room"] = () => copyRoomLink();
}

listenClicks(actions, (ev) => {
  const dot = ev.target.closest("[data-goto]");
  if (dot && !following) go(Number(dot.getAttribute("data-goto")));
});

// ---- the room: the teacher's side -------------------------------------------------------------

/** Say to the room what the stage shows, when it changed (a step whose graph is being made
 * waits for it, so that followers switch once, to the right graph). */
function tellRoom() {
  if (!roomSender || !state.lesson || state.index < 0) return;
  const s = step();
  const graph = state.rec && state.rec.session ? state.rec.session.id : null;
  if (s.graph && !graph) return;
  const fields = { step: state.index, graph, view: state.view, panel: panelOf(s) || s.chart || null };
  const key = JSON.stringify(fields);
  if (key === roomTold) return;
  roomTold = key;
  roomSender.say(fields);
}

function roomLink() {
  return roomSender && roomSender.path ? `${state.share.base || studentBase}${roomSender.path}` : "";
}

function loadShareInfo() {
  return api.server().then((server) => {
    store.set({ share: { server, base: state.share.base || shareBases(server)[0] } });
    return server;
  }, () => null);
}

function fillShare() {
  const server = state.share.server;
  const bases = shareBases(server);
  if (!bases.includes(state.share.base)) store.set({ share: { server, base: bases[0] } });
  const select = $("#room-base");
  select.replaceChildren(...bases.map((b) => el("option", { value: b, text: b, selected: b === state.share.base })));
  $("[data-role=room-address]").hidden = bases.length < 2;
  const warning = $("[data-role=room-warning]");
  const parts = shareWarning(server, t);
  warning.hidden = !parts;
  warning.replaceChildren(...(parts || []));
  const link = roomLink();
  $("#room-link").value = link || (roomSender && roomSender.error) || t("lesson.loading");
  const qr = $("#room-qr");
  qr.hidden = !link;
  if (link && qr.getAttribute("data-link") !== link) {
    qr.setAttribute("data-link", link);
    qr.src = api.qrUrl(link);
  }
  qr.alt = t("room.qrAlt");
}

async function openShare() {
  const dialog = $("#room-dialog");
  fillShare();
  if (!dialog.open) dialog.showModal();
  await Promise.all([roomSender ? roomSender.ready : null, state.share.server ? null : loadShareInfo()]);
  if (dialog.open) fillShare();
}

$("#room-base").addEventListener("change", (event) => {
  store.set({ share: { ...state.share, base: event.target.value } });
  fillShare();
});

async function copyRoomLink() {
  const link = roomLink();
  if (!link) return;
  try {
    await navigator.clipboard.writeText(link);
    say.info(t("share.copied"));
  } catch {
    const input = $("#room-link");
    input.focus();
    input.select();
    say.info(t("share.selectCopy"));
  }
}

// ---- the room: a follower's side ---------------------------------------------------------------

function renderRoom() {
  const badge = $("[data-role=room-badge]");
  badge.hidden = !following;
  if (!following) return;
  setText(badge, t(state.live === "live" ? "room.following" : state.live === "offline" ? "room.offline" : "room.connecting"));
  badge.setAttribute("data-live", state.live || "");
  root.setAttribute("data-room-version", state.room ? String(state.room.version) : "0");
}

/** The teacher's graph, read-only: loaded by id, following its events (a graph off the stage
 * stops following and catches up from the state sent when it is shown again). */
async function followedRecord(graphId) {
  const records = state.records;
  const key = `graph:${graphId}`;
  if (!records.has(key)) {
    const rec = {
      key, session: null, order: [], trained: new Map(), compares: new Map(), lastTraining: null,
      get graph() {
        return this.session ? this.session.graph : null;
      },
      get api() {
        return this.session.api;
      },
    };
    rec.session = new GraphSession(graphId, null, {
      onChange: (g) => {
        if (state.rec === rec && state.view === "toposort") topo.setGraph(g);
        if (state.rec === rec) quiz.stepped(g);
        store.schedule();
      },
      onError: showError,
    });
    rec.ready = rec.session.load().then(() => rec);
    rec.ready.catch(() => records.delete(key));
    records.set(key, rec);
  }
  const rec = await records.get(key).ready;
  for (const other of records.values()) {
    if (other !== rec && other.source) {
      other.source.close();
      other.source = null;
    }
  }
  if (!rec.source) {
    rec.source = rec.session.connect({
      onQuiz: (v) => quiz.take(v),
      onFocus: (f) => {
        if (state.rec === rec) focusFollower.take(f);
      },
      onProgress: (row) => followProgress(rec, row),
    });
  }
  return rec;
}

/** The teacher trains the graph on the stage: each epoch as it comes. */
function followProgress(rec, row) {
  if (state.rec !== rec || !row || typeof row.epoch !== "number") return;
  const tr = state.training && state.training.running ? state.training : { running: true, rows: [], epochs: row.epochs || 0, final: null, predictions: null, optimizer: row.optimizer || "sgd", steps: null };
  if (row.epoch === 1) tr.rows = [];
  tr.rows.push(row);
  if (row.epochs) tr.epochs = row.epochs;
  store.set({ training: tr });
  if (tr.epochs && row.epoch >= tr.epochs) setTimeout(() => followTraining(rec, () => state.rec === rec), 300);
}

/** The graph's last training (a read), for a step that charts it. */
async function followTraining(rec, alive) {
  try {
    const res = await rec.api.get("/train");
    if (!alive()) return;
    store.set({ training: { running: false, rows: historyRows(res.history), epochs: res.epochs, final: res.final, predictions: res.predictions, optimizer: res.optimizer, steps: res.steps } });
  } catch {
    /* not trained yet: the chart says so */
  }
}

/** What a follower shows at a step besides the teacher's graph: reads only. */
async function followStep(s, i, rec, alive, room) {
  if (s.view === "data") {
    // the charts of the data are reads; trainings on forks are the teacher's
    await dataStep({ ...s, compare: null }, i, rec, alive);
  } else if (s.view === "toposort") {
    await toposortStep({ ...s, choose_order: false }, rec, alive);
  } else if (s.view === "race") {
    // the teacher's race result, when the room carries it (takeRoom draws it when it comes)
    if (alive()) store.set({ race: room.race ? { status: "done", result: room.race } : { status: "teacher" } });
  } else if (rec && (s.panel === "train" || s.chart === "loss" || s.chart === "predictions" || s.train)) {
    await followTraining(rec, alive);
  }
  if (alive()) followCompare(room, i);
  if (rec && room.panel === "gradcheck" && s.view === "graph") {
    const report = await rec.api.gradcheck();
    if (alive()) store.set({ gradcheck: { ...report, at: Date.now() } });
  }
}

/** The panel the room names, when it is not the step's own (the teacher pressed g). */
function overrideOf(room, s) {
  const own = panelOf({ ...s }) || s.chart || null;
  return room.panel && room.panel !== own && room.panel === "gradcheck" ? "gradcheck" : null;
}

/** Show the room's step: its notes, its view, the teacher's graph. */
async function goFollow(room) {
  const steps = state.lesson.steps;
  const i = Math.min(Math.max(Number(room.step) || 0, 0), steps.length - 1);
  const s = steps[i];
  const my = state.entry + 1;
  const alive = () => my === state.entry;
  // on the same graph the card stays: the server closes the question of the step left (an
  // `event: quiz` says so), and one opened at the new step may be heard before this room event
  const sameGraph = Boolean(state.rec && state.rec.session && state.rec.session.id === room.graph);
  store.set({
    entry: my,
    index: i, view: room.view || s.view, stepState: "loading", selected: s.select || null, highlight: new Set(s.highlight || []),
    panelOverride: overrideOf(room, s), rec: null, training: null, compare: null, gradcheck: null, data: null,
    race: room.race ? { status: "done", result: room.race } : null, message: null,
  });
  if (!sameGraph) quiz.reset();
  topo.clear();
  curveView.reset();
  view.autoFit = true;
  try {
    const rec = room.graph ? await followedRecord(room.graph) : null;
    if (!alive()) return;
    store.set({ rec });
    await followStep(s, i, rec, alive, room);
    if (!alive()) return;
    store.set({ stepState: "ready" });
  } catch (err) {
    if (!alive()) return;
    store.set({ stepState: "error" });
    showError(err);
  }
}

/** An `event: room` (or the room read on connecting). */
function takeRoom(room) {
  if (!room || !state.lesson || room.lesson !== state.lesson.id) return;
  if (state.room && room.version < state.room.version) return; // old news
  const before = state.room;
  store.set({ room });
  const moved = !before || before.step !== room.step || before.graph !== room.graph || state.index < 0;
  if (moved || before.view !== room.view) {
    goFollow(room);
    return;
  }
  if (room.race && JSON.stringify(room.race) !== JSON.stringify(before.race || null)) store.set({ race: { status: "done", result: room.race } });
  if (room.compare && JSON.stringify(room.compare) !== JSON.stringify(before.compare || null)) followCompare(room, state.index);
  if (before.panel !== room.panel) {
    const s = step();
    store.set({ panelOverride: overrideOf(room, s) });
    if (state.panelOverride === "gradcheck" && state.rec) {
      state.rec.api.gradcheck().then((report) => store.set({ gradcheck: { ...report, at: Date.now() } }), showError);
    }
  }
}

// ---- start -----------------------------------------------------------------------------------

async function start() {
  applyI18n(document);
  installThemeToggle();
  store.set({});
  if (following && !lessonId) {
    root.setAttribute("data-ready", "error");
    store.set({ loadError: t("room.notFound") });
    return;
  }
  try {
    const [lesson, ops, examples] = await Promise.all([api.lesson(lessonId), api.ops().catch(() => []), api.examples().catch(() => [])]);
    store.set({
      lesson, ops: Object.fromEntries((ops || []).map((op) => [op.name, op])), opsLoaded: true,
      examples: new Map((examples || []).map((ex) => [ex.id, ex])),
    });
  } catch (err) {
    const loadError = err instanceof ApiError && err.status === 404 ? t("lesson.notFound", { id: lessonId }) : detailMessage(err.message);
    root.setAttribute("data-ready", "error");
    store.set({ loadError });
    return;
  }
  root.setAttribute("data-ready", "true");
  if (following) {
    followRoom(roomId, {
      onRoom: takeRoom,
      onLive: (live) => {
        store.set({ live });
        // back from a lost connection: the room as it is now (the stream sends it too)
        if (live === "live" && state.room) readRoom(roomId).then(takeRoom, () => {});
      },
    });
    return;
  }
  roomSender = new RoomSender(lessonId);
  roomSender.ready.then(() => {
    tellRoom();
    quiz.render();
  });
  loadShareInfo();
  const m = /^#step-(\d+)$/.exec(location.hash);
  const first = m ? Math.min(Math.max(Number(m[1]) - 1, 0), state.lesson.steps.length - 1) : 0;
  go(first);
}

window.stepgrad = { state, store, view, actions, render: () => store.flush(), topo, quiz, focusSender, focusFollower, room: () => roomSender };
start();
