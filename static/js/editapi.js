// The calls of the editor (contract v1.1 "Editing"): read the spec with its version, replace
// it with `If-Match`, choose the target, build networks, list datasets. They go through
// fetch directly because they read and send the ETag / If-Match headers.

import { ApiError } from "./api.js";

const enc = encodeURIComponent;

async function call(method, path, { body, token, ifMatch } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try {
    data = response.status === 204 ? null : await response.json();
  } catch {
    data = { detail: response.statusText };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  const etag = response.headers.get("ETag");
  const version = etag ? Number(etag.replace(/^W\//, "").replace(/"/g, "")) : null;
  return { data, version: Number.isFinite(version) ? version : null };
}

/** The spec a graph round-trips through (GET export?format=json) and the version it is of. */
export async function readSpec(id) {
  const { data, version } = await call("GET", `/api/graphs/${enc(id)}/export?format=json`);
  return { spec: data, version };
}

/** PUT /spec: replace the graph; 412 when `version` is stale, 422 with the engine's sentence. */
export async function putSpec(id, token, body, version) {
  const { data } = await call("PUT", `/api/graphs/${enc(id)}/spec?return=patch`, { body, token, ifMatch: version });
  return data;
}

/** Lay the graph out again, dropping the positions placed by hand. */
export async function relayout(id, token) {
  const { data } = await call("POST", `/api/graphs/${enc(id)}/layout`, { body: {}, token });
  return data;
}

/** The node backward differentiates (null: the graph's output). */
export async function setTarget(id, token, target) {
  const { data } = await call("PUT", `/api/graphs/${enc(id)}/options`, { body: { target }, token });
  return data;
}

export async function listDatasets() {
  const { data } = await call("GET", "/api/datasets");
  return Array.isArray(data) ? data : (data && (data.datasets || data.items)) || [];
}

/** POST /api/graphs with a body (spec, expression or network): {state, edit_token}. */
export async function createGraph(body) {
  const { data } = await call("POST", "/api/graphs", { body });
  return data;
}

/** Pin nodes where they were placed by hand ({id: {x, y}}; null = back to the layout). */
export async function putPositions(id, token, positions) {
  const { data } = await call("PUT", `/api/graphs/${enc(id)}/positions?return=patch`, { body: { positions }, token });
  return data;
}

/** POST /spec/check: what PUT /spec would say, without changing anything (live validation). */
export async function checkSpec(id, token, body) {
  const { data } = await call("POST", `/api/graphs/${enc(id)}/spec/check`, { body, token });
  return data;
}
