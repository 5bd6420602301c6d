// One graph as a page holds it: the REST calls on it, one serial queue, and the state the
// server last said, kept current from whole states and from patches (contract v1.1 in
// DESIGN.md). The graph page and the lesson page both compose it; neither talks to a graph's
// endpoints any other way.
//
// A change asks for `?return=patch`: the answer is O(what the step touched), so a step costs
// the same at 7 nodes and at 10,000. A patch applies only to the version it was made from
// (`base_version`); any other is a gap (a missed event, answers crossing), closed by asking
// `GET ?since=<held version>`, which answers a patch or a whole state. The follow connection
// streams patches too (`events?format=patch`).
//
// `onChange(graph, touched)` hears every new state: `touched` lists the nodes and edges a
// patch changed (null for a whole state), so that the drawing updates only those.

import { ApiError, GraphApi } from "./api.js";
import { wantsFullValues } from "./graphparts.js";
import { applyPatch, indexOf, isPatch } from "./patch.js";

const QUEUE_MAX = 3; // a held key queues a few steps, not a flood

export class GraphSession {
  /** `onError(err)` hears what failed in act(); `onDenied()` hears a refused edit token. */
  constructor(id, token, { onChange = () => {}, onError = () => {}, onDenied = () => {}, onBusy = () => {} } = {}) {
    this.api = new GraphApi(id, token);
    this.graph = null;
    this.index = null;
    this.onChange = onChange;
    this.onError = onError;
    this.onDenied = onDenied;
    this.onBusy = onBusy;
    this.queue = Promise.resolve();
    this.queued = 0;
    this.fullJob = null;
    this.source = null;
  }

  get id() {
    return this.api.id;
  }

  // ---- applying what the server says ------------------------------------------------------

  /** Take an answer: a whole state, a patch, or a body holding one under `state`. */
  async apply(body) {
    if (!body || typeof body !== "object") return this.graph;
    if (!body.nodes && !isPatch(body) && body.state) return this.apply(body.state);
    if (isPatch(body)) return this.applyPatchBody(body);
    if (body.nodes) return this.applyState(body, false);
    return this.graph;
  }

  async applyPatchBody(patch) {
    const cur = this.graph;
    if (!cur || patch.id !== cur.id || patch.version <= cur.version) return cur; // old news
    if (patch.base_version !== cur.version) return this.catchUp();
    const done = applyPatch(cur, patch, this.index);
    if (!done) return this.reload();
    if (wantsFullValues(done.graph)) return this.fetchFull(done.graph);
    this.graph = done.graph;
    this.onChange(this.graph, done.touched);
    return this.graph;
  }

  async applyState(g, whole) {
    const cur = this.graph;
    if (cur && cur.id === g.id && g.version < cur.version) return cur; // stale
    // the same version again (this page's own change echoed): nothing new, unless it brings
    // the events of the change that a GET does not carry
    if (cur && cur.id === g.id && g.version === cur.version && !whole && !(g.events || []).length) return cur;
    if (!whole && wantsFullValues(g)) return this.fetchFull(g);
    this.graph = g;
    this.index = indexOf(g);
    this.onChange(g, null);
    return g;
  }

  /** The changes since the held version (a patch, or the whole state when too old). */
  async catchUp() {
    try {
      const held = this.graph.version;
      const body = await this.api.get(`?since=${held}`);
      if (isPatch(body) && body.base_version !== held) return this.reload();
      if (isPatch(body)) return this.applyPatchBody(body);
      return this.applyState(body, true);
    } catch {
      return this.reload();
    }
  }

  async reload() {
    return this.applyState(await this.api.state(), true);
  }

  /** Draw once the whole tensors are here (no flicker from summary to heatmap). Several calls
   * while one fetch runs share it. */
  fetchFull(g) {
    if (this.fullJob) {
      this.fullJob.latest = g;
      return this.fullJob.done;
    }
    const job = { latest: g };
    this.fullJob = job;
    job.done = this.api
      .state(true)
      .then((full) => {
        this.fullJob = null;
        // a GET carries no events: keep those of the change that produced this version
        if (full.version === job.latest.version) full.events = job.latest.events;
        if (full.version >= job.latest.version) return this.applyState(full, true);
        return this.fetchFull(job.latest);
      })
      .catch(() => {
        this.fullJob = null;
        return this.applyState(job.latest, true);
      });
    return job.done;
  }

  // ---- the queue ---------------------------------------------------------------------------

  /** Run `fn(graph)` after every call queued before it and apply the state it returns
   * (unless `take` is false: a report, not a state); errors reject. */
  run(fn, take = true) {
    const job = this.queue.then(async () => {
      const res = await fn(this.graph);
      if (take) await this.apply(res);
      return res;
    });
    this.queue = job.catch(() => null);
    return job;
  }

  /** A user's action: dropped when a few are already waiting, errors reported, not thrown. */
  act(fn) {
    if (this.queued > QUEUE_MAX) return Promise.resolve(null);
    this.queued += 1;
    this.onBusy(true);
    return this.run(fn)
      .catch((err) => {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          this.api.token = null;
          this.onDenied(err);
        }
        this.onError(err);
        return null;
      })
      .finally(() => {
        this.queued -= 1;
        this.onBusy(this.busy);
      });
  }

  get busy() {
    return this.queued > 0;
  }

  // ---- what a page does with a graph ------------------------------------------------------

  load() {
    return this.run(() => this.api.state());
  }

  next() {
    return this.act((g) => {
      const c = g.cursor;
      if (c.position >= c.total) return null;
      return c.position < g.order.length ? this.api.forward(1, true) : this.api.backward(1, true);
    });
  }

  prev() {
    return this.act((g) => (g.cursor.position > 0 ? this.api.seek(g.cursor.position - 1, true) : null));
  }

  seek(position) {
    return this.act((g) => (g.cursor.position !== position ? this.api.seek(position, true) : null));
  }

  home() {
    return this.act(() => this.api.seek(0, true));
  }

  end() {
    return this.act((g) => this.api.seek(g.cursor.total, true));
  }

  runForward() {
    return this.act((g) => (g.cursor.position < g.order.length ? this.api.forward("all", true) : null));
  }

  runBackward() {
    return this.act(async (g) => {
      if (g.cursor.position < g.order.length) await this.apply(await this.api.forward("all", true));
      const c = this.graph.cursor;
      return c.position < c.total ? this.api.backward("all", true) : null;
    });
  }

  reset() {
    return this.act(() => this.api.reset(true));
  }

  update(learningRate) {
    return this.act(() => this.api.update(learningRate, true));
  }

  setValues(values) {
    return this.run(() => this.api.setValues(values, true));
  }

  setOptions(options) {
    return this.run(() => this.api.setOptions(options));
  }

  gradcheck() {
    return this.run(() => this.api.gradcheck(), false).then((report) => ({ ...report, at: Date.now() }));
  }

  /** POST /train; with `onRow`, listening to the graph's events for each epoch's progress
   * (a page that follows the graph hears them on its own connection). */
  train(body, onRow = null) {
    return this.run(() => (onRow ? trainWithProgress(this.api, body, onRow) : this.api.train(body, true)));
  }

  lastTraining() {
    return this.api.get("/train");
  }

  // ---- following the graph live ------------------------------------------------------------

  /** Server-sent events: every change as a patch, the whole state on connect and resync;
   * also the class quiz (`onQuiz`) and the teacher's focus (`onFocus`), on connect and as they change. */
  connect({ onLive = () => {}, onProgress = () => {}, onQuiz = () => {}, onFocus = () => {} } = {}) {
    const source = new EventSource(`${this.api.eventsUrl()}?format=patch`);
    this.source = source;
    const take = onJson((body) => this.apply(body)); // a malformed event: the next one resyncs
    source.addEventListener("open", () => onLive("live"));
    source.addEventListener("state", take);
    source.addEventListener("patch", take);
    source.addEventListener("progress", onJson(onProgress));
    source.addEventListener("quiz", onJson(onQuiz));
    source.addEventListener("focus", onJson(onFocus));
    source.addEventListener("error", () => onLive(source.readyState === EventSource.CLOSED ? "offline" : "connecting"));
    return source;
  }
}

/** An event listener handing on the event's JSON body; a body that does not parse is dropped. */
function onJson(fn) {
  return (ev) => {
    let body;
    try {
      body = JSON.parse(ev.data);
    } catch {
      return;
    }
    fn(body);
  };
}

/** POST /train while listening to the graph's events for the progress of every epoch. */
function trainWithProgress(graphApi, body, onRow) {
  return new Promise((resolve, reject) => {
    let source = null;
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      graphApi.train(body, true).then(resolve, reject).finally(() => source && source.close());
    };
    try {
      source = new EventSource(graphApi.eventsUrl());
      source.addEventListener("open", start);
      source.addEventListener("error", start);
      // a malformed event is dropped: the final history replaces the rows anyway
      source.addEventListener("progress", onJson(onRow));
    } catch {
      start();
    }
    setTimeout(start, 1500);
  });
}
