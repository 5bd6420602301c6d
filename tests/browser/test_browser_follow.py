"""Students follow the teacher's graph live (server-sent events) without being able to change
it, fork it into an editable copy, and a teacher opens the edit link on another machine."""

from __future__ import annotations

import re

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

READ_VALUES = """() => Object.fromEntries(
  [...document.querySelectorAll('#graph-svg [data-node-id]')].map((g) => [
    g.dataset.nodeId,
    [g.querySelector('[data-role=value]').textContent,
     g.querySelector('[data-role=grad]').textContent],
  ]))"""


def ready(page) -> None:
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=live]")).to_have_text("live")


def test_follow_mode_sees_every_step_and_cannot_change_anything(
    browser, page, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "seed"})
    total = graph["cursor"]["total"]
    teacher = page
    teacher.goto(f"{page_server}/g/{graph['id']}#edit={token}")
    ready(teacher)

    student_context = browser.new_context(**CONTEXT_ARGS)
    try:
        student = student_context.new_page()
        student.goto(f"{page_server}/g/{graph['id']}")
        ready(student)
        expect(student.locator("[data-role=mode]")).to_have_text("Live view")
        expect(student.locator("[data-action=fork]")).to_be_visible()
        # no stepping controls, and the slider is disabled
        expect(student.locator("[data-action=next]")).to_be_hidden()
        expect(student.locator("[data-role=timeline]")).to_be_disabled()
        expect(student.locator("#update-form")).to_be_hidden()

        # every step of the teacher reaches the student within two seconds
        for position in range(1, 4):
            teacher.keyboard.press("ArrowRight")
            expect(student.locator("[data-role=position]")).to_have_text(
                f"{position} / {total}", timeout=2000
            )
        teacher.keyboard.press("End")
        expect(student.locator("[data-role=position]")).to_have_text(
            f"{total} / {total}", timeout=2000
        )
        expect(teacher.locator("[data-role=position]")).to_have_text(f"{total} / {total}")
        assert student.evaluate(READ_VALUES) == teacher.evaluate(READ_VALUES)
        teacher.keyboard.press("ArrowLeft")
        expect(student.locator("[data-role=position]")).to_have_text(
            f"{total - 1} / {total}", timeout=2000
        )

        # the student's keys do not step the graph: they say it is a live view
        student.keyboard.press("ArrowRight")
        student.keyboard.press("Home")
        expect(student.locator("[data-role=message]")).to_contain_text("live view")
        student.wait_for_timeout(300)
        assert page_api.state(graph["id"])["cursor"]["position"] == total - 1
        # nor can the page's code: without the edit token the server refuses
        status = student.evaluate(
            "id => fetch(`/api/graphs/${id}/forward`, {method: 'POST', headers:"
            " {'Content-Type': 'application/json'}, body: '{}'}).then((r) => r.status)",
            graph["id"],
        )
        assert status == 401
        assert (
            student.evaluate(
                "localStorage.getItem('stepgrad:token:' + window.stepgrad.state.graph.id)"
            )
            is None
        )
        student.locator('#graph-svg [data-node-id="k"]').click()  # inspecting is allowed
        expect(student.locator("#inspector [data-role=chain-rule]")).to_be_visible()
        expect(student.locator("#inspector [data-role=value-input]")).to_have_count(0)
        student.screenshot(path=screenshots / "follow-view.png")

        # fork: an editable copy of one's own; the original does not move
        student.locator("[data-action=fork]").click()
        student.wait_for_url(re.compile(rf"/g/(?!{re.escape(graph['id'])})[^/#]+$"))
        ready(student)
        fork_id = student.url.rsplit("/", 1)[1]
        assert fork_id != graph["id"]
        expect(student.locator("[data-role=mode]")).to_have_text("Your graph")
        expect(student.locator("[data-role=position]")).to_have_text(f"{total - 1} / {total}")
        student.keyboard.press("Home")
        expect(student.locator("[data-role=position]")).to_have_text(f"0 / {total}")
        student.keyboard.press("ArrowRight")
        expect(student.locator("[data-role=position]")).to_have_text(f"1 / {total}")
        assert page_api.state(fork_id)["cursor"]["position"] == 1
        assert page_api.state(graph["id"])["cursor"]["position"] == total - 1
        expect(teacher.locator("[data-role=position]")).to_have_text(f"{total - 1} / {total}")
    finally:
        student_context.close()


def test_edit_link_opens_the_editable_view_on_another_machine(browser, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    other = browser.new_context(**CONTEXT_ARGS)
    try:
        page = other.new_page()
        page.goto(f"{page_server}/g/{graph['id']}#edit={token}")
        ready(page)
        assert page.url == f"{page_server}/g/{graph['id']}"  # the token left the address bar
        expect(page.locator("[data-role=mode]")).to_have_text("Your graph")
        page.keyboard.press("ArrowRight")
        expect(page.locator("[data-role=position]")).to_have_text("1 / 14")
        # the share dialog offers both links
        page.locator("[data-action=share]").first.click()
        expect(page.locator("#share-view")).to_have_value(f"{page_server}/g/{graph['id']}")
        expect(page.locator("#share-edit")).to_have_value(
            f"{page_server}/g/{graph['id']}#edit={token}"
        )
        page.keyboard.press("Escape")
        # reloading keeps the token (this browser keeps it)
        page.reload()
        ready(page)
        expect(page.locator("[data-role=mode]")).to_have_text("Your graph")
    finally:
        other.close()


def test_a_wrong_token_falls_back_to_the_live_view(page, page_server, page_api):
    graph, _ = page_api.create({"example": "seed"})
    page.goto(f"{page_server}/g/{graph['id']}#edit=not-the-token")
    ready(page)
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-role=mode]")).to_have_text("Live view")
    expect(page.locator("[data-action=fork]")).to_be_visible()
    assert page_api.state(graph["id"])["cursor"]["position"] == 0


def test_unknown_graph_says_so(page, page_server):
    page.goto(f"{page_server}/g/no-such-graph")
    expect(page.locator("#app")).to_have_attribute("data-ready", "error")
    expect(page.locator("[data-role=graph-name]")).to_contain_text("no graph")
