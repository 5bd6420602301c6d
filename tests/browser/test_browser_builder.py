"""The network builder in Chromium: a 2-16-16-1 tanh network on the moons, made from the
start page's dataset card with + and - for layers and neurons, then trained in the page."""

from __future__ import annotations

import re

import pytest

from tests.helpers import browser_stack, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def test_moons_network_built_and_trained(page, page_server, page_api, screenshots):
    page.goto(page_server + "/")
    expect(page.locator("[data-role=build-section]")).to_have_attribute("data-ready", "true")
    page.locator("[data-build=moons]").click()
    dialog = page.locator("[data-role=builder]")
    expect(dialog).to_be_visible()
    sizes = dialog.locator("[data-role=builder-sizes]")
    expect(sizes).to_have_text("2\u201316\u201316\u20131")
    # + and - for layers and for neurons
    dialog.locator("[data-builder=add-layer]").click()
    expect(sizes).to_have_text("2\u201316\u201316\u201316\u20131")
    dialog.locator("[data-builder=remove-layer]").click()
    dialog.locator('[data-builder=neurons][data-index="1"][data-delta="1"]').click()
    expect(sizes).to_have_text("2\u201316\u201317\u20131")
    dialog.locator('[data-builder=neurons][data-index="1"][data-delta="-1"]').click()
    expect(sizes).to_have_text("2\u201316\u201316\u20131")
    expect(dialog.locator("[data-builder=activation]")).to_have_value("tanh")
    page.screenshot(path=str(screenshots / "builder-dialog.png"))
    dialog.locator("[data-builder=create]").click()
    page.wait_for_url(re.compile(r"/g/[^/?#]+\?tab=train$"))
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    graph_id = page.url.split("/g/")[1].split("?")[0]
    state = page_api.state(graph_id)
    # the weights of 2-16-16-1 (biases may be [n] or [1, n])
    weights = sorted(
        n["shape"]
        for n in state["nodes"]
        if n["op"] == "param" and len(n["shape"]) == 2 and 1 not in n["shape"][:1]
    )
    assert weights == [[2, 16], [16, 1], [16, 16]]

    expect(page.locator("[data-tab=train]")).to_be_visible()  # the page opens on training
    page.locator("#epochs-input").fill("40")
    page.locator("#train-lr-input").fill("0.05")
    page.locator("#optimizer-select").select_option("adam")
    page.locator("#train-form [data-action=train]").click()
    wait_js(
        page,
        "() => { const tr = window.stepgrad.state.training;"
        " return !tr.running && tr.rows.length >= 40; }",
        timeout=60_000,
    )
    rows = page.evaluate("() => window.stepgrad.state.training.rows.map((r) => r.train_loss)")
    assert rows[-1] < 0.7 * rows[0]
    page.screenshot(path=str(screenshots / "builder-trained.png"))

    # one neuron more in the second layer, applied to this graph: the first layer keeps its
    # trained weights (same id, same shape), the changed ones take the new shape
    trained = page_api.state(graph_id)
    page.keyboard.press("Shift+N")
    expect(dialog).to_be_visible()
    expect(sizes).to_have_text("2\u201316\u201316\u20131")  # reopened on this network
    dialog.locator('[data-builder=neurons][data-index="1"][data-delta="1"]').click()
    dialog.locator("[data-builder=apply]").click()
    expect(dialog).to_be_hidden()
    wait_js(page, "v => window.stepgrad.state.graph.version > v", arg=trained["version"])
    after = page_api.state(graph_id)
    before_params = {n["id"]: n for n in trained["nodes"] if n["op"] == "param"}
    after_params = {n["id"]: n for n in after["nodes"] if n["op"] == "param"}
    kept = [
        i
        for i, n in after_params.items()
        if i in before_params and n["shape"] == before_params[i]["shape"]
    ]
    changed = [
        i
        for i, n in after_params.items()
        if i in before_params and n["shape"] != before_params[i]["shape"]
    ]
    assert kept and changed
    for nid in kept:
        assert after_params[nid]["value"] == before_params[nid]["value"], nid
    assert any(n["shape"] == [16, 17] for n in after_params.values())


def test_scalar_form_too_large_shows_the_engines_sentence(page, page_server):
    page.goto(page_server + "/")
    expect(page.locator("[data-role=build-section]")).to_have_attribute("data-ready", "true")
    page.locator("[data-build=network]").click()
    dialog = page.locator("[data-role=builder]")
    dialog.locator("[data-builder=form][value=scalar]").check()
    dialog.locator("[data-builder=create]").click()
    error = dialog.locator("[data-role=builder-error]")
    expect(error).to_contain_text("tensor")
    assert "/g/" not in page.url
