"""The pages under the Content-Security-Policy: every page draws with no violation (the
`context` fixture fails a test on any), and the policy does block inline code, which the
violation watch sees."""

from __future__ import annotations

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack, csp_violations

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def test_every_page_draws_under_the_policy(page, page_server, page_api):
    state, _ = page_api.create({"example": "seed", "name": "<script>x</script>"})
    for path, root in (
        ("/", "#start"),
        (f"/g/{state['id']}", "#app"),
        ("/lessons/day1", "#lesson"),
        ("/lessons/day3", "#lesson"),
    ):
        response = page.goto(page_server + path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        expect(page.locator(root)).to_have_attribute("data-ready", "true")
    # the language script ran before the page (a file now, not inline)
    assert page.evaluate("document.documentElement.lang") == "en"


def test_the_policy_blocks_inline_code_and_the_watch_reports_it(browser, page_server):
    context = browser.new_context(**CONTEXT_ARGS)
    try:
        violations = csp_violations(context)
        page = context.new_page()
        page.goto(page_server + "/")
        expect(page.locator("#start")).to_have_attribute("data-ready", "true")
        page.evaluate(
            """() => {
              const s = document.createElement("script");
              s.textContent = "window.__inline = 1";
              document.body.appendChild(s);
              document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
            }"""
        )
        page.wait_for_timeout(200)
        assert page.evaluate("window.__inline") is None
        assert any("script-src" in v for v in violations), violations
        assert any("style-src" in v for v in violations), violations
    finally:
        context.close()
