"""The graph page in Chromium: a teacher steps the course's graph through its whole timeline
from the keyboard, and at every step the page shows exactly what the API's state says."""

from __future__ import annotations

import math
import re

import pytest

from tests.helpers import READ_PAGE, browser_stack, open_editable, wait_position

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def shown_number(text: str) -> float | None:
    """A number as the page prints it (U+2212 minus, a dash where nothing is computed)."""
    text = text.strip().replace("\u2212", "-")
    if text in ("", "\u2014"):
        return None
    if text in ("NaN", "\u221e", "-\u221e"):
        return {"NaN": math.nan, "\u221e": math.inf, "-\u221e": -math.inf}[text]
    return float(text)


def same(shown: str, expected) -> bool:
    got = shown_number(shown)
    if expected is None or got is None:
        return got is None and expected is None
    return got == pytest.approx(float(expected), rel=1e-3, abs=1e-12)


def assert_page_shows(page, state: dict) -> None:
    """Every node's value and gradient, every edge's contribution and the current node."""
    shown = page.evaluate(READ_PAGE)
    for node in state["nodes"]:
        got = shown["nodes"][node["id"]]
        assert same(got["value"], node["value"]), (state["cursor"], node["id"], got, node["value"])
        assert same(got["grad"], node["grad"]), (state["cursor"], node["id"], got, node["grad"])
    labels = {(e["source"], e["target"], e["slot"]): e for e in shown["edges"]}
    for edge in state["edges"]:
        # a label is drawn once an edge has something to show
        label = labels.get(
            (edge["source"], edge["target"], edge["slot"]), {"text": "", "visible": False}
        )
        assert same(label["text"], edge["grad"]), (state["cursor"], edge, label)
        assert label["visible"] == (edge["grad"] is not None)
    # the node the server says the last step visited (contract v1.2), never recomputed here
    last = state["cursor"]["last"]
    assert shown["current"] == ([last["node"]] if last else [])


def test_course_example_through_the_whole_timeline_from_the_keyboard(
    page, page_server, page_api, screenshots
):
    # the teacher starts from the start page and picks the course's first graph
    page.goto(page_server + "/")
    expect(page.locator("#start")).to_have_attribute("data-ready", "true")
    page.locator("[data-example=seed]").click()
    page.wait_for_url(re.compile(r"/g/[^/#]+$"))
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    graph_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("[data-role=mode]")).to_have_text("Your graph")

    state = page_api.state(graph_id)
    total = state["cursor"]["total"]
    n = len(state["order"])
    assert total == 2 * n == 14
    assert_page_shows(page, state)

    # forward and backward, one step per key press, checked against the API every time
    for position in range(1, total + 1):
        page.keyboard.press("ArrowRight")
        wait_position(page, position, total)
        state = page_api.state(graph_id)
        assert state["cursor"]["position"] == position
        assert_page_shows(page, state)
        if position in (5, n + 3):
            page.wait_for_timeout(800)  # the travelling dots and the highlight settle
            name = "forward-step.png" if position == 5 else "backward-step.png"
            page.screenshot(path=screenshots / name)
    expect(page.locator("[data-role=phase]")).to_have_text("done")
    k = next(node for node in state["nodes"] if node["id"] == "k")
    assert k["grad"] == pytest.approx(-0.0343677, rel=1e-4)

    # past the end nothing happens
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(150)
    assert page_api.state(graph_id)["cursor"]["position"] == total

    # stepping back undoes exactly what each step showed
    for position in range(total - 1, n - 2, -1):
        page.keyboard.press("ArrowLeft")
        wait_position(page, position, total)
        state = page_api.state(graph_id)
        assert_page_shows(page, state)

    page.keyboard.press("Home")
    wait_position(page, 0, total)
    assert_page_shows(page, page_api.state(graph_id))
    page.keyboard.press("End")
    wait_position(page, total, total)
    assert_page_shows(page, page_api.state(graph_id))

    # f and b run whole passes
    page.keyboard.press("Home")
    wait_position(page, 0, total)
    page.keyboard.press("f")
    wait_position(page, n, total)
    assert_page_shows(page, page_api.state(graph_id))
    page.keyboard.press("b")
    wait_position(page, total, total)
    assert_page_shows(page, page_api.state(graph_id))


def test_timeline_slider_seeks(page, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    assert "#edit" not in page.url  # the token left the address bar
    slider = page.locator("[data-role=timeline]")
    total = graph["cursor"]["total"]

    # a click on the track, 9/14 of the way (the thumb is 22 px wide)
    box = slider.bounding_box()
    x = box["x"] + 11 + (box["width"] - 22) * 9 / total
    page.mouse.click(x, box["y"] + box["height"] / 2)
    wait_position(page, 9, total)
    assert_page_shows(page, page_api.state(graph["id"]))

    # the slider's own keys
    slider.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    wait_position(page, 7, total)
    state = page_api.state(graph["id"])
    assert state["cursor"]["position"] == 7
    assert_page_shows(page, state)


def test_inspector_chain_rule_presentation_and_chinese(page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    total = graph["cursor"]["total"]
    page.keyboard.press("End")
    wait_position(page, total, total)
    state = page_api.state(graph["id"])
    grads = {n["id"]: n["grad"] for n in state["nodes"]}

    page.locator('#graph-svg [data-node-id="k"]').click()
    inspector = page.locator("#inspector")
    expect(inspector.locator("[data-role=inspector-label]")).to_have_text("k")
    chain = inspector.locator("[data-role=chain-rule]")
    # the chain written out for k, with the numbers the API reports
    expect(chain).to_contain_text(
        "\u2202loss/\u2202k = \u2202loss/\u2202linear \u00b7 \u2202linear/\u2202k"
    )
    expect(chain).to_contain_text(
        "\u2202loss/\u2202sigmoid \u00b7 \u2202sigmoid/\u2202linear \u00b7 \u2202linear/\u2202k"
    )
    text = chain.inner_text().replace("\u2212", "-")
    assert f"{grads['k']:.6g}" in text
    assert f"{grads['linear']:.6g}" in text
    # the local derivative formulas come from GET /api/ops
    expect(chain).to_contain_text("d linear/dw")
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "inspector-chain-rule.png")

    # presentation mode: panels hidden, the inspector as an overlay with i
    page.keyboard.press("Escape")
    page.keyboard.press("Home")
    wait_position(page, 0, total)
    page.keyboard.press("p")
    expect(page.locator("body")).to_have_class(re.compile("presenting"))
    expect(page.locator(".panel")).to_be_hidden()
    for position in range(1, 10):
        page.keyboard.press("PageDown")  # a presenter's clicker
        wait_position(page, position, total)
    assert_page_shows(page, page_api.state(graph["id"]))
    page.wait_for_timeout(700)  # let the travelling dots finish
    page.screenshot(path=screenshots / "presentation-backward.png")
    caption = page.locator("[data-role=caption]")
    expect(caption).to_contain_text("sigmoid")
    page.keyboard.press("]")
    page.keyboard.press("i")
    page.keyboard.press("i")
    expect(page.locator(".panel")).to_be_visible()
    page.screenshot(path=screenshots / "presentation-inspector.png")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("body")).not_to_have_class(re.compile("presenting"))

    # Chinese, switched from the keyboard; the numbers stay the same
    page.keyboard.press("l")
    expect(page.locator("[data-tab-button=node]")).to_have_text("节点")
    expect(page.locator("[data-role=mode]")).to_have_text("你的图")
    expect(page.locator('#graph-svg [data-node-id="k"] .node-caption').first).to_have_text("值")
    page.keyboard.press("End")
    wait_position(page, total, total)
    page.locator('#graph-svg [data-node-id="linear"]').click()
    expect(page.locator("#inspector")).to_contain_text("链式法则")
    assert_page_shows(page, page_api.state(graph["id"]))
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "chinese-inspector.png")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"


def test_tensor_graph_shows_shapes_and_receipts(page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "two_layer"})
    open_editable(page, page_server, graph, token)
    total = graph["cursor"]["total"]
    page.keyboard.press("End")
    wait_position(page, total, total)
    state = page_api.state(graph["id"])
    w1 = next(n for n in state["nodes"] if n["id"] == "W1")
    node = page.locator('#graph-svg [data-node-id="W1"]')
    expect(node.locator("[data-role=value]")).to_contain_text("2\u00d73")
    expect(node.locator("[data-role=grad]")).to_contain_text("2\u00d73")
    node.click()
    chain = page.locator("#inspector [data-role=chain-rule]")
    # the backward receipt with the real shapes of what the local rule multiplies
    expect(chain).to_contain_text("4\u00d72")
    expect(chain).to_contain_text("\u2192 dW1 2\u00d73")
    text = page.locator("#inspector").inner_text().replace("\u2212", "-")
    for row in w1["grad"]:
        for v in row:
            assert f"{v:.4g}" in text
    page.screenshot(path=screenshots / "tensors-inspector.png")
