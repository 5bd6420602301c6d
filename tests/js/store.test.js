// The page's store (store.js): set() merges and asks for one render per frame; settle()
// records without asking for one.

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { createStore } from "../../static/js/store.js";

let frames;
beforeEach(() => {
  frames = [];
  globalThis.requestAnimationFrame = (fn) => frames.push(fn);
});
afterEach(() => {
  delete globalThis.requestAnimationFrame;
});
const nextFrame = () => frames.splice(0).forEach((fn) => fn());

test("changes in one frame make one render of the whole state", () => {
  const renders = [];
  const store = createStore({ a: 1, b: 1 }, (state) => renders.push({ ...state }));
  store.set({ a: 2 });
  store.set((state) => ({ b: state.a + 1 }));
  assert.equal(store.state.a, 2); // merged at once: the next call sees it
  assert.equal(frames.length, 1);
  nextFrame();
  assert.deepEqual(renders, [{ a: 2, b: 3 }]);
});

test("settle() changes the state without a render", () => {
  const renders = [];
  const store = createStore({ drawn: null }, () => renders.push(1));
  store.settle({ drawn: "key" });
  assert.equal(store.state.drawn, "key");
  assert.equal(frames.length, 0);
  nextFrame();
  assert.equal(renders.length, 0);
});

test("flush() renders now when a render is due, once", () => {
  const renders = [];
  const store = createStore({ a: 1 }, () => renders.push(1));
  store.flush();
  assert.equal(renders.length, 0);
  store.set({ a: 2 });
  store.flush();
  nextFrame();
  assert.equal(renders.length, 1);
});
