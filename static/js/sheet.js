// A side panel that becomes a bottom sheet on a narrow screen (a phone, a tablet held upright):
// the drawing keeps the screen above it, and the sheet's handle opens and closes it, by a tap
// or by dragging it up or down. The CSS (app.css, lesson.css) decides when the panel is a
// sheet; this only keeps its state, as the class `is-open` on the panel.

const DRAG_PX = 24; // a drag this far up opens the sheet, this far down closes it

/** Wire the `.sheet-handle` inside `sheet`; `open` is the first state; `onChange(open)` runs
 * after every change (the drawing's box changed: the page may refit it). */
export function installSheet(sheet, { open = false, onChange = () => {} } = {}) {
  const handle = sheet.querySelector(".sheet-handle");
  const set = (next) => {
    if (next === sheet.classList.contains("is-open")) return;
    sheet.classList.toggle("is-open", next);
    if (handle) handle.setAttribute("aria-expanded", String(next));
    onChange(next);
  };
  sheet.classList.toggle("is-open", open);
  if (!handle) return { set };
  handle.setAttribute("aria-expanded", String(open));
  let start = null;
  let dragged = false;
  handle.addEventListener("pointerdown", (ev) => {
    start = ev.clientY;
    dragged = false;
    try {
      handle.setPointerCapture(ev.pointerId);
    } catch {
      /* synthetic events */
    }
  });
  handle.addEventListener("pointermove", (ev) => {
    if (start === null) return;
    const dy = ev.clientY - start;
    if (Math.abs(dy) < DRAG_PX) return;
    dragged = true;
    set(dy < 0);
    start = null;
  });
  const end = () => {
    start = null;
  };
  handle.addEventListener("pointerup", end);
  handle.addEventListener("pointercancel", end);
  handle.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (dragged) {
      dragged = false;
      return;
    }
    set(!sheet.classList.contains("is-open"));
  });
  // choosing a tab of a closed sheet opens it on that tab
  sheet.addEventListener("click", (ev) => {
    if (ev.target.closest && ev.target.closest("[data-tab-button]")) set(true);
  });
  return { set };
}
