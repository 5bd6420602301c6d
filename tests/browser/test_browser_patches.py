"""The graph page on patches (contract v1.1): its steps ask for `?return=patch` and get one,
its followers stream `format=patch` events, and what a page shows after any number of
patches equals what a fresh load of the same graph at the same position shows."""

from __future__ import annotations

import pytest

from tests.helpers import (
    READ_PAGE,
    STEP_TIMEOUT,
    browser_stack,
    open_editable,
    wait_js,
    wait_position,
)

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

STEP_PATHS = ("/forward", "/backward", "/seek")


def shown_nodes(page) -> dict:
    return page.evaluate(READ_PAGE)["nodes"]


def wait_version(page, version: int) -> None:
    wait_js(
        page,
        "v => window.stepgrad.state.graph && window.stepgrad.state.graph.version === v"
        " && !document.querySelector('#app').classList.contains('is-busy')",
        arg=version,
    )
    page.evaluate("window.stepgrad.render()")


def test_steps_are_patches_and_a_stepped_page_shows_what_a_fresh_one_does(
    context, page, page_server, page_api
):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    total = graph["cursor"]["total"]

    # the follower opens the view link before the teacher steps
    follower = context.new_page()
    streams: list[str] = []
    follower.on("request", lambda r: streams.append(r.url) if "/events" in r.url else None)
    follower.goto(f"{page_server}/g/{gid}")
    expect(follower.locator("[data-role=live]")).to_have_text("live")
    assert any("format=patch" in url for url in streams), streams

    def is_step(response) -> bool:
        req = response.request
        return req.method == "POST" and any(req.url.split("?")[0].endswith(p) for p in STEP_PATHS)

    open_editable(page, page_server, graph, token)
    answers: list[tuple[str, dict]] = []

    # forward into the backward pass, back a few, forward again: every position of the way
    # a page built up from patches shows what a page opened afresh there shows
    keys = ["ArrowRight"] * 10 + ["ArrowLeft"] * 4 + ["ArrowRight"] * 3
    position = 0
    for key in keys:
        position += 1 if key == "ArrowRight" else -1
        # each key's answer is awaited with the key: a listener may hear the last response
        # after the page has already drawn it
        with page.expect_response(is_step, timeout=STEP_TIMEOUT) as step:
            page.keyboard.press(key)
        answers.append((step.value.url, step.value.json()))
        wait_position(page, position, total)
    state = page_api.state(gid)
    assert state["cursor"]["position"] == position == 9

    assert len(answers) == len(keys)
    for url, body in answers:
        assert "return=patch" in url, url
        assert isinstance(body["base_version"], int), body
        assert body["version"] > body["base_version"]
        # a patch carries the nodes the step touched, not the graph
        assert len(body.get("nodes", [])) < len(state["nodes"]), body

    fresh = context.new_page()
    fresh.goto(f"{page_server}/g/{gid}")
    expect(fresh.locator("#app")).to_have_attribute("data-ready", "true")
    for p in (page, follower, fresh):
        wait_version(p, state["version"])
    expected = shown_nodes(fresh)
    assert set(expected) == {n["id"] for n in state["nodes"]}
    # the fresh page shows numbers where the API has them, a dash where it has none
    for node in state["nodes"]:
        assert (expected[node["id"]]["value"] != "\u2014") == (node["value"] is not None)
        assert (expected[node["id"]]["grad"] != "\u2014") == (node["grad"] is not None)
    for p in (page, follower):
        got = shown_nodes(p)
        assert {i: (v["value"], v["grad"]) for i, v in got.items()} == {
            i: (v["value"], v["grad"]) for i, v in expected.items()
        }
