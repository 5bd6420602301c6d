"""A backward target in Chromium: with `linear` as the target, backward visits only
linear's ancestors, and the caption, the inspector and the highlight name the node the
server says the step visited (`cursor.last`, contract v1.2), not the graph's output."""

from __future__ import annotations

import pytest

from tests.helpers import browser_stack, wait_position

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

CURRENT = """() => [...document.querySelectorAll('#graph-svg .node.is-current')]
  .map((g) => g.dataset.nodeId)"""


def label_of(state: dict, node_id: str) -> str:
    node = next(n for n in state["nodes"] if n["id"] == node_id)
    return node.get("label") or node["id"]


def assert_names_the_last_step(page, state: dict) -> str:
    """Caption, inspector and highlight all name the node of the API's `cursor.last`."""
    last = state["cursor"]["last"]
    assert last["phase"] == "backward", state["cursor"]
    name = label_of(state, last["node"])
    caption = page.locator("[data-role=caption]")
    expect(caption.locator(".phase-chip")).to_have_text("backward")
    expect(caption.locator("strong")).to_have_text(name)
    # the derivative is of the target, not of the loss
    expect(caption).to_contain_text(f"\u2202{label_of(state, state['target'])}/\u2202{name}")
    expect(page.locator("#inspector [data-role=inspector-label]")).to_have_text(name)
    expect(page.locator("#inspector [data-role=following]")).to_be_visible()
    assert page.evaluate(CURRENT) == [last["node"]]
    return last["node"]


def test_backward_to_a_target_names_the_node_it_visits(page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    status, data = page_api.call("PUT", f"/api/graphs/{gid}/options", {"target": "linear"}, token)
    assert status == 200, data
    total = data["cursor"]["total"]
    n = len(data["order"])
    assert total < 2 * n  # backward visits linear's ancestors only

    page.goto(f"{page_server}/g/{gid}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=live]")).to_have_text("live")
    wait_position(page, 0, total)

    page.keyboard.press("f")  # forward all
    wait_position(page, n, total)

    # one backward step in the page: the server's first backward node is the target
    page.keyboard.press("ArrowRight")
    wait_position(page, n + 1, total)
    state = page_api.state(gid)
    assert state["cursor"]["position"] == n + 1
    assert assert_names_the_last_step(page, state) == "linear"
    page.wait_for_timeout(800)  # the travelling dots and the highlight settle
    page.screenshot(path=screenshots / "target-backward-step.png")

    # the next one is linear's last input in the order backward walks it
    page.keyboard.press("ArrowRight")
    wait_position(page, n + 2, total)
    state = page_api.state(gid)
    assert assert_names_the_last_step(page, state) == "b"
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "target-backward-second-step.png")
