// The translation tables (static/i18n/*.json): every key in both languages, no empty text,
// no placeholder the page does not fill; and t() as the page calls it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { LANGS, STRINGS, t } from "../../static/js/i18n.js";

const table = (lang) => JSON.parse(readFileSync(new URL(`../../static/i18n/${lang}.json`, import.meta.url), "utf8"));
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("the page knows English and Chinese, from the JSON files", () => {
  assert.deepEqual(LANGS, ["en", "zh"]);
  assert.deepEqual(STRINGS.en, table("en"));
  assert.deepEqual(STRINGS.zh, table("zh"));
});

test("every key is in both languages", () => {
  const en = Object.keys(table("en")).sort();
  const zh = Object.keys(table("zh")).sort();
  assert.ok(en.length > 250, `only ${en.length} keys`);
  assert.deepEqual(en.filter((k) => !zh.includes(k)), [], "in English only");
  assert.deepEqual(zh.filter((k) => !en.includes(k)), [], "in Chinese only");
});

test("no empty text, only strings", () => {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(table(lang))) {
      assert.equal(typeof text, "string", `${lang} ${key}`);
      assert.notEqual(text.trim(), "", `${lang} ${key} is empty`);
    }
  }
});

test("the Chinese text fills in only what the English is given", () => {
  // it may leave one out: error.json does not quote the browser's English parser message
  const en = table("en");
  const zh = table("zh");
  for (const key of Object.keys(en)) {
    const extra = placeholders(zh[key]).filter((name) => !placeholders(en[key]).includes(name));
    assert.deepEqual(extra, [], key);
  }
});

test("t() fills placeholders, and falls back to the key", () => {
  assert.equal(t("lesson.stepOf", { k: 2, n: 9 }), table("en")["lesson.stepOf"].replace("{k}", "2").replace("{n}", "9"));
  assert.equal(t("no.such.key"), "no.such.key");
  assert.equal(t("no.such.key", {}, "fallback"), "fallback");
});
