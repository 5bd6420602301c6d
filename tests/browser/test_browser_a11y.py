"""The pages for a dark room, a keyboard and a screen reader, in Chromium: the dark theme
follows prefers-color-scheme and its toggle; axe-core finds no text under WCAG AA contrast
(4.5:1) on the graph page and a lesson in either theme; the graph is one tab stop whose
nodes [ ] and Tab walk in the server's order, each read as "name, op, value, gradient";
a canvas-drawn graph says the node in a live region; the editor's drafts are reached by
[ ] and by the find box."""

from __future__ import annotations

import re

import pytest

from tests.helpers import (
    CONTEXT_ARGS,
    STEP_TIMEOUT,
    browser_stack,
    chain,
    open_editable,
    settle,
    wait_js,
    wait_position,
)

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

SHOTS = "a11y"


def shot(screenshots, page, name: str) -> None:
    path = screenshots / SHOTS
    path.mkdir(exist_ok=True)
    page.screenshot(path=str(path / f"{name}.png"))


def number(text: str) -> float:
    return float(text.strip().replace("\u2212", "-"))


def node_of(state: dict, node_id: str) -> dict:
    return next(n for n in state["nodes"] if n["id"] == node_id)


def tab_into_graph(page) -> None:
    """Tab from the top of the page until the drawing has the focus (a bounded walk)."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement && document.activeElement.id")
        if focused == "graph-svg":
            return
    raise AssertionError("Tab never reached the graph")


def theme(page) -> str:
    return page.evaluate("() => document.documentElement.getAttribute('data-theme')")


# ---- the dark theme ------------------------------------------------------------------------


def test_the_theme_follows_the_system_and_the_toggle_remembers(
    browser, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "seed"})
    context = browser.new_context(**CONTEXT_ARGS, color_scheme="dark")
    # the theme when the parser reaches <body>, before anything of the page is painted
    context.add_init_script(
        """new MutationObserver((records, observer) => {
            if (!document.body) return;
            window.themeAtBody = document.documentElement.getAttribute('data-theme');
            observer.disconnect();
        }).observe(document, {childList: true, subtree: true});"""
    )
    try:
        page = context.new_page()
        open_editable(page, page_server, graph, token)
        # the system says dark: the page is dark from its first paint (themeinit.js in <head>)
        assert page.evaluate("() => window.themeAtBody") == "dark"
        assert theme(page) == "dark"
        bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(11, 18, 32)", bg
        toggle = page.locator("[data-role=theme]")
        expect(toggle).to_have_text("Theme: auto")
        # auto -> light -> dark -> auto
        toggle.click()
        expect(toggle).to_have_text("Theme: light")
        assert theme(page) == "light"
        assert page.evaluate("() => localStorage.getItem('stepgrad:theme')") == "light"
        # the choice holds over a reload, against the system's dark
        page.reload()
        expect(page.locator("#app")).to_have_attribute("data-ready", "true")
        assert page.evaluate("() => window.themeAtBody") == "light"
        assert theme(page) == "light"
        expect(page.locator("[data-role=theme]")).to_have_text("Theme: light")
        page.locator("[data-role=theme]").click()
        assert theme(page) == "dark"
        page.locator("[data-role=theme]").click()
        expect(page.locator("[data-role=theme]")).to_have_text("Theme: auto")
        assert page.evaluate("() => localStorage.getItem('stepgrad:theme')") is None
        # auto follows the system as it changes
        page.emulate_media(color_scheme="light")
        wait_js(page, "() => document.documentElement.dataset.theme === 'light'")
        page.emulate_media(color_scheme="dark")
        wait_js(page, "() => document.documentElement.dataset.theme === 'dark'")
        # the drawing's colours follow: a node's name is light on dark
        fill = page.evaluate(
            "() => getComputedStyle(document.querySelector('#graph-svg .node-label')).fill"
        )
        assert fill == "rgb(241, 245, 249)", fill
        # the start page and a lesson have the toggle too, in Chinese as well
        for path in ("/", "/lessons/day2"):
            page.goto(page_server + path)
            expect(page.locator("[data-role=theme]")).to_have_text("Theme: auto")
            assert theme(page) == "dark"
        page.keyboard.press("l")
        expect(page.locator("[data-role=theme]")).to_have_text("主题：自动")
        page.keyboard.press("l")
    finally:
        context.close()


# ---- contrast: axe-core on both themes -------------------------------------------------------

RUN_AXE = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'rule', values: ['color-contrast']},
    resultTypes: ['violations']});
  return r.violations.flatMap((v) => v.nodes.map((n) => ({
    target: n.target.join(' '), summary: n.failureSummary, html: n.html.slice(0, 160)})));
}"""


# axe reads CSS `color`, which SVG text does not use (it is filled): the drawing's texts are
# measured here, each text's fill against its node box's fill, with WCAG's formula
SVG_CONTRAST = r"""() => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
  const lin = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map(lin);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const out = [];
  let checked = 0;
  const texts = "#graph-svg .node text, #graph-svg .edit-layer .draft text";
  for (const text of document.querySelectorAll(texts)) {
    if (!text.textContent.trim() || !text.checkVisibility({checkVisibilityCSS: true})) continue;
    const node = text.closest(".node, .draft");
    const box = node.querySelector(".node-box, .draft-box");
    const r = ratio(getComputedStyle(text).fill, getComputedStyle(box).fill);
    checked++;
    const id = node.dataset.nodeId || node.dataset.draftId;
    const cls = text.getAttribute("class");
    if (r < 4.5) out.push(`${id}: ${cls} "${text.textContent}" ${r.toFixed(2)}:1`);
  }
  return {out, checked};
}"""


def contrast_violations(page, axe_source: str) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source)
    settle(page)
    found = page.evaluate(RUN_AXE)
    drawn = page.evaluate(SVG_CONTRAST)
    assert drawn["checked"] >= 8, drawn  # the drawing's texts were there to measure
    found += [{"target": "#graph-svg", "summary": "under 4.5:1", "html": t} for t in drawn["out"]]
    return found


def report(found: dict) -> str:
    return "\n".join(
        f"{where}: {v['target']}: {v['summary'].splitlines()[-1].strip()} {v['html']}"
        for where, vs in found.items()
        for v in vs
    )


def axe_context(browser, scheme: str):
    # the Content-Security-Policy forbids injected scripts: axe's page only
    return browser.new_context(
        **CONTEXT_ARGS, color_scheme=scheme, bypass_csp=True, reduced_motion="reduce"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_contrast_violation_on_the_graph_page(
    browser, page_server, page_api, axe_source, screenshots, scheme
):
    graph, token = page_api.create({"example": "seed"})
    total = page_api.state(graph["id"])["cursor"]["total"]
    context = axe_context(browser, scheme)
    try:
        page = context.new_page()
        open_editable(page, page_server, graph, token)
        assert theme(page) == scheme
        found = {}
        found["start"] = contrast_violations(page, axe_source)
        # values and gradients on show: all of forward, some of backward
        forward = len(page_api.state(graph["id"])["order"])
        page.keyboard.press("f")
        wait_position(page, forward, total)
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        wait_position(page, forward + 2, total)
        found["stepped"] = contrast_violations(page, axe_source)
        # the inspector on a node with both numbers, the keyboard's ring on it
        tab_into_graph(page)
        page.keyboard.press("]")
        expect(page.locator("#inspector")).to_have_attribute("data-node", re.compile(".+"))
        found["inspector"] = contrast_violations(page, axe_source)
        shot(screenshots, page, f"graph-{scheme}")
        # presenting, on a projector
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.keyboard.press("p")
        page.keyboard.press("i")
        settle(page)
        found["presenting"] = contrast_violations(page, axe_source)
        shot(screenshots, page, f"graph-{scheme}-presenting-1920")
        assert not any(found.values()), report(found)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_contrast_violation_on_a_lesson(browser, page_server, axe_source, screenshots, scheme):
    context = axe_context(browser, scheme)
    try:
        page = context.new_page()
        found = {}
        for step in (4, 7):
            page.goto("about:blank")  # a new hash alone would not load the page again
            page.goto(f"{page_server}/lessons/day2#step-{step}")
            root = page.locator("#lesson")
            expect(root).to_have_attribute("data-step", str(step), timeout=STEP_TIMEOUT)
            expect(root).to_have_attribute("data-step-state", "ready", timeout=STEP_TIMEOUT)
            # the toggle says what the system does: the same theme
            assert theme(page) == scheme
            found[f"step {step}"] = contrast_violations(page, axe_source)
            shot(screenshots, page, f"lesson-day2-{step}-{scheme}")
        # the lesson's graph walks as the graph page's does, in the server's order
        order = page.evaluate("() => window.stepgrad.state.rec.graph.order")
        start = page.evaluate("() => window.stepgrad.state.selected")  # the step's node (k1)
        want = order[min(order.index(start) + 2, len(order) - 1) if start else 1]
        tab_into_graph(page)
        page.keyboard.press("]")
        page.keyboard.press("]")
        wait_js(page, "id => window.stepgrad.state.selected === id", arg=want)
        expect(page.locator("#sg-active-node")).to_have_accessible_name(
            re.compile(rf"^{re.escape(want)}, .*value \S+, gradient \S+")
        )
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.keyboard.press("p")
        settle(page)
        found["presenting"] = contrast_violations(page, axe_source)
        shot(screenshots, page, f"lesson-day2-7-{scheme}-presenting-1920")
        page.keyboard.press("p")  # out of presenting: the top bar's buttons are back
        # the toggle's other theme on the same page (auto -> light -> dark)
        toggle = page.locator("[data-role=theme]")
        toggle.click()
        if scheme == "light":
            toggle.click()
        other = "dark" if scheme == "light" else "light"
        assert theme(page) == other
        found[f"toggled to {other}"] = contrast_violations(page, axe_source)
        assert not any(found.values()), report(found)
    finally:
        context.close()


# ---- the graph from the keyboard ---------------------------------------------------------------


def test_one_tab_stop_walked_by_brackets_and_tab(page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "seed"})
    state = page_api.state(graph["id"])
    order, total = state["order"], state["cursor"]["total"]
    open_editable(page, page_server, graph, token)
    page.keyboard.press("f")  # the forward pass: every node holds a value
    wait_position(page, len(order), total)
    svg = page.locator("#graph-svg")
    expect(svg).to_have_attribute("role", "application")
    expect(svg).to_have_attribute("tabindex", "0")
    tab_into_graph(page)
    for _ in range(3):
        page.keyboard.press("]")
    state = page_api.state(graph["id"])
    third = node_of(state, order[2])
    wait_js(page, "id => window.stepgrad.state.selected === id", arg=third["id"])
    # the screen reader's node: the active descendant, named with its op, value and gradient
    active = page.locator("#graph-svg #sg-active-node")
    expect(svg).to_have_attribute("aria-activedescendant", "sg-active-node")
    expect(active).to_have_attribute("data-node-id", third["id"])
    name = active.get_attribute("aria-label")
    label = third.get("label") or third["id"]
    assert name.startswith(label + ", "), name
    m = re.search(r"value (\S+), gradient (.+)$", name)
    assert m, name
    assert number(m.group(1)) == pytest.approx(third["value"], rel=1e-3), name
    assert m.group(2) == "none yet"  # backward has not run
    expect(active).to_have_accessible_name(name)
    # the ring shows where the keyboard is
    ring = page.locator("#graph-svg [data-role=focus-ring]")
    expect(ring).to_have_attribute("visibility", "visible")
    shot(screenshots, page, "keyboard-walk")
    # the arrows still step, the focus stays in the drawing
    page.keyboard.press("ArrowRight")
    wait_position(page, len(order) + 1, total)
    assert page.evaluate("() => document.activeElement.id") == "graph-svg"
    # Tab walks on to the last node, in the server's order, then leaves the drawing
    for i in range(3, len(order)):
        page.keyboard.press("Tab")
        wait_js(page, "id => window.stepgrad.state.selected === id", arg=order[i])
        assert page.evaluate("() => document.activeElement.id") == "graph-svg"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") != "graph-svg"
    assert page.evaluate("() => window.stepgrad.state.selected") == order[-1]
    # Shift+Tab comes back into the drawing, and walks back from there
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "graph-svg"
    page.keyboard.press("Shift+Tab")
    wait_js(page, "id => window.stepgrad.state.selected === id", arg=order[-2])
    # in Chinese the node reads in Chinese
    page.keyboard.press("l")
    expect(active).to_have_attribute("aria-label", re.compile("值 .+，梯度"))
    page.keyboard.press("l")


def test_a_canvas_graph_says_the_node_in_a_live_region(page, page_server, page_api, screenshots):
    spec = chain(480)  # over the canvas threshold (graphview.js BIG_GRAPH)
    graph, token = page_api.create(spec)
    state = page_api.state(graph["id"])
    order, total = state["order"], state["cursor"]["total"]
    page.goto(f"{page_server}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-painted", "true", timeout=20000)
    expect(page.locator("#graph-svg")).to_have_class(re.compile(r"\bis-big\b"))
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    wait_position(page, 4, total)
    tab_into_graph(page)
    live = page.locator("[data-role=graph-live]")
    expect(live).to_have_attribute("aria-live", "polite")
    for _ in range(3):
        page.keyboard.press("]")
    state = page_api.state(graph["id"])
    third = node_of(state, order[2])
    expect(live).to_have_text(re.compile(rf"^{re.escape(third['id'])}, "))
    m = re.search(r"value (\S+), gradient", live.text_content())
    assert m and number(m.group(1)) == pytest.approx(third["value"], rel=1e-3)
    # the step caption stays a live region of its own
    expect(page.locator("[data-role=caption]")).to_have_attribute("aria-live", "polite")
    # the canvas takes the theme's colours from CSS, at once
    light = page.evaluate("() => window.stepgrad.view.canvasLayer.palette.label")
    page.locator("[data-role=theme]").click()  # auto (light) -> light
    page.locator("[data-role=theme]").click()  # -> dark
    wait_js(page, "light => window.stepgrad.view.canvasLayer.palette.label !== light", arg=light)
    settle(page)
    shot(screenshots, page, "canvas-graph-dark")
    page.keyboard.press("]")
    fourth = node_of(page_api.state(graph["id"]), order[3])
    expect(live).to_have_text(re.compile(rf"^{re.escape(fourth['id'])}, "))


def test_drafts_are_reached_by_brackets_and_find(page, page_server, page_api, screenshots):
    graph, token = page_api.create(
        {"name": "drafts", "nodes": [{"id": "x", "op": "input", "value": 1.0}]}
    )
    open_editable(page, page_server, graph, token)
    page.keyboard.press("e")
    expect(page.locator("[data-role=edit-bar]")).to_be_visible()
    # a node that waits for two inputs stays a draft
    page.keyboard.press("a")
    expect(page.locator("[data-role=picker]")).to_be_visible()
    page.keyboard.type("mul")
    page.keyboard.press("Enter")
    expect(page.locator("[data-draft-id=mul]")).to_be_visible()
    page.keyboard.press("Escape")
    wait_js(page, "() => !window.stepgrad.state.selected")
    # ] walks the sent node, then the draft
    tab_into_graph(page)
    page.keyboard.press("]")
    wait_js(page, "() => window.stepgrad.state.selected === 'x'")
    page.keyboard.press("]")
    wait_js(page, "() => window.stepgrad.state.selected === 'mul'")
    expect(page.locator("#graph-svg")).to_have_attribute("aria-activedescendant", "sg-active-node")
    expect(page.locator("#sg-active-node")).to_have_attribute("data-draft-id", "mul")
    expect(page.locator("#sg-active-node")).to_have_accessible_name(re.compile("^mul, mul, draft"))
    shot(screenshots, page, "draft-walk")
    # the find box finds the draft
    page.keyboard.press("Escape")
    wait_js(page, "() => !window.stepgrad.state.selected")
    page.keyboard.press("/")
    page.keyboard.type("mul")
    page.keyboard.press("Enter")
    wait_js(page, "() => window.stepgrad.state.selected === 'mul'")
    expect(page.locator("[data-draft-id=mul]")).to_have_class(re.compile(r"\bis-selected\b"))
