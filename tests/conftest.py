"""Shared fixtures. Optional parts (torch, Chromium) skip when missing, but fail under CI=true."""

from __future__ import annotations

import contextlib
import importlib
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def optional_import(name: str, install: str = 'pip install -e ".[bench]"'):
    """Import an optional module; skip without it, or fail when CI=true (CI installs it)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true but cannot be imported: {exc}")
        pytest.skip(f"{name} is not installed ({install})")


@pytest.fixture(scope="session")
def torch():
    module = optional_import("torch")
    module.set_num_threads(1)
    return module


# ---- the web app (fixtures for tests/test_api_*.py and tests/test_app_*.py) -----------

import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

with warnings.catch_warnings():
    # starlette 1.x warns that it prefers httpx2 over httpx; either works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def _app_settings(**overrides):
    from stepgrad.app.settings import Settings

    return Settings(**{"db": ":memory:", **overrides})


@pytest.fixture
def make_client():
    """make_client(**settings) -> a TestClient (lifespan running) on a fresh app."""
    from stepgrad.app.main import create_app

    clients = []

    def make(**overrides):
        client = TestClient(create_app(_app_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    """A TestClient on an app with an in-memory store and the default limits."""
    return make_client()


@contextlib.contextmanager
def serve(app, **config):
    """A real uvicorn server for `app` on 127.0.0.1 (a random free port); yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server():
    """live_server(app) -> base URL of a real uvicorn server on 127.0.0.1 (random port)."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve(app, lifespan="on"))


# ---- the browser page (fixtures for tests/test_browser_*.py) ----------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts", "screenshots")


CONTEXT_ARGS = {"viewport": {"width": 1280, "height": 720}, "locale": "en-US"}


def browser_stack():
    """Called by test_browser_*.py at import: Playwright's `expect`, or the module is skipped
    without Playwright (and fails under CI=true, which installs it)."""
    try:
        return importlib.import_module("playwright.sync_api").expect
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"playwright is required under CI=true: {exc}", pytrace=False)
        pytest.skip(
            "playwright is not installed (pip install 'stepgrad[test]')", allow_module_level=True
        )


def require_chromium() -> None:
    """Skip without Debian's Chromium (fail under CI=true, which installs it)."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    optional_import("playwright.sync_api", install='pip install -e ".[test]"')


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || "?"}:${e.lineNumber}`);
});
"""


def csp_violations(context) -> list[str]:
    """Start collecting the context's Content-Security-Policy violations (Chromium's own
    console errors and the pages' securitypolicyviolation events) into the returned list."""
    found: list[str] = []
    context.add_init_script(CSP_WATCH)

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            found.append(message.text)

    context.on("console", on_console)
    return found


@pytest.fixture
def context(browser):
    """A fresh browser context per test: a projector's 1280x720, in English unless a test
    switches. Fails the test on any Content-Security-Policy violation, except those naming
    a URL the test lists in `context.csp_allowed`."""
    context = browser.new_context(**CONTEXT_ARGS)
    violations = csp_violations(context)
    context.csp_allowed = []
    yield context
    context.close()
    violations = [v for v in violations if not any(url in v for url in context.csp_allowed)]
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def page_server():
    """Base URL of the whole app (API and pages) served by uvicorn on 127.0.0.1 for the session."""
    require_chromium()

    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    # progress events at most every 20 ms, so a short training run still streams several;
    # every browser test shares this server and its one address: no per-address rates
    settings = Settings(
        db=":memory:",
        progress_interval_seconds=0.02,
        sse_ping_seconds=5.0,
        rate_create="100000/minute",
        rate_heavy="100000/minute",
    )
    with serve(create_app(settings), timeout_graceful_shutdown=2) as url:
        yield url


class PageApi:
    """The REST API of the page test server, for setting up graphs and checking the page."""

    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, token: str | None = None):
        import json
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read().decode()
            return exc.code, (json.loads(text) if text else None)

    def create(self, body: dict) -> tuple[dict, str]:
        status, data = self.call("POST", "/api/graphs", body)
        assert status == 201, data
        return data, data["edit_token"]

    def state(self, graph_id: str) -> dict:
        status, data = self.call("GET", f"/api/graphs/{graph_id}")
        assert status == 200, data
        return data


@pytest.fixture(scope="session")
def page_api(page_server):
    return PageApi(page_server)


@pytest.fixture(scope="session")
def screenshots():
    """Where browser tests save their screenshots (artifacts/, gitignored)."""
    from pathlib import Path

    path = Path(SCREENSHOTS).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- Redis (the scale-out store) ---------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url():
    """A Redis for the tests: STEPGRAD_TEST_REDIS (its database is emptied by the tests), or
    a redis-server of the tests' own on a free port. Skips without either (fails under
    CI=true, whose .ci/run starts one)."""
    optional_import("redis", 'pip install -e ".[redis]"')
    url = os.environ.get("STEPGRAD_TEST_REDIS")
    if url:
        yield url
        return
    from bench.harness import redis_server, redis_server_path

    if redis_server_path() is None:
        if IN_CI:
            pytest.fail("redis-server is required under CI=true (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_db(redis_url):
    """The test Redis, emptied before the test; yields its URL."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url
