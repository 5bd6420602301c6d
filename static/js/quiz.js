// The class quiz (contract v1.1): a card over the drawing. The teacher opens a question on a
// scalar node ("what will the gradient of k be?"), sees the number of answers live, then
// reveals the truth with a histogram of the answers; each follower types a number and sends
// it, and may change it until the reveal. The server holds the question and computes the
// truth and the histogram; this module only draws what it says.
//
// One browser answers once per question: it keeps a random id in localStorage and sends it
// with every answer, so a second answer replaces the first.

import { api as rest, request } from "./api.js";
import { clear, el, setText, svgEl } from "./dom.js";
import { fmtNumber } from "./format.js";

const CLIENT_KEY = "stepgrad:client";

/** This browser's random id (kept in localStorage; a fresh one per page if storage is off). */
export function clientId() {
  let id = null;
  try {
    id = localStorage.getItem(CLIENT_KEY);
  } catch {
    /* no storage */
  }
  if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    try {
      localStorage.setItem(CLIENT_KEY, id);
    } catch {
      /* the id lasts as long as the page */
    }
  }
  return id;
}

/** Presenting, the px the open quiz card takes from the bottom of `box` (it sits at the bottom
 * left, large: quiz.css), so that the drawing keeps clear of it; 0 when it takes none. */
export function quizRoom(quiz, presenting, box) {
  if (!presenting || !quiz.card || quiz.card.hidden || quiz.compact) return 0;
  const c = quiz.card.getBoundingClientRect();
  const b = box.getBoundingClientRect();
  return c.height ? Math.max(0, Math.round(b.bottom - c.top + 16)) : 0;
}

/** Which question to ask about a node now: its value until forward computed it, then its
 * gradient until backward put one on it; null when both are on screen. */
export function quantityFor(graph, nodeId) {
  const node = graph && graph.nodes.find((n) => n.id === nodeId);
  if (!node) return null;
  if (node.value === null || node.value === undefined) return "value";
  if (node.grad === null || node.grad === undefined) return "grad";
  return null;
}

export class QuizCard {
  /**
   * `host`: where the card goes (over the drawing). `api()`: the current graph's GraphApi
   * (its token makes this page the teacher's). `label(id)`: a node's label.
   * `studentLink()`: the view link students answer at (shown to the teacher), or null.
   * `answerToo`: the teacher's card has the answer field too (a learner alone on a lesson).
   * `autofocus`: the answer field takes the keyboard when a question appears (a follower's
   * page, whose keys step nothing).
   */
  constructor(host, { t, api, label = (id) => id, studentLink = () => null, onError = () => {}, onInfo = () => {},
    answerToo = false, autofocus = true, onShow = () => {}, linkWarning = () => null }) {
    this.linkWarning = linkWarning;
    this.onShow = onShow;
    this.answerToo = answerToo;
    this.autofocus = autofocus;
    this.t = t;
    this.api = api;
    this.label = label;
    this.studentLink = studentLink;
    this.onError = onError;
    this.onInfo = onInfo;
    this.quiz = null; // the server's view of the question
    this.mine = new Map(); // quiz id -> the answer this browser sent
    this.dismissed = new Set(); // quiz ids a follower put away
    this.sending = false;
    this.epoch = 0; // counts resets: an answer to a call made before one is not shown
    this.compact = false; // shrunk to its answer line once the step showed the number
    this.card = el("section", { class: "quiz-card", "data-role": "quiz", "aria-live": "polite", hidden: true });
    this.card.addEventListener("click", (ev) => {
      if (this.compact && !ev.target.closest("button")) {
        this.compact = false;
        this.render();
        this.onShow(true);
      }
    });
    host.appendChild(this.card);
    // the card grows (the answers revealed) and shrinks: the drawing keeps clear of it again
    if (window.ResizeObserver) {
      let last = "";
      new ResizeObserver(([entry]) => {
        const size = `${Math.round(entry.contentRect.width)}x${Math.round(entry.contentRect.height)}`;
        if (size !== last && !this.card.hidden) this.onShow(true);
        last = size;
      }).observe(this.card);
    }
    this.key = null;
  }

  get teacher() {
    const a = this.api();
    return Boolean(a && a.token);
  }

  /** A question as the server sent it (event or answer); for another graph, ignored. */
  take(view) {
    const a = this.api();
    if (!view || (a && view.graph_id && view.graph_id !== a.id)) return;
    if (this.quiz && view.quiz_id === this.quiz.quiz_id && view.status === "open" && this.quiz.status === "revealed") return;
    if (!this.quiz || view.quiz_id !== this.quiz.quiz_id) this.compact = false;
    this.quiz = view.status === "none" || view.status === "closed" ? null : view;
    this.render();
  }

  /** The graph's timeline moved: once the revealed quantity is on screen, the card shrinks
   * to its answer line so that the drawing shows the number where it belongs. */
  stepped(graph) {
    const q = this.quiz;
    if (!q || q.status !== "revealed" || this.compact) return;
    const node = graph && graph.nodes.find((n) => n.id === q.node);
    const shown = node && (q.quantity === "value" ? node.value : node.grad);
    if (shown !== null && shown !== undefined) {
      this.compact = true;
      this.render();
      this.onShow(true);
    }
  }

  /** Forget the question (the page moved to another graph). */
  reset() {
    this.quiz = null;
    this.epoch += 1; // an answer to a call made before belongs to a step left
    this.render();
  }

  get status() {
    return this.quiz ? this.quiz.status : "none";
  }

  // ---- the teacher's calls -------------------------------------------------------------------

  async open(node, quantity) {
    const a = this.api();
    if (!a || !a.token) return null;
    const epoch = this.epoch;
    try {
      const view = await a.post("/quiz", { node, quantity });
      if (epoch !== this.epoch) return null;
      this.take(view);
      return view;
    } catch (err) {
      this.onError(err);
      return null;
    }
  }

  async reveal() {
    const a = this.api();
    if (!a || !a.token || !this.quiz) return;
    try {
      this.take(await a.post("/quiz/reveal"));
    } catch (err) {
      this.onError(err);
    }
  }

  async close() {
    const a = this.api();
    if (this.quiz && !this.teacher) {
      this.dismissed.add(this.quiz.quiz_id);
      this.render();
      return;
    }
    if (!a || !a.token) return;
    this.quiz = null;
    this.render();
    try {
      await request("DELETE", `${a.base}/quiz`, { token: a.token });
    } catch {
      /* the next question replaces it anyway */
    }
  }

  /** The teacher's one key: open a question on `node` / reveal the open one / put it away. */
  keyPress(node, quantity) {
    if (this.status === "open") return this.reveal();
    if (this.status === "revealed") return this.close();
    if (!node || !quantity) return null;
    return this.open(node, quantity);
  }

  // ---- a follower's answer -------------------------------------------------------------------

  async submit() {
    const q = this.quiz;
    const a = this.api();
    if (!q || q.status !== "open" || !a || this.sending) return;
    const input = this.card.querySelector("[data-role=quiz-answer]");
    const raw = input.value.trim().replace(/[\u2212\u2013]/g, "-").replace(/,/g, ".");
    const value = Number(raw);
    if (!raw || !Number.isFinite(value)) {
      this.showError(this.t("quiz.notNumber"));
      input.focus();
      return;
    }
    const nameInput = this.card.querySelector("[data-role=quiz-name]");
    const name = nameInput.value.trim().slice(0, 40);
    const body = { quiz_id: q.quiz_id, answer: value, client: clientId() };
    if (name) body.name = name;
    this.sending = true;
    try {
      // answering takes no token: anyone who sees the question may answer (one per browser)
      const data = await request("POST", `${a.base}/quiz/answers`, { body });
      this.mine.set(q.quiz_id, value);
      if (this.quiz && this.quiz.quiz_id === q.quiz_id && typeof data.answers === "number") {
        this.quiz = { ...this.quiz, answers: Math.max(this.quiz.answers || 0, data.answers) };
      }
      this.showError("");
      this.key = null;
      this.render();
    } catch (err) {
      this.showError(err.message || String(err));
    } finally {
      this.sending = false;
    }
  }

  showError(text) {
    const box = this.card.querySelector("[data-role=quiz-error]");
    if (box) {
      setText(box, text);
      box.hidden = !text;
    }
  }

  // ---- drawing ---------------------------------------------------------------------------------

  question() {
    const q = this.quiz;
    return this.t(q.quantity === "grad" ? "quiz.askGrad" : "quiz.askValue", { node: this.label(q.node) });
  }

  render() {
    const q = this.quiz;
    const card = this.card;
    const hidden = !q || (!this.teacher && this.dismissed.has(q.quiz_id));
    if (card.hidden !== hidden) {
      card.hidden = hidden;
      this.onShow(!hidden);
    }
    // a page wider than a phone's screen (a wide table, a long name) must not push the
    // answer field and its button off the screen: the card keeps to what is visible
    const vv = window.visualViewport;
    card.style.maxWidth = vv && vv.width < 600 ? `${Math.floor(vv.width) - 16}px` : "";
    card.classList.toggle("quiz-card--teacher", this.teacher);
    if (hidden) {
      this.key = null;
      return;
    }
    card.setAttribute("data-status", q.status);
    card.classList.toggle("quiz-card--compact", this.compact);
    const mine = this.mine.get(q.quiz_id);
    const key = JSON.stringify([q.quiz_id, q.status, this.teacher, this.t("quiz.answer"), mine, q.status === "revealed" ? q.truth : null,
      this.teacher ? this.studentLink() : null]);
    if (key !== this.key) {
      this.key = key;
      this.build(q, mine);
    }
    const count = card.querySelector("[data-role=quiz-count]");
    if (count) setText(count, this.t(q.answers === 1 ? "quiz.oneAnswer" : "quiz.answers", { n: q.answers || 0 }));
  }

  build(q, mine) {
    const t = this.t;
    const card = clear(this.card);
    const head = el("div", { class: "quiz-head" },
      el("span", { class: "quiz-badge", text: t(q.status === "revealed" ? "quiz.revealed" : "quiz.badge") }),
      el("span", { class: "quiz-count num", "data-role": "quiz-count" }),
      el("button", { type: "button", class: "btn btn--small quiz-close", "data-quiz": "close", text: t("quiz.close"),
        on: { click: () => this.close() } }));
    card.append(head, el("p", { class: "quiz-question", "data-role": "quiz-question", text: this.question() }));
    if (q.status === "open" && (!this.teacher || this.answerToo)) {
      const form = el("form", { class: "quiz-form", on: { submit: (ev) => { ev.preventDefault(); this.submit(); } } },
        el("input", { type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false", class: "quiz-input num",
          "data-role": "quiz-answer", "aria-label": t("quiz.yourAnswer"), placeholder: t("quiz.placeholder") }),
        el("input", { type: "text", maxlength: "40", autocomplete: "nickname", class: "quiz-name",
          "data-role": "quiz-name", "aria-label": t("quiz.name"), placeholder: t("quiz.name") }),
        el("button", { type: "submit", class: "btn btn--primary", "data-quiz": "submit", text: t(mine === undefined ? "quiz.answer" : "quiz.change") }));
      card.append(form);
      card.append(el("p", { class: "quiz-error", "data-role": "quiz-error", role: "alert", hidden: true }));
      if (mine !== undefined) card.append(el("p", { class: "quiz-mine", "data-role": "quiz-mine", text: t("quiz.sent", { answer: fmtNumber(mine) }) }));
      const input = form.querySelector("input");
      if (mine !== undefined) input.value = String(mine);
      // keyboard first: the number field takes the focus when the question appears
      if (mine === undefined && this.autofocus) requestAnimationFrame(() => input.focus({ preventScroll: true }));
    }
    if (q.status === "open" && this.teacher) {
      const link = this.studentLink();
      // phones join by scanning the code on the projector
      if (link) {
        card.append(el("div", { class: "quiz-join" },
          el("img", { class: "quiz-qr", src: rest.qrUrl(link), width: "104", height: "104", alt: t("quiz.qrAlt"), "data-role": "quiz-qr" }),
          el("p", { class: "quiz-link small" }, t("quiz.answerAt"), " ", el("a", { href: link, target: "_blank", rel: "noopener", text: link }))));
        // the Share dialog's warning when students cannot open the link (this computer only)
        const warning = this.linkWarning();
        if (warning) card.append(el("p", { class: "share-warning quiz-warning", "data-role": "quiz-warning", role: "alert" }, ...warning));
      }
      card.append(el("div", { class: "quiz-actions" },
        el("button", { type: "button", class: "btn btn--primary", "data-quiz": "reveal", title: t("quiz.revealKey"), text: t("quiz.reveal"),
          on: { click: () => this.reveal() } })));
    } else if (q.status === "revealed") {
      this.buildResults(card, q, mine);
    }
  }

  buildResults(card, q, mine) {
    const t = this.t;
    const truth = typeof q.truth === "number" ? q.truth : Number(q.truth);
    card.append(el("p", { class: "quiz-truth", "data-role": "quiz-truth" },
      t("quiz.truth"), " ", el("strong", { class: "num", text: fmtNumber(truth) })));
    const n = q.answers || 0;
    card.append(el("p", { class: "quiz-share", "data-role": "quiz-share",
      text: n ? t("quiz.share", { right: q.within_1pct, n, pct: Math.round((q.share_within_1pct || 0) * 100) }) : t("quiz.noAnswers") }));
    if (mine !== undefined) {
      const right = Math.abs(mine - truth) <= Math.max(0.01 * Math.abs(truth), 1e-12);
      card.append(el("p", { class: `quiz-mine ${right ? "is-right" : ""}`, "data-role": "quiz-mine",
        text: t(right ? "quiz.mineRight" : "quiz.mineOff", { answer: fmtNumber(mine) }) }));
    }
    if (q.histogram && n) card.append(drawHistogram(q.histogram, truth, mine, t));
  }
}

/** Bars of the answers per bin, the truth as a line, this browser's answer as a dot. */
export function drawHistogram(h, truth, mine, t) {
  const W = 420;
  const H = 150;
  const pad = { l: 30, r: 10, t: 22, b: 34 };
  const extra = (h.below ? 1 : 0) + (h.above ? 1 : 0);
  const bins = h.counts.length + extra;
  const bw = (W - pad.l - pad.r) / bins;
  const max = Math.max(1, ...h.counts, h.below, h.above);
  const svg = svgEl("svg", { class: "quiz-hist", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("quiz.histogram"), "data-role": "quiz-hist" });
  const y = (c) => H - pad.b - (c / max) * (H - pad.t - pad.b);
  let x0 = pad.l;
  const bar = (count, cls, label) => {
    const g = svgEl("g", { class: `quiz-bar ${cls}`, "data-count": String(count) },
      svgEl("rect", { x: (x0 + 1).toFixed(1), y: y(count).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: (H - pad.b - y(count)).toFixed(1) }),
      svgEl("title", { text: `${label}: ${count}` }));
    if (count) g.append(svgEl("text", { x: (x0 + bw / 2).toFixed(1), y: (y(count) - 3).toFixed(1), "text-anchor": "middle", class: "quiz-bar-n", text: String(count) }));
    svg.append(g);
    x0 += bw;
  };
  const edges = h.edges;
  if (h.below) bar(h.below, "quiz-bar--out", `< ${fmtNumber(edges[0])}`);
  const first = x0;
  h.counts.forEach((c, i) => bar(c, "", `${fmtNumber(edges[i])} \u2013 ${fmtNumber(edges[i + 1])}`));
  const last = x0;
  if (h.above) bar(h.above, "quiz-bar--out", `\u2265 ${fmtNumber(edges[edges.length - 1])}`);
  const span = edges[edges.length - 1] - edges[0];
  const xOf = (v) => first + ((v - edges[0]) / span) * (last - first);
  svg.append(svgEl("line", { class: "quiz-axis", x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b }));
  // a few edge labels: the first, the last and the middle one
  const picks = [...new Set([0, Math.floor((edges.length - 1) / 2), edges.length - 1])];
  for (const i of picks) {
    // the end labels lie inside the chart, so that the card's edge does not cut them
    const anchor = i === 0 ? "start" : i === edges.length - 1 ? "end" : "middle";
    svg.append(svgEl("text", { class: "quiz-tick", x: xOf(edges[i]).toFixed(1), y: H - pad.b + 16, "text-anchor": anchor, text: fmtNumber(edges[i]) }));
  }
  if (Number.isFinite(truth)) {
    const tx = xOf(truth);
    svg.append(svgEl("line", { class: "quiz-truth-line", "data-role": "quiz-truth-line", x1: tx.toFixed(1), x2: tx.toFixed(1), y1: pad.t - 6, y2: H - pad.b }));
  }
  if (mine !== undefined && mine >= edges[0] && mine < edges[edges.length - 1]) {
    svg.append(svgEl("circle", { class: "quiz-mine-dot", cx: xOf(mine).toFixed(1), cy: H - pad.b, r: 5 }));
  }
  return svg;
}
