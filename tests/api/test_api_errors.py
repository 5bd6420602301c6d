"""Malformed and hostile requests: each gets a 4xx with a sentence, never a 500, and changes
nothing. Ends with a fuzz run over every endpoint that takes a body."""

from __future__ import annotations

import json
import random

import pytest

from tests.helpers import SEED_SPEC, auth, create


def spec(*nodes, **extra):
    return {"name": "t", "nodes": list(nodes), **extra}


X = {"id": "x", "op": "input", "value": 1.0}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            spec(
                X,
                {"id": "a", "op": "add", "inputs": ["x", "b"]},
                {"id": "b", "op": "exp", "inputs": ["a"]},
            ),
            422,
            "cycle",
        ),
        (spec(X, {"id": "a", "op": "frobnicate", "inputs": ["x"]}), 422, "unknown op"),
        (spec(X, {"id": "a", "op": "add", "inputs": ["x"]}), 422, "takes 2 input(s), got 1"),
        (spec(X, {"id": "a", "op": "exp", "inputs": ["ghost"]}), 422, "'ghost', which does not"),
        (spec(X, X), 422, "used twice"),
        (spec({"id": "x", "op": "param"}), 422, "needs a value"),
        (spec({"id": "x", "op": "param", "value": [[1.0], [2.0, 3.0]]}), 422, "rectangular"),
        (spec({"id": "x", "op": "param", "value": ["a", "b"]}), 422, "must be numbers"),
        (spec({"id": "x", "op": "param", "value": [True]}), 422, "boolean"),
        (spec({"id": "x", "op": "param", "value": 1.0}, output="z"), 422, "not a node"),
        (
            spec(
                {"id": "A", "op": "input", "value": [[1.0, 2.0]]},
                {"id": "B", "op": "input", "value": [[1.0, 2.0]]},
                {"id": "C", "op": "matmul", "inputs": ["A", "B"]},
            ),
            422,
            "'C'",
        ),
        (spec({"id": "9x", "op": "input", "value": 1.0}), 422, "identifier-like"),
        (spec({"id": "x" * 65, "op": "input", "value": 1.0}), 422, "longer than 64"),
        (spec(X, {"id": "y", "op": "input", "value": 2.0}), 422, "name the output"),
        ({"name": "t", "nodes": []}, 422, "non-empty list"),
        ({"name": "x" * 201, "nodes": [X]}, 422, None),
        (spec({"id": "x", "op": "input", "value": 1.0, "colour": 1}), 422, None),
        (spec(X, {"id": "s", "op": "sum", "inputs": ["x"], "attrs": {"axis": 5}}), 422, "axis"),
        (spec(X, {"id": "s", "op": "sum", "inputs": ["x"], "attrs": {"keep": 1}}), 422, "keep"),
    ],
)
def test_bad_specs_are_refused_with_a_sentence(client, body, status, fragment):
    r = client.post("/api/graphs", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    if fragment is not None:
        assert isinstance(detail, str) and fragment in detail, detail


def test_cycle_error_lists_the_cycle(client):
    r = client.post(
        "/api/graphs",
        json=spec(
            X,
            {"id": "a", "op": "add", "inputs": ["x", "b"]},
            {"id": "b", "op": "exp", "inputs": ["a"]},
        ),
    )
    assert r.status_code == 422
    assert sorted(r.json()["cycle"]) == ["a", "b"]


def test_expression_errors_carry_line_and_column(client):
    r = client.post(
        "/api/graphs",
        json={"expression": "h = k*x\nloss = h +* 2", "inputs": {"x": 1.0}, "params": {"k": 1.0}},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["line"] == 2 and isinstance(body["column"], int)
    assert body["detail"].startswith("line 2, column")


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "loss = x.__class__",
        "loss = (lambda: x)()",
        "loss = [x for x in y]",
        "import os",
        "loss = eval('1')",
        "loss = x[0]",
        "loss = " + "(" * 200 + "x" + ")" * 200,
        "loss = " + "-" * 5000 + "x",
        "loss = " + "+".join(["x"] * 6000),
        "loss = 9" * 20 + "**9**9**9",
        "loss = 1" + "0" * 5000,
    ],
)
def test_expression_attacks_are_refused(client, expression):
    r = client.post("/api/graphs", json={"expression": expression, "inputs": {"x": 1.0}})
    assert r.status_code in (413, 422), r.text
    assert isinstance(r.json()["detail"], str)


def test_expression_length_and_depth_limits_come_from_settings(make_client):
    client = make_client(max_expression_length=20, max_expression_depth=3)
    body = {"expression": "loss = x + x + x + x + x", "inputs": {"x": 1.0}}
    r = client.post("/api/graphs", json=body)
    assert r.status_code == 422 and "limit is 20" in r.json()["detail"]
    body = {"expression": "loss = ((((x))))", "inputs": {"x": 1.0}}
    assert client.post("/api/graphs", json=body).status_code == 422


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_literals_in_requests_are_422(client, literal):
    body = json.dumps(SEED_SPEC).replace("3.0", literal)
    r = client.post("/api/graphs", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "finite" in r.json()["detail"] or "too large" in r.json()["detail"]
    state, h = create(client)
    gid = state["id"]
    for path, text in [
        ("values", f'{{"values": {{"x": {literal}}}}}'),
        ("update", f'{{"learning_rate": {literal}}}'),
    ]:
        method = "PUT" if path == "values" else "POST"
        r = client.request(
            method, f"/api/graphs/{gid}/{path}", content=text,
            headers={**h, "Content-Type": "application/json"},
        )  # fmt: skip
        assert r.status_code == 422, text
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 1


def test_bodies_that_are_not_json(client):
    for content in [
        b"{",
        b"nodes",
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
        b'{"a": 1' + b"0" * 5000,
    ]:
        r = client.post(
            "/api/graphs", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, content[:20]
        assert isinstance(r.json()["detail"], str)
    r = client.post("/api/graphs", content=b"example=seed", headers={"Content-Type": "text/plain"})
    assert 400 <= r.status_code < 500


def test_body_size_limit_is_413(make_client):
    client = make_client(max_body_bytes=1_000)
    big = {"name": "big", "nodes": [{"id": "x", "op": "input", "value": [0.0] * 1_000}]}
    r = client.post("/api/graphs", json=big)
    assert r.status_code == 413
    assert "1000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted while reading
        for _ in range(100):
            yield b"[0.0, 0.0, 0.0, 0.0, 0.0]"

    r = client.post("/api/graphs", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.post("/api/graphs", json={"example": "seed"}).status_code == 201


def test_graph_size_limits(make_client):
    client = make_client(max_nodes=10, max_elements=100, max_total_elements=150)
    chain = [{"id": "n0", "op": "input", "value": 1.0}] + [
        {"id": f"n{i}", "op": "exp", "inputs": [f"n{i - 1}"]} for i in range(1, 11)
    ]
    r = client.post("/api/graphs", json=spec(*chain))
    assert r.status_code == 413 and "limit is 10" in r.json()["detail"]
    r = client.post("/api/graphs", json=spec({"id": "x", "op": "input", "value": [0.0] * 101}))
    assert r.status_code == 422 and "limit is 100" in r.json()["detail"]
    r = client.post(
        "/api/graphs",
        json=spec(
            {"id": "x", "op": "input", "value": [0.0] * 80},
            {"id": "y", "op": "exp", "inputs": ["x"]},
        ),
    )
    assert r.status_code == 413 and "limit is 150" in r.json()["detail"]
    # an expression is bounded by the same node limit
    r = client.post(
        "/api/graphs", json={"expression": "loss = " + " + ".join(["x"] * 12), "inputs": {"x": 1}}
    )
    assert r.status_code in (413, 422)


def test_a_2000_node_graph_works(client):
    nodes = [{"id": "n0", "op": "param", "value": 0.5}] + [
        {"id": f"n{i}", "op": "tanh" if i % 2 else "sigmoid", "inputs": [f"n{i - 1}"]}
        for i in range(1, 2000)
    ]
    state, h = create(client, spec(*nodes))
    assert len(state["nodes"]) == 2000
    r = client.post(f"/api/graphs/{state['id']}/forward", json={"all": True}, headers=h)
    assert r.status_code == 200 and r.json()["cursor"]["position"] == 2000
    r = client.post(f"/api/graphs/{state['id']}/backward", json={"all": True}, headers=h)
    assert r.status_code == 200 and r.json()["cursor"]["phase"] == "done"


# ---- fuzz ---------------------------------------------------------------------------------

JUNK_VALUES = [
    None, True, False, 0, -1, 1, 2**63, -(2**70), 1e308, 0.5, -0.0, "", "x", "NaN", "Infinity",
    "a" * 300, [], [[]], [1, [2]], [[1, 2], [3]], {}, {"a": 1}, [None], [True, 1.0],
    {"id": "x", "op": "input", "value": 1.0}, "\u0000", "💥", "\ud800", "a\udfffb",
    [[[[[[[[1.0]]]]]]]],
]  # fmt: skip
KEYS = [
    "name", "nodes", "output", "expression", "inputs", "params", "example", "values", "steps",
    "all", "position", "learning_rate", "optimizer", "options", "epochs", "batch_size", "seed",
    "id", "op", "value", "attrs", "bind", "label", "x", "", "\ud800",
]  # fmt: skip


def random_json(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return rng.choice(JUNK_VALUES)
    if roll < 0.75:
        return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def mutate_spec(rng: random.Random) -> dict:
    body = json.loads(json.dumps(SEED_SPEC))
    for _ in range(rng.randint(1, 3)):
        node = rng.choice(body["nodes"])
        node[rng.choice(["id", "op", "inputs", "value", "attrs", "label", "bind"])] = random_json(
            rng, 2
        )
    return body


def random_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if roll < 0.2:
        text = json.dumps(random_json(rng))
        cut = rng.randint(0, len(text))
        return text[:cut].encode()
    if roll < 0.45:
        return json.dumps(mutate_spec(rng)).encode()
    return json.dumps(random_json(rng)).encode()


def test_fuzz_every_endpoint_with_malformed_bodies(client):
    rng = random.Random(1)
    state, h = create(client)
    gid = state["id"]
    endpoints = [
        ("POST", "/api/graphs"),
        ("PUT", f"/api/graphs/{gid}/values"),
        ("POST", f"/api/graphs/{gid}/forward"),
        ("POST", f"/api/graphs/{gid}/backward"),
        ("POST", f"/api/graphs/{gid}/seek"),
        ("POST", f"/api/graphs/{gid}/update"),
        ("POST", f"/api/graphs/{gid}/train"),
        ("POST", f"/api/graphs/{gid}/reset"),
        ("POST", f"/api/graphs/{gid}/fork"),
    ]
    statuses: dict[int, int] = {}
    for method, url in endpoints:
        for _ in range(200):
            body = random_body(rng)
            headers = dict(h)
            roll = rng.random()
            if roll < 0.8:
                headers["Content-Type"] = "application/json"
            elif roll < 0.9:
                headers["Content-Type"] = rng.choice(
                    ["text/plain", "application/x-www-form-urlencoded"]
                )
            r = client.request(method, url, content=body, headers=headers)
            assert r.status_code < 500, (method, url, body[:200], r.text[:300])
            json.loads(r.text or "null", parse_constant=lambda c: pytest.fail(c))
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    assert statuses.get(422, 0) > 100
    # the graph is still there and working
    r = client.post(f"/api/graphs/{gid}/reset", headers=h)
    assert r.status_code == 200
    assert (
        client.post(f"/api/graphs/{gid}/forward", json={"all": True}, headers=h).status_code == 200
    )


def test_fuzz_query_and_path_parameters(client):
    state, _ = create(client)
    gid = state["id"]
    for url in [
        f"/api/graphs/{gid}?full=maybe",
        f"/api/graphs/{gid}/export?format=",
        f"/api/graphs/{gid}/gradcheck?max_elements=-5",
        f"/api/graphs/{gid}/gradcheck?max_elements=99999999999999999999",
        f"/api/graphs/{gid}/events?max_events=0",
        f"/api/graphs/{'x' * 500}",
        f"/api/graphs/{gid}/nodes/{'%00' * 10}",
        "/api/graphs/%F0%9F%92%A5",
        "/api/examples/..%2F..%2Fetc%2Fpasswd",
    ]:
        r = client.get(url, headers=auth(state["edit_token"]))
        assert 400 <= r.status_code < 500, (url, r.status_code)


def test_lone_surrogates_never_break_a_response(client):
    headers = {"Content-Type": "application/json"}
    for body in [
        b'{"name": "\\ud800", "nodes": [{"id": "x", "op": "input", "value": 1.0}]}',
        b'{"nodes": [{"id": "x", "op": "input", "value": 1.0, "label": "\\udfff"}]}',
        b'{"example": "seed", "\\ud800": 1}',
        b'{"example": "\\ud800"}',
        b'{"expression": "loss = \\ud800", "inputs": {"x": 1}}',
    ]:
        r = client.post("/api/graphs", content=body, headers=headers)
        assert r.status_code in (201, 422), r.text
        if r.status_code == 201:
            gid = r.json()["id"]
            assert client.get(f"/api/graphs/{gid}").status_code == 200
            assert client.get(f"/api/graphs/{gid}/export?format=dot").status_code == 200


# ---- cases that used to crash, and the catch-all for any that still would -------------


def _param(node_id, value):
    return {"id": node_id, "op": "param", "value": value}


@pytest.mark.parametrize(
    "nodes",
    [
        # linear whose bias broadcasts the output beyond x @ w
        [
            _param("x", [1.0, 2.0, 3.0]),
            _param("w", [1.0, 0.5, 0.25]),
            _param("b", [0.0] * 4),
            {"id": "h", "op": "linear", "inputs": ["x", "w", "b"]},
            {"id": "loss", "op": "sum", "inputs": ["h"]},
        ],
        [
            _param("x", [[1.0, 2.0, 3.0]] * 5),
            _param("w", [[1.0], [0.5], [0.25]]),
            _param("b", [[0.0] * 4] * 5),
            {"id": "h", "op": "linear", "inputs": ["x", "w", "b"]},
            {"id": "loss", "op": "mean", "inputs": ["h"]},
        ],
        # bce whose labels are larger than the prediction
        [
            {"id": "y", "op": "input", "value": [1.0, 0.0, 1.0]},
            _param("p", 0.3),
            {"id": "loss", "op": "bce", "inputs": ["y", "p"]},
        ],
        # mse of two empty tensors, softmax of an empty tensor
        [_param("a", []), _param("b", []), {"id": "loss", "op": "mse", "inputs": ["a", "b"]}],
        [
            _param("a", []),
            {"id": "s", "op": "softmax", "inputs": ["a"]},
            {"id": "loss", "op": "sum", "inputs": ["s"]},
        ],
        # exp(a) - exp(a) at a = 800: inf - inf, summed
        [
            _param("a", [800.0, 1.0]),
            {"id": "e", "op": "exp", "inputs": ["a"]},
            {"id": "d", "op": "sub", "inputs": ["e", "e"]},
            {"id": "loss", "op": "sum", "inputs": ["d"]},
        ],
    ],
)
def test_graphs_that_used_to_crash_step_check_and_train(client, nodes):
    state, h = create(client, spec(*nodes))
    base = f"/api/graphs/{state['id']}"
    for path, body in (("/forward", {"all": True}), ("/backward", {"all": True})):
        assert client.post(base + path, json=body, headers=h).status_code == 200
    assert client.get(base + "/gradcheck").status_code == 200
    res = client.post(base + "/train", json={"epochs": 3, "learning_rate": 0.01}, headers=h)
    assert res.status_code in (200, 422), res.text


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"name": 1}, "cannot set name"),
        ({"learning_rate": 0.5}, "cannot set learning_rate"),
        ({"velocity": 1}, "does not take option(s) velocity"),
    ],
)
def test_reserved_or_unknown_optimizer_options_are_refused(client, options, fragment):
    state, h = create(client, SEED_SPEC)
    base = f"/api/graphs/{state['id']}"
    client.post(base + "/forward", json={"all": True}, headers=h)
    client.post(base + "/backward", json={"all": True}, headers=h)
    for path in ("/update", "/train"):
        body = {"learning_rate": 0.1, "options": options, "epochs": 1}
        if path == "/update":
            del body["epochs"]
        res = client.post(base + path, json=body, headers=h)
        assert res.status_code == 422, res.text
        assert fragment in res.json()["detail"]


def test_training_a_graph_whose_output_is_not_a_number_is_refused(client):
    tanh = {"id": "t", "op": "tanh", "inputs": ["a"]}
    state, h = create(client, spec(_param("a", [1.0, 2.0]), tanh))
    res = client.post(f"/api/graphs/{state['id']}/train", json={"epochs": 1}, headers=h)
    assert res.status_code == 422 and "has shape [2]" in res.json()["detail"]


def test_a_dataset_binding_with_a_list_parameter_is_refused(client):
    bind = {"dataset": "line", "role": "features", "params": {"slope": [1, 2]}}
    res = client.post(
        "/api/graphs",
        json=spec(
            {"id": "x", "op": "input", "bind": bind}, {"id": "t", "op": "tanh", "inputs": ["x"]}
        ),
    )
    assert res.status_code == 422 and "'slope' must be a number" in res.json()["detail"]


def test_an_unexpected_error_is_a_logged_500_and_leaves_the_graph_as_it_was(
    client, monkeypatch, caplog
):
    from stepgrad.engine.ops import OPS

    state, h = create(client, SEED_SPEC)
    base = f"/api/graphs/{state['id']}"
    client.post(base + "/forward", json={"all": True}, headers=h)
    before = client.get(base).json()

    def broken(*args):
        raise RuntimeError("a bug in an op")

    monkeypatch.setattr(type(OPS["sigmoid"]), "backward", broken)
    with caplog.at_level("ERROR", logger="stepgrad.app.http.errors"):
        res = client.post(base + "/backward", json={"all": True}, headers=h)
    assert res.status_code == 500
    assert res.headers["content-type"].startswith("application/json")
    assert res.headers["x-content-type-options"] == "nosniff"  # through the security headers
    assert "logged" in res.json()["detail"] and "as it was" in res.json()["detail"]
    record = next(r for r in caplog.records if r.name == "stepgrad.app.http.errors")
    assert record.exc_info and "a bug in an op" in str(record.exc_info[1])
    after = client.get(base).json()
    assert after["cursor"] == before["cursor"] and after["version"] == before["version"]
    # the same connection keeps working
    monkeypatch.undo()
    assert client.post(base + "/backward", json={"all": True}, headers=h).status_code == 200
