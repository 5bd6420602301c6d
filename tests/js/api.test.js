// The page's one fetch helper (request() in api.js): the headers it sends, what it answers,
// and the server's sentence when a call is refused. fetch is replaced by a recorder.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ApiError, GraphApi, detailMessage, etagVersion, request } from "../../static/js/api.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Answer every call with `response`; returns the list of calls made. */
function serve(status, body, headers = {}) {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url: String(url), ...init });
    const text = body === null ? null : typeof body === "string" ? body : JSON.stringify(body);
    const type = typeof body === "string" ? "text/plain" : "application/json";
    return new Response(text, { status, headers: { "content-type": type, ...headers } });
  };
  return calls;
}

test("a JSON body goes as JSON, the token as a bearer token", async () => {
  const calls = serve(200, { ok: true });
  const data = await request("POST", "/api/graphs/g1/forward", { body: { steps: 1 }, token: "tok" });
  assert.deepEqual(data, { ok: true });
  const [call] = calls;
  assert.equal(call.method, "POST");
  assert.equal(call.body, JSON.stringify({ steps: 1 }));
  assert.equal(call.headers["Content-Type"], "application/json");
  assert.equal(call.headers.Authorization, "Bearer tok");
  assert.equal(call.headers.Accept, "application/json");
});

test("without a token or a body, neither header is sent", async () => {
  const calls = serve(200, { ok: true });
  await request("GET", "/api/ops");
  assert.equal(calls[0].headers.Authorization, undefined);
  assert.equal(calls[0].headers["Content-Type"], undefined);
  assert.equal(calls[0].body, undefined);
});

test("an edit names the version it was made from; a read answers the ETag's version", async () => {
  const calls = serve(200, { nodes: [] }, { ETag: 'W/"12"' });
  const answer = await request("PUT", "/api/graphs/g1/spec?return=patch", { body: {}, token: "t", ifMatch: 11, withVersion: true });
  assert.equal(calls[0].headers["If-Match"], '"11"');
  assert.deepEqual(answer, { data: { nodes: [] }, version: 12 });
  assert.equal(etagVersion('"7"'), 7);
  assert.equal(etagVersion(null), null);
  assert.equal(etagVersion('"abc"'), null);
});

test("a refusal throws the server's detail sentence", async () => {
  serve(409, { detail: "The forward pass is complete." });
  await assert.rejects(request("POST", "/api/graphs/g1/forward", { body: {} }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 409);
    assert.equal(err.message, "The forward pass is complete.");
    return true;
  });
});

test("FastAPI's list of field errors reads as one sentence", async () => {
  serve(422, { detail: [{ loc: ["body", "steps"], msg: "Input should be a valid integer" }] });
  await assert.rejects(request("POST", "/x", { body: {} }), { message: "steps: Input should be a valid integer" });
  assert.equal(detailMessage({ message: "bad spec", line: 3 }), "bad spec");
});

test("a refusal without a JSON body gives the status text", async () => {
  globalThis.fetch = async () => new Response("<html>", { status: 502, statusText: "Bad Gateway" });
  await assert.rejects(request("GET", "/api/ops"), { status: 502, message: "Bad Gateway" });
});

test("204 answers null; text answers text", async () => {
  globalThis.fetch = async () => new Response(null, { status: 204 });
  assert.equal(await request("DELETE", "/api/graphs/g1/quiz", { token: "t" }), null);
  serve(200, "digraph {}");
  assert.equal(await request("GET", "/api/graphs/g1/export?format=dot", { accept: "text/plain" }), "digraph {}");
});

test("a graph's calls ask for patches and carry its token", async () => {
  const calls = serve(200, { base_version: 1 });
  const api = new GraphApi("g 1", "tok");
  await api.forward(1, true);
  await api.seek(3, true);
  await api.state();
  assert.equal(calls[0].url, "/api/graphs/g%201/forward?return=patch");
  assert.equal(calls[0].headers.Authorization, "Bearer tok");
  assert.equal(calls[1].body, JSON.stringify({ position: 3 }));
  assert.equal(calls[2].method, "GET");
  assert.equal(calls[2].headers.Authorization, undefined); // reads need no token
});
