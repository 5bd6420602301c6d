"""Exports of large graphs (drawn on a canvas, so with no SVG node to copy) through the
Export tab as a user clicks it: the SVG holds every node and edge, and the PNG stays within
Chromium's canvas limits and is not blank."""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import big_graph_server, browser_stack

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_MAX_SIDE = 16384
PNG_MAX_AREA = 2**28  # Chromium's canvas area limit


@pytest.fixture(scope="module")
def big_api():
    """A server that takes graphs of 10,000 nodes, with a 2,491- and a 10,000-node graph."""
    with big_graph_server(2_491, 10_000) as (api, graphs):
        yield api, graphs


def open_graph(page, api, graph, token) -> None:
    page.goto(f"{api.base}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-painted", "true", timeout=60000)
    # drawn on the canvas: the SVG holds no node when the whole graph is in view
    page.keyboard.press("0")
    page.wait_for_timeout(200)
    assert page.locator("#graph-svg [data-node-id]").count() == 0


def export(page, what: str, shots, name: str) -> bytes:
    """Click Export > SVG or PNG as a user would; the downloaded file's bytes."""
    page.locator("[data-tab-button=export]").click()
    with page.expect_download(timeout=180_000) as info:
        page.locator(f"[data-action=export-{what}]").click()
        # a large graph takes a while: the page says what it is doing
        expect(page.locator("[data-role=message]")).to_contain_text("Drawing all")
    download = info.value
    path = shots / f"{name}.{what}"
    download.save_as(str(path))
    return path.read_bytes()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# the PNG decoded by the browser, drawn 1/`step` of its size: the share of pixels that are
# not the white background, in each tenth of its width
INK = """async ([b64, step]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const w = Math.max(1, Math.floor(bitmap.width / step));
  const h = Math.max(1, Math.floor(bitmap.height / step));
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, w, h);
  const px = ctx.getImageData(0, 0, w, h).data;
  const ink = Array(10).fill(0), all = Array(10).fill(0);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 4, band = Math.min(9, Math.floor((x * 10) / w));
    all[band]++;
    if (px[i + 3] > 0 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) ink[band]++;
  }
  const thumb = new OffscreenCanvas(Math.min(w, 1600), Math.round((Math.min(w, 1600) * h) / w));
  thumb.getContext("2d").drawImage(bitmap, 0, 0, thumb.width, thumb.height);
  const reader = new FileReader();
  const url = await new Promise(async (resolve) => {
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(await thumb.convertToBlob({ type: "image/png" }));
  });
  const bands = ink.map((n, i) => n / all[i]);
  return { width: bitmap.width, height: bitmap.height, bands, thumb: url };
}"""


@pytest.mark.parametrize("n", [2_491, 10_000])
def test_big_graph_exports_hold_every_node(page, big_api, screenshots, n):
    api, graphs = big_api
    graph, token = graphs[n]
    count = len(graph["nodes"])
    assert abs(count - n) <= 100
    open_graph(page, api, graph, token)

    # the SVG: one element per node, with its name, and one path per edge
    svg = export(page, "svg", screenshots, f"export-{n}")
    root = ET.fromstring(svg)
    nodes = [g for g in root.iter(f"{SVG_NS}g") if g.get("data-node-id")]
    assert len(nodes) == count
    assert {g.get("data-node-id") for g in nodes} == {node["id"] for node in graph["nodes"]}
    edges = [p for p in root.iter(f"{SVG_NS}path") if "edge" in (p.get("class") or "").split()]
    assert len(edges) == len(graph["edges"])
    # each node has its box and its name as the drawing writes it
    first = nodes[0]
    assert first.find(f"{SVG_NS}rect").get("class") == "node-box"
    labels = {
        g.get("data-node-id"): "".join(t.itertext())
        for g in nodes
        for t in g.iter(f"{SVG_NS}text")
        if t.get("data-role") == "label"
    }
    assert labels["p0"] == "p0" and len(labels) == count

    # the PNG: within Chromium's canvas limits, and ink across the whole of it
    png = export(page, "png", screenshots, f"export-{n}")
    width, height = png_size(png)
    assert width <= PNG_MAX_SIDE and height <= PNG_MAX_SIDE
    assert width * height <= PNG_MAX_AREA
    # as large as the limits allow: one side at (about) the limit, or the 2x scale
    assert max(width, height) >= PNG_MAX_SIDE - 2 or width * height >= PNG_MAX_AREA * 0.99
    ink = page.evaluate(INK, [base64.b64encode(png).decode(), 8])
    assert (ink["width"], ink["height"]) == (width, height)
    (screenshots / f"export-{n}-png-small.png").write_bytes(
        base64.b64decode(ink["thumb"].split(",", 1)[1])
    )
    # nodes drawn from the params at the left to the sum at the right
    assert all(share > 0.0005 for share in ink["bands"]), ink["bands"]
    assert sum(ink["bands"]) / 10 > 0.05, ink["bands"]
