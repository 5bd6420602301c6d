"""Chinese throughout, in Chromium: the language is switched to Chinese with the page's own
button, then every page is walked (the start page, every step of every lesson day, the
graph page of every example in each of its states, the inspector of every node kind, the
training, gradient-check and export panels, the Share dialog, the key list and the live
view of a follower) and all the text a reader can see is collected: text nodes that are
rendered (HTML and SVG), title, aria-label, placeholder and alt attributes, select options
and the document title. Code (pre, code, kbd, a textarea and its sample) is not text, and
the API's own sentences (errors, the gradient check's detail) stay English and are shown
marked lang="en". Any run of two or
more English words left (tests/helpers.py: identifiers of the graphs and maths excepted)
fails the test, naming the page and the text, and so does one English word standing
alone (a label, a tooltip)."""

from __future__ import annotations

import re

import pytest

from stepgrad.engine.examples import list_examples, load_example
from tests.helpers import (
    CONTEXT_ARGS,
    STEP_TIMEOUT,
    browser_stack,
    csp_violations,
    english_runs,
    lone_word,
    names_of,
    settle,
)

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

EXAMPLES = [item["id"] for item in list_examples()]

COLLECT = """() => {
  const out = [];
  // code is not text; an element marked lang="en" holds a sentence of the API, which is
  // English whatever the page's language (the page marks them so)
  const code = "pre, code, kbd, textarea, script, style, body [lang=en]";
  const shown = (el) => el.getClientRects().length > 0
    && el.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim() || el.closest(code)) continue;
    // an SVG <title> is a tooltip: shown on hover when its parent is on screen
    const host = el.tagName.toLowerCase() === "title" ? el.parentElement : el;
    if (host && shown(host)) out.push(n.textContent);
  }
  for (const el of document.body.querySelectorAll("[title], [aria-label], [placeholder], [alt]")) {
    const editor = el.tagName.toLowerCase() === "textarea";
    if (el.closest(code) && !editor) continue;
    for (const a of ["title", "aria-label", "placeholder", "alt"]) {
      const v = a === "placeholder" && editor ? null : el.getAttribute(a); // a code sample
      if (v && v.trim()) out.push(v);
    }
  }
  for (const o of document.querySelectorAll("select option")) out.push(o.textContent);
  out.push(document.title);
  return out;
}"""


def graph_names() -> frozenset[str]:
    """The Latin tokens the pages may show as they are: op names, and the node ids and
    labels of every example and of the lessons' own small graphs."""
    from stepgrad.app.classroom import course
    from stepgrad.engine.ops import OPS

    texts = list(OPS)
    for example in EXAMPLES:
        for node in load_example(example)["nodes"]:
            texts += [node["id"], node.get("label", "")]
    for item in course.list_lessons():
        for step in course.get_lesson(item["id"]).steps:
            sort = getattr(step, "toposort", None)
            if sort is not None:
                texts += list(sort.nodes)
    return frozenset(names_of(*texts))


NAMES = graph_names()


def english_left(page) -> list[str]:
    found = []
    for text in page.evaluate(COLLECT):
        text = re.sub(r"https?://\S+", "", text)  # the share links
        runs = english_runs(text, NAMES) or [lone_word(text, NAMES)]
        if runs != [None]:
            found.append(f"{text!r}: {runs}")
    return sorted(set(found))


def assert_chinese(page, where: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # the attribute changes at once, the page is drawn again in the next frame: wait for it
    settle(page)
    left = english_left(page)
    assert not left, f"English left on {where}:\n" + "\n".join(left)


def switch_to_chinese(page) -> None:
    """The page's own language button (the choice is kept for the other pages)."""
    if page.locator("html").get_attribute("lang") != "zh-CN":
        page.locator("[data-action=lang]").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def open_start(page, base: str) -> None:
    page.emulate_media(reduced_motion="reduce")
    page.goto(base + "/")
    expect(page.locator("#start")).to_have_attribute("data-ready", "true")
    switch_to_chinese(page)
    expect(page.locator("[data-role=ops] code").first).to_be_visible()


def open_example(page, base: str, example: str) -> str:
    """Create the example from its card on the start page, in Chinese; the graph's id."""
    open_start(page, base)
    page.locator(f"[data-example={example}]").click()
    page.wait_for_url(re.compile(r"/g/[^/#]+$"))
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    return page.url.rsplit("/", 1)[1]


def wait_position(page, position: int, total: int) -> None:
    expect(page.locator("[data-role=position]")).to_have_text(f"{position} / {total}")


# ---- the start page ---------------------------------------------------------------------------


def test_start_page_in_chinese(page, page_server, screenshots):
    open_start(page, page_server)
    assert_chinese(page, "the start page")
    # the op list's tooltips are the ops' Chinese descriptions and formulas
    tip = page.locator("[data-role=ops] [data-op=sigmoid]").get_attribute("title")
    assert "压缩" in tip and "sigmoid(u) = 1 / (1 + exp(-u))" in tip
    # the cards are in Chinese
    expect(page.locator("[data-example=seed] .card-title")).to_have_text("课程中的第一张图")
    page.screenshot(path=screenshots / "zh-start.png", full_page=True)
    # the page's own error sentences
    page.locator("#spec-text").fill("[1, 2]")
    page.locator("#spec-form [type=submit]").click()
    expect(page.locator("[data-role=spec-error]")).to_be_visible()
    page.locator("#expr-inputs").fill("x 3")
    page.locator("#expr-form [type=submit]").click()
    expect(page.locator("[data-role=expr-error]")).to_be_visible()
    assert_chinese(page, "the start page's error messages")
    # a graph from an expression (with a constant), with no name given: named by its statements
    page.locator("#expr-text").fill("loss = 0.5 * mse(y, sigmoid(k*x + b))")
    page.locator("#expr-inputs").fill("x = 3.0\ny = 0.71")
    page.locator("#expr-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/g/[^/#]+$"))
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=graph-name]")).to_have_text(
        "loss = 0.5 * mse(y, sigmoid(k*x + b))"
    )
    page.keyboard.press("End")
    expect(page.locator("[data-role=phase]")).to_have_text("完成")
    kinds = inspect_each_kind(page, "a graph from an expression")
    assert kinds == {"input", "param", "const", "op", "output"}


# ---- the graph page of every example ----------------------------------------------------------


def inspect_each_kind(page, where: str) -> set[str]:
    """Click one node of each kind (input, param, const, op, output): its inspector."""
    seen = set()
    nodes = page.locator("#graph-svg [data-node-id]")
    for i in range(nodes.count()):
        node = nodes.nth(i)
        kind = node.get_attribute("data-kind")
        if kind in seen:
            continue
        seen.add(kind)
        node_id = node.get_attribute("data-node-id")
        page.evaluate("(id) => window.stepgrad.store.set({ selected: id })", node_id)
        expect(page.locator("#inspector")).to_have_attribute("data-node", node_id)
        node.dispatch_event("pointerover")  # the node's tooltip is made on first hover
        assert_chinese(page, f"{where}, the inspector of {node_id} ({kind})")
    assert "output" in seen and len(seen) >= 3, seen
    return seen


@pytest.mark.parametrize("example", EXAMPLES)
def test_graph_page_of_every_example_in_chinese(page, page_server, page_api, example, screenshots):
    graph_id = open_example(page, page_server, example)
    state = page_api.state(graph_id)
    info = next(item for item in list_examples() if item["id"] == example)
    # the graph is named by the card's Chinese title
    assert state["name"] == info["title_zh"]
    expect(page.locator("[data-role=graph-name]")).to_have_text(info["title_zh"])
    total = state["cursor"]["total"]
    where = f"the graph page of {example!r}"
    assert_chinese(page, f"{where}, at the start")
    # the badges: the leaf kinds are words, in Chinese; other ops keep their function names
    for node in state["nodes"]:
        badge = page.locator(f'#graph-svg [data-node-id="{node["id"]}"] .node-op')
        if badge.count():
            word = {"input": "输入", "param": "参数", "const": "常量"}.get(node["op"], node["op"])
            expect(badge).to_have_text(word)
    page.keyboard.press("ArrowRight")
    wait_position(page, 1, total)
    assert_chinese(page, f"{where}, after one step")
    page.keyboard.press("f")
    wait_position(page, total // 2, total)
    inspect_each_kind(page, f"{where}, forward done")
    page.keyboard.press("b")
    wait_position(page, total, total)
    inspect_each_kind(page, f"{where}, backward done")
    if example == "seed":
        page.screenshot(path=screenshots / "zh-graph-inspector.png")
    # the language can go back and forth: nothing stays behind in English
    page.keyboard.press("l")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.keyboard.press("l")
    assert_chinese(page, f"{where}, after switching to English and back")
    for tab in ("train", "check", "export"):
        page.locator(f"[data-tab-button={tab}]").click()
        expect(page.locator(f"[data-tab={tab}]")).to_be_visible()
        assert_chinese(page, f"{where}, the {tab} panel")
    page.locator("[data-tab-button=check]").click()
    page.locator("[data-action=gradcheck]").click()
    result = page.locator("[data-role=gradcheck-result] .check-table")
    expect(result).to_be_visible(timeout=STEP_TIMEOUT)
    assert_chinese(page, f"{where}, the gradient check")


def test_training_share_keys_and_follower_in_chinese(browser, page, page_server, page_api):
    graph_id = open_example(page, page_server, "seed")
    where = "the graph page"
    page.locator("[data-tab-button=train]").click()
    page.locator("#epochs-input").fill("20")
    page.locator("[data-action=train]").click()
    expect(page.locator("[data-role=train-final]")).not_to_be_empty(timeout=STEP_TIMEOUT)
    assert_chinese(page, f"{where}, after training")
    page.keyboard.press("u")  # needs gradients: the page's own message says so
    expect(page.locator("[data-role=message]")).to_contain_text("更新需要梯度")
    assert_chinese(page, f"{where}, asked to update without gradients")
    # a leaf's value editor, and its own message for a value that is not JSON
    page.locator("[data-tab-button=node]").click()
    page.evaluate("() => window.stepgrad.store.set({ selected: 'x' })")
    page.locator("[data-role=value-input]").fill("[1,")
    page.locator("[data-role=value-input]").press("Enter")
    expect(page.locator("[data-role=value-error]")).to_contain_text("嵌套列表")
    assert_chinese(page, f"{where}, the value editor's message")
    page.locator("[data-role=value-input]").blur()  # the keys step the graph again
    # the Share dialog and the key list
    page.locator("[data-action=share]").first.click()
    expect(page.locator("#share-dialog")).to_be_visible()
    assert_chinese(page, f"{where}, the Share dialog")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    assert_chinese(page, f"{where}, the key list")
    page.keyboard.press("Escape")

    # a student opens the view link on another machine, and switches to Chinese there
    context = browser.new_context(**CONTEXT_ARGS)
    violations = csp_violations(context)
    try:
        student = context.new_page()
        student.goto(f"{page_server}/g/{graph_id}")
        expect(student.locator("#app")).to_have_attribute("data-ready", "true")
        switch_to_chinese(student)
        expect(student.locator("[data-role=mode]")).to_have_text("实时查看")
        expect(student.locator("[data-role=live]")).to_have_text("实时")
        total = page_api.state(graph_id)["cursor"]["total"]
        page.keyboard.press("Home")
        for position in (1, 2, total // 2 + 1):
            page.evaluate("(p) => window.stepgrad.actions.seek(p)", position)
            wait_position(page, position, total)
            wait_position(student, position, total)
            assert_chinese(student, f"the follower's view at step {position}")
        student.keyboard.press("ArrowRight")  # a follower cannot step: the page says so
        assert_chinese(student, "the follower's view, told it cannot step")
        student.keyboard.press("?")
        assert_chinese(student, "the follower's key list")
    finally:
        context.close()
    assert not violations, violations


# ---- the lessons ------------------------------------------------------------------------------


@pytest.mark.parametrize("lesson_id", ["day1", "day2", "day3"])
def test_every_lesson_step_in_chinese(page, page_server, page_api, lesson_id, screenshots):
    status, lesson = page_api.call("GET", f"/api/lessons/{lesson_id}")
    assert status == 200
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{page_server}/lessons/{lesson_id}")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-ready", "true")
    switch_to_chinese(page)
    for k in range(1, len(lesson["steps"]) + 1):
        if k > 1:
            page.keyboard.press("PageDown")
        expect(root).to_have_attribute("data-step", str(k))
        # the race trains one network three ways: slow on a busy machine
        timeout = 4 * STEP_TIMEOUT if lesson["steps"][k - 1]["view"] == "race" else STEP_TIMEOUT
        expect(root).to_have_attribute("data-step-state", "ready", timeout=timeout)
        step = lesson["steps"][k - 1]
        expect(page.locator("[data-role=step-text]")).to_have_text(step["text"]["zh"])
        assert_chinese(page, f"{lesson_id} step {k}")
        if lesson_id == "day2" and k == len(lesson["steps"]):
            page.screenshot(path=screenshots / "zh-lesson-day2-chain.png")
    page.keyboard.press("?")
    assert_chinese(page, f"{lesson_id}, the key list")


def test_the_check_finds_english(page, page_server):
    """The same collector on the English page finds English: the check can fail."""
    page.goto(page_server + "/")
    expect(page.locator("#start")).to_have_attribute("data-ready", "true")
    found = "\n".join(english_left(page))
    assert "Build a computation graph" in found and "Write an expression" in found
