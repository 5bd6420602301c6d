// Applying a patch (contract v1.1) to the state a page holds gives the server's next state.

import assert from "node:assert/strict";
import { test } from "node:test";

import { applyPatch, edgeKey, indexOf, isPatch } from "../../static/js/patch.js";

function seed() {
  return {
    id: "g1",
    version: 3,
    order: ["x", "k", "mul"],
    cursor: { position: 2, phase: "forward", node: "mul", total: 6, last: { phase: "forward", node: "k" } },
    nodes: [
      { id: "x", op: "input", value: 3, grad: null, x: 0, y: 0 },
      { id: "k", op: "param", value: 0.5, grad: null, x: 0, y: 100 },
      { id: "mul", op: "mul", inputs: ["x", "k"], value: null, grad: null, x: 200, y: 50 },
    ],
    edges: [
      { source: "x", target: "mul", slot: 0, grad: null },
      { source: "k", target: "mul", slot: 1, grad: null },
    ],
    events: [{ phase: "forward", node: "k" }],
  };
}

function step() {
  return {
    id: "g1",
    base_version: 3,
    version: 4,
    cursor: { position: 3, phase: "backward", node: "mul", total: 6, last: { phase: "forward", node: "mul" } },
    nodes: [{ id: "mul", value: 1.5 }],
    events: [{ phase: "forward", node: "mul" }],
  };
}

test("a patch gives the next state and says what it touched", () => {
  const g = seed();
  const done = applyPatch(g, step(), indexOf(g));
  assert.equal(done.graph.version, 4);
  assert.equal(done.graph.nodes[2].value, 1.5);
  // the fields the patch does not name are kept
  assert.equal(done.graph.nodes[2].op, "mul");
  assert.deepEqual(done.graph.nodes[2].inputs, ["x", "k"]);
  assert.equal(done.graph.nodes[0], g.nodes[0]);
  assert.equal(done.graph.edges, g.edges);
  assert.deepEqual(done.graph.events, [{ phase: "forward", node: "mul" }]);
  assert.deepEqual(done.touched, { nodes: ["mul"], edges: [], layout: false });
});

test("a field the patch lists is replaced whole, not merged", () => {
  const g = seed();
  const patch = step();
  patch.cursor = { position: 0, phase: "forward", node: "x", total: 6, last: null };
  const done = applyPatch(g, patch, indexOf(g));
  assert.deepEqual(done.graph.cursor, patch.cursor);
  assert.equal(done.graph.cursor.last, null);
  // a node's listed value (a tensor) replaces the old one too
  const tensor = { ...step(), nodes: [{ id: "x", value: [1, 2] }] };
  assert.deepEqual(applyPatch(g, tensor, indexOf(g)).graph.nodes[0].value, [1, 2]);
});

test("the state it started from is left as it was", () => {
  const g = seed();
  const before = structuredClone(g);
  applyPatch(g, { ...step(), edges: [{ source: "x", target: "mul", slot: 0, grad: 0.5 }] }, indexOf(g));
  assert.deepEqual(g, before);
});

test("edges are found by source, target and slot", () => {
  const g = seed();
  const patch = { ...step(), nodes: [], edges: [{ source: "k", target: "mul", slot: 1, grad: 3 }] };
  const done = applyPatch(g, patch, indexOf(g));
  assert.equal(done.graph.edges[1].grad, 3);
  assert.equal(done.graph.edges[0], g.edges[0]);
  assert.deepEqual(done.touched.edges, [edgeKey({ source: "k", target: "mul", slot: 1 })]);
});

test("a patch without events clears the last change's events", () => {
  const g = seed();
  const patch = step();
  delete patch.events;
  assert.deepEqual(applyPatch(g, patch, indexOf(g)).graph.events, []);
});

test("a moved or relabelled node asks for a new layout", () => {
  const g = seed();
  const done = applyPatch(g, { ...step(), nodes: [{ id: "k", label: "weight" }] }, indexOf(g));
  assert.equal(done.touched.layout, true);
  assert.equal(done.graph.nodes[1].label, "weight");
});

test("a patch that names what the state does not hold cannot apply", () => {
  const g = seed();
  assert.equal(applyPatch(g, { ...step(), nodes: [{ id: "nope", value: 1 }] }, indexOf(g)), null);
  const edge = { ...step(), nodes: [], edges: [{ source: "x", target: "mul", slot: 7, grad: 1 }] };
  assert.equal(applyPatch(g, edge, indexOf(g)), null);
  assert.equal(applyPatch(g, { ...step(), order: ["k", "x", "mul"] }, indexOf(g)), null);
});

test("a patch is told from a whole state by its base version", () => {
  assert.equal(isPatch(step()), true);
  assert.equal(isPatch(seed()), false);
  assert.equal(Boolean(isPatch(null)), false);
});
