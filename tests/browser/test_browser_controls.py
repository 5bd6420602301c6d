"""Small controls: Play's speed (keys and buttons, and the steps really come faster or
slower), r in the key list, and the KNN step's sliders (k and the query house) answered by
the server's KNN."""

from __future__ import annotations

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def ready(page) -> None:
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")


def position(page) -> int:
    return int(page.locator("[data-role=position]").text_content().split("/")[0])


def test_play_speed_keys_buttons_and_pace(page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "seed"})
    page.goto(f"{page_server}/g/{graph['id']}#edit={token}")
    ready(page)
    speed = page.locator("[data-role=speed]")
    expect(speed).to_have_text("1.7/s")  # 600 ms between steps, as before
    page.keyboard.press(">")
    expect(speed).to_have_text("3/s")
    page.keyboard.press(".")
    expect(speed).to_have_text("7/s")
    page.locator("[data-action=faster]").click()
    expect(speed).to_have_text("10/s")
    expect(page.locator("[data-action=faster]")).to_be_disabled()
    assert page.evaluate("() => window.stepgrad.state.playInterval") == 100
    page.screenshot(path=screenshots / "play-speed.png")

    # fastest: the whole timeline (14 steps) plays through; at the slowest pace it would
    # take 26 s, past this wait
    page.keyboard.press(" ")
    expect(page.locator("[data-role=position]")).to_have_text("14 / 14", timeout=20_000)
    assert page_api.state(graph["id"])["cursor"]["position"] == 14

    # slowest: 2 s between steps; in 3 s of playing at most two steps are taken
    page.keyboard.press("Home")
    expect(page.locator("[data-role=position]")).to_have_text("0 / 14")
    for _ in range(6):
        page.keyboard.press("<")
    expect(speed).to_have_text("0.5/s")
    expect(page.locator("[data-action=slower]")).to_be_disabled()
    page.keyboard.press(" ")
    # the first step comes at once, the next 2 s after it: in 3 s, at most one more
    expect(page.locator("[data-role=position]")).to_have_text("1 / 14", timeout=20_000)
    page.wait_for_timeout(3000)
    slow_steps = position(page)
    page.keyboard.press(" ")  # pause
    assert 1 <= slow_steps <= 2, slow_steps


def key_list(page) -> dict[str, str]:
    """The key list's rows this page shows: keys -> what they do."""
    page.keyboard.press("?")
    dialog = page.locator("#help-dialog")
    expect(dialog).to_be_visible()
    rows = {}
    for r in dialog.locator("tr").all():
        cells = r.locator("td")
        if r.is_visible() and cells.count() == 2:
            rows[cells.first.text_content().strip()] = cells.nth(1).text_content()
    page.keyboard.press("Escape")
    return rows


def test_the_key_list_shows_r_speed_quiz_and_follow(page, page_server, page_api, browser):
    graph, token = page_api.create({"example": "seed"})
    page.goto(f"{page_server}/g/{graph['id']}#edit={token}")
    ready(page)
    rows = key_list(page)
    assert "reset" in rows["r"]
    assert "slower" in rows["< >"]
    assert "quiz" in rows["q"]
    assert "target" in rows["t"]  # the teacher's t: the target of backward
    # and r does what the list says
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-role=position]")).to_have_text("1 / 14")
    page.keyboard.press("r")
    expect(page.locator("[data-role=position]")).to_have_text("0 / 14")
    # a student's t follows the teacher; the teacher's keys are not listed there
    other = browser.new_context(**CONTEXT_ARGS)  # the teacher's browser keeps the token
    try:
        student = other.new_page()
        student.goto(f"{page_server}/g/{graph['id']}")
        ready(student)
        rows = key_list(student)
        assert "teacher" in rows["t"]
        assert "q" not in rows and "e" not in rows
    finally:
        other.close()


def test_the_knn_step_has_sliders_for_k_and_the_query(page, page_server, page_api, screenshots):
    lesson = page_api.call("GET", "/api/lessons/day1")[1]
    k = next(i for i, s in enumerate(lesson["steps"], 1) if s.get("chart") == "knn")
    step = lesson["steps"][k - 1]
    page.goto(f"{page_server}/lessons/day1#step-{k}")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
    stage = page.locator("[data-role=stage]")
    k_slider = stage.locator("[data-role=knn-k]")
    q_slider = stage.locator("[data-role=knn-query]")
    expect(k_slider).to_have_value(str(step["knn"]["k"]))
    assert float(q_slider.input_value()) == step["knn"]["query"][0]
    near = stage.locator("[data-chart=knn] [data-role=neighbour]")
    expect(near).to_have_count(step["knn"]["k"])

    def check(k_value: int, query: float) -> None:
        body = {"features": step["knn"]["features"], "query": [query], "k": k_value}
        knn = page_api.call("POST", "/api/datasets/boston/knn", body)[1]
        # the plot shows the server's answer for these values (waited for: a drag asks once)
        marker = stage.locator("[data-chart=knn] [data-role=prediction]")
        expect(marker).to_have_attribute("data-value", str(knn["prediction"]))
        expect(near).to_have_count(k_value)
        got = sorted(int(c.get_attribute("data-row")) for c in near.all())
        assert got == sorted(knn["neighbours"])

    # k from the keyboard: two steps up
    k_slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(stage.locator("[data-role=knn-k-value]")).to_have_text("5")
    check(5, step["knn"]["query"][0])
    # the query house: a smaller one (arrows move by 0.05 rooms)
    q_slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowLeft")
    wait_js(page, "() => document.querySelector('[data-role=knn-query]').value == 6")
    check(5, float(q_slider.input_value()))
    page.screenshot(path=screenshots / "lesson-day1-knn-controls.png")
    # the lesson's keys still work from a slider
    page.keyboard.press("PageDown")
    expect(root).to_have_attribute("data-step", str(k + 1))
