"""/openapi.json lists every status an operation answers: every status any test of the run
saw from a stepgrad server (tests/helpers.py StatusLedger records them) is listed for its
operation, including those the layers around the routes answer (429, 503, 507, 408, ...)."""

from __future__ import annotations

import pytest

from tests.helpers import STATUS_LEDGER

pytestmark = pytest.mark.after_all


def test_every_status_the_suite_saw_is_listed_for_its_operation(make_client):
    client = make_client(rate_create="2/minute", max_body_bytes=1_000)
    # answers from the layers around the routes, so that the check has them even alone
    created = client.post("/api/graphs", json={"example": "seed"})
    assert created.status_code == 201
    gid = created.json()["id"]
    assert client.post("/api/graphs", json={"example": "seed"}).status_code == 201
    assert client.post("/api/graphs", json={"example": "seed"}).status_code == 429
    big = client.post(f"/api/graphs/{gid}/values", content=b"[" + b"1," * 600 + b"1]")
    assert big.status_code == 413
    events = client.get(f"/api/graphs/{gid}/events", params={"format": "nonsense"})
    assert events.status_code == 422
    assert isinstance(events.json()["detail"], str)

    document = client.get("/openapi.json").json()
    assert STATUS_LEDGER.seen, "the ledger records nothing: is it installed?"
    assert ("POST", "/api/graphs", 429) in STATUS_LEDGER.seen
    assert STATUS_LEDGER.undocumented(document) == []


def test_the_ledger_finds_a_status_the_document_does_not_list():
    ledger = type(STATUS_LEDGER)()
    ledger.seen = {
        ("GET", "/api/graphs/abc", 418),
        ("GET", "/api/graphs/abc", 200),
        ("GET", "/api/graphs/abc", 500),  # a bug, provoked on purpose, listed nowhere
    }
    document = {
        "paths": {
            "/api/graphs/{graph_id}": {"get": {"responses": {"200": {}}}},
            "/api/graphs/examples": {"get": {"responses": {"200": {}}}},
        }
    }
    assert ledger.undocumented(document) == ["GET /api/graphs/{graph_id} -> 418"]
    ledger.seen = {("GET", "/api/graphs/examples", 200)}
    assert ledger.undocumented(document) == []
