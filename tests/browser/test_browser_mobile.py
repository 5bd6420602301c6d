"""Phones and tablets (device emulation: a touch screen, a mobile viewport, a high pixel
density): the follower's view link, the lesson page and the editor draw the graph across the
screen with no page wider than the window, the panel or notes as a bottom sheet under the
drawing, every control within reach, the node the cursor has reached on screen, and the
drawing zoomed by a two-finger pinch and panned by a drag. On a desktop screen, hiding the
lesson's notes gives their width to the drawing."""

from __future__ import annotations

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack, csp_violations, settle

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3}
TABLET = {"viewport": {"width": 768, "height": 1024}, "device_scale_factor": 2}

# the drawing's box, the page's widths, where the current node is, and controls out of reach
LAYOUT = r"""() => {
  const svg = document.querySelector("#graph-svg").getBoundingClientRect();
  const cur = document.querySelector("#graph-svg .node.is-current .node-box")
    || document.querySelector("#graph-svg .node.is-next .node-box");
  const c = cur && cur.getBoundingClientRect();
  const out = [];
  for (const b of document.querySelectorAll("button, input, select, a.btn")) {
    if (b.closest("dialog") || !b.checkVisibility()) continue;
    const r = b.getBoundingClientRect();
    if (r.width < 1) continue;
    if (r.left < -1 || r.right > innerWidth + 1 || r.top < -1 || r.bottom > innerHeight + 1) {
      const name = b.getAttribute("data-action") || b.getAttribute("data-role") || b.textContent;
      out.push(name.trim());
    }
  }
  const id = cur && cur.closest("[data-node-id]").dataset.nodeId;
  return {svg: {x: svg.x, y: svg.y, w: svg.width, h: svg.height},
          current: c && {x: c.x, y: c.y, w: c.width, h: c.height, id},
          scrollWidth: document.documentElement.scrollWidth, innerWidth, innerHeight,
          unreachable: out};
}"""


@pytest.fixture(params=[PHONE, TABLET], ids=["phone-390x844", "tablet-768x1024"])
def device(request, browser):
    context = browser.new_context(
        **{**CONTEXT_ARGS, **request.param, "is_mobile": True, "has_touch": True}
    )
    violations = csp_violations(context)
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")
    yield page
    context.close()
    assert not violations, violations


def assert_fills_the_screen(page, where: str) -> dict:
    settle(page)
    d = page.evaluate(LAYOUT)
    assert d["scrollWidth"] <= d["innerWidth"], f"{where}: the page is wider than the screen"
    assert d["svg"]["w"] >= 0.9 * d["innerWidth"], f"{where}: the drawing is {d['svg']}"
    assert d["svg"]["h"] >= 0.4 * d["innerHeight"], f"{where}: the drawing is {d['svg']}"
    assert not d["unreachable"], f"{where}: controls off the screen: {d['unreachable']}"
    cur, svg = d["current"], d["svg"]
    assert cur, f"{where}: no current node"
    assert svg["x"] - 1 <= cur["x"] and cur["x"] + cur["w"] <= svg["x"] + svg["w"] + 1, (where, d)
    assert svg["y"] - 1 <= cur["y"] and cur["y"] + cur["h"] <= svg["y"] + svg["h"] + 1, (where, d)
    return d


def test_follower_view_fills_a_small_screen(device, page_api):
    page = device
    graph, token = page_api.create({"example": "chain_rule"})
    for _ in range(6):
        status, _ = page_api.call("POST", f"/api/graphs/{graph['id']}/forward", {}, token)
        assert status == 200
    page.goto(f"{page_api.base}/g/{graph['id']}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=position]")).to_have_text(f"6 / {graph['cursor']['total']}")
    assert_fills_the_screen(page, "follower")
    # the teacher steps on: the follower's camera keeps the new node on screen
    for _ in range(4):
        page_api.call("POST", f"/api/graphs/{graph['id']}/forward", {}, token)
    expect(page.locator("[data-role=position]")).to_have_text(f"10 / {graph['cursor']['total']}")
    d = assert_fills_the_screen(page, "follower after steps")
    assert d["current"]["id"] == page_api.state(graph["id"])["cursor"]["last"]["node"]


def test_editor_fills_a_small_screen_and_the_sheet_opens_under_it(device, page_api):
    page = device
    graph, token = page_api.create({"example": "sigmoid_blocks"})
    page.goto(f"{page_api.base}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    for k in range(1, 9):
        page.keyboard.press("ArrowRight")
        expect(page.locator("[data-role=position]")).to_contain_text(f"{k} /")
    closed = assert_fills_the_screen(page, "editor")
    expect(page.locator("[data-action=run-backward]")).to_be_in_viewport()
    # the sheet: closed shows the tabs; open, the inspector lies under the drawing, which
    # shrinks and keeps the current node on screen
    panel = page.locator(".panel")
    expect(panel).not_to_have_class("panel is-open")
    page.locator(".panel .sheet-handle").tap()
    expect(panel).to_have_class("panel is-open")
    expect(page.locator("#inspector")).to_be_visible()
    settle(page)
    d = page.evaluate(LAYOUT)
    assert d["svg"]["h"] < closed["svg"]["h"] - 50
    assert d["scrollWidth"] <= d["innerWidth"]
    cur, svg = d["current"], d["svg"]
    assert svg["y"] - 1 <= cur["y"] and cur["y"] + cur["h"] <= svg["y"] + svg["h"] + 1, d
    sheet = panel.bounding_box()
    assert sheet["y"] >= svg["y"] + svg["h"] - 1  # under the drawing, not over it
    page.locator(".panel .sheet-handle").tap()
    expect(panel).not_to_have_class("panel is-open")
    # tapping a node opens the sheet on its inspector (a node whose middle nothing covers,
    # 24 px around it: a finger's tap near a button goes to the button)
    settle(page)
    spot = page.evaluate(
        """() => { for (const g of document.querySelectorAll('#graph-svg [data-node-id]')) {
            const r = g.querySelector('.node-box').getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            const mine = (dx, dy) => { const hit = document.elementFromPoint(x + dx, y + dy);
              return hit && hit.closest('[data-node-id]') === g; };
            if ([[0, 0], [0, -24], [0, 24], [-24, 0], [24, 0]].every(([dx, dy]) => mine(dx, dy)))
              return {x, y, id: g.dataset.nodeId};
        } return null; }"""
    )
    assert spot, "no node can be tapped"
    page.touchscreen.tap(spot["x"], spot["y"])
    expect(panel).to_have_class("panel is-open")
    expect(page.locator("#inspector [data-role=inspector-label]")).to_be_visible()
    assert page.evaluate("() => window.stepgrad.state.selected") == spot["id"]
    settle(page)
    d = page.evaluate(LAYOUT)
    cur, svg = d["current"], d["svg"]
    assert svg["y"] - 1 <= cur["y"] and cur["y"] + cur["h"] <= svg["y"] + svg["h"] + 1, d


def test_lesson_fills_a_small_screen(device, page_api):
    page = device
    page.goto(f"{page_api.base}/lessons/day2")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-ready", "true")
    for k in range(2, 5):
        page.keyboard.press("PageDown")
        expect(root).to_have_attribute("data-step", str(k))
        expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
    start = int(page.locator("[data-role=position]").text_content().split("/")[0])
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    # the three steps answered and drawn, the camera moved to the current node
    expect(page.locator("[data-role=position]")).to_contain_text(f"{start + 3} /")
    settle(page)
    d = assert_fills_the_screen(page, "lesson")
    notes = page.locator("[data-role=notes]").bounding_box()
    assert notes["y"] >= d["svg"]["y"] + d["svg"]["h"] - 1  # the notes under the drawing
    expect(page.locator("[data-role=step-title]")).to_be_in_viewport()
    # folded, the notes keep their title and arrows; the drawing grows into their room
    page.locator("[data-role=notes] .sheet-handle").tap()
    expect(page.locator("[data-role=step-text]")).to_be_hidden()
    expect(page.locator("[data-action=next-step]")).to_be_in_viewport()
    settle(page)
    assert page.evaluate(LAYOUT)["svg"]["h"] > d["svg"]["h"] + 40


def touch(cdp, kind: str, points: list[tuple[float, float]]) -> None:
    points_ = [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points_})


def test_pinch_zooms_and_a_drag_pans_on_a_touch_screen(browser, page_api):
    context = browser.new_context(**{**CONTEXT_ARGS, **PHONE, "is_mobile": True, "has_touch": True})
    try:
        page = context.new_page()
        graph, token = page_api.create({"example": "chain_rule"})
        page.goto(f"{page_api.base}/g/{graph['id']}#edit={token}")
        expect(page.locator("#app")).to_have_attribute("data-ready", "true")
        # connected: the top bar has its last width, the drawing its last box and fit
        expect(page.locator("[data-role=live]")).to_have_text("live")
        settle(page)
        view = "() => ({...window.stepgrad.view.view})"
        box = page.locator("#graph-svg").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cdp = context.new_cdp_session(page)
        # two fingers spread from 80 px apart to 240: three times the zoom, about the point
        # between them
        touch(cdp, "touchStart", [(cx - 40, cy), (cx + 40, cy)])
        before = page.evaluate(view)
        for step in range(1, 6):
            touch(cdp, "touchMove", [(cx - 40 - 16 * step, cy), (cx + 40 + 16 * step, cy)])
        touch(cdp, "touchEnd", [])
        settle(page)
        pinched = page.evaluate(view)
        assert pinched["k"] == pytest.approx(before["k"] * 3, rel=0.05)
        # the point between the fingers stays where it was
        wx = (cx - box["x"] - before["x"]) / before["k"]
        assert box["x"] + pinched["x"] + wx * pinched["k"] == pytest.approx(cx, abs=4)
        # one finger drags the drawing
        touch(cdp, "touchStart", [(cx, cy)])
        for step in range(1, 6):
            touch(cdp, "touchMove", [(cx - 20 * step, cy - 10 * step)])
        touch(cdp, "touchEnd", [])
        settle(page)
        dragged = page.evaluate(view)
        assert dragged["k"] == pytest.approx(pinched["k"])
        assert dragged["x"] == pytest.approx(pinched["x"] - 100, abs=6)
        assert dragged["y"] == pytest.approx(pinched["y"] - 50, abs=6)
        # the page itself did not zoom or scroll: the drawing's CSS has touch-action: none
        assert page.evaluate("() => [window.visualViewport.scale, scrollX, scrollY]") == [1, 0, 0]
    finally:
        context.close()


@pytest.mark.parametrize("presenting", [False, True], ids=["normal", "presenting"])
def test_hiding_the_notes_widens_the_drawing(context, page_api, presenting):
    page = context.new_page()
    page.goto(f"{page_api.base}/lessons/day2#step-5")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-ready", "true")
    expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
    if presenting:
        page.keyboard.press("p")
    settle(page)
    svg = page.locator("#graph-svg")
    before = svg.bounding_box()["width"]
    notes = page.locator("[data-role=notes]").bounding_box()["width"]
    page.keyboard.press("i")
    expect(page.locator("[data-role=notes]")).to_be_hidden()
    settle(page)
    after = svg.bounding_box()["width"]
    assert after == pytest.approx(before + notes, abs=4)
    # fit (0) keeps the whole width: no blank strip where the notes were
    page.keyboard.press("0")
    settle(page)
    assert svg.bounding_box()["width"] == pytest.approx(after, abs=1)
    drawn = page.evaluate(
        "() => { const b = document.querySelector('#graph-svg .viewport').getBoundingClientRect();"
        " return b.right; }"
    )
    assert drawn > before + 20  # the drawing reaches into the freed strip
    page.keyboard.press("i")
    expect(page.locator("[data-role=notes]")).to_be_visible()
    settle(page)
    assert svg.bounding_box()["width"] == pytest.approx(before, abs=4)


LANDSCAPE = {"viewport": {"width": 844, "height": 390}, "device_scale_factor": 3}
TABLET_LANDSCAPE = {"viewport": {"width": 1024, "height": 768}, "device_scale_factor": 2}

# the boxes of the legend's chips shown and of the drawing's tools shown, and the drawing's
OVERLAYS = r"""() => {
  const box = (e) => {
    const r = e.getBoundingClientRect();
    return {x: r.x, y: r.y, r: r.right, b: r.bottom};
  };
  const shown = (sel) => [...document.querySelectorAll(sel)].filter((e) => e.checkVisibility()
    && e.getBoundingClientRect().width > 0);
  return {
    legend: shown('.canvas .legend-item').map((e) => ({name: e.textContent, ...box(e)})),
    tools: shown('.canvas-tools > *').map((e) => ({
      name: e.getAttribute('data-action') || e.getAttribute('data-role'), ...box(e)})),
    canvas: box(document.querySelector('.canvas')),
    scrollWidth: document.documentElement.scrollWidth, innerWidth,
  };
}"""


def overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["r"] - 0.5
        and b["x"] < a["r"] - 0.5
        and a["y"] < b["b"] - 0.5
        and b["y"] < a["b"] - 0.5
    )


@pytest.mark.parametrize(
    "screen", [LANDSCAPE, TABLET_LANDSCAPE], ids=["phone-844x390", "tablet-1024x768"]
)
@pytest.mark.parametrize("who", ["follower", "teacher"])
def test_landscape_tools_are_clear_of_the_legend(browser, page_api, screenshots, screen, who):
    context = browser.new_context(
        **{**CONTEXT_ARGS, **screen, "is_mobile": True, "has_touch": True}
    )
    try:
        page = context.new_page()
        graph, token = page_api.create({"example": "seed"})
        page.goto(
            f"{page_api.base}/g/{graph['id']}" + (f"#edit={token}" if who == "teacher" else "")
        )
        expect(page.locator("#app")).to_have_attribute("data-ready", "true")
        settle(page)
        d = page.evaluate(OVERLAYS)
        names = {t["name"] for t in d["tools"]}
        assert {"find", "follow", "fit"} <= names, d["tools"]
        if who == "follower":
            assert "follow-teacher" in names
        c = d["canvas"]
        for tool in d["tools"]:
            # every tool whole inside the drawing, and nothing of the legend over it
            assert c["x"] - 1 <= tool["x"] and tool["r"] <= c["r"] + 1, (tool, c)
            for chip in d["legend"]:
                assert not overlap(tool, chip), (tool, chip)
        for i, a in enumerate(d["tools"]):
            for b in d["tools"][i + 1 :]:
                assert not overlap(a, b), (a, b)
        assert d["scrollWidth"] <= d["innerWidth"]
        layout = page.evaluate(LAYOUT)
        assert not layout["unreachable"], layout["unreachable"]
        w = screen["viewport"]["width"]
        page.screenshot(path=screenshots / f"landscape-{who}-{w}.png")
    finally:
        context.close()


# the data table's rows whole inside the pane that shows it, its own box and the screen, and
# the least font size of their cells
TABLE_ROWS = r"""() => {
  const table = document.querySelector('.data-table');
  const pane = table.closest('.pane').getBoundingClientRect();
  const wrap = table.parentElement.getBoundingClientRect(); // it scrolls (and clips) sideways
  const top = Math.max(pane.top, wrap.top, 0);
  const bottom = Math.min(pane.bottom, wrap.bottom, innerHeight);
  const rows = [...document.querySelectorAll('.data-table tbody tr')];
  const whole = rows.filter((r) => { const b = r.getBoundingClientRect();
    return b.height > 10 && b.top >= top - 1 && b.bottom <= bottom + 1; });
  const sizes = [...document.querySelectorAll('.data-table td')]
    .map((td) => parseFloat(getComputedStyle(td).fontSize));
  return {rows: rows.length, whole: whole.length, font: Math.min(...sizes)};
}"""


@pytest.mark.parametrize(
    ("screen", "least"), [(PHONE, 8), (LANDSCAPE, 4)], ids=["phone-390x844", "phone-844x390"]
)
def test_day1_data_table_shows_readable_rows_on_a_phone(
    browser, page_api, screenshots, screen, least
):
    context = browser.new_context(
        **{**CONTEXT_ARGS, **screen, "is_mobile": True, "has_touch": True}
    )
    try:
        page = context.new_page()
        page.goto(f"{page_api.base}/lessons/day1#step-1")
        root = page.locator("#lesson")
        expect(root).to_have_attribute("data-step", "1")
        expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
        expect(page.locator(".data-table tbody tr")).to_have_count(10)
        settle(page)
        d = page.evaluate(TABLE_ROWS)
        assert d["whole"] >= least, d
        assert d["font"] >= 12, d
        w = screen["viewport"]["width"]
        page.screenshot(path=screenshots / f"day1-table-{w}.png")
        # the pane scrolls down to the last row
        page.locator(".data-table tbody tr").last.scroll_into_view_if_needed()
        expect(page.locator(".data-table tbody tr").last).to_be_in_viewport()
    finally:
        context.close()
