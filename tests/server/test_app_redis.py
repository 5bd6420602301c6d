"""The API's tests of persistence, expiry, the cap, concurrency, patches, events and the
class quiz, run
again in-process with the Redis store (and the Redis event bus) in place of SQLite: the
same behaviour through the other implementation of the store interface."""

from __future__ import annotations

import pytest

from tests.api import test_api_quiz
from tests.server import (
    test_app_concurrency,
    test_app_events,
    test_app_patches,
    test_app_persistence,
)

# SQLite only: restarts on one file, its process lock, its rows
SQLITE_ONLY = {
    "test_restart_keeps_the_state_and_the_optimizer",
    "test_expiry_also_applies_after_a_restart",
    "test_concurrent_first_reads_after_a_restart_load_the_graph_once",
}

for _module in (
    test_app_persistence,
    test_app_concurrency,
    test_app_patches,
    test_app_events,
    test_api_quiz,
):
    for _name in dir(_module):
        if _name.startswith("test_") and _name not in SQLITE_ONLY:
            globals()[_name] = getattr(_module, _name)


@pytest.fixture
def make_client(make_client, redis_db):
    """make_client(**settings) on a Redis store emptied for the test (creation rates high:
    the tests of rates are elsewhere)."""

    def make(**overrides):
        return make_client(**{"store": redis_db, "rate_create": "100000/minute", **overrides})

    return make


@pytest.fixture(scope="module")
def app_client(redis_url):
    """The property tests' one app for many examples, on Redis."""
    import redis
    from fastapi.testclient import TestClient

    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    redis.Redis.from_url(redis_url).flushdb()
    settings = Settings(db=":memory:", store=redis_url, rate_create="100000/minute")
    with TestClient(create_app(settings)) as client:
        yield client


def test_an_unreachable_redis_is_a_503_to_retry_not_a_500():
    from fastapi.testclient import TestClient

    from bench.harness import free_port
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = TestClient(create_app(Settings(db=":memory:", store=url)))  # no lifespan
    for r in (
        client.get("/api/graphs/abc"),
        client.post("/api/graphs", json={"example": "seed"}),
        client.post("/api/graphs/abc/forward", headers={"Authorization": "Bearer x"}),
    ):
        assert r.status_code == 503, r.text
        assert "cannot be reached" in r.json()["detail"] and r.headers["retry-after"] == "5"
