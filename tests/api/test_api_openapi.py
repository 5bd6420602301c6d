"""/openapi.json describes the whole API, and real responses conform to it."""

from __future__ import annotations

import re

import pytest

from tests.helpers import create

PATHS = {
    "/api/health": {"get"},
    "/api/ops": {"get"},
    "/api/server": {"get"},
    "/api/qr.svg": {"get"},
    "/api/examples": {"get"},
    "/api/examples/{example_id}": {"get"},
    "/api/graphs": {"post"},
    "/api/graphs/{graph_id}": {"get", "delete"},
    "/api/graphs/{graph_id}/nodes/{node_id}": {"get"},
    "/api/graphs/{graph_id}/values": {"put"},
    "/api/graphs/{graph_id}/forward": {"post"},
    "/api/graphs/{graph_id}/backward": {"post"},
    "/api/graphs/{graph_id}/seek": {"post"},
    "/api/graphs/{graph_id}/update": {"post"},
    "/api/graphs/{graph_id}/train": {"post", "get"},
    "/api/graphs/{graph_id}/reset": {"post"},
    "/api/graphs/{graph_id}/fork": {"post"},
    "/api/graphs/{graph_id}/gradcheck": {"get"},
    "/api/graphs/{graph_id}/export": {"get"},
    "/api/graphs/{graph_id}/events": {"get"},
    "/api/graphs/{graph_id}/toposort": {"get"},
    "/api/graphs/{graph_id}/options": {"put"},
    "/api/graphs/{graph_id}/spec": {"put"},
    "/api/graphs/{graph_id}/spec/check": {"post"},
    "/api/graphs/{graph_id}/positions": {"put"},
    "/api/graphs/{graph_id}/layout": {"post"},
    "/api/graphs/{graph_id}/quiz": {"post", "get", "delete"},
    "/api/graphs/{graph_id}/quiz/answers": {"post"},
    "/api/graphs/{graph_id}/quiz/reveal": {"post"},
    "/api/graphs/{graph_id}/focus": {"put", "get"},
    "/api/toposort": {"post"},
    "/api/datasets": {"get"},
    "/api/datasets/{name}": {"get"},
    "/api/datasets/{name}/scatter": {"get"},
    "/api/datasets/{name}/knn": {"post"},
    "/api/datasets/{name}/knn_cost": {"get"},
    "/api/datasets/{name}/baselines": {"get"},
    "/api/race": {"post"},
    "/api/lessons": {"get"},
    "/api/lessons/{lesson_id}": {"get"},
    "/api/rooms": {"post"},
    "/api/rooms/{room_id}": {"get", "put"},
    "/api/rooms/{room_id}/events": {"get"},
}


@pytest.fixture
def openapi(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_every_path_and_method_is_documented(openapi):
    documented = {p: set(ops) for p, ops in openapi["paths"].items()}
    assert documented == PATHS


def test_every_operation_has_schemas_errors_and_security(openapi):
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (method, path)
            responses = op["responses"]
            ok = next(code for code in responses if code.startswith("2"))
            if ok != "204":
                content = responses[ok]["content"]
                assert all("schema" in c for c in content.values()), (method, path)
            if "{graph_id}" in path or "{room_id}" in path:
                assert "404" in responses, (method, path)
            # forking and answering a quiz need only the view link
            changes = method in ("put", "post", "delete") and not path.endswith(
                ("/fork", "/quiz/answers")
            )
            if changes and path.startswith("/api/graphs/"):
                assert op["security"] == [{"EditToken": []}], (method, path)
                assert {"401", "403", "409", "422"} <= set(responses), (method, path)
            elif changes and path.startswith("/api/rooms/"):
                # a room's token is its own, not a graph's
                assert op["security"] == [{"RoomToken": []}], (method, path)
                assert {"401", "403", "422"} <= set(responses), (method, path)
            else:
                assert "security" not in op, (method, path)
            if "requestBody" in op:
                assert {"413", "415", "422"} <= set(responses), (method, path)
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["EditToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The `edit_token` returned when the graph was created or forked.",
    }
    assert schemes["RoomToken"]["description"] == (
        "The `edit_token` returned when the room was created."
    )
    create = openapi["components"]["schemas"]["GraphCreate"]
    assert len(create["examples"]) == 3


def conforms(openapi: dict, method: str, url: str, response, jsonschema) -> None:
    """Check a response against the documented schema of its path, method and status."""
    path = url.split("?")[0]
    for template, ops in openapi["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method in ops:
            break
    else:
        raise AssertionError(f"{method} {path} is not documented")
    responses = ops[method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method} {path} answered {status}, not documented"
    if status == "204":
        return
    media = response.headers["content-type"].split(";")[0]
    content = responses[status]["content"]
    assert media in content, f"{method} {path} {status}: {media} not documented"
    if media == "application/json":
        schema = {**content[media]["schema"], "components": openapi["components"]}
        jsonschema.Draft202012Validator(schema).validate(response.json())


def test_real_responses_conform_to_the_documented_schemas(client, openapi):
    # not a declared test dependency yet: skip without it
    jsonschema = pytest.importorskip("jsonschema")
    calls = []

    def call(method, url, **kwargs):
        r = client.request(method.upper(), url, **kwargs)
        conforms(openapi, method, url, r, jsonschema)
        calls.append((method, url, r.status_code))
        return r

    state, h = create(client, {"example": "two_layer"})
    gid = state["id"]
    call("get", "/api/health")
    call("get", "/api/ops")
    call("get", "/api/server")
    call("get", "/api/qr.svg?url=http://192.168.1.23:8000/g/abc")
    call("get", "/api/qr.svg?url=javascript:alert(1)")
    call("get", "/api/examples")
    call("get", "/api/examples/seed")
    call("get", "/api/examples/nope")
    call("post", "/api/graphs", json={"example": "seed"})
    call("post", "/api/graphs", json={"example": "seed", "extra": 1})
    call("post", "/api/graphs", json={"nodes": [{"id": "x", "op": "nope"}]})
    call("post", "/api/graphs", content=b"NaN", headers={"Content-Type": "application/json"})
    call("post", "/api/graphs", content=b"x=1", headers={"Content-Type": "text/plain"})
    call("post", "/api/graphs", json={"expression": "loss = (x", "inputs": {"x": 1.0}})
    call("get", f"/api/graphs/{gid}")
    call("get", f"/api/graphs/{gid}?full=true")
    call("get", "/api/graphs/nope")
    call("post", f"/api/graphs/{gid}/backward", headers=h)
    call("post", f"/api/graphs/{gid}/forward", headers=h)
    call("post", f"/api/graphs/{gid}/forward")
    call("post", f"/api/graphs/{gid}/forward", headers={"Authorization": "Bearer no"})
    call("post", f"/api/graphs/{gid}/forward", json={"all": True}, headers=h)
    call("post", f"/api/graphs/{gid}/backward", json={"steps": 4}, headers=h)
    call("post", f"/api/graphs/{gid}/seek", json={"position": 20}, headers=h)
    call("post", f"/api/graphs/{gid}/seek", json={"position": 99}, headers=h)
    call("get", f"/api/graphs/{gid}/nodes/W1")
    call("get", f"/api/graphs/{gid}/nodes/nope")
    call("post", f"/api/graphs/{gid}/update", json={"learning_rate": 0.1}, headers=h)
    call("post", f"/api/graphs/{gid}/update", json={"learning_rate": 0.1}, headers=h)
    call("put", f"/api/graphs/{gid}/values", json={"values": {"b2": [0.5]}}, headers=h)
    call("post", f"/api/graphs/{gid}/reset", headers=h)
    # contract v1.1: patches answer the same paths, and conform too
    call("post", f"/api/graphs/{gid}/forward?return=patch", json={"steps": 2}, headers=h)
    call("post", f"/api/graphs/{gid}/forward?return=patch", json={"all": True}, headers=h)
    call("post", f"/api/graphs/{gid}/backward?return=patch", json={"all": True}, headers=h)
    call("post", f"/api/graphs/{gid}/seek?return=patch", json={"position": 3}, headers=h)
    call("post", f"/api/graphs/{gid}/seek?return=patch", json={"position": 20}, headers=h)
    call("post", f"/api/graphs/{gid}/update?return=patch", json={"optimizer": "adam"}, headers=h)
    call("put", f"/api/graphs/{gid}/values?return=patch", json={"values": {"b2": [0.1]}}, headers=h)
    call("put", f"/api/graphs/{gid}/options?return=patch", json={"fanout_bug": True}, headers=h)
    call("post", f"/api/graphs/{gid}/reset?return=patch", headers=h)
    call("post", f"/api/graphs/{gid}/forward?return=nope", headers=h)
    call("get", f"/api/graphs/{gid}?since=1")
    call("get", f"/api/graphs/{gid}?since=x")
    call("get", f"/api/graphs/{gid}/gradcheck")
    call("get", f"/api/graphs/{gid}/gradcheck?max_elements=0")
    call("get", f"/api/graphs/{gid}/export")
    call("get", f"/api/graphs/{gid}/export?format=dot")
    call("get", f"/api/graphs/{gid}/train")
    try:
        import stepgrad.engine.training  # noqa: F401

        call("post", f"/api/graphs/{gid}/train", json={"epochs": 3}, headers=h)
        call("post", f"/api/graphs/{gid}/train?return=patch", json={"epochs": 2}, headers=h)
        call("get", f"/api/graphs/{gid}/train")
        call("post", f"/api/graphs/{gid}/train", json={"epochs": 10**9}, headers=h)
    except ImportError:
        pass
    call("get", f"/api/graphs/{gid}/events?max_events=1")
    # contract v1.1: the class quiz and the teacher's focus
    call("get", f"/api/graphs/{gid}/quiz")
    call("post", f"/api/graphs/{gid}/quiz", json={"node": "W1", "quantity": "value"}, headers=h)
    quiz = call(
        "post", f"/api/graphs/{gid}/quiz", json={"node": "loss", "quantity": "value"}, headers=h
    ).json()
    answer = {"quiz_id": quiz["quiz_id"], "answer": 1.5, "client": "abcdefgh"}
    call("post", f"/api/graphs/{gid}/quiz/answers", json=answer)
    call("get", f"/api/graphs/{gid}/quiz")
    call("post", f"/api/graphs/{gid}/quiz/reveal", headers=h)
    call("get", f"/api/graphs/{gid}/quiz")
    call("post", f"/api/graphs/{gid}/quiz/answers", json=answer)
    call("delete", f"/api/graphs/{gid}/quiz", headers=h)
    call("put", f"/api/graphs/{gid}/focus", json={"node": "W1"}, headers=h)
    call("put", f"/api/graphs/{gid}/focus", json={"node": "nope"}, headers=h)
    call("get", f"/api/graphs/{gid}/focus")
    # contract v1.2: rooms
    room = call("post", "/api/rooms", json={"lesson": "day2"}).json()
    call("post", "/api/rooms", json={"lesson": "nope"})
    room_h = {"Authorization": f"Bearer {room['edit_token']}"}
    call("get", f"/api/rooms/{room['id']}")
    call("get", "/api/rooms/nope")
    call("put", f"/api/rooms/{room['id']}", json={"step": 3, "graph": gid}, headers=room_h)
    call("put", f"/api/rooms/{room['id']}", json={"step": 99}, headers=room_h)
    call("put", f"/api/rooms/{room['id']}", json={"step": 1})
    call("put", f"/api/rooms/{room['id']}", json={"step": 1}, headers=h)
    call("post", f"/api/graphs/{gid}/fork")
    call("delete", f"/api/graphs/{gid}", headers=h)
    call("delete", f"/api/graphs/{gid}", headers=h)
    statuses = {status for _, _, status in calls}
    assert {200, 201, 204, 401, 403, 404, 409, 413, 415, 422} <= statuses
