// Two small keyboard-first dialogs of the editor: a picker (type to filter a list, arrows
// to move, Enter to choose: the op palette, the node to connect to) and a form of a few
// text fields (rename, set a value). Each is one <dialog> made once and reused.

import { clear, el } from "./dom.js";

export class Picker {
  constructor({ t, cls = "" }) {
    this.t = t;
    this.dialog = el("dialog", { class: `dialog picker ${cls}`.trim(), "data-role": "picker" });
    this.heading = el("h2", { class: "picker-title" });
    this.input = el("input", { type: "search", class: "picker-filter", autocomplete: "off", spellcheck: "false", "data-role": "picker-filter" });
    this.list = el("ul", { class: "picker-list", role: "listbox", "data-role": "picker-list" });
    this.hint = el("p", { class: "hint picker-hint" });
    this.dialog.append(this.heading, this.input, this.list, this.hint);
    document.body.appendChild(this.dialog);
    this.items = [];
    this.shown = [];
    this.active = 0;
    this.onChoose = null;
    this.input.addEventListener("input", () => {
      this.active = 0;
      this.draw();
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const n = this.shown.length;
        if (n) this.active = (this.active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.draw();
      } else if (ev.key === "Enter") {
        ev.preventDefault();
        this.choose(this.shown[this.active]);
      } else if (ev.key === "Escape") {
        // one Esc closes (a search field would first only clear itself)
        ev.preventDefault();
        this.close();
      }
    });
    this.list.addEventListener("click", (ev) => {
      const li = ev.target.closest("[data-key]");
      if (li) this.choose(this.shown.find((it) => it.key === li.getAttribute("data-key")));
    });
  }

  /** items: [{key, title, detail?, search?}]; onChoose(item) when one is chosen. */
  open(title, items, onChoose, hint = "") {
    this.heading.textContent = title;
    this.hint.textContent = hint;
    this.items = items;
    this.onChoose = onChoose;
    this.input.value = "";
    this.active = 0;
    this.draw();
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  get isOpen() {
    return this.dialog.open;
  }

  choose(item) {
    if (!item) return;
    this.close();
    if (this.onChoose) this.onChoose(item);
  }

  draw() {
    const q = this.input.value.trim().toLowerCase();
    // a name that starts with what was typed comes first, then one that contains it anywhere
    const starts = [];
    const contains = [];
    for (const it of this.items) {
      const key = it.key.toLowerCase();
      const hay = `${it.key} ${it.title} ${it.search || ""} ${it.detail || ""}`.toLowerCase();
      if (!q || key.startsWith(q)) starts.push(it);
      else if (hay.includes(q)) contains.push(it);
    }
    this.shown = [...starts, ...contains];
    if (this.active >= this.shown.length) this.active = Math.max(0, this.shown.length - 1);
    clear(this.list);
    this.shown.forEach((it, i) => {
      const li = el("li", {
        class: `picker-item${i === this.active ? " is-active" : ""}`,
        role: "option",
        "aria-selected": i === this.active ? "true" : "false",
        "data-key": it.key,
      }, el("span", { class: "picker-name", text: it.title }), it.detail ? el("span", { class: "picker-detail formula", text: it.detail }) : null);
      this.list.appendChild(li);
      if (i === this.active && li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
    });
    if (!this.shown.length) this.list.appendChild(el("li", { class: "picker-empty hint", text: this.t("editor.noMatch") }));
  }
}

/** A dialog of labelled text fields; Enter applies, Esc cancels. */
export class FieldsForm {
  constructor({ t }) {
    this.t = t;
    this.dialog = el("dialog", { class: "dialog fields-form", "data-role": "fields-form" });
    this.form = el("form", { method: "dialog" });
    this.heading = el("h2");
    this.body = el("div", { class: "grid2" });
    this.error = el("p", { class: "form-error", role: "alert", "data-role": "fields-error" });
    this.ok = el("button", { type: "submit", class: "btn btn--primary", "data-role": "fields-ok" });
    this.cancel = el("button", { type: "button", class: "btn", "data-role": "fields-cancel" });
    this.form.append(this.heading, this.body, this.error, el("div", { class: "row" }, this.cancel, this.ok));
    this.dialog.appendChild(this.form);
    document.body.appendChild(this.dialog);
    this.cancel.addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const values = {};
      for (const f of this.fields) values[f.name] = f.input.value;
      this.error.textContent = "";
      const res = this.onSubmit ? this.onSubmit(values) : null;
      // a sentence back means "not applied": show it and keep the dialog open
      Promise.resolve(res).then((problem) => {
        if (problem) this.error.textContent = problem;
        else this.dialog.close();
      });
    });
  }

  /** fields: [{name, label, value}]; onSubmit(values) returns a problem sentence or nothing. */
  open(title, fields, onSubmit) {
    this.heading.textContent = title;
    this.ok.textContent = this.t("editor.apply");
    this.cancel.textContent = this.t("editor.cancel");
    this.error.textContent = "";
    clear(this.body);
    this.fields = fields.map((f) => {
      const id = `ff-${f.name}`;
      const input = el("input", { id, type: "text", value: f.value ?? "", autocomplete: "off", spellcheck: "false", "data-field": f.name });
      this.body.append(el("label", { for: id, text: f.label }), input);
      return { ...f, input };
    });
    this.onSubmit = onSubmit;
    if (!this.dialog.open) this.dialog.showModal();
    const first = this.fields[0].input;
    first.focus();
    first.select();
  }

  get isOpen() {
    return this.dialog.open;
  }
}
