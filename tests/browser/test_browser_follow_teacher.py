"""Followers mirror the teacher: the selected node on the graph page, and in a lesson the
part of the graph shown (mapped between screens of different sizes); one key (t) breaks
away and rejoins, snapping back to the teacher's current focus."""

from __future__ import annotations

import re

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

VIEWPORT = """() => {
  const v = window.stepgrad.view;
  const { w, h } = v.size();
  const pad = v.padding();
  const { k, x, y } = v.view;
  const aw = w - pad.left - pad.right, ah = h - pad.top - pad.bottom;
  return { cx: (pad.left + aw / 2 - x) / k, cy: (pad.top + ah / 2 - y) / k,
           width: aw / k, height: ah / k };
}"""


def ready(page) -> None:
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=live]")).to_have_text("live")


def selected(page):
    return page.evaluate("() => window.stepgrad.state.selected")


def same_view(page, want: dict, tol: float = 1.0) -> bool:
    got = page.evaluate(VIEWPORT)
    if abs(got["cx"] - want["cx"]) > tol or abs(got["cy"] - want["cy"]) > tol:
        return False
    # the teacher's box fits inside the follower's screen, touching two of its sides
    fits = got["width"] >= want["width"] - tol and got["height"] >= want["height"] - tol
    touches = abs(got["width"] - want["width"]) <= tol or abs(got["height"] - want["height"]) <= tol
    return fits and touches


def wait_view(page, teacher_view: dict, timeout: float = 3000) -> None:
    check = (
        "([want, tol]) => { const got = (" + VIEWPORT + ")();"
        " if (Math.abs(got.cx - want.cx) > tol || Math.abs(got.cy - want.cy) > tol) return false;"
        " const fits = got.width >= want.width - tol && got.height >= want.height - tol;"
        " return fits && (Math.abs(got.width - want.width) <= tol"
        " || Math.abs(got.height - want.height) <= tol); }"
    )
    wait_js(
        page,
        check,
        arg=[teacher_view, 1.0],
        timeout=timeout,
    )


def test_a_follower_mirrors_the_teachers_selection_and_breaks_away(
    browser, page, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    teacher = page
    teacher.goto(f"{page_server}/g/{gid}#edit={token}")
    ready(teacher)
    ctx = browser.new_context(**CONTEXT_ARGS)
    try:
        student = ctx.new_page()
        student.goto(f"{page_server}/g/{gid}")
        ready(student)
        button = student.locator("[data-action=follow-teacher]")
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(button).to_have_text("Teacher's view")
        # the teacher's own page has no such button: it is the one followed
        expect(teacher.locator("[data-action=follow-teacher]")).to_be_hidden()

        teacher.locator('#graph-svg [data-node-id="k"]').click()
        expect(student.locator("#inspector")).to_have_attribute("data-node", "k", timeout=3000)
        assert selected(student) == "k"
        expect(student.locator('#graph-svg [data-node-id="k"]')).to_have_class(
            re.compile("is-selected")
        )
        teacher.keyboard.press("]")  # the next node in order: b
        expect(student.locator("#inspector")).to_have_attribute("data-node", "b", timeout=3000)

        # t: the student looks around alone; the teacher's selection no longer moves theirs
        student.keyboard.press("t")
        expect(button).to_have_attribute("aria-pressed", "false")
        expect(button).to_have_text("Rejoin teacher")
        student.locator('#graph-svg [data-node-id="x"]').click()
        teacher.locator('#graph-svg [data-node-id="sigmoid"]').click()
        teacher.wait_for_timeout(600)  # the focus has gone out (sent within 150 ms)
        assert page_api.call("GET", f"/api/graphs/{gid}/focus")[1]["node"] == "sigmoid"
        assert selected(student) == "x"
        student.screenshot(path=screenshots / "follow-teacher-away.png")
        # t again: straight back to what the teacher shows now
        student.keyboard.press("t")
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(student.locator("#inspector")).to_have_attribute("data-node", "sigmoid")
        # the button does the same, for touch screens
        button.click()
        expect(button).to_have_attribute("aria-pressed", "false")
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        # a student who arrives late gets the teacher's focus on connect
        late = ctx.new_page()
        late.goto(f"{page_server}/g/{gid}")
        ready(late)
        expect(late.locator("#inspector")).to_have_attribute("data-node", "sigmoid")
    finally:
        ctx.close()


def test_in_a_lesson_the_followers_view_follows_the_teachers(
    browser, page, page_server, page_api, screenshots
):
    lesson = page_api.call("GET", "/api/lessons/day3")[1]
    k = next(i for i, s in enumerate(lesson["steps"], 1) if s.get("panel") == "code")
    teacher = page
    teacher.goto(f"{page_server}/lessons/day3#step-{k}")
    root = teacher.locator("#lesson")
    expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
    gid = root.locator("[data-role=stage]").get_attribute("data-graph-id")
    # a student on a smaller screen, on the lesson graph's view link
    ctx = browser.new_context(viewport={"width": 1024, "height": 640}, locale="en-US")
    try:
        student = ctx.new_page()
        student.goto(f"{page_server}/g/{gid}")
        ready(student)
        # the teacher zooms in and pans: the student's view centre follows
        for key in ("+", "+", "+"):
            teacher.keyboard.press(key)
        svg = teacher.locator("#graph-svg").bounding_box()
        teacher.mouse.move(svg["x"] + svg["width"] / 2, svg["y"] + svg["height"] / 2)
        teacher.mouse.down()
        teacher.mouse.move(svg["x"] + svg["width"] / 2 + 160, svg["y"] + svg["height"] / 2 + 40,
                           steps=8)  # fmt: skip
        teacher.mouse.up()
        teacher.wait_for_timeout(400)
        want = teacher.evaluate(VIEWPORT)
        wait_view(student, want)
        assert same_view(student, want)
        sent = page_api.call("GET", f"/api/graphs/{gid}/focus")[1]["viewport"]
        assert sent["cx"] == pytest.approx(want["cx"], abs=1.0)
        assert sent["width"] == pytest.approx(want["width"], abs=1.0)
        student.screenshot(path=screenshots / "follow-teacher-lesson-view.png")

        # t: the student zooms out on their own; the teacher's moves leave them alone
        student.keyboard.press("t")
        student.keyboard.press("0")
        own = student.evaluate(VIEWPORT)
        teacher.keyboard.press("-")
        teacher.wait_for_timeout(600)
        moved = teacher.evaluate(VIEWPORT)
        assert moved["width"] > want["width"] * 1.1
        after = student.evaluate(VIEWPORT)
        assert after == pytest.approx(own)
        # t again: it snaps to the teacher's current view
        student.keyboard.press("t")
        wait_view(student, moved)
        # a student who opens the link now starts on the teacher's view, not the whole graph
        late = ctx.new_page()
        late.goto(f"{page_server}/g/{gid}")
        ready(late)
        wait_view(late, moved)
    finally:
        ctx.close()
