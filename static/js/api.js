// The REST API (contract v1 in DESIGN.md) and the edit tokens this browser keeps.

const TOKEN_KEY = (id) => `stepgrad:token:${id}`;
const RECENT_KEY = "stepgrad:recent";

export class ApiError extends Error {
  /** `body` is the whole error body: {detail, line?, column?, cycle?}. */
  constructor(status, body) {
    const detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
    super(detailMessage(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.body = body && typeof body === "object" ? body : { detail };
  }
}

/** The sentence to show for an error `detail` (a string, an object or FastAPI's list). */
export function detailMessage(detail) {
  if (detail === null || detail === undefined) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        if (typeof d === "string") return d;
        const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
        return loc ? `${loc}: ${d.msg}` : d.msg || JSON.stringify(d);
      })
      .join("; ");
  }
  if (typeof detail === "object") {
    return detail.message || detail.msg || detail.detail || JSON.stringify(detail);
  }
  return String(detail);
}

/** Line and column (1-based) named by an error body ({detail, line, column}), if any. */
export function errorLocation(body) {
  for (const obj of [body, body && body.detail]) {
    if (obj && typeof obj === "object" && !Array.isArray(obj) && Number.isInteger(obj.line)) {
      return { line: obj.line, column: Number.isInteger(obj.column) ? obj.column : null };
    }
  }
  const detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
  const m = /line (\d+)(?:, column (\d+))?/i.exec(detailMessage(detail));
  return m ? { line: Number(m[1]), column: m[2] ? Number(m[2]) : null } : null;
}

/** The first node id or name quoted in an error sentence ('x' or "x"). */
export function errorNodeName(detail) {
  if (detail && typeof detail === "object" && typeof detail.node === "string") return detail.node;
  const m = /['"]([A-Za-z_][A-Za-z0-9_]*)['"]/.exec(detailMessage(detail));
  return m ? m[1] : null;
}

export function getToken(id) {
  try {
    return localStorage.getItem(TOKEN_KEY(id));
  } catch {
    return null;
  }
}

export function setToken(id, token) {
  try {
    localStorage.setItem(TOKEN_KEY(id), token);
  } catch {
    /* private mode: the token lives only in this page */
  }
}

export function forgetToken(id) {
  try {
    localStorage.removeItem(TOKEN_KEY(id));
  } catch {
    /* ignore */
  }
}

export function recentGraphs() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

export function rememberGraph(id, name) {
  try {
    const list = recentGraphs().filter((g) => g.id !== id);
    list.unshift({ id, name: String(name || "").slice(0, 200), at: Date.now() });
    localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 12)));
  } catch {
    /* ignore */
  }
}

/** The one way the page calls the server (every module's calls go through here).
 * `body` goes as JSON, `token` as the bearer token, `ifMatch` as If-Match (the spec version
 * an edit was made from). Answers the body (JSON, else text; null for 204); with
 * `withVersion`, `{data, version}`, the version read from the ETag. A refusal throws an
 * ApiError whose message is the server's `detail` sentence. */
export async function request(method, path, { body, token, accept, ifMatch, withVersion = false } = {}) {
  const headers = { Accept: accept || "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await errorBody(response));
  const data = await answerBody(response);
  return withVersion ? { data, version: etagVersion(response.headers.get("ETag")) } : data;
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return { detail: response.statusText };
  }
}

function answerBody(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** The version an ETag names (`"12"` or `W/"12"`), or null. */
export function etagVersion(etag) {
  if (!etag) return null;
  const version = Number(etag.replace(/^W\//, "").replace(/"/g, ""));
  return Number.isFinite(version) ? version : null;
}

const ret = (patch) => (patch ? "?return=patch" : "");

/** Calls on one graph; mutating calls carry the edit token when there is one. */
export class GraphApi {
  constructor(id, token) {
    this.id = id;
    this.token = token || null;
  }

  get base() {
    return `/api/graphs/${encodeURIComponent(this.id)}`;
  }

  get(path = "") {
    return request("GET", this.base + path);
  }

  post(path, body = {}) {
    return request("POST", this.base + path, { body, token: this.token });
  }

  state(full = false) {
    return this.get(full ? "?full=true" : "");
  }
  // `patch`: answer with what changed (contract v1.1) instead of the whole state
  forward(steps = 1, patch = false) {
    return this.post(`/forward${ret(patch)}`, steps === "all" ? { all: true } : { steps });
  }
  backward(steps = 1, patch = false) {
    return this.post(`/backward${ret(patch)}`, steps === "all" ? { all: true } : { steps });
  }
  seek(position, patch = false) {
    return this.post(`/seek${ret(patch)}`, { position });
  }
  reset(patch = false) {
    return this.post(`/reset${ret(patch)}`, {});
  }
  update(learningRate, patch = false) {
    return this.post(`/update${ret(patch)}`, { learning_rate: learningRate });
  }
  train(options, patch = false) {
    return this.post(`/train${ret(patch)}`, options);
  }
  setValues(values, patch = false) {
    return request("PUT", `${this.base}/values${ret(patch)}`, { body: { values }, token: this.token });
  }
  fork() {
    return request("POST", this.base + "/fork", { body: {} });
  }
  gradcheck() {
    return this.get("/gradcheck");
  }
  exportSpec(format = "json") {
    return request("GET", `${this.base}/export?format=${format}`, {
      accept: format === "json" ? "application/json" : "text/plain",
    });
  }
  eventsUrl() {
    return `${this.base}/events`;
  }
  /** PUT /options: {fanout_bug} and/or {order} (an empty order restores the graph's own). */
  setOptions(options) {
    return request("PUT", this.base + "/options", { body: options, token: this.token });
  }
  /** Kahn's algorithm on this graph; `choose` = node ids to take first, in this order. */
  toposort(choose = []) {
    const query = choose.length ? `?choose=${encodeURIComponent(choose.join(","))}` : "";
    return this.get(`/toposort${query}`);
  }
}

const enc = encodeURIComponent;

export const api = {
  ops: () => request("GET", "/api/ops"),
  server: () => request("GET", "/api/server"),
  qrUrl: (text) => `/api/qr.svg?url=${enc(text)}`,
  examples: () => request("GET", "/api/examples"),
  example: (id) => request("GET", `/api/examples/${enc(id)}`),
  create: (body) => request("POST", "/api/graphs", { body }),
  lessons: () => request("GET", "/api/lessons"),
  lesson: (id) => request("GET", `/api/lessons/${enc(id)}`),
  dataset: (name) => request("GET", `/api/datasets/${enc(name)}`),
  scatter: (name, x, y = null) => request("GET", `/api/datasets/${enc(name)}/scatter?x=${enc(x)}${y ? `&y=${enc(y)}` : ""}`),
  knn: (name, body) => request("POST", `/api/datasets/${enc(name)}/knn`, { body }),
  knnCost: (name) => request("GET", `/api/datasets/${enc(name)}/knn_cost`),
  baselines: (name, params) => request("GET", `/api/datasets/${enc(name)}/baselines?${new URLSearchParams(params)}`),
  toposort: (body) => request("POST", "/api/toposort", { body }),
  race: (body = {}) => request("POST", "/api/race", { body }),
};
