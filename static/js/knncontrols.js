// Controls for the lesson's KNN view: the number of neighbours k and the query house's
// feature, as sliders (arrows move them, touch drags them). Each change asks the server's
// KNN (POST /api/datasets/{name}/knn) and the plot redraws from its answer; the page
// computes nothing.
//
// The controls sit beside the plot in the data pane and survive its redraws (a slider being
// dragged keeps the pointer and the focus); only the plot box is drawn again.

import { api } from "./api.js";
import { clear, el, setText } from "./dom.js";
import { fmtNumber } from "./format.js";

const K_MAX = 25;
const WAIT = 120; // ms: a drag asks the server at most this often

/** The pane's controls and plot box for `d` (the step's data state), built once per step. */
export function knnPane(pane, d, { t, onAnswer, onError }) {
  if (!d.knnUi || d.knnUi.pane !== pane || !pane.contains(d.knnUi.plot)) {
    d.knnUi = buildControls(pane, d, { onAnswer, onError });
  }
  d.knnUi.relabel(t);
  return d.knnUi.plot;
}

function buildControls(pane, d, { onAnswer, onError }) {
  const knn = d.knn;
  const xs = d.scatter.x.filter((v) => Number.isFinite(v));
  const lo = Math.floor(Math.min(...xs) * 10) / 10;
  const hi = Math.ceil(Math.max(...xs) * 10) / 10;
  const feature = knn.features[0];
  const kInput = el("input", { type: "range", min: "1", max: String(K_MAX), step: "1", value: String(knn.k), "data-role": "knn-k" });
  const qInput = el("input", { type: "range", min: String(lo), max: String(hi), step: "0.05", value: String(knn.query[0]), "data-role": "knn-query" });
  const kOut = el("output", { class: "knn-out num", "data-role": "knn-k-value" });
  const qOut = el("output", { class: "knn-out num", "data-role": "knn-query-value" });
  const title = el("p", { class: "knn-controls-title" });
  const kLabel = el("label", {});
  const qLabel = el("label", {});
  const box = el("div", { class: "knn-controls", "data-role": "knn-controls" },
    title,
    el("div", { class: "knn-control" }, kLabel, kInput, kOut),
    el("div", { class: "knn-control" }, qLabel, qInput, qOut));
  const plot = el("div", { class: "knn-plot" });
  clear(pane).append(box, plot);

  let asked = 0;
  let timer = null;
  const show = () => {
    setText(kOut, kInput.value);
    setText(qOut, fmtNumber(Number(qInput.value), 4));
  };
  const ask = () => {
    const body = { features: knn.features, query: [Number(qInput.value), ...knn.query.slice(1)], k: Number(kInput.value) };
    const mine = ++asked;
    api.knn(d.name, body).then(
      (res) => {
        if (mine === asked) onAnswer(res); // an older answer arriving late is dropped
      },
      (err) => onError(err),
    );
  };
  const changed = () => {
    show();
    clearTimeout(timer);
    timer = setTimeout(ask, WAIT);
  };
  kInput.addEventListener("input", changed);
  qInput.addEventListener("input", changed);
  show();
  return {
    pane,
    plot,
    relabel(tt) {
      setText(title, tt("knn.controls"));
      setText(kLabel, tt("knn.k"));
      setText(qLabel, tt("knn.feature", { name: feature }));
      kInput.setAttribute("aria-label", tt("knn.k"));
      qInput.setAttribute("aria-label", tt("knn.feature", { name: feature }));
    },
  };
}
