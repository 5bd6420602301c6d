"""/docs and /redoc in Chromium with the internet out of reach and the app's
Content-Security-Policy (scripts from this origin only, no inline script): the endpoints
are listed."""

from __future__ import annotations

import pytest

from stepgrad.app.protection.headers import CSP, REDOC_CSP
from tests.helpers import browser_stack, serve

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

# ReDoc's sidebar always tries its maker's logo from the internet, and drops the image
# when that fails (as it does offline)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def docs_server(browser):
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    # the app's own policy: Swagger UI under the app-wide one, ReDoc with inline styles
    with serve(create_app(Settings(db=":memory:"))) as url:
        yield url


@pytest.fixture
def offline_page(context):
    """A page whose every request to another origin is aborted and recorded, and which
    records the Content-Security-Policy violations it sees."""
    outside: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", route)
    context.csp_allowed.append(REDOC_LOGO)  # checked by the ReDoc test itself
    page = context.new_page()
    page.outside = outside
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def csp_violations(page) -> list[str]:
    return [e for e in page.errors if "Content Security Policy" in e]


def test_swagger_ui_lists_the_endpoints_offline(offline_page, docs_server, screenshots):
    page = offline_page
    response = page.goto(docs_server + "/docs")
    assert response.headers["content-security-policy"] == CSP
    op = page.locator(".opblock-summary", has_text="/api/graphs").filter(has_text="POST").first
    expect(op).to_be_visible(timeout=20_000)
    expect(op.locator(".opblock-summary-method")).to_have_text("POST")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("stepgrad")
    page.screenshot(path=screenshots / "docs-swagger.png")
    assert page.outside == []
    assert csp_violations(page) == []
    assert page.evaluate("typeof window.ui") == "object"


def test_redoc_lists_the_endpoints_offline(offline_page, docs_server, screenshots):
    page = offline_page
    response = page.goto(docs_server + "/redoc")
    assert response.headers["content-security-policy"] == REDOC_CSP
    expect(page.get_by_text("/api/graphs/{graph_id}/forward").first).to_be_attached(timeout=20_000)
    expect(page.locator("h1").first).to_contain_text("stepgrad")
    expect(page.locator("[data-section-id]").first).to_be_attached()
    page.screenshot(path=screenshots / "docs-redoc.png")
    assert page.outside == []
    violations = csp_violations(page)
    assert all(REDOC_LOGO in v for v in violations), violations
    expect(page.locator(f'img[src="{REDOC_LOGO}"]')).to_have_count(0)
