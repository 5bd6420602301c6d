// The start page's way into building: a new graph to build by hand in the page, the network
// builder, and the synthetic datasets as cards that open the builder set on them.

import { ApiError, detailMessage, rememberGraph, setToken } from "./api.js";
import { $ } from "./dom.js";
import { NetworkBuilder } from "./builder.js";
import { createGraph } from "./editapi.js";
import { t } from "./i18n.js";

const builder = new NetworkBuilder({ t });

// The engine refuses a graph without nodes: a new graph starts with one input, x, and opens
// in edit mode with the palette at hand.
async function newGraph() {
  const error = $("[data-role=build-error]");
  error.textContent = "";
  try {
    const res = await createGraph({ name: t("build.newName"), nodes: [{ id: "x", op: "input", value: 1.0 }] });
    const g = res.state || res;
    setToken(g.id, res.edit_token);
    rememberGraph(g.id, g.name);
    location.assign(`/g/${encodeURIComponent(g.id)}?mode=edit`);
  } catch (err) {
    error.textContent = err instanceof ApiError ? detailMessage(err.detail) : String(err.message || err);
  }
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("[data-build]");
  if (!b) return;
  const what = b.getAttribute("data-build");
  if (what === "new") newGraph();
  else if (what === "network") builder.open({});
  else builder.open({ source: "dataset", dataset: what, loss: "bce" });
});
$("[data-role=build-section]").setAttribute("data-ready", "true");
