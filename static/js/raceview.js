// Day 3's race: the same network trained by the engine, by PyTorch and by hand-written numpy
// on the server (POST /api/race). A table of microseconds per step, the API's ratios and the
// test MSEs; when PyTorch is missing, the command that installs it, never a made-up number.
// The sentences count the trainers that ran, as the server lists them (`ran`).

import { clear, el } from "./dom.js";
import { fmtNumber } from "./format.js";

function has(v) {
  return v !== null && v !== undefined;
}

/** `race`: {status: "running" | "done" | "error", result, error}; `onCopy(text)`. */
export function drawRace(box, race, { t, onCopy }) {
  clear(box);
  const wrap = el("div", { class: "race", "data-chart": "race", "data-status": race ? race.status : "none" });
  box.appendChild(wrap);
  if (!race || race.status === "running") {
    wrap.appendChild(el("p", { class: "race-running", "data-role": "race-running" }, el("span", { class: "spinner", "aria-hidden": "true" }), t("race.running")));
    return;
  }
  if (race.status === "error") {
    // the server's sentence, in English whatever the page's language
    wrap.appendChild(el("p", { class: "form-error", lang: "en", text: race.error }));
    return;
  }
  const r = race.result;
  wrap.appendChild(el("p", { class: "race-setup", text: t("race.setup", { hidden: r.hidden, batch: r.batch_size, epochs: r.epochs }) }));
  const table = el("table", { class: "race-table", "data-role": "race-table" });
  table.appendChild(el("thead", {}, el("tr", {},
    ...["race.trainer", "race.us", "race.ratio", "race.mse"].map((k) => el("th", { text: t(k) })))));
  const body = el("tbody");
  const slowest = Math.max(...[r.engine_us, r.torch_us, r.numpy_us].filter((v) => typeof v === "number"));
  const row = (key, name, us, ratio, mse) => {
    const bar = el("span", { class: `race-bar race-bar--${key}`, "aria-hidden": "true" });
    // the bar's length is the server's number on the same scale as the others (display only)
    bar.style.width = `${Math.max(2, (us / slowest) * 100).toFixed(1)}%`; // CSSOM: allowed by the CSP
    body.appendChild(el("tr", { "data-role": "race-row", "data-trainer": key },
      el("th", { scope: "row", text: name }),
      el("td", { class: "race-us" }, el("span", { class: "num", "data-role": "us", text: fmtNumber(us, 4) }), el("span", { class: "race-track" }, bar)),
      el("td", { class: "num", "data-role": "ratio", text: has(ratio) ? `${fmtNumber(ratio, 3)}\u00d7` : "\u2014" }),
      el("td", { class: "num", "data-role": "mse", text: fmtNumber(mse, 6) })));
  };
  row("engine", t("race.engine"), r.engine_us, null, r.mse_engine);
  const ran = r.ran || [];
  if (ran.includes("torch") && has(r.torch_us)) {
    row("torch", t("race.torch"), r.torch_us, r.engine_over_torch, r.mse_torch);
  } else if (r.torch_installed) {
    // installed, but the server's race leaves it out
    body.appendChild(el("tr", { "data-role": "race-missing", "data-trainer": "torch" },
      el("th", { scope: "row", text: t("race.torch") }),
      el("td", { colspan: "3", text: t("race.torchOff") })));
  } else {
    const command = r.install || "";
    body.appendChild(el("tr", { "data-role": "race-missing", "data-trainer": "torch" },
      el("th", { scope: "row", text: t("race.torch") }),
      el("td", { colspan: "3" },
        el("span", { text: t("race.missing") }), " ",
        el("code", { class: "install", "data-role": "install", text: command }), " ",
        el("button", { type: "button", class: "btn btn--small", "data-action": "copy-install", text: t("code.copy"),
          on: { click: () => onCopy(command) } }))));
  }
  row("numpy", t("race.numpy"), r.numpy_us, r.engine_over_numpy, r.mse_numpy);
  table.appendChild(body);
  wrap.appendChild(table);
  wrap.appendChild(el("p", { class: "race-note", text: t("race.ratioNote") }));
  const names = ran.map((who) => t(`race.${who}`)).join(t("list.separator"));
  wrap.appendChild(el("p", { class: `verdict ${r.agree ? "verdict--ok" : "verdict--bad"}`, "data-role": "race-agree",
    "data-ran": ran.join(" "), text: t(r.agree ? "race.agree" : "race.disagree", { n: ran.length, names }) }));
}
