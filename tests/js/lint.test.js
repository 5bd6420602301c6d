// The ESLint rule that keeps every change of a page's state in store.set(): a direct write
// fails the lint, the same code through the store passes, and store.js itself is exempt.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ESLint } from "eslint";

const eslint = new ESLint({ cwd: new URL("../..", import.meta.url).pathname });
const PRELUDE = "const store = { state: {}, set() {} };\nconst state = store.state;\n";

async function problems(code, filePath = "static/js/probe.js") {
  const [result] = await eslint.lintText(PRELUDE + code, { filePath });
  return result.messages.filter((m) => m.ruleId === "no-restricted-syntax");
}

test("a direct write to the state fails the lint", async () => {
  for (const code of [
    "state.selected = 'x';",
    "state.drawn.data = 'key';",
    "store.state.playing = true;",
    "state.entry++;",
    "++state.entry;",
    "state.busy += 1;",
    "delete state.message;",
    "Object.assign(state, { a: 1 });",
    "Object.assign(store.state.training, { rows: [] });",
    "class A { f() { this.state.busy = 1; } }\nnew A();",
  ]) {
    assert.equal((await problems(code)).length, 1, code);
  }
});

test("reads and changes through the store pass", async () => {
  const code = "const s = state.selected;\nstore.set({ selected: s });\nstore.set((st) => ({ busy: st.busy + 1 }));\n";
  assert.deepEqual(await problems(code), []);
});

test("the store itself writes its state", async () => {
  assert.deepEqual(await problems("state.a = 1;\nObject.assign(state, {});", "static/js/store.js"), []);
});
