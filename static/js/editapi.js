// The calls of the editor (contract v1.1 "Editing"): read the spec with its version, replace
// it with `If-Match`, choose the target, build networks, list datasets.

import { request } from "./api.js";

const enc = encodeURIComponent;

/** The spec a graph round-trips through (GET export?format=json) and the version it is of. */
export async function readSpec(id) {
  const { data, version } = await request("GET", `/api/graphs/${enc(id)}/export?format=json`, { withVersion: true });
  return { spec: data, version };
}

/** PUT /spec: replace the graph; 412 when `version` is stale, 422 with the engine's sentence. */
export function putSpec(id, token, body, version) {
  return request("PUT", `/api/graphs/${enc(id)}/spec?return=patch`, { body, token, ifMatch: version });
}

/** Lay the graph out again, dropping the positions placed by hand. */
export function relayout(id, token) {
  return request("POST", `/api/graphs/${enc(id)}/layout`, { body: {}, token });
}

/** The node backward differentiates (null: the graph's output). */
export function setTarget(id, token, target) {
  return request("PUT", `/api/graphs/${enc(id)}/options`, { body: { target }, token });
}

export async function listDatasets() {
  const data = await request("GET", "/api/datasets");
  return Array.isArray(data) ? data : (data && (data.datasets || data.items)) || [];
}

/** POST /api/graphs with a body (spec, expression or network): {state, edit_token}. */
export function createGraph(body) {
  return request("POST", "/api/graphs", { body });
}

/** Pin nodes where they were placed by hand ({id: {x, y}}; null = back to the layout). */
export function putPositions(id, token, positions) {
  return request("PUT", `/api/graphs/${enc(id)}/positions?return=patch`, { body: { positions }, token });
}

/** POST /spec/check: what PUT /spec would say, without changing anything (live validation). */
export function checkSpec(id, token, body) {
  return request("POST", `/api/graphs/${enc(id)}/spec/check`, { body, token });
}
