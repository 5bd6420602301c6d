// The keyboard map (keys.js): which key does what on the graph page and the lesson page, and
// when the page leaves a key to the browser.

import assert from "node:assert/strict";
import { test } from "node:test";

import { boundAction, GRAPH_KEYS, keyContext, LESSON_FROM_SLIDER, LESSON_KEYS, VIEW_KEYS } from "../../static/js/keys.js";

const press = (key, mods = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, ...mods });
const NOWHERE = { field: false, slider: false, button: false };

test("the graph page: arrows step, f and b run the passes, p presents", () => {
  const expected = {
    ArrowRight: "next", ArrowLeft: "prev", PageDown: "next", PageUp: "prev", Home: "home", End: "end",
    f: "run-forward", b: "run-backward", u: "update", r: "reset", " ": "play", p: "presentation",
    g: "gradcheck", c: "follow", "/": "find-focus", q: "quiz", t: "follow-teacher",
    "<": "slower", ",": "slower", ">": "faster", ".": "faster",
  };
  for (const [key, action] of Object.entries(expected)) assert.equal(boundAction(GRAPH_KEYS, key), action, key);
});

test("the lesson page: a clicker's page keys move through the steps, the arrows step the graph", () => {
  const expected = {
    PageDown: "next-step", n: "next-step", PageUp: "prev-step", N: "prev-step", ArrowRight: "next",
    ArrowLeft: "prev", i: "notes", q: "quiz", " ": "play", g: "gradcheck",
  };
  for (const [key, action] of Object.entries(expected)) assert.equal(boundAction(LESSON_KEYS, key), action, key);
  // no reset and no follow-teacher key in a lesson
  assert.equal(boundAction(LESSON_KEYS, "r"), null);
  assert.equal(boundAction(LESSON_KEYS, "t"), null);
});

test("both pages share the view keys", () => {
  for (const [key, action] of Object.entries(VIEW_KEYS)) {
    assert.equal(boundAction(GRAPH_KEYS, key), action, key);
    assert.equal(boundAction(LESSON_KEYS, key), action, key);
  }
  assert.equal(boundAction(GRAPH_KEYS, "l"), "lang");
  assert.equal(boundAction(GRAPH_KEYS, "?"), "help");
  assert.equal(boundAction(GRAPH_KEYS, "0"), "fit");
});

test("unbound keys do nothing, including an object's own property names", () => {
  assert.equal(boundAction(GRAPH_KEYS, "z"), null);
  assert.equal(boundAction(GRAPH_KEYS, "toString"), null);
  assert.equal(boundAction(GRAPH_KEYS, "constructor"), null);
});

test("a key with Ctrl, Cmd or Alt is the browser's", () => {
  for (const mod of ["ctrlKey", "metaKey", "altKey"]) {
    assert.equal(keyContext(press("f", { [mod]: true }), NOWHERE), null, mod);
  }
  assert.deepEqual(keyContext(press("f", { shiftKey: true }), NOWHERE), { slider: false });
});

test("typing in a field is left alone", () => {
  assert.equal(keyContext(press("f"), { field: true, slider: false, button: false }), null);
  assert.equal(keyContext(press("ArrowRight"), { field: true, slider: false, button: false }, LESSON_FROM_SLIDER), null);
});

test("Space and Enter press the focused button; other keys still work there", () => {
  const button = { field: false, slider: false, button: true };
  assert.equal(keyContext(press(" "), button), null);
  assert.equal(keyContext(press("Enter"), button), null);
  assert.deepEqual(keyContext(press("ArrowRight"), button), { slider: false });
});

test("on a lesson's slider only the lesson keys work; the arrows move the slider", () => {
  const slider = { field: true, slider: true, button: false };
  const context = keyContext(press("PageDown"), slider, LESSON_FROM_SLIDER);
  assert.deepEqual(context, { slider: true });
  assert.equal(boundAction(LESSON_KEYS, "PageDown", true, LESSON_FROM_SLIDER), "next-step");
  assert.equal(boundAction(LESSON_KEYS, "p", true, LESSON_FROM_SLIDER), "presentation");
  assert.equal(boundAction(LESSON_KEYS, "ArrowRight", true, LESSON_FROM_SLIDER), null);
  assert.equal(boundAction(LESSON_KEYS, "f", true, LESSON_FROM_SLIDER), null);
  // a page that lets nothing through a slider treats it as any field
  assert.equal(keyContext(press("PageDown"), slider), null);
});
