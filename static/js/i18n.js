// Every string of the page, in English and Simplified Chinese (static/i18n/en.json and
// zh.json); nothing else holds UI text. Templates name keys with data-i18n (text),
// data-i18n-title, data-i18n-aria and data-i18n-placeholder; scripts call t(key, params).

import en from "../i18n/en.json" with { type: "json" };
import zh from "../i18n/zh.json" with { type: "json" };

const LANG_KEY = "stepgrad:lang";

// the tables are data (static/i18n/*.json), read as JSON modules: same-origin, no script
// to evaluate, loaded with this module before anything renders
export const STRINGS = { en, zh };

export const LANGS = Object.keys(STRINGS);

let lang = (() => {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored && STRINGS[stored]) return stored;
  } catch {
    /* no storage */
  }
  // node (the unit tests) has no navigator before version 21
  const browserLang = typeof navigator === "undefined" ? "" : navigator.language || "";
  return /^zh/i.test(browserLang) ? "zh" : "en";
})();

export function currentLang() {
  return lang;
}

export function setLang(next) {
  if (!STRINGS[next]) return;
  lang = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    /* no storage */
  }
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

/** The string for `key` in the current language, with {name} placeholders filled in. */
export function t(key, params = {}, fallback = undefined) {
  let s = STRINGS[lang][key];
  if (s === undefined) s = STRINGS.en[key];
  if (s === undefined) s = fallback !== undefined ? fallback : key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined ? String(params[name]) : m));
}

/** The name on an op's badge: the leaf kinds (input, param, const) are words and are
 * translated; every other op is a function name, written as in expressions (sigmoid, mse). */
export function opLabel(op) {
  return STRINGS.en[`op.${op}`] !== undefined ? t(`op.${op}`) : op;
}

/** An op's `description`, `formula` or `derivatives` from GET /api/ops, in the current
 * language (the API sends the Chinese as description_zh, formula_zh, derivatives_zh). */
export function opText(op, field) {
  if (!op) return field === "derivatives" ? [] : "";
  const zh = lang === "zh" ? op[`${field}_zh`] : undefined;
  return zh && zh.length ? zh : op[field] || (field === "derivatives" ? [] : "");
}

/** Fill every data-i18n* attribute under `root` (text only, never HTML). */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const text = t(node.getAttribute("data-i18n"));
    if (node.textContent !== text) node.textContent = text;
  }
  for (const [attr, target] of [["data-i18n-title", "title"], ["data-i18n-aria", "aria-label"], ["data-i18n-placeholder", "placeholder"]]) {
    for (const node of root.querySelectorAll(`[${attr}]`)) node.setAttribute(target, t(node.getAttribute(attr)));
  }
}
