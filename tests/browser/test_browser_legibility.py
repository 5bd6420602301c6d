"""Legibility as a rule: on every example and every lesson step, at 1280x720 and at 1920x1080
in presentation mode, no visible text (node values and names, edge labels, chart axes, the
page's own text) is drawn under 12 px, or 20 px when presenting; no node box on screen at
fit is drawn without its name; and no name runs into its node's op badge."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import (
    CONTEXT_ARGS,
    NODE_TEXT,
    SMALL_TEXT,
    STEP_TIMEOUT,
    browser_stack,
    csp_violations,
    settle,
    wait_js,
)

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

NORMAL = ({"width": 1280, "height": 720}, False, 12)
PRESENT = ({"width": 1920, "height": 1080}, True, 20)


@pytest.fixture(params=[NORMAL, PRESENT], ids=["1280x720", "1920x1080-presenting"])
def screen(request, browser):
    viewport, presenting, min_px = request.param
    context = browser.new_context(**{**CONTEXT_ARGS, "viewport": viewport})
    violations = csp_violations(context)
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")
    yield page, presenting, min_px
    context.close()
    assert not violations, violations


def report(problems: list[str]) -> str:
    """The problems, each kind once (where and size) with how often and its first place."""
    kinds: dict[str, list[str]] = {}
    for p in problems:
        place, _, what = p.partition(": ")
        kind = what.split(" at ", 1)[-1] if " px (" in what else what
        kinds.setdefault(kind, []).append(f"{place}: {what}")
    ranked = sorted(kinds.items(), key=lambda kv: -len(kv[1]))
    lines = [f"{len(v)} x {k}   e.g. {v[0]}" for k, v in ranked]
    return f"{len(problems)} legibility problems:\n" + "\n".join(lines)


def check(page, where: str, min_px: int, problems: list[str]) -> None:
    settle(page)
    for s in page.evaluate(SMALL_TEXT, min_px):
        problems.append(f"{where}: {s['text']!r} at {s['px']} px ({s['where']})")
    nodes = page.evaluate(NODE_TEXT)
    for node in nodes["empty"]:
        problems.append(f"{where}: node {node} drawn without its name")
    for text in nodes["overprint"]:
        problems.append(f"{where}: {text}")


def test_every_example_is_legible(screen, page_api):
    page, presenting, min_px = screen
    problems: list[str] = []
    examples = page_api.call("GET", "/api/examples")[1]
    assert len(examples) >= 5
    for example in examples:
        graph, token = page_api.create({"example": example["id"]})
        page.goto(f"{page_api.base}/g/{graph['id']}#edit={token}")
        expect(page.locator("#app")).to_have_attribute("data-ready", "true")
        if presenting:
            page.keyboard.press("p")
            expect(page.locator("body")).to_have_class("page-graph presenting")
        check(page, f"{example['id']} (start)", min_px, problems)
        # values, gradients and edge labels everywhere: the whole forward and backward pass
        page.keyboard.press("f")
        page.keyboard.press("b")
        expect(page.locator("[data-role=phase]")).to_have_text("done", ignore_case=True)
        page.keyboard.press("0")
        check(page, f"{example['id']} (done)", min_px, problems)
        if presenting:
            # the inspector over the drawing (i), on the output node
            page.keyboard.press("i")
            expect(page.locator("body")).to_have_class("page-graph presenting overlay-open")
            check(page, f"{example['id']} (inspector)", min_px, problems)
            page.keyboard.press("i")
    assert not problems, report(problems)


def test_every_lesson_step_is_legible(screen, page_api):
    page, presenting, min_px = screen
    problems: list[str] = []
    lessons = page_api.call("GET", "/api/lessons")[1]
    assert lessons
    for info in lessons:
        lesson = page_api.call("GET", f"/api/lessons/{info['id']}")[1]
        page.goto(f"{page_api.base}/lessons/{info['id']}")
        root = page.locator("#lesson")
        expect(root).to_have_attribute("data-ready", "true")
        if presenting:
            page.keyboard.press("p")
        for k in range(1, len(lesson["steps"]) + 1):
            if k > 1:
                page.keyboard.press("PageDown")
            expect(root).to_have_attribute("data-step", str(k))
            expect(root).to_have_attribute("data-step-state", "ready", timeout=STEP_TIMEOUT)
            check(page, f"{info['id']} step {k}", min_px, problems)
    assert not problems, report(problems)


def test_the_moving_dot_passes_under_the_edge_labels(page, page_api):
    graph, token = page_api.create({"example": "chain_rule"})
    page.goto(f"{page_api.base}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    page.keyboard.press("f")
    expect(page.locator("[data-role=phase]")).to_have_text("backward", ignore_case=True)
    # while the dots travel (700 ms), every edge label on show is on top at its own middle:
    # checked in the frame after a dot appears, so a slow machine cannot miss the dots
    page.evaluate(
        """() => {
            const svg = document.querySelector('#graph-svg');
            const hiddenLabels = () => [...svg.querySelectorAll('.edge-label.is-visible')]
                .filter(l => {
                    const r = l.getBoundingClientRect();
                    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                    return !(hit && hit.closest('.edge-label') === l);
                }).map(l => l.dataset.source + '>' + l.dataset.target);
            const seen = new MutationObserver(() => {
                if (!svg.querySelector('.travel')) return;
                seen.disconnect();
                requestAnimationFrame(() => { window.travelCheck = hiddenLabels(); });
            });
            seen.observe(svg, { childList: true, subtree: true });
        }"""
    )
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    hidden = wait_js(page, "() => window.travelCheck", timeout=STEP_TIMEOUT)
    assert page.locator("#graph-svg .edge-label.is-visible").count() >= 1
    assert hidden == []
    order = page.evaluate(
        "() => [...document.querySelector('#graph-svg .viewport').children]"
        ".map(g => g.getAttribute('class'))"
    )
    assert order.index("fx") < order.index("edge-labels")


def test_the_random_search_chart_has_several_round_ticks(page, page_api):
    lesson = page_api.call("GET", "/api/lessons/day1")[1]
    k = next(i for i, s in enumerate(lesson["steps"], 1) if s.get("chart") == "compare")
    page.goto(f"{page_api.base}/lessons/day1#step-{k}")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-step-state", "ready", timeout=STEP_TIMEOUT)
    chart = page.locator("#compare-chart")
    expect(chart.locator("[data-role=series]").first).to_be_attached(timeout=STEP_TIMEOUT)
    ys = chart.locator(".chart-tick[text-anchor=end]")
    expect(ys.nth(2)).to_be_attached()
    values = [float(t.replace("\u2212", "-")) for t in ys.all_text_contents()]
    assert 3 <= len(values) <= 10
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1 and all(v > 0 for v in steps)  # evenly spaced, increasing
    mantissa = f"{steps.pop():.1e}".split("e")[0]
    assert mantissa in {"1.0", "2.0", "5.0"}  # a round step
