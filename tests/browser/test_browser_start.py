"""The start page in Chromium: examples, the expression and spec editors with errors at their
line, and text from the server (names, labels) shown as text, never as HTML."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import browser_stack

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

HOSTILE_NAME = '<img src=x onerror="window.__pwned=1"><b>bold</b> & <i>co</i>'
HOSTILE_LABEL = "<script>window.__pwned=2</script>"


def open_start(page, base: str) -> None:
    page.goto(base + "/")
    expect(page.locator("#start")).to_have_attribute("data-ready", "true")


def test_start_page_lists_examples_and_lessons(page, page_server, page_api, screenshots):
    open_start(page, page_server)
    examples = page_api.call("GET", "/api/examples")[1]
    cards = page.locator("[data-example]")
    expect(cards).to_have_count(len(examples))
    for ex in examples:
        card = page.locator(f'[data-example="{ex["id"]}"]')
        expect(card).to_contain_text(ex["title"])
    # lessons come first
    assert page.locator("[data-example]").first.get_attribute("class").endswith("card--lesson")
    page.screenshot(path=screenshots / "start-page.png", full_page=False)
    page.locator("[data-action=lang]").click()
    expect(page.locator("#examples-title")).to_have_text("示例与课程")
    page.screenshot(path=screenshots / "start-page-zh.png")


def test_the_op_list_comes_from_the_server(page, page_server, page_api):
    open_start(page, page_server)
    ops = [op for op in page_api.call("GET", "/api/ops")[1] if not op["leaf"]]
    expect(page.locator("[data-role=ops] [data-op]")).to_have_count(len(ops))
    for name, text in (("sum", "sum(a, axis=, keepdims=)"), ("cross_entropy", "axis=")):
        expect(page.locator(f'[data-role=ops] [data-op="{name}"]')).to_contain_text(text)
    sqrt = next(op for op in ops if op["name"] == "sqrt")
    title = page.locator('[data-role=ops] [data-op="sqrt"]').get_attribute("title")
    assert sqrt["formula"] in title and sqrt["derivatives"][0] in title
    # a program using the new ops and a keyword argument builds
    page.locator("#expr-text").fill("loss = max(sqrt(abs(x)), axis=0)")
    page.locator("#expr-inputs").fill("x = [4.0, -9.0]")
    page.locator("#expr-params").fill("")
    page.locator("#expr-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/g/[^/#]+$"))
    state = page_api.state(page.url.rsplit("/", 1)[1])
    assert {n["op"] for n in state["nodes"]} >= {"max", "sqrt", "abs"}


def test_expression_creates_a_graph(page, page_server, page_api):
    open_start(page, page_server)
    page.locator("#expr-name").fill("my neuron")
    page.locator("#expr-text").fill("h = sigmoid(k*x + b)\nloss = mse(y, h)")
    page.locator("#expr-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/g/[^/#]+$"))
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    graph_id = page.url.rsplit("/", 1)[1]
    state = page_api.state(graph_id)
    assert state["name"] == "my neuron"
    expect(page.locator("[data-role=graph-name]")).to_have_text("my neuron")
    expect(page.locator("#graph-svg [data-node-id]")).to_have_count(len(state["nodes"]))
    expect(page.locator("[data-role=mode]")).to_have_text("Your graph")
    # the graph is listed on the start page afterwards
    open_start(page, page_server)
    expect(page.locator("[data-role=recent]")).to_contain_text("my neuron")


def test_expression_error_is_shown_at_its_line_and_column(page, page_server, screenshots):
    open_start(page, page_server)
    page.locator("#expr-text").fill("h = sigmoid(k*x + b)\nloss = mse(y, h +)")
    page.locator("#expr-form button[type=submit]").click()
    box = page.locator("[data-role=expr-error]")
    expect(box).to_be_visible()
    where = box.locator("[data-role=error-where]")
    expect(where).to_have_attribute("data-line", "2")
    expect(where).to_contain_text("Line 2")
    column = int(where.get_attribute("data-column"))
    # the excerpt repeats the line with a caret under the column the server named
    excerpt = box.locator("[data-role=error-excerpt]").inner_text().split("\n")
    assert excerpt[0] == "2 | loss = mse(y, h +)"
    assert excerpt[1].index("^") == len("2 | ") + column - 1
    expect(page.locator("[data-role=expr-gutter] li").nth(1)).to_have_class("is-error")
    assert page.url == page_server + "/"  # nothing was created
    page.screenshot(path=screenshots / "expression-error.png")

    # an unknown function: the server names the line and the name
    page.locator("#expr-text").fill("h = sigmoid(k*x + b)\n\nloss = mse(y, foo(h))")
    page.locator("#expr-form button[type=submit]").click()
    expect(where).to_have_attribute("data-line", "3")
    expect(box.locator("[data-role=error-text]")).to_contain_text("foo")

    # a value the page cannot read points at its own line in the params editor
    page.locator("#expr-text").fill("loss = mse(y, sigmoid(k*x + b))")
    page.locator("#expr-params").fill("k = 0.09\nb = half")
    page.locator("#expr-form button[type=submit]").click()
    expect(where).to_contain_text("Line 2")
    expect(page.locator("[data-role=params-gutter] li").nth(1)).to_have_class("is-error")


def test_spec_errors_point_at_the_json_or_the_node(page, page_server):
    open_start(page, page_server)
    box = page.locator("[data-role=spec-error]")
    where = box.locator("[data-role=error-where]")
    page.locator("#spec-text").fill('{"nodes": [\n  {"id": "x", "op": "input", "value": 1},\n]}')
    page.locator("#spec-form button[type=submit]").click()
    expect(box).to_be_visible()
    expect(where).to_have_attribute("data-line", "3")

    spec = {
        "name": "t",
        "nodes": [
            {"id": "x", "op": "input", "value": 1.0},
            {"id": "z", "op": "frobnicate", "inputs": ["x"]},
        ],
    }
    page.locator("#spec-text").fill(json.dumps(spec, indent=2))
    page.locator("#spec-form button[type=submit]").click()
    expect(box.locator("[data-role=error-text]")).to_contain_text("frobnicate")
    line = json.dumps(spec, indent=2).split("\n").index('      "id": "z",') + 1
    expect(where).to_have_attribute("data-line", str(line))


def test_names_and_labels_are_shown_as_text(page, page_server, page_api):
    spec = {
        "name": HOSTILE_NAME,
        "nodes": [
            {"id": "x", "op": "input", "value": 2.0, "label": HOSTILE_LABEL},
            {"id": "y", "op": "mul", "inputs": ["x", "x"], "label": "<u>x</u> * x"},
        ],
    }
    graph, token = page_api.create(spec)
    page.goto(f"{page_server}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=graph-name]")).to_have_text(HOSTILE_NAME)
    assert page.title().startswith(HOSTILE_NAME)
    page.locator('#graph-svg [data-node-id="x"]').click()
    expect(page.locator("[data-role=inspector-label]")).to_have_text(HOSTILE_LABEL)
    page.keyboard.press("End")
    expect(page.locator("[data-role=position]")).to_have_text("4 / 4")
    page.locator('#graph-svg [data-node-id="y"]').click()
    expect(page.locator("#inspector")).to_contain_text("\u2202(<u>x</u> * x)/\u2202")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    # no element came from the server's text
    assert page.locator("#app img, #app b, #app i, #app u, #app script").count() == 0
    # the start page's list of graphs shows the name as text too
    page.goto(page_server + "/")
    expect(page.locator("[data-role=recent]")).to_contain_text(HOSTILE_NAME)
    assert page.locator("[data-role=recent] img, [data-role=recent] b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_every_module_and_stylesheet_comes_from_the_versioned_tree(page, page_server, page_api):
    """The page names its entry module with the hashed prefix; the modules it imports
    (relative imports) carry the prefix too, so an upgrade never mixes old and new files."""
    graph, _ = page_api.create({"example": "seed"})
    assets = []
    page.on(
        "request",
        lambda r: r.resource_type in ("script", "stylesheet") and assets.append(r.url),
    )
    page.goto(f"{page_server}/g/{graph['id']}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    prefix = re.search(r'src="(/static/[0-9a-f]{12})/js/graphpage\.js"', page.content()).group(1)
    paths = [url.removeprefix(page_server) for url in assets]
    modules = {p.rsplit("/", 1)[1] for p in paths if p.endswith(".js")}
    assert {"graphpage.js", "api.js", "graphview.js", "i18n.js", "dom.js"} <= modules
    assert all(p.startswith(prefix + "/") for p in paths), paths
