"""What the browser tests of legibility, phones and screenshots measure on a page: the
rendered size of every visible text, node boxes drawn without their text, names that run
into their op badge, the drawing's box and the page's overflow. Plain JavaScript run through
Playwright's page.evaluate; the Python helpers wait for a page to be drawn."""

from __future__ import annotations

# Every visible text on the page with its rendered size in CSS px: the computed font size
# times the scale of its SVG's screen transform (1 for HTML). Visible: displayed, with a box
# inside the window and, in an SVG, inside the SVG's own box (a drawing clips what is panned
# away). Returns [{text, px, where}] for the texts under `min`.
SMALL_TEXT = r"""min => {
  const out = [];
  const seen = new Set();
  const vw = innerWidth, vh = innerHeight;
  const overlaps = (r, b) => r.right > b.left + 1 && r.left < b.right - 1
    && r.bottom > b.top + 1 && r.top < b.bottom - 1;
  const win = {left: 0, top: 0, right: vw, bottom: vh};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.data.trim()) continue;
    const el = n.parentElement;
    if (!el || seen.has(el) || el.closest("title, script, style, option, noscript")) continue;
    seen.add(el);
    const opts = {checkOpacity: true, checkVisibilityCSS: true};
    if (el.checkVisibility && !el.checkVisibility(opts)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || !overlaps(r, win)) continue;
    const svg = el.ownerSVGElement || (el instanceof SVGSVGElement ? el : null);
    let scale = 1;
    if (svg) {
      if (!overlaps(r, svg.getBoundingClientRect())) continue;
      const m = el.getScreenCTM();
      if (!m) continue;
      scale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    }
    // scrolled out of a scrolling box: not on screen
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflow;
      if (o !== "visible" && !overlaps(r, p.getBoundingClientRect())) { clipped = true; break; }
    }
    if (clipped) continue;
    const px = parseFloat(getComputedStyle(el).fontSize) * scale;
    if (px < min - 0.05) {
      const cls = el.getAttribute("class") || "";
      const box = el.parentElement && el.parentElement.closest("[class]");
      const inside = box ? ` in .${(box.getAttribute("class") || "").split(" ")[0]}` : "";
      out.push({text: n.data.trim().slice(0, 40), px: Math.round(px * 10) / 10,
        where: `${el.tagName.toLowerCase()}.${cls.split(" ")[0]}${inside}`});
    }
  }
  return out;
}"""

# Node boxes on screen that show no name (text hidden by the level of detail, or cut away),
# and names whose box runs into the node's op badge.
NODE_TEXT = r"""() => {
  const svg = document.querySelector("#graph-svg");
  if (!svg) return {empty: [], overprint: [], shown: 0};
  const b = svg.getBoundingClientRect();
  const empty = [], overprint = [];
  let shown = 0;
  for (const g of svg.querySelectorAll("[data-node-id]")) {
    const r = g.querySelector(".node-box").getBoundingClientRect();
    if (r.right <= b.left || r.left >= b.right || r.bottom <= b.top || r.top >= b.bottom) continue;
    if (getComputedStyle(g).display === "none") continue;
    shown++;
    const label = g.querySelector(".node-label");
    const lr = label && label.getBoundingClientRect();
    if (!label || getComputedStyle(label).display === "none" || !lr.width) {
      empty.push(g.dataset.nodeId);
      continue;
    }
    const op = g.querySelector(".node-op");
    if (!op || getComputedStyle(op).display === "none") continue;
    const a = label.getBBox(), o = op.getBBox();
    if (a.x + a.width > o.x - 2 && a.y < o.y + o.height && o.y < a.y + a.height) {
      overprint.push(`${g.dataset.nodeId}: "${label.textContent}" over "${op.textContent}"`);
    }
  }
  return {empty, overprint, shown};
}"""

# Two frames: what a change asked for (a refit, a redraw) is on the screen.
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def settle(page) -> None:
    page.evaluate(FRAMES)
    page.evaluate(FRAMES)
