// The start page: examples and lessons, an expression editor, a spec editor. Errors point at
// the line and column (or the node) the server names.

import { ApiError, api, errorLocation, errorNodeName, recentGraphs, rememberGraph, setToken } from "./api.js";
import { $, clear, el, setText } from "./dom.js";
import { applyI18n, currentLang, opText, setLang, t } from "./i18n.js";
import { installThemeToggle } from "./theme.js";

const root = $("#start");
let examples = null;
let examplesError = null;
let lessons = null;
let lessonsError = null;
let ops = null;

// ---- line-numbered editors -------------------------------------------------------------------

class CodeEditor {
  constructor(textarea, gutter) {
    this.textarea = textarea;
    this.gutter = gutter;
    this.errorLine = null;
    textarea.addEventListener("input", () => {
      this.errorLine = null;
      this.renderGutter();
    });
    textarea.addEventListener("scroll", () => {
      gutter.scrollTop = textarea.scrollTop;
    });
    this.renderGutter();
  }

  lines() {
    return this.textarea.value.split("\n");
  }

  renderGutter() {
    const count = Math.max(1, this.lines().length);
    if (this.gutter.childElementCount !== count) {
      clear(this.gutter);
      for (let i = 1; i <= count; i++) this.gutter.appendChild(el("li", { text: String(i) }));
    }
    Array.from(this.gutter.children).forEach((li, i) => li.classList.toggle("is-error", i + 1 === this.errorLine));
  }

  markError(line, column) {
    this.errorLine = line;
    this.renderGutter();
    if (!line) return;
    const lines = this.lines();
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, Math.min(offset + 1, this.textarea.value.length));
  }
}

/** Show an error in a form's error box: where (line, column or node), the sentence, the line. */
function showError(box, editor, message, where) {
  box.hidden = false;
  const whereEl = box.querySelector("[data-role=error-where]");
  const excerpt = box.querySelector("[data-role=error-excerpt]");
  // the location is shown on its own line; the sentence need not repeat it
  const sentence = where && where.line ? message.replace(/^line \d+(, column \d+)?:\s*/i, "") : message;
  const text = box.querySelector("[data-role=error-text]");
  setText(text, sentence);
  // a sentence of the server is in English: say so, for screen readers (and the Chinese test)
  if (where && where.server) text.setAttribute("lang", "en");
  else text.removeAttribute("lang");
  clear(excerpt);
  whereEl.removeAttribute("data-line");
  whereEl.removeAttribute("data-column");
  if (where && where.line) {
    const text = where.column
      ? t("error.lineColumn", { line: where.line, column: where.column })
      : t("error.line", { line: where.line });
    setText(whereEl, (where.field ? `${where.field}, ` : "") + text);
    whereEl.setAttribute("data-line", String(where.line));
    if (where.column) whereEl.setAttribute("data-column", String(where.column));
    const target = where.editor || editor;
    const source = target.lines()[where.line - 1];
    if (source !== undefined) {
      const gutter = `${where.line} | `;
      excerpt.append(el("span", { class: "excerpt-gutter", text: gutter }), source);
      if (where.column) {
        excerpt.append("\n", " ".repeat(gutter.length + where.column - 1), el("span", { class: "caret", text: "^" }));
      }
    }
    target.markError(where.line, where.column);
  } else if (where && where.node) {
    setText(whereEl, t("error.node", { node: where.node }));
    whereEl.setAttribute("data-node", where.node);
  } else {
    setText(whereEl, "");
  }
  excerpt.hidden = !excerpt.firstChild;
}

function hideError(box) {
  box.hidden = true;
}

// ---- values: "name = value" lines (or a JSON object) -------------------------------------------

class ValuesError extends Error {
  constructor(message, line, column) {
    super(message);
    this.line = line;
    this.column = column;
  }
}

function parseValues(text) {
  const trimmed = text.trim();
  if (!trimmed) return {};
  if (trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed);
    } catch (err) {
      throw new ValuesError(t("error.json", { message: err.message }), 1, 1);
    }
  }
  const out = {};
  text.split("\n").forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith("#")) return;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(.+?)\s*,?\s*$/.exec(line);
    if (!m) throw new ValuesError(t("error.valueLine"), i + 1, 1);
    try {
      out[m[1]] = JSON.parse(m[2]);
    } catch {
      throw new ValuesError(t("error.valueNumber", { name: m[1] }), i + 1, line.indexOf(m[2]) + 1);
    }
  });
  return out;
}

/** Offset of the first JSON syntax error in `text` (-1 if none): browsers' JSON.parse
 * messages do not always say where. A small scanner with an explicit stack (no recursion). */
export function jsonErrorOffset(text) {
  const n = text.length;
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const stack = [];
  let i = 0;
  let want = "value"; // value | key | after
  const skip = () => {
    while (i < n && " \t\n\r".includes(text[i])) i++;
  };
  const string = () => {
    let j = i + 1;
    while (j < n) {
      const c = text[j];
      if (c === '"') return j + 1;
      if (c === "\\") {
        if (text[j + 1] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return -1;
          j += 6;
        } else if ('"\\/bfnrt'.includes(text[j + 1])) j += 2;
        else return -1;
      } else if (c < " ") return -1;
      else j++;
    }
    return -1;
  };
  for (;;) {
    skip();
    if (want === "value") {
      if (i >= n) return i;
      const c = text[i];
      if (c === "{" || c === "[") {
        i++;
        skip();
        if (text[i] === (c === "{" ? "}" : "]")) {
          i++;
          want = "after";
        } else {
          stack.push(c);
          want = c === "{" ? "key" : "value";
        }
        continue;
      }
      if (c === '"') {
        const j = string();
        if (j < 0) return i;
        i = j;
        want = "after";
        continue;
      }
      const literal = ["true", "false", "null"].find((w) => text.startsWith(w, i));
      if (literal) {
        i += literal.length;
        want = "after";
        continue;
      }
      number.lastIndex = i;
      if (number.test(text)) {
        i = number.lastIndex;
        want = "after";
        continue;
      }
      return i;
    }
    if (want === "key") {
      if (text[i] !== '"') return i;
      const j = string();
      if (j < 0) return i;
      i = j;
      skip();
      if (text[i] !== ":") return i;
      i++;
      want = "value";
      continue;
    }
    // after a value
    if (!stack.length) return i < n ? i : -1;
    const top = stack[stack.length - 1];
    if (text[i] === ",") {
      i++;
      want = top === "{" ? "key" : "value";
    } else if (text[i] === (top === "{" ? "}" : "]")) {
      stack.pop();
      i++;
    } else return i;
  }
}

/** Line and column of a JSON syntax error. */
function jsonErrorLocation(message, text) {
  let offset = jsonErrorOffset(text);
  if (offset < 0) {
    const m = /position (\d+)/.exec(message);
    if (!m) return null;
    offset = Number(m[1]);
  }
  const lines = text.slice(0, offset).split("\n");
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/** The line of `"id": "name"` in a spec's text, so an error naming a node points at it. */
function nodeLine(text, name) {
  const re = new RegExp(`"id"\\s*:\\s*"${name}"`);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = re.exec(lines[i]);
    if (m) return { line: i + 1, column: m.index + 1 };
  }
  return null;
}

// ---- creating graphs ---------------------------------------------------------------------------

async function create(body) {
  const res = await api.create(body);
  const id = res.id || (res.state && res.state.id);
  setToken(id, res.edit_token);
  rememberGraph(id, res.name || (res.state && res.state.name));
  root.setAttribute("data-created", id);
  location.assign(`/g/${encodeURIComponent(id)}`);
}

const exprEditor = new CodeEditor($("#expr-text"), $("[data-role=expr-gutter]"));
const inputsEditor = new CodeEditor($("#expr-inputs"), $("[data-role=inputs-gutter]"));
const paramsEditor = new CodeEditor($("#expr-params"), $("[data-role=params-gutter]"));
const specEditor = new CodeEditor($("#spec-text"), $("[data-role=spec-gutter]"));

$("#expr-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const box = $("[data-role=expr-error]");
  hideError(box);
  let inputs;
  let params;
  try {
    inputs = parseValues($("#expr-inputs").value);
  } catch (err) {
    showError(box, exprEditor, err.message, { line: err.line, column: err.column, editor: inputsEditor, field: t("start.inputs") });
    return;
  }
  try {
    params = parseValues($("#expr-params").value);
  } catch (err) {
    showError(box, exprEditor, err.message, { line: err.line, column: err.column, editor: paramsEditor, field: t("start.params") });
    return;
  }
  const body = { expression: $("#expr-text").value, inputs, params };
  // unnamed, the graph is named by its statements: maths reads the same in every language
  const statements = body.expression.split("\n").map((s) => s.trim()).filter((s) => s && !s.startsWith("#"));
  const name = $("#expr-name").value.trim() || Array.from(statements.join("; ")).slice(0, 200).join("");
  if (name) body.name = name;
  try {
    await create(body);
  } catch (err) {
    if (!(err instanceof ApiError)) {
      showError(box, exprEditor, String(err.message || err), null);
      return;
    }
    const where = errorLocation(err.body);
    const node = errorNodeName(err.detail);
    showError(box, exprEditor, err.message, { ...(where || (node ? { node } : {})), server: true });
  }
});

$("#spec-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const box = $("[data-role=spec-error]");
  hideError(box);
  const text = $("#spec-text").value;
  let spec;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    showError(box, specEditor, t("error.json", { message: err.message }), jsonErrorLocation(err.message, text));
    return;
  }
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) {
    showError(box, specEditor, t("error.specObject"), null);
    return;
  }
  try {
    await create(spec);
  } catch (err) {
    if (!(err instanceof ApiError)) {
      showError(box, specEditor, String(err.message || err), null);
      return;
    }
    const node = errorNodeName(err.detail);
    const where = errorLocation(err.body) || (node && nodeLine(text, node)) || null;
    showError(box, specEditor, err.message, { ...(where || (node ? { node } : {})), server: true });
  }
});

$("#spec-file").addEventListener("change", async (ev) => {
  const file = ev.target.files && ev.target.files[0];
  if (!file) return;
  $("#spec-text").value = await file.text();
  specEditor.renderGutter();
});

// ---- examples and recent graphs -----------------------------------------------------------------

function renderExamples() {
  const box = $("[data-role=examples]");
  clear(box);
  setText($("[data-role=examples-error]"), examplesError || "");
  if (!examples) return;
  const sorted = [...examples].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "lesson" ? -1 : 1));
  const zh = currentLang() === "zh";
  for (const ex of sorted) {
    // the examples carry Chinese titles and descriptions (title_zh, description_zh)
    const title = (zh && ex.title_zh) || ex.title;
    const description = (zh && ex.description_zh) || ex.description;
    const card = el("button", { type: "button", class: `card card--${ex.kind}`, "data-example": ex.id, title: description },
      el("span", { class: `badge badge--${ex.kind}`, text: t(`kind.${ex.kind}`, {}, ex.kind) }),
      el("span", { class: "card-title", text: title }),
      el("span", { class: "card-text", text: description }));
    card.addEventListener("click", async () => {
      card.disabled = true;
      try {
        // named by the card's title, in the language it was read in
        await create({ example: ex.id, name: title });
      } catch (err) {
        setText($("[data-role=examples-error]"), err.message);
        card.disabled = false;
      }
    });
    box.appendChild(card);
  }
}

/** The course's days: links to the lesson pages, in the current language. */
function renderLessons() {
  const box = $("[data-role=lessons]");
  clear(box);
  setText($("[data-role=lessons-error]"), lessonsError || "");
  if (!lessons) return;
  const lang = currentLang();
  const pick = (text) => (text && (text[lang] || text.en)) || "";
  for (const lesson of lessons) {
    box.appendChild(el("a", { class: "card card--course", href: `/lessons/${encodeURIComponent(lesson.id)}`, "data-lesson": lesson.id },
      el("span", { class: "badge badge--day", text: t("lesson.day", { day: lesson.day }) }),
      el("span", { class: "card-title", text: pick(lesson.title) }),
      el("span", { class: "card-text", text: pick(lesson.summary) })));
  }
}

function renderRecent() {
  const list = recentGraphs();
  const section = $("[data-role=recent-section]");
  section.hidden = !list.length;
  const ul = $("[data-role=recent]");
  clear(ul);
  for (const g of list) {
    ul.appendChild(el("li", {}, el("a", { href: `/g/${encodeURIComponent(g.id)}`, text: g.name || g.id }),
      el("span", { class: "muted small", text: ` \u00b7 ${new Date(g.at).toLocaleString(currentLang() === "zh" ? "zh-CN" : "en")}` })));
  }
}

/** The ops an expression can call, from GET /api/ops: name, arguments and keywords, with
 * the description and formula (in the page's language) as the tooltip. Nothing here is
 * written by hand. */
function renderOps() {
  const box = $("[data-role=ops]");
  clear(box);
  if (!ops) return;
  for (const op of ops) {
    if (op.leaf) continue;
    const args = Array.from({ length: op.arity }, (_, i) => "abc"[i] || `x${i}`);
    const keywords = Object.keys(op.attrs || {}).map((k) => `${k}=`);
    const tip = [opText(op, "description"), opText(op, "formula"), ...opText(op, "derivatives")].join("\n");
    box.append(el("code", { "data-op": op.name, title: tip, text: `${op.name}(${[...args, ...keywords].join(", ")})` }), " ");
  }
  box.append(el("span", { text: t("start.operators") }));
}

function render() {
  applyI18n(document);
  renderOps();
  renderLessons();
  renderExamples();
  renderRecent();
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("[data-action=lang]");
  if (!b) return;
  setLang(currentLang() === "en" ? "zh" : "en");
  render();
});

async function start() {
  installThemeToggle();
  render();
  const [ex, ls, os] = await Promise.allSettled([api.examples(), api.lessons(), api.ops()]);
  if (os.status === "fulfilled") ops = os.value;
  if (ex.status === "fulfilled") examples = ex.value;
  else examplesError = ex.reason.message;
  if (ls.status === "fulfilled") lessons = ls.value;
  else lessonsError = ls.reason.message;
  render();
  root.setAttribute("data-ready", "true");
}

start();
