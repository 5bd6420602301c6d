// The colour theme: light, dark, or the system's (prefers-color-scheme), remembered in
// localStorage. themeinit.js applies the stored choice before the first paint; this module
// holds the toggle, follows the system while the choice is "system", and tells the drawings
// (canvas graphs, which read their colours from CSS variables) with a "sg:theme" event.

import { t } from "./i18n.js";

const KEY = "stepgrad:theme";
export const THEMES = ["system", "light", "dark"];
const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

/** The stored choice: "light", "dark" or "system". */
export function themeChoice() {
  try {
    const c = localStorage.getItem(KEY);
    if (c === "light" || c === "dark") return c;
  } catch {
    /* no storage */
  }
  return "system";
}

/** The theme drawn now: "light" or "dark". */
export function currentTheme() {
  return document.documentElement.getAttribute("data-theme") === "dark" ? "dark" : "light";
}

function apply(choice) {
  const dark = choice === "dark" || (choice === "system" && Boolean(media && media.matches));
  const root = document.documentElement;
  const before = root.getAttribute("data-theme");
  root.setAttribute("data-theme", dark ? "dark" : "light");
  root.setAttribute("data-theme-choice", choice);
  if (before !== root.getAttribute("data-theme")) document.dispatchEvent(new CustomEvent("sg:theme", { detail: { theme: currentTheme() } }));
}

/** Store `choice` ("light", "dark" or "system") and draw the page in it. */
export function setTheme(choice) {
  const c = THEMES.includes(choice) ? choice : "system";
  try {
    if (c === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, c);
  } catch {
    /* no storage: this page only */
  }
  apply(c);
}

function label(button) {
  const choice = themeChoice();
  // data-i18n keeps the label right when the page switches language (applyI18n)
  button.setAttribute("data-i18n", `theme.${choice}`);
  button.setAttribute("data-theme-choice", choice);
  button.textContent = t(`theme.${choice}`);
  button.setAttribute("title", t("theme.hint"));
}

/** The toggle button(s) [data-role=theme]: each press goes system -> light -> dark -> system. */
export function installThemeToggle(root = document) {
  const buttons = [...root.querySelectorAll("[data-role=theme]")];
  const relabel = () => buttons.forEach(label);
  for (const b of buttons) {
    b.addEventListener("click", (ev) => {
      ev.preventDefault();
      const next = THEMES[(THEMES.indexOf(themeChoice()) + 1) % THEMES.length];
      setTheme(next);
      relabel();
    });
  }
  if (media && media.addEventListener) media.addEventListener("change", () => apply(themeChoice()));
  // another tab changed the choice
  window.addEventListener("storage", (ev) => {
    if (ev.key === KEY) {
      apply(themeChoice());
      relabel();
    }
  });
  apply(themeChoice());
  relabel();
  return relabel;
}
