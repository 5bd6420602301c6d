"""Screenshots of every lesson step as the room sees it: at 1280x720 (a laptop), at 1920x1080
in presentation mode (the projector) and at 390x844 (a phone), in English and in Chinese,
saved under artifacts/screenshots/screens/ (not committed) for a person to look at. Each shot
is also checked: the page is no wider than the window, the step's title is on screen, and
the stage (drawing or pane) has a real size. One page per device walks each day once; the
sizes and languages switch on that page."""

from __future__ import annotations

import pytest

from tests.helpers import CONTEXT_ARGS, STEP_TIMEOUT, browser_stack, csp_violations, settle

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

SHAPE = r"""() => {
  const stage = document.querySelector("[data-role=stage]").getBoundingClientRect();
  const title = document.querySelector("[data-role=step-title]").getBoundingClientRect();
  return {overflow: document.documentElement.scrollWidth - innerWidth, w: stage.width,
          h: stage.height, title: title.width > 0 && title.bottom <= innerHeight + 1
          && title.top >= -1, vw: innerWidth, vh: innerHeight};
}"""


def shoot(page, folder, name: str, lang: str) -> None:
    expect(page.locator("#lesson")).to_have_attribute("data-lang", lang)
    settle(page)
    s = page.evaluate(SHAPE)
    assert s["overflow"] <= 0, f"{name}: the page is {s['overflow']} px wider than the window"
    assert s["title"], f"{name}: the step's title is off the screen"
    assert s["w"] >= 0.5 * s["vw"] and s["h"] >= 0.3 * s["vh"], f"{name}: stage {s}"
    page.screenshot(path=folder / f"{name}-{lang}.png")


def both_languages(page, folder, name: str) -> None:
    """A shot in English, then in Chinese (the page's l key), and back."""
    shoot(page, folder, name, "en")
    page.keyboard.press("l")
    shoot(page, folder, name, "zh")
    page.keyboard.press("l")


def walk(page, page_api, folder, each_step) -> int:
    shots = 0
    for info in page_api.call("GET", "/api/lessons")[1]:
        lesson = page_api.call("GET", f"/api/lessons/{info['id']}")[1]
        page.goto(f"{page_api.base}/lessons/{info['id']}")
        root = page.locator("#lesson")
        expect(root).to_have_attribute("data-ready", "true")
        for k in range(1, len(lesson["steps"]) + 1):
            if k > 1:
                page.keyboard.press("PageDown")
            expect(root).to_have_attribute("data-step", str(k))
            expect(root).to_have_attribute("data-step-state", "ready", timeout=STEP_TIMEOUT)
            shots += each_step(f"{info['id']}-step{k:02d}")
    return shots


@pytest.fixture
def folder(screenshots):
    path = screenshots / "screens"
    path.mkdir(exist_ok=True)
    return path


def test_every_lesson_step_on_a_laptop_and_the_projector(browser, page_api, folder):
    context = browser.new_context(**CONTEXT_ARGS)
    violations = csp_violations(context)
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")

    def each_step(name: str) -> int:
        page.set_viewport_size({"width": 1280, "height": 720})
        both_languages(page, folder, f"{name}-1280x720")
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.keyboard.press("p")
        expect(page.locator("body")).to_have_class("page-lesson presenting")
        both_languages(page, folder, f"{name}-1920x1080-presenting")
        page.keyboard.press("p")
        return 4

    try:
        assert walk(page, page_api, folder, each_step) >= 4 * 20
    finally:
        context.close()
    assert not violations, violations


def test_every_lesson_step_on_a_phone(browser, page_api, folder):
    context = browser.new_context(
        **{**CONTEXT_ARGS, "viewport": {"width": 390, "height": 844}},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    violations = csp_violations(context)
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")

    def each_step(name: str) -> int:
        both_languages(page, folder, f"{name}-390x844")
        return 2

    try:
        assert walk(page, page_api, folder, each_step) >= 2 * 20
    finally:
        context.close()
    assert not violations, violations
