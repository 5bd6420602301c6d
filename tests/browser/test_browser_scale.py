"""A 10,000-node graph in Chromium: Fit shows all of it, the find box centres and selects a
node deep inside it, the minimap moves the camera, and a step shows its value."""

from __future__ import annotations

import re

import pytest

from tests.helpers import big_graph_server, browser_stack, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


@pytest.fixture(scope="module")
def big_api():
    """A server that takes graphs of 10,000 nodes, and one such graph on it."""
    with big_graph_server(10_000) as (api, graphs):
        graph, token = graphs[10_000]
        assert len(graph["nodes"]) > 9_900
        yield api, graph, token


# where a node's element is on screen, and the drawing's box
BOXES = """id => {
  const svg = document.querySelector('#graph-svg').getBoundingClientRect();
  const g = document.querySelector(`#graph-svg [data-node-id="${id}"]`);
  const r = g ? g.getBoundingClientRect() : null;
  return {svg: {x: svg.x, y: svg.y, w: svg.width, h: svg.height},
          node: r && {x: r.x, y: r.y, w: r.width, h: r.height}, cls: g && g.getAttribute('class')};
}"""

# the whole drawing's box on screen, from the camera and the drawing's bounds
DRAWING = """() => {
  const v = window.stepgrad.view;
  const b = v.bounds, k = v.view.k;
  return {x: v.view.x + b.x * k, y: v.view.y + b.y * k, w: b.w * k, h: b.h * k,
          svgW: v.size().w, svgH: v.size().h, k};
}"""


def open_big(page, api, graph, token) -> None:
    page.goto(f"{api.base}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-painted", "true", timeout=20000)
    expect(page.locator("[data-role=live]")).to_have_text("live")


def test_fit_shows_the_whole_graph_as_a_shape(page, big_api, screenshots):
    api, graph, token = big_api
    open_big(page, api, graph, token)
    page.keyboard.press("0")
    page.wait_for_timeout(300)
    d = page.evaluate(DRAWING)
    # all of it inside the drawing's box, and not a speck: it fills one side
    assert d["x"] >= -1 and d["y"] >= -1
    assert d["x"] + d["w"] <= d["svgW"] + 1 and d["y"] + d["h"] <= d["svgH"] + 1
    assert d["w"] >= 0.8 * (d["svgW"] - 40) or d["h"] >= 0.8 * (d["svgH"] - 120)
    # far out the SVG holds no nodes (the canvas draws them); the minimap is there
    assert page.locator("#graph-svg [data-node-id]").count() == 0
    expect(page.locator(".minimap")).to_be_visible()
    # the canvas has drawn the graph: dark pixels where the nodes are
    inked = page.evaluate(
        """() => { const c = document.querySelector('.graph-canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n / (px.length / 4); }"""
    )
    assert inked > 0.05
    page.screenshot(path=screenshots / "scale-10000-fit.png")
    # zooming out stops a little past the whole graph, and Fit comes back
    for _ in range(30):
        page.keyboard.press("-")
    page.wait_for_timeout(100)
    assert page.evaluate(DRAWING)["k"] >= d["k"] / 2 - 1e-9
    page.keyboard.press("0")
    page.wait_for_timeout(100)
    assert page.evaluate(DRAWING)["k"] == pytest.approx(d["k"])


def test_find_centres_and_selects_a_node_deep_in_the_graph(page, big_api, screenshots):
    api, graph, token = big_api
    open_big(page, api, graph, token)
    target = "l57_63"
    page.keyboard.press("/")
    expect(page.locator("[data-role=find]")).to_be_focused()
    page.keyboard.type(target)
    page.keyboard.press("Enter")
    node = page.locator(f'#graph-svg [data-node-id="{target}"]')
    expect(node).to_have_count(1)
    wait_js(
        page,
        'id => (document.querySelector(`#graph-svg [data-node-id="${id}"]`)'
        " .getAttribute('class') || '').includes('is-selected')",
        arg=target,
    )
    box = page.evaluate(BOXES, target)
    svg, r = box["svg"], box["node"]
    assert "is-selected" in box["cls"].split()
    # on screen, near the middle of the drawing, and large enough to read
    assert svg["x"] <= r["x"] and r["x"] + r["w"] <= svg["x"] + svg["w"]
    assert svg["y"] <= r["y"] and r["y"] + r["h"] <= svg["y"] + svg["h"]
    dx = r["x"] + r["w"] / 2 - svg["x"] - svg["w"] / 2
    dy = r["y"] + r["h"] / 2 - svg["y"] - svg["h"] / 2
    assert abs(dx) < 60 and abs(dy) < 60
    assert r["w"] >= 120
    expect(page.locator("#inspector [data-role=inspector-label]")).to_have_text(target)
    # a label finds too (ids here are their own labels), and a miss says so
    page.locator("[data-role=find]").fill("no_such_node")
    page.locator("[data-role=find]").press("Enter")
    expect(page.locator("[data-role=message]")).to_contain_text("no_such_node")
    page.screenshot(path=screenshots / "scale-10000-find.png")


def test_minimap_moves_the_camera(page, big_api, screenshots):
    api, graph, token = big_api
    open_big(page, api, graph, token)
    page.locator("[data-role=find]").fill("l5_10")
    page.locator("[data-role=find]").press("Enter")
    page.wait_for_timeout(200)
    before = page.evaluate("() => ({...window.stepgrad.view.view})")
    mini = page.locator(".minimap").bounding_box()
    # a click near the right end of the minimap: the camera goes to the output's side
    page.mouse.click(mini["x"] + mini["width"] * 0.9, mini["y"] + mini["height"] * 0.5)
    page.wait_for_timeout(200)
    after = page.evaluate("() => ({...window.stepgrad.view.view})")
    assert after["k"] == pytest.approx(before["k"])
    assert after["x"] < before["x"] - 1000  # moved right across the graph: the drawing slides left
    # the nodes now in view are from the last layers
    ids = page.evaluate(
        "() => [...document.querySelectorAll('#graph-svg [data-node-id]')]"
        ".map((g) => g.dataset.nodeId)"
    )
    assert ids and all(not i.startswith(("p", "l5_")) for i in ids)
    # a drag moves it on
    page.mouse.move(mini["x"] + mini["width"] * 0.9, mini["y"] + mini["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(mini["x"] + mini["width"] * 0.5, mini["y"] + mini["height"] * 0.5, steps=4)
    page.mouse.up()
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.stepgrad.view.view.x") > after["x"] + 1000
    page.screenshot(path=screenshots / "scale-10000-minimap.png")


def test_a_step_shows_its_value_and_the_camera_follows(page, big_api, screenshots):
    api, graph, token = big_api
    open_big(page, api, graph, token)
    page.keyboard.press("Home")
    expect(page.locator("[data-role=position]")).to_have_text(f"0 / {graph['cursor']['total']}")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-role=position]")).to_have_text(f"1 / {graph['cursor']['total']}")
    state = api.state(graph["id"])
    first = state["cursor"]["last"]["node"]
    node = page.locator(f'#graph-svg [data-node-id="{first}"]')
    # the camera followed the step: the node is drawn in full, with the API's value
    expect(node.locator("[data-role=value]")).not_to_have_text("\u2014")
    value = next(n["value"] for n in state["nodes"] if n["id"] == first)
    shown = float(node.locator("[data-role=value]").text_content().replace("\u2212", "-"))
    assert shown == pytest.approx(value, rel=1e-3, abs=1e-9)
    assert "is-current" in node.get_attribute("class").split()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-role=position]")).to_have_text(f"2 / {graph['cursor']['total']}")
    second = api.state(graph["id"])["cursor"]["last"]["node"]
    expect(page.locator(f'#graph-svg [data-node-id="{second}"]')).to_have_class(
        re.compile(r"\bis-current\b")
    )
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / "scale-10000-labels.png")
