"""The Redis store's own failure: an unreachable Redis is a 503 to retry.

The API's tests of persistence, expiry, the cap, concurrency, patches, events and the class
quiz run on Redis too: their modules are marked both_stores (tests/conftest.py)."""

from __future__ import annotations

from tests.helpers import free_port


def test_an_unreachable_redis_is_a_503_to_retry_not_a_500():
    from fastapi.testclient import TestClient

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
