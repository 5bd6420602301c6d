"""The graph page in Chromium: editing a leaf, a descent update, training with live progress
and charts, the gradient check, and the downloads (SVG, PNG, spec JSON)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import SVG, browser_stack, open_editable, shown, wait_js, wait_position
from tests.helpers import node as node_of

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def test_edit_a_leaf_value_in_the_inspector(page, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    total = graph["cursor"]["total"]
    page.keyboard.press("End")
    wait_position(page, total, total)

    page.locator('#graph-svg [data-node-id="x"]').click()
    field = page.locator("#inspector [data-role=value-input]")
    expect(field).to_have_value("3")
    field.fill("2")
    field.press("Enter")
    # the timeline starts again (nothing is computed at position 0, not even the leaves)
    wait_position(page, 0, total)
    assert shown(page, "x", "value") is None
    # the field still shows the leaf's new value (from the spec)
    expect(page.locator("#inspector [data-role=value-input]")).to_have_value("2")

    page.keyboard.press("f")
    wait_position(page, total // 2, total)
    state = page_api.state(graph["id"])
    assert node_of(state, "x")["value"] == 2.0
    assert shown(page, "x", "value") == 2.0
    for node in state["nodes"]:
        assert shown(page, node["id"], "value") == pytest.approx(node["value"], rel=1e-3)

    # a value that is not JSON is refused next to the field, and nothing changes
    page.locator('#graph-svg [data-node-id="k"]').click()
    field = page.locator("#inspector [data-role=value-input]")
    expect(field).to_have_value("0.09")  # k's editor, drawn on the frame after the click
    field.fill("[1, 2")
    field.press("Enter")
    expect(page.locator("#inspector [data-role=value-error]")).not_to_be_empty()
    assert page_api.state(graph["id"])["version"] == state["version"]


def test_update_moves_params_against_their_gradient(page, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    total = graph["cursor"]["total"]
    page.keyboard.press("End")
    wait_position(page, total, total)
    before = page_api.state(graph["id"])

    page.locator("[data-tab-button=train]").click()
    page.locator("#lr-input").fill("0.5")
    page.locator("#update-form [data-action=update]").click()
    wait_position(page, 0, total)
    # the page has the update's event from the server's answer; the spec holds the new values
    (event,) = page.evaluate("window.stepgrad.state.graph.events")
    assert event["phase"] == "update"
    spec = page_api.call("GET", f"/api/graphs/{graph['id']}/export?format=json")[1]
    for n in spec["nodes"]:
        if n["id"] in ("k", "b"):
            assert event["params"][n["id"]] == pytest.approx(n["value"])
    # the caption says what the update did, with the server's numbers
    caption = page.locator("[data-role=caption]")
    expect(caption).to_contain_text("update")
    text = caption.inner_text().replace("\u2212", "-")
    for pid in ("k", "b"):
        old = node_of(before, pid)
        assert event["params"][pid] == pytest.approx(old["value"] - 0.5 * old["grad"], rel=1e-9)
        assert f"{event['params'][pid]:.4g}" in text
    page.keyboard.press("f")
    wait_position(page, total // 2, total)
    for pid in ("k", "b"):
        assert shown(page, pid, "value") == pytest.approx(event["params"][pid], rel=1e-3)

    # u from the keyboard needs gradients first: the server's 409 is shown
    page.keyboard.press("u")
    expect(page.locator("[data-role=message]")).to_be_visible()
    expect(page.locator("[data-role=message]")).to_contain_text(re.compile("gradient", re.I))


def test_train_a_dataset_graph_with_live_progress_and_charts(
    page, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "boston_mlp"})
    open_editable(page, page_server, graph, token)
    page.locator("[data-tab-button=train]").click()
    page.locator("#epochs-input").fill("300")
    page.locator("#train-lr-input").fill("0.01")
    page.locator("#optimizer-select").select_option("sgd")
    page.locator("#train-form [data-action=train]").click()

    expect(page.locator("[data-role=train-status]")).to_contain_text(
        "epoch 300 / 300", timeout=20000
    )
    # progress comes through the event stream, which may land just after the response
    wait_js(page, "window.stepgrad.state.training.progressEvents > 0", timeout=5000)
    training = page.evaluate("window.stepgrad.state.training")
    assert not training["running"]
    result = page_api.call("GET", f"/api/graphs/{graph['id']}/train")[1]
    assert len(training["rows"]) == 300
    assert training["rows"][-1]["train_loss"] == pytest.approx(result["final"]["train_loss"])
    assert page.locator("[data-role=train-progress]").evaluate("p => [p.value, p.max]") == [
        300,
        300,
    ]

    # the loss chart: one point per epoch for train and test
    for series in ("train_loss", "test_loss"):
        points = page.locator(f'#loss-chart [data-series="{series}"]').get_attribute("points")
        assert len(points.split()) == 300
    # predicted against true, with one residual line per test row
    expect(page.locator("#scatter-chart")).to_be_visible()
    assert page.locator("#scatter-chart .chart-point").count() == len(
        result["predictions"]["y_true"]
    )
    assert page.locator("#scatter-chart .chart-residual").count() == len(
        result["predictions"]["y_true"]
    )
    final = page.locator("[data-role=train-final]").inner_text().replace("\u2212", "-")
    assert f"{result['final']['test_loss']:.6g}" in final
    # the trained network, computed: tensors drawn whole (the page asked for full values)
    page.keyboard.press("End")
    expect(page.locator("[data-role=position]")).to_have_text("20 / 20")
    expect(
        page.locator('#graph-svg [data-node-id="W1"] [data-role=grad] image.heatmap')
    ).to_have_count(1)
    page.screenshot(path=screenshots / "training.png")


def test_gradient_check_panel(page, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    page.keyboard.press("g")
    result = page.locator("[data-role=gradcheck-result]")
    expect(result.locator(".verdict")).to_have_text(re.compile("The gradients agree"))
    report = page_api.call("GET", f"/api/graphs/{graph['id']}/gradcheck")[1]
    for row in report["nodes"]:
        expect(result.locator(f'[data-check-node="{row["node"]}"]')).to_be_visible()


def test_export_svg_png_and_spec(page, page_server, page_api, screenshots, tmp_path):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    total = graph["cursor"]["total"]
    page.keyboard.press("End")
    wait_position(page, total, total)
    state = page_api.state(graph["id"])
    page.locator("[data-tab-button=export]").click()

    with page.expect_download() as info:
        page.locator("[data-action=export-svg]").click()
    download = info.value
    assert download.suggested_filename == "seed-example.svg"
    path = screenshots.parent / "seed-example.svg"
    download.save_as(path)
    root = ET.parse(path).getroot()  # a standalone, well-formed SVG
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}style") is not None and ".node-box" in root.find(f"{SVG}style").text
    groups = {g.get("data-node-id"): g for g in root.iter(f"{SVG}g") if g.get("data-node-id")}
    assert set(groups) == {n["id"] for n in state["nodes"]}
    for node in state["nodes"]:
        texts = {
            t.get("data-role"): "".join(t.itertext()) for t in groups[node["id"]].iter(f"{SVG}text")
        }
        assert float(texts["grad"].replace("\u2212", "-")) == pytest.approx(node["grad"], rel=1e-3)
    assert root.get("viewBox").startswith("0 0 ")

    with page.expect_download() as info:
        page.locator("[data-action=export-png]").click()
    png = tmp_path / "graph.png"
    info.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with page.expect_download() as info:
        page.locator("[data-action=export-json]").click()
    spec_path = tmp_path / "spec.json"
    info.value.save_as(spec_path)
    spec = json.loads(spec_path.read_text())
    status, again = page_api.call("POST", "/api/graphs", spec)  # the spec round-trips
    assert status == 201
    assert again["order"] == state["order"]
