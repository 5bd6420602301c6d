"""The REST API end to end through TestClient: create, read, step, seek, values, update,
fork, delete, export, gradient check; every response checked against its schema."""

from __future__ import annotations

import json

import pytest

from stepgrad.app.schemas import CreatedGraph, GradcheckReport, GraphState, NodeState
from tests.helpers import SEED_DK, SEED_LOSS, SEED_SPEC, auth, create, node, post

# ---- create ----------------------------------------------------------------------------


def test_create_from_spec_gives_the_full_state(client):
    state, _ = create(client, SEED_SPEC)
    assert state["name"] == "seed example" and state["output"] == "loss"
    assert state["order"] == ["x", "y", "k", "b", "linear", "sigmoid", "loss"]
    assert state["cursor"] == {
        "position": 0,
        "phase": "forward",
        "node": "x",
        "total": 14,
        "last": None,
    }
    assert state["version"] == 1 and state["events"] == []
    assert state["params"] == ["k", "b"]
    k = node(state, "k")
    assert k["trainable"] is True and k["shape"] == [] and k["layer"] == 0
    assert k["value"] is None and k["grad"] is None
    assert node(state, "linear")["inputs"] == ["x", "k", "b"]
    assert node(state, "loss")["layer"] == 3
    xs = {n["id"]: n["x"] for n in state["nodes"]}
    assert xs["x"] < xs["linear"] < xs["sigmoid"] < xs["loss"]
    assert {(e["source"], e["target"], e["slot"]) for e in state["edges"]} == {
        ("x", "linear", 0), ("k", "linear", 1), ("b", "linear", 2),
        ("linear", "sigmoid", 0), ("y", "loss", 0), ("sigmoid", "loss", 1),
    }  # fmt: skip
    # the leaf y (layer 0) is drawn beside the loss it feeds: its edge needs no waypoint
    assert xs["y"] == xs["sigmoid"]
    y_loss = next(e for e in state["edges"] if e["source"] == "y")
    assert not y_loss.get("points")
    # ids are random and URL safe, tokens long
    assert len(state["id"]) >= 16 and state["id"].replace("-", "").replace("_", "").isalnum()
    assert len(state["edit_token"]) >= 40
    got = client.get(f"/api/graphs/{state['id']}").json()
    assert "edit_token" not in got
    assert {k: v for k, v in state.items() if k != "edit_token"} == got


def test_create_from_expression(client):
    state, _ = create(
        client,
        {
            "expression": "h = sigmoid(k*x + b)\nloss = mse(y, h)",
            "inputs": {"x": 3.0, "y": 0.71},
            "params": {"k": 0.09, "b": 0.5},
            "name": "from text",
        },
    )
    assert state["name"] == "from text" and state["output"] == "loss"
    ids = {n["id"] for n in state["nodes"]}
    assert {"x", "y", "k", "b", "h", "loss"} <= ids
    assert set(state["params"]) == {"k", "b"}


def test_create_from_every_example(client):
    examples = client.get("/api/examples").json()
    ids = {e["id"] for e in examples}
    assert {"seed", "fanout", "diamond", "two_layer", "chain_rule"} <= ids
    assert all(e["kind"] in ("example", "lesson") and e["title"] for e in examples)
    for e in examples:
        state, _ = create(client, {"example": e["id"]})
        assert state["nodes"]
    seed = client.get("/api/examples/seed").json()
    assert seed["spec"] == SEED_SPEC
    assert client.get("/api/examples/nope").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"example": "seed", "expression": "loss = x"},
        {"nodes": SEED_SPEC["nodes"], "example": "seed"},
        {"example": "seed", "inputs": {"x": 1.0}},
        {"expression": "loss = x", "output": "loss"},
        {"example": "seed", "colour": "red"},
        {"example": 7},
    ],
)
def test_create_needs_exactly_one_source(client, body):
    r = client.post("/api/graphs", json=body)
    assert r.status_code == 422


def test_unknown_example_is_a_sentence(client):
    r = client.post("/api/graphs", json={"example": "nope"})
    assert r.status_code == 422
    assert "no example 'nope'" in r.json()["detail"]


# ---- stepping ---------------------------------------------------------------------------


def test_seed_example_one_step_at_a_time_matches_the_engine(client):
    state, h = create(client)
    gid = state["id"]
    seen = []
    for i in range(7):
        state = post(client, gid, "forward", h)
        assert state["cursor"]["position"] == i + 1
        assert state["version"] == i + 2
        (event,) = state["events"]
        assert event["phase"] == "forward" and event["position"] == i + 1
        seen.append(event["node"])
    assert seen == state["order"]
    assert node(state, "loss")["value"] == pytest.approx(SEED_LOSS, rel=1e-12)
    assert state["cursor"] == {
        "position": 7,
        "phase": "backward",
        "node": "loss",
        "total": 14,
        "last": {"phase": "forward", "node": "loss"},
    }
    for _ in range(7):
        state = post(client, gid, "backward", h, {"steps": 1})
    assert state["cursor"] == {
        "position": 14,
        "phase": "done",
        "node": None,
        "total": 14,
        "last": {"phase": "backward", "node": "x"},
    }
    assert node(state, "k")["grad"] == pytest.approx(SEED_DK, rel=1e-10)
    # edges carry the contribution that flowed along them
    edge = next(e for e in state["edges"] if e["source"] == "k")
    assert edge["grad"] == pytest.approx(SEED_DK, rel=1e-10)


def test_forward_all_and_backward_events(client):
    state, h = create(client)
    gid = state["id"]
    state = post(client, gid, "forward", h, {"all": True})
    assert len(state["events"]) == 7 and state["cursor"]["phase"] == "backward"
    state = post(client, gid, "backward", h, {"steps": 3})
    assert [e["node"] for e in state["events"]] == ["loss", "sigmoid", "linear"]
    linear = state["events"][2]
    assert {c["input"] for c in linear["contributions"]} == {"x", "k", "b"}
    k = next(c for c in linear["contributions"] if c["input"] == "k")
    assert k["grad"] == pytest.approx(SEED_DK, rel=1e-10) and k["slot"] == 1
    state = post(client, gid, "backward", h, {"steps": 100})
    assert state["cursor"]["phase"] == "done" and len(state["events"]) == 4


def test_phase_errors_are_409_with_a_sentence(client):
    state, h = create(client)
    gid = state["id"]
    r = post(client, gid, "backward", h, status=409)
    assert "run forward to the end before backward" in r["detail"]
    r = post(client, gid, "update", h, {"learning_rate": 0.1}, status=409)
    assert "no gradients yet" in r["detail"]
    post(client, gid, "forward", h, {"all": True})
    r = post(client, gid, "forward", h, status=409)
    assert "already complete" in r["detail"]
    post(client, gid, "backward", h, {"all": True})
    r = post(client, gid, "backward", h, status=409)
    assert "already complete" in r["detail"]
    # a refused call changes nothing
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 3


@pytest.mark.parametrize(
    "body", [{"steps": 0}, {"steps": -1}, {"steps": "2"}, {"steps": 1.5}, {"all": 1}, {"x": 1}]
)
def test_bad_step_bodies_are_422(client, body):
    state, h = create(client)
    post(client, state["id"], "forward", h, body, status=422)


def test_seek_anywhere(client):
    state, h = create(client)
    gid = state["id"]
    state = post(client, gid, "seek", h, {"position": 14})
    assert state["cursor"]["phase"] == "done"
    assert node(state, "k")["grad"] == pytest.approx(SEED_DK, rel=1e-10)
    state = post(client, gid, "seek", h, {"position": 3})
    assert state["cursor"] == {
        "position": 3,
        "phase": "forward",
        "node": "b",
        "total": 14,
        "last": {"phase": "forward", "node": "k"},
    }
    assert node(state, "k")["value"] == 0.09 and node(state, "b")["value"] is None
    assert all(n["grad"] is None for n in state["nodes"])
    r = post(client, gid, "seek", h, {"position": 15}, status=422)
    assert "outside the timeline 0..14" in r["detail"]
    post(client, gid, "seek", h, {"position": -1}, status=422)
    post(client, gid, "seek", h, {}, status=422)


def test_reset(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    state = post(client, gid, "reset", h)
    assert state["cursor"]["position"] == 0
    assert all(n["value"] is None for n in state["nodes"])


def test_values_reset_the_timeline_and_errors_change_nothing(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    r = client.put(f"/api/graphs/{gid}/values", json={"values": {"x": 2.0}}, headers=h)
    assert r.status_code == 200
    state = r.json()
    assert state["cursor"]["position"] == 0 and state["version"] == 3
    state = post(client, gid, "forward", h, {"all": True})
    assert node(state, "linear")["value"] == pytest.approx(0.09 * 2.0 + 0.5)
    before = client.get(f"/api/graphs/{gid}").json()
    for values, fragment in [
        ({"nope": 1.0}, "no node 'nope'"),
        ({"linear": 1.0}, "computed"),
        ({"x": [[1.0, 2.0], [3.0]]}, "rectangular"),
        ({"x": "three"}, "values must be numbers"),
        ({"x": [[1.0, 2.0]], "y": [1.0, 2.0, 3.0]}, "cannot be broadcast"),
    ]:
        r = client.put(f"/api/graphs/{gid}/values", json={"values": values}, headers=h)
        assert r.status_code == 422, (values, r.text)
        if fragment:
            assert fragment in r.json()["detail"]
    assert client.get(f"/api/graphs/{gid}").json() == before


def test_tensor_values_and_shape_errors_name_the_node(client):
    state, h = create(client, {"example": "two_layer"})
    gid = state["id"]
    r = client.put(
        f"/api/graphs/{gid}/values", json={"values": {"X": [[1.0, 2.0, 3.0]]}}, headers=h
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "'h'" in detail and "[1, 3]" in detail and "[2, 3]" in detail


def test_update_with_sgd_and_momentum_state_carries_over(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "seek", h, {"position": 14})
    state = post(client, gid, "update", h, {"learning_rate": 0.1})
    (event,) = state["events"]
    assert event["phase"] == "update"
    assert event["params"]["k"] == pytest.approx(0.09 - 0.1 * SEED_DK, rel=1e-12)
    assert node(state, "k")["value"] is None  # the timeline starts again
    assert state["cursor"]["position"] == 0
    assert state["optimizer"] == {"name": "sgd", "learning_rate": 0.1}
    # momentum: the velocity is kept between calls
    k = event["params"]["k"]
    grads = []
    for _ in range(2):
        state = post(client, gid, "seek", h, {"position": 14})
        grads.append(node(state, "k")["grad"])
        state = post(
            client, gid, "update", h,
            {"learning_rate": 0.1, "optimizer": "momentum", "options": {"momentum": 0.9}},
        )  # fmt: skip
    v1 = grads[0]
    v2 = 0.9 * v1 + grads[1]
    assert state["events"][0]["params"]["k"] == pytest.approx(k - 0.1 * v1 - 0.1 * v2, rel=1e-10)
    assert state["optimizer"]["name"] == "momentum"
    # Adam with defaults, then a learning rate alone keeps it
    post(client, gid, "seek", h, {"position": 14})
    state = post(client, gid, "update", h, {"optimizer": "adam"})
    assert state["optimizer"]["name"] == "adam" and state["optimizer"]["learning_rate"] == 0.001
    post(client, gid, "seek", h, {"position": 14})
    state = post(client, gid, "update", h, {"learning_rate": 0.01})
    assert state["optimizer"]["name"] == "adam" and state["optimizer"]["learning_rate"] == 0.01


@pytest.mark.parametrize(
    "body",
    [
        {"learning_rate": 0},
        {"learning_rate": -1.0},
        {"learning_rate": "0.1"},
        {"optimizer": "rmsprop"},
        {"optimizer": "momentum", "options": {"momentum": 1.5}},
        {"optimizer": "sgd", "options": {"momentum": 0.9}},
    ],
)
def test_bad_updates_are_422_and_change_nothing(client, body):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "seek", h, {"position": 14})
    before = client.get(f"/api/graphs/{gid}").json()
    post(client, gid, "update", h, body, status=422)
    assert client.get(f"/api/graphs/{gid}").json() == before


def test_non_finite_results_are_strings_in_strict_json(client):
    state, h = create(
        client,
        {
            "name": "log of zero",
            "nodes": [
                {"id": "x", "op": "input", "value": [0.0, 1.0, -1.0]},
                {"id": "l", "op": "log", "inputs": ["x"]},
                {"id": "s", "op": "sum", "inputs": ["l"]},
            ],
        },
    )
    gid = state["id"]
    r = client.post(f"/api/graphs/{gid}/seek", json={"position": 6}, headers=h)
    assert r.status_code == 200
    json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in the body"))
    state = r.json()
    assert node(state, "l")["value"] == ["-Infinity", 0.0, "NaN"]
    assert node(state, "s")["value"] == "NaN"
    assert node(state, "x")["grad"] == ["Infinity", 1.0, -1.0]
    for text in (
        client.get(f"/api/graphs/{gid}").text,
        client.get(f"/api/graphs/{gid}?full=true").text,
        client.get(f"/api/graphs/{gid}/gradcheck").text,
    ):
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the body"))


def test_large_tensors_are_summarised_with_the_full_value_on_request(make_client):
    client = make_client(summary_threshold=4)
    values = [[float(i + 3 * j) for i in range(3)] for j in range(3)]
    state, h = create(
        client,
        {
            "nodes": [
                {"id": "A", "op": "param", "value": values},
                {"id": "s", "op": "sum", "inputs": ["A"]},
            ]
        },
    )
    gid = state["id"]
    state = post(client, gid, "seek", h, {"position": 4})
    summary = node(state, "A")["value"]["summary"]
    assert summary == {
        "shape": [3, 3], "size": 9, "min": 0.0, "max": 8.0, "mean": 4.0,
        "sample": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    }  # fmt: skip
    assert state["events"][0]["value"]["summary"]["size"] == 9
    full = client.get(f"/api/graphs/{gid}?full=true").json()
    GraphState.model_validate(full)
    assert node(full, "A")["value"] == values
    assert node(full, "A")["grad"] == [[1.0] * 3] * 3
    one = client.get(f"/api/graphs/{gid}/nodes/A").json()
    NodeState.model_validate(one)
    assert one["value"] == values and one["shape"] == [3, 3]
    assert client.get(f"/api/graphs/{gid}/nodes/nope").status_code == 404


# ---- auth, fork, delete -----------------------------------------------------------------


CHANGES = [
    ("post", "forward", None),
    ("post", "backward", None),
    ("post", "seek", {"position": 1}),
    ("post", "reset", None),
    ("post", "update", {"learning_rate": 0.1}),
    ("post", "train", {"epochs": 1}),
    ("put", "values", {"values": {"x": 1.0}}),
    ("delete", "", None),
]


@pytest.mark.parametrize(("method", "what", "body"), CHANGES)
def test_changes_need_the_edit_token(client, method, what, body):
    state, _ = create(client)
    gid = state["id"]
    other, _ = create(client)
    url = f"/api/graphs/{gid}/{what}".rstrip("/")
    kwargs = {"json": body} if body is not None else {}
    r = client.request(method, url, **kwargs)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "edit token" in r.json()["detail"]
    r = client.request(method, url, headers={"Authorization": "Basic abc"}, **kwargs)
    assert r.status_code == 401
    for token in ("wrong", other["edit_token"], state["edit_token"][:-1]):
        r = client.request(method, url, headers=auth(token), **kwargs)
        assert r.status_code == 403, token
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 1


def test_unknown_graph_is_404(client):
    _, h = create(client)
    assert client.get("/api/graphs/nope").status_code == 404
    assert "no graph 'nope'" in client.get("/api/graphs/nope").json()["detail"]
    assert client.post("/api/graphs/nope/forward", headers=h).status_code == 404
    assert client.post("/api/graphs/nope/fork").status_code == 404
    assert client.get("/api/graphs/nope/export").status_code == 404


def test_fork_is_an_independent_copy(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"steps": 3})
    r = client.post(f"/api/graphs/{gid}/fork")
    assert r.status_code == 201
    fork = r.json()
    CreatedGraph.model_validate(fork)
    assert fork["id"] != gid and fork["edit_token"] != state["edit_token"]
    assert fork["forked_from"] == gid and fork["version"] == 1
    assert fork["cursor"]["position"] == 3
    fh = auth(fork["edit_token"])
    post(client, fork["id"], "forward", fh, {"all": True})
    assert client.get(f"/api/graphs/{gid}").json()["cursor"]["position"] == 3
    # the original's token does not open the fork, nor the other way round
    post(client, fork["id"], "reset", h, status=403)
    post(client, gid, "reset", fh, status=403)


def test_delete(client):
    state, h = create(client)
    gid = state["id"]
    r = client.delete(f"/api/graphs/{gid}", headers=h)
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api/graphs/{gid}").status_code == 404
    assert client.delete(f"/api/graphs/{gid}", headers=h).status_code == 404
    assert client.post(f"/api/graphs/{gid}/forward", headers=h).status_code == 404


# ---- export, gradcheck ------------------------------------------------------------------


def test_export_json_round_trips(client):
    state, h = create(client, {"example": "two_layer"})
    gid = state["id"]
    post(client, gid, "seek", h, {"position": 20})
    post(client, gid, "update", h, {"learning_rate": 0.5})
    r = client.get(f"/api/graphs/{gid}/export?format=json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    spec = r.json()
    again, _ = create(client, spec)
    assert client.get(f"/api/graphs/{again['id']}/export").json() == spec
    assert again["order"] == state["order"]
    assert client.get(f"/api/graphs/{gid}/export?format=xml").status_code == 422


def test_export_dot(client):
    state, _ = create(
        client,
        {
            "name": 'quote " and \\ backslash\nnewline',
            "nodes": [
                {"id": "x", "op": "input", "value": 1.0, "label": 'say "hi"'},
                {"id": "y", "op": "exp", "inputs": ["x"]},
            ],
        },
    )
    r = client.get(f"/api/graphs/{state['id']}/export", params={"format": "dot"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/vnd.graphviz")
    dot = r.text
    assert dot.startswith('digraph "quote \\" and \\\\ backslash\\nnewline" {')
    assert '"x" [label="say \\"hi\\"\\ninput"];' in dot
    assert '"x" -> "y" [label="0"];' in dot
    assert dot.rstrip().endswith("}")


def test_gradcheck(client):
    for example in ("seed", "two_layer", "chain_rule", "fanout"):
        state, _ = create(client, {"example": example})
        r = client.get(f"/api/graphs/{state['id']}/gradcheck")
        assert r.status_code == 200
        report = r.json()
        GradcheckReport.model_validate(report)
        assert report["max_rel_error"] < 1e-6, example
        assert all(n["max_rel_error"] < 1e-6 for n in report["nodes"])
    state, _ = create(client, {"example": "seed"})
    report = client.get(f"/api/graphs/{state['id']}/gradcheck").json()
    k = next(n for n in report["nodes"] if n["node"] == "k")
    assert k["analytic"] == pytest.approx([SEED_DK], rel=1e-10)
    assert k["numeric"] == pytest.approx([SEED_DK], rel=1e-6)
    assert client.get(f"/api/graphs/{state['id']}/gradcheck?max_elements=0").status_code == 422


def test_gradcheck_work_is_bounded(make_client):
    client = make_client(max_gradcheck_work=100)
    state, _ = create(client, {"example": "two_layer"})
    r = client.get(f"/api/graphs/{state['id']}/gradcheck")
    assert r.status_code == 413 and "max_elements" in r.json()["detail"]


# ---- meta ---------------------------------------------------------------------------------


def test_health_and_ops(client):
    assert client.get("/api/health").json() == {"status": "ok", "version": "0.1.0"}
    ops = {op["name"]: op for op in client.get("/api/ops").json()}
    required = "add sub mul div neg pow matmul linear sigmoid relu tanh exp log sum mean mse"
    assert set(required.split()) <= set(ops)
    assert ops["sigmoid"]["derivatives"] == ["d sigmoid(u)/du = sigmoid(u) * (1 - sigmoid(u))"]
    assert ops["mul"]["arity"] == 2 and ops["param"]["trainable"] is True


def test_version_increases_with_every_change_only(client):
    state, h = create(client)
    gid = state["id"]
    versions = [state["version"]]
    for what, body in [("forward", None), ("forward", {"steps": 2}), ("seek", {"position": 0})]:
        versions.append(post(client, gid, what, h, body)["version"])
        client.get(f"/api/graphs/{gid}")
        client.get(f"/api/graphs/{gid}/export")
    assert versions == [1, 2, 3, 4]
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 4


def test_dot_renders_with_graphviz(client):
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz (dot) is not installed")
    for example in ("seed", "two_layer", "diamond"):
        state, _ = create(client, {"example": example, "name": 'a "quoted" \\ name'})
        text = client.get(f"/api/graphs/{state['id']}/export?format=dot").text
        svg = subprocess.run(
            [dot, "-Tsvg"], input=text.encode(), capture_output=True, check=True, timeout=30
        ).stdout
        assert b"<svg" in svg
        assert all(f"<title>{nid}</title>".encode() in svg for nid in state["order"])
