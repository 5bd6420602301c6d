// Which key does what on the graph page and the lesson page: plain tables and pure
// functions (no DOM), so that the unit tests read them as the pages do. The pages handle a
// few keys themselves before these tables (Escape, [ and ], t, i, the digits of Kahn's steps).

/** The keys of viewActions (graphparts.js), the same on both pages. */
export const VIEW_KEYS = {
  l: "lang",
  "?": "help",
  h: "help",
  0: "fit",
  "+": "zoom-in",
  "=": "zoom-in",
  "-": "zoom-out",
};

export const GRAPH_KEYS = {
  ...VIEW_KEYS,
  ArrowRight: "next",
  PageDown: "next",
  ArrowLeft: "prev",
  PageUp: "prev",
  Home: "home",
  End: "end",
  f: "run-forward",
  b: "run-backward",
  u: "update",
  r: "reset",
  " ": "play",
  p: "presentation",
  g: "gradcheck",
  c: "follow",
  "/": "find-focus",
  "<": "slower",
  ",": "slower",
  ">": "faster",
  ".": "faster",
  q: "quiz",
  t: "follow-teacher",
};

// a presentation clicker sends the page keys: on a lesson they move through the steps
export const LESSON_KEYS = {
  ...VIEW_KEYS,
  PageDown: "next-step",
  n: "next-step",
  PageUp: "prev-step",
  N: "prev-step",
  ArrowRight: "next",
  ArrowLeft: "prev",
  Home: "home",
  End: "end",
  f: "run-forward",
  b: "run-backward",
  u: "update",
  g: "gradcheck",
  " ": "play",
  p: "presentation",
  i: "notes",
  q: "quiz",
};

/** Actions that still work while a lesson's slider has the focus (its arrows move it). */
export const LESSON_FROM_SLIDER = new Set(["next-step", "prev-step", "presentation", "lang", "help"]);

/** Whether the page's keys see a press at all, and how: null to leave it to the browser (a
 * modifier, typing in a field, Space or Enter on a button), else `{slider}`, true when the
 * focus is on a slider whose page lets some actions through (`fromSlider`).
 * `focus`: `{field, slider, button}`, what has the focus (a text field or any input, a range
 * input, a button). */
export function keyContext(ev, focus, fromSlider = new Set()) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return null;
  const slider = Boolean(focus.slider && fromSlider.size);
  if (focus.field && !slider) return null;
  if (focus.button && (ev.key === " " || ev.key === "Enter")) return null;
  return { slider };
}

/** The action a table binds to `key`; on a slider, only one of `fromSlider`; else null. */
export function boundAction(keys, key, slider = false, fromSlider = new Set()) {
  const action = Object.hasOwn(keys, key) ? keys[key] : null;
  if (!action || (slider && !fromSlider.has(action))) return null;
  return action;
}
