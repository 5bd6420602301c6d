"""Shared fixtures. Optional parts (torch, Chromium, Redis) skip when missing, but fail under
CI=true. Plain helpers live in tests/helpers.py."""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.helpers import (
    CONTEXT_ARGS,
    IN_CI,
    STATUS_LEDGER,
    PageApi,
    TestClient,
    csp_violations,
    optional_import,
    redis_server,
    redis_server_path,
    serve,
)


def pytest_configure(config):
    STATUS_LEDGER.install()


def pytest_collection_modifyitems(session, config, items):
    # the check of every status the suite saw against /openapi.json runs after the rest
    last = [item for item in items if item.get_closest_marker("after_all")]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def torch():
    module = optional_import("torch")
    module.set_num_threads(1)
    return module


# ---- the store: SQLite, and Redis for the modules marked both_stores ----------------------

STORES = ["sqlite", "redis"]


def pytest_generate_tests(metafunc):
    # every test of a module marked both_stores runs on the SQLite store and again on Redis
    # (the same behaviour through the other implementation of the store interface), except
    # those marked sqlite_only
    definition = metafunc.definition
    if definition.get_closest_marker("both_stores") and not definition.get_closest_marker(
        "sqlite_only"
    ):
        metafunc.parametrize("app_store", STORES, indirect=True)


@pytest.fixture(scope="module", autouse=True)
def app_store(request) -> str:
    """The store of the apps make_client, client and app_client make: "sqlite" (in memory),
    or "redis" in a both_stores module's second run. Autouse, so that every test of such a
    module runs on both, whatever fixtures it takes."""
    return getattr(request, "param", "sqlite")


def _redis_settings(url: str) -> dict:
    # creation rates high on Redis, whose limits are shared by the whole test run; the tests
    # of rates set their own
    return {"store": url, "rate_create": "100000/minute"}


# ---- the web app (fixtures for tests/api and tests/server) ------------------------------


def _app_settings(**overrides):
    from stepgrad.app.settings import Settings

    return Settings(**{"db": ":memory:", **overrides})


@pytest.fixture
def make_client(request, app_store):
    """make_client(**settings) -> a TestClient (lifespan running) on a fresh app, on the
    test's store (Redis: emptied for the test)."""
    from stepgrad.app.main import create_app

    store = _redis_settings(request.getfixturevalue("redis_db")) if app_store == "redis" else {}
    clients = []

    def make(**overrides):
        client = TestClient(create_app(_app_settings(**{**store, **overrides})))
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


@pytest.fixture(scope="module")
def app_client(request, app_store):
    """One app for the many examples of a module's property tests (graphs are independent),
    on the module's store (Redis: emptied once for the module)."""
    from stepgrad.app.main import create_app

    settings = {"rate_create": "10000/minute"}
    if app_store == "redis":
        import redis

        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        settings = _redis_settings(url)
    with TestClient(create_app(_app_settings(**settings))) as client:
        yield client


@pytest.fixture
def live_server():
    """live_server(app) -> base URL of a real uvicorn server on 127.0.0.1 (random port)."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve(app, lifespan="on"))


# ---- the browser page (fixtures for tests/browser) ---------------------------------------

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


def require_chromium() -> None:
    """Skip without Debian's Chromium (fail under CI=true, which installs it)."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    optional_import("playwright.sync_api", install='pip install -e ".[test]"')


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here).

    One per module: Playwright's sync API keeps an event loop running in the main thread
    until it stops, and a later module's `asyncio.run` (the server and event tests) would
    find it running."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


AXE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "node_modules", "axe-core", "axe.min.js"
)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script (package.json's devDependencies, `npm ci`), to inject into a page:
    skips without it, fails under CI=true (which runs `npm ci` before the tests)."""
    if not os.path.exists(AXE):
        if IN_CI:
            pytest.fail(f"{AXE} is required under CI=true (npm ci)")
        pytest.skip(f"{AXE} is missing (npm ci)")
    with open(AXE, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="session")
def page_server():
    """Base URL of the whole app (API and pages) served by uvicorn on 127.0.0.1 for the session."""
    require_chromium()

    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    # progress events at most every 20 ms, so a short training run still streams several;
    # every browser test shares this server and its one address: no per-address rates;
    # the pages are under test, not the heavy-call budget (tests/server/test_app_abuse.py):
    # on a loaded 2-core machine the lesson's race outlasts the default 20 s
    settings = Settings(
        db=":memory:",
        progress_interval_seconds=0.02,
        sse_ping_seconds=5.0,
        rate_create="100000/minute",
        rate_heavy="100000/minute",
        max_job_seconds=300.0,
    )
    with serve(create_app(settings), timeout_graceful_shutdown=2) as url:
        yield url


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
