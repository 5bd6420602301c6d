"""The REST contract as DESIGN.md writes it (v1, v1.1, v1.2), end to end through the app.

Every request body DESIGN.md shows is copied below, exactly as written, in one table with
the section it comes from; the tests send them in the order a lesson uses them and check
the answers the document names: statuses, fields, headers, patches, quiz and stream.

Out of scope here (later issues): GET .../plane, POST /api/datasets, node groups,
from_torch / from_micrograd, `until` on forward and backward, GET .../timeline,
/api/rooms and export?format=html.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import sys
from typing import NamedTuple

import httpx
import pytest

from tests.helpers import apply, without_events

# ---- the bodies DESIGN.md shows ---------------------------------------------------------


class Hole(str):
    """A value DESIGN.md leaves to the caller (`n`, `<number>`, `"<id from ...>"`)."""


class Shown(NamedTuple):
    section: str  # where in DESIGN.md
    call: str
    written: str  # the body exactly as DESIGN.md writes it
    # what is sent: None when `written` is literal JSON (sent as it is), else the fields
    # DESIGN.md names, with a Hole for each value it leaves open
    template: dict | None = None


DESIGN_BODIES: dict[str, Shown] = {
    "spec": Shown(
        "REST contract (v1): Graph spec",
        "POST /api/graphs",
        """{"name": "seed example",
 "nodes": [
  {"id": "x", "op": "input", "value": 3.0},
  {"id": "y", "op": "input", "value": 0.71},
  {"id": "k", "op": "param", "value": 0.09},
  {"id": "b", "op": "param", "value": 0.5},
  {"id": "linear", "op": "linear", "inputs": ["x", "k", "b"]},
  {"id": "sigmoid", "op": "sigmoid", "inputs": ["linear"]},
  {"id": "loss", "op": "mse", "inputs": ["y", "sigmoid"]}]}""",
    ),
    "expression": Shown(
        "REST contract (v1): Expression",
        "POST /api/graphs",
        r"""{"expression": "h = sigmoid(k*x + b)\nloss = mse(y, h)",
"inputs": {"x": 3.0, "y": 0.71}, "params": {"k": 0.09, "b": 0.5}}""",
    ),
    "example": Shown(
        "REST contract (v1): Example",
        "POST /api/graphs",
        '{"example": "<id from GET /api/examples>"}',
        {"example": Hole("example")},
    ),
    "values": Shown(
        "REST contract (v1): Endpoints",
        "PUT /api/graphs/{id}/values",
        '{"values": {"x": 2.0}}',
    ),
    "steps": Shown(
        "REST contract (v1): Endpoints",
        "POST /api/graphs/{id}/forward (and /backward, 'same')",
        '{"steps": 1}',
    ),
    "all": Shown(
        "REST contract (v1): Endpoints",
        "POST /api/graphs/{id}/forward (and /backward, 'same')",
        '{"all": true}',
    ),
    "seek": Shown(
        "REST contract (v1): Endpoints",
        "POST /api/graphs/{id}/seek",
        '{"position": n}',
        {"position": Hole("position")},
    ),
    "update": Shown(
        "REST contract (v1): Endpoints",
        "POST /api/graphs/{id}/update",
        '{"learning_rate": 0.1}',
    ),
    "train": Shown(
        "REST contract (v1): Endpoints",
        "POST /api/graphs/{id}/train",
        "epochs, learning rate, optimizer, batch size",
        {
            "epochs": Hole("epochs"),
            "learning_rate": Hole("learning_rate"),
            "optimizer": Hole("optimizer"),
            "batch_size": Hole("batch_size"),
        },
    ),
    "quiz": Shown(
        "Contract v1.1: Quiz",
        "POST /api/graphs/{id}/quiz",
        '{"node", "quantity": "value"|"grad"}',
        {"node": Hole("node"), "quantity": Hole("quantity")},
    ),
    "answer_v11": Shown(
        "Contract v1.1: Quiz",
        "POST /api/graphs/{id}/quiz/answers",
        '{"quiz_id", "answer": <number>, "name"?}',
        {"quiz_id": Hole("quiz_id"), "answer": Hole("answer"), "name": Hole("name")},
    ),
    "answer_v12": Shown(
        "Contract v1.2: Quiz answers",
        "POST /api/graphs/{id}/quiz/answers",
        '{"quiz_id", "answer", "name"?, "client"?}',
        {
            "quiz_id": Hole("quiz_id"),
            "answer": Hole("answer"),
            "name": Hole("name"),
            "client": Hole("client"),
        },
    ),
}


def named_fields(written: str) -> tuple[list[str], set[str]]:
    """The fields a written body names, in order, and those marked optional (`"name"?`)."""
    if not written.startswith("{"):  # a list in prose: "epochs, learning rate, ..."
        return [w.strip().replace(" ", "_") for w in written.split(",")], set()
    names = re.findall(r'[{,]\s*"(\w+)"', written)
    return names, set(re.findall(r'"(\w+)"\?', written))


def body(key: str, **fill) -> dict:
    """The body of DESIGN_BODIES[key] as sent: the literal JSON, or the named fields with
    the holes filled from `fill` (an optional field left unfilled is left out)."""
    shown = DESIGN_BODIES[key]
    if shown.template is None:
        assert not fill, key
        return json.loads(shown.written)
    _, optional = named_fields(shown.written)
    out = {}
    for name, value in shown.template.items():
        if isinstance(value, Hole):
            if value in fill:
                out[name] = fill.pop(value)
            else:
                assert name in optional, f"{key}: {name} is not optional; fill it"
        else:
            out[name] = value
    assert not fill, f"{key}: DESIGN.md names no field {sorted(fill)}"
    return out


def test_the_table_holds_the_bodies_as_design_md_writes_them():
    for key, shown in DESIGN_BODIES.items():
        if shown.template is None:
            json.loads(shown.written)  # literal JSON, sent as it is
        else:
            names, _ = named_fields(shown.written)
            assert list(shown.template) == names, key
    # every body of the table is sent by some test of this module
    source = inspect.getsource(sys.modules[__name__])
    for key in DESIGN_BODIES:
        assert f'body("{key}"' in source, f"no test sends {key}"


# ---- helpers -----------------------------------------------------------------------------

STATE_FIELDS = {"id", "name", "output", "version", "order", "cursor", "nodes", "edges", "events"}
NODE_FIELDS = {
    "id", "op", "label", "inputs", "trainable", "shape", "value", "grad", "layer", "x", "y",
}  # fmt: skip
EDGE_FIELDS = {"source", "target", "slot", "grad"}
CURSOR_FIELDS = {"position", "phase", "node", "total", "last"}
PATCH_FIELDS = {"id", "version", "base_version", "cursor", "nodes", "edges", "events"}
LAYOUT_FIELDS = {"layer", "x", "y", "points"}
SEED_ORDER = ["x", "y", "k", "b", "linear", "sigmoid", "loss"]
# backward visits the nodes in reverse topological order
SEED_BACKWARD = list(reversed(SEED_ORDER))

OUTSIDE_SOURCE = re.compile(r"^(\*|https?:|wss?:|[\w*-]+\.[\w.*-]+)", re.I)


def check_security_headers(r: httpx.Response) -> None:
    """Contract v1.1, Work and abuse: nosniff, no-referrer and a Content-Security-Policy
    with no inline script and no outside origin, on every response."""
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy") == "no-referrer", where
    csp = r.headers.get("content-security-policy")
    assert csp, where
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{where}: the policy does not restrict scripts: {csp}"
    assert "'unsafe-inline'" not in scripts, f"{where}: inline script allowed: {csp}"
    for name, sources in directives.items():
        outside = [s for s in sources if OUTSIDE_SOURCE.match(s)]
        assert not outside, f"{where}: {name} allows an outside origin {outside}"


@pytest.fixture
def api(client):
    """The `client`, checking every response it gets: the security headers, never a 5xx
    (DESIGN: never a 500 for anything a client sent), and `{"detail": ...}` on errors."""

    def check(r: httpx.Response) -> None:
        check_security_headers(r)
        assert r.status_code < 500, f"{r.request.method} {r.request.url}: {r.status_code}"
        if r.status_code >= 400 and r.headers.get("content-type", "").startswith(
            "application/json"
        ):
            r.read()
            assert "detail" in r.json(), r.text

    client.event_hooks = {"request": [], "response": [check]}
    return client


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def send(api, method: str, path: str, status: int, json_body=None, headers=None, **kw):
    r = api.request(method, path, json=json_body, headers=headers, **kw)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return r


def create(api, json_body: dict) -> tuple[dict, dict]:
    """POST /api/graphs: 201 with the state and an edit token; returns (state, auth header)."""
    r = send(api, "POST", "/api/graphs", 201, json_body)
    state = r.json()
    assert set(state) >= STATE_FIELDS and isinstance(state["edit_token"], str)
    assert len(state["edit_token"]) >= 32
    return state, auth(state["edit_token"])


def get_state(api, gid: str) -> dict:
    r = send(api, "GET", f"/api/graphs/{gid}", 200)
    state = r.json()
    assert r.headers["etag"] == f'"{state["version"]}"'  # v1.1 Editing
    assert "edit_token" not in state  # returned only on create (and fork)
    return state


def node(state: dict, nid: str) -> dict:
    return next(n for n in state["nodes"] if n["id"] == nid)


def check_state(state: dict) -> None:
    """The fields of a graph state that DESIGN.md shows."""
    assert set(state) >= STATE_FIELDS, sorted(STATE_FIELDS - set(state))
    check_cursor(state["cursor"], state["order"])
    for n in state["nodes"]:
        assert set(n) >= NODE_FIELDS, (n["id"], sorted(NODE_FIELDS - set(n)))
    for e in state["edges"]:
        assert set(e) >= EDGE_FIELDS, e
    assert isinstance(state["events"], list)


def check_cursor(cursor: dict, order: list[str]) -> None:
    """position = steps done; phase forward while < N, backward while < total, then done;
    node = what the next step visits (null at the end); last (v1.2) = the step just done."""
    assert set(cursor) >= CURSOR_FIELDS, cursor
    n, p = len(order), cursor["position"]
    assert 0 <= p <= cursor["total"]
    expected = "forward" if p < n else "backward" if p < cursor["total"] else "done"
    assert cursor["phase"] == expected, cursor
    if p < n:
        assert cursor["node"] == order[p], cursor
    if expected == "done":
        assert cursor["node"] is None, cursor
    if p == 0:
        assert cursor["last"] is None, cursor
    else:
        last = cursor["last"]
        assert set(last) == {"phase", "node"}, cursor
        assert last["phase"] == ("forward" if p <= n else "backward"), cursor
        if p <= n:
            assert last["node"] == order[p - 1], cursor


def check_patch(patch: dict, base_version: int) -> None:
    assert set(patch) >= PATCH_FIELDS, sorted(PATCH_FIELDS - set(patch))
    assert patch["base_version"] == base_version and patch["version"] > base_version
    assert set(patch["cursor"]) >= CURSOR_FIELDS
    assert all("id" in n for n in patch["nodes"])
    assert all({"source", "target", "slot"} <= set(e) for e in patch["edges"])


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def seed_numbers(x: float = 3.0, y: float = 0.71, k: float = 0.09, b: float = 0.5) -> dict:
    """The seed graph by hand: values and d loss / d node."""
    lin = k * x + b
    s = sigmoid(lin)
    loss = (y - s) ** 2
    d_s = -2 * (y - s)
    d_lin = d_s * s * (1 - s)
    values = {"x": x, "y": y, "k": k, "b": b, "linear": lin, "sigmoid": s, "loss": loss}
    grads = {
        "loss": 1.0, "sigmoid": d_s, "linear": d_lin, "b": d_lin, "k": d_lin * x,
        "y": 2 * (y - s), "x": d_lin * k,
    }  # fmt: skip
    return {"values": values, "grads": grads}


# ---- discovery and the three ways to create ----------------------------------------------


def test_health_ops_and_examples(api):
    health = send(api, "GET", "/api/health", 200).json()
    assert health["status"] == "ok" and "version" in health
    ops = send(api, "GET", "/api/ops", 200).json()
    for op in ops:
        assert {"name", "arity", "description", "formula"} <= set(op), op
    names = {op["name"] for op in ops}
    v1 = "add sub mul div neg pow matmul linear sigmoid relu tanh exp log sum mean mse bce softmax"
    v11 = "sqrt abs max reshape transpose log_softmax cross_entropy"
    assert set((v1 + " " + v11).split()) | {"input", "param", "const"} <= names
    examples = send(api, "GET", "/api/examples", 200).json()
    assert examples
    for example in examples:
        assert {"id", "title", "description"} <= set(example), example
        # Example (a third way): {"example": "<id from GET /api/examples>"}
        state, _ = create(api, body("example", example=example["id"]))
        check_state(state)


def test_a_spec_and_the_expression_make_the_same_graph(api):
    spec_state, _ = create(api, body("spec"))
    check_state(spec_state)
    assert spec_state["name"] == "seed example" and spec_state["output"] == "loss"
    assert spec_state["order"] == SEED_ORDER
    assert spec_state["cursor"] == {
        "position": 0, "phase": "forward", "node": "x", "total": 14, "last": None,
    }  # fmt: skip
    assert spec_state["events"] == []
    assert {(e["source"], e["target"], e["slot"]) for e in spec_state["edges"]} == {
        ("x", "linear", 0), ("k", "linear", 1), ("b", "linear", 2),
        ("linear", "sigmoid", 0), ("y", "loss", 0), ("sigmoid", "loss", 1),
    }  # fmt: skip
    # layers are topological generations, and the layout goes along them
    layers = {n["id"]: n["layer"] for n in spec_state["nodes"]}
    assert layers == {"x": 0, "y": 0, "k": 0, "b": 0, "linear": 1, "sigmoid": 2, "loss": 3}
    xs = {n["id"]: n["x"] for n in spec_state["nodes"]}
    assert xs["x"] < xs["linear"] < xs["sigmoid"] < xs["loss"]
    assert node(spec_state, "k")["trainable"] and not node(spec_state, "x")["trainable"]
    assert all(n["value"] is None and n["grad"] is None for n in spec_state["nodes"])
    # the edit token comes with the answer to POST only
    got = get_state(api, spec_state["id"])
    assert got == {k: v for k, v in spec_state.items() if k != "edit_token"}

    expr_state, eh = create(api, body("expression"))
    check_state(expr_state)
    text = body("expression")["expression"]
    ids = set(expr_state["order"])
    assert {"x", "y", "k", "b", "h", "loss"} <= ids  # assigned names become node ids
    for n in expr_state["nodes"]:
        if n["id"] not in {"x", "y", "k", "b", "h", "loss"}:  # generated, with a label
            assert n["label"] and n["label"] in text, n
    assert node(expr_state, "k")["trainable"] and not node(expr_state, "x")["trainable"]
    ran = send(api, "POST", f"/api/graphs/{expr_state['id']}/forward", 200, body("all"), eh).json()
    assert node(ran, "loss")["value"] == pytest.approx(seed_numbers()["values"]["loss"])


# ---- a lesson, call by call --------------------------------------------------------------


def test_a_lesson_through_the_whole_v1_contract(api):
    state, h = create(api, body("spec"))
    gid = state["id"]
    base = f"/api/graphs/{gid}"
    version = state["version"]

    def change(method: str, what: str, json_body=None, status: int = 200) -> dict:
        nonlocal version
        r = send(api, method, f"{base}/{what}", status, json_body, h)
        out = r.json()
        if status == 200:
            check_state(out)
            assert out["version"] == version + 1, (what, out["version"], version)
            version = out["version"]
            assert "edit_token" not in out
            assert without_events(get_state(api, gid)) == without_events(out)
        return out

    # {"values": {"x": 2.0}} sets a leaf value and the timeline starts again
    out = change("PUT", "values", body("values"))
    assert out["cursor"]["position"] == 0 and out["cursor"]["last"] is None
    want = seed_numbers(x=2.0)

    # forward, one step: the first node in topological order, with its event
    out = change("POST", "forward", body("steps"))
    assert out["cursor"] == {
        "position": 1, "phase": "forward", "node": "y", "total": 14,
        "last": {"phase": "forward", "node": "x"},
    }  # fmt: skip
    assert [(e["node"], e["value"]) for e in out["events"]] == [("x", 2.0)]
    assert node(out, "x")["value"] == 2.0 and node(out, "linear")["value"] is None

    # to the end of the forward pass, and not a step further
    out = change("POST", "forward", body("all"))
    assert out["cursor"] == {
        "position": 7, "phase": "backward", "node": "loss", "total": 14,
        "last": {"phase": "forward", "node": "loss"},
    }  # fmt: skip
    assert [e["node"] for e in out["events"]] == SEED_ORDER[1:]
    for nid, value in want["values"].items():
        assert node(out, nid)["value"] == pytest.approx(value, rel=1e-12), nid
    assert all(n["grad"] is None for n in out["nodes"])
    change("POST", "forward", body("all"), status=409)
    change("POST", "forward", body("steps"), status=409)

    # backward, one step, then the rest
    out = change("POST", "backward", body("steps"))
    assert out["cursor"]["last"] == {"phase": "backward", "node": "loss"}
    assert out["cursor"]["node"] == "sigmoid" and out["cursor"]["position"] == 8
    (event,) = out["events"]
    assert event["node"] == "loss"
    assert {c["input"] for c in event["contributions"]} == {"y", "sigmoid"}
    out = change("POST", "backward", body("all"))
    assert out["cursor"] == {
        "position": 14, "phase": "done", "node": None, "total": 14,
        "last": {"phase": "backward", "node": "x"},
    }  # fmt: skip
    assert [e["node"] for e in out["events"]] == SEED_BACKWARD[1:]
    # gradients for every node the output depends on, inputs included
    for nid, grad in want["grads"].items():
        assert node(out, nid)["grad"] == pytest.approx(grad, rel=1e-12), nid
    assert all(e["grad"] is not None for e in out["edges"])
    change("POST", "backward", body("all"), status=409)

    # the gradient check: analytic against central differences, per param
    report = send(api, "GET", f"{base}/gradcheck", 200).json()
    assert report["max_rel_error"] < 1e-5
    checked = {row["node"]: row for row in report["nodes"]}
    assert {"k", "b"} <= set(checked)
    for nid in ("k", "b"):
        assert checked[nid]["max_rel_error"] < 1e-5
        assert checked[nid]["analytic"][0] == pytest.approx(want["grads"][nid], rel=1e-12)

    # seek anywhere: the doc's own cursor example, then into backward, then back to 0
    out = change("POST", "seek", body("seek", position=3))
    assert out["cursor"] == {
        "position": 3, "phase": "forward", "node": "b", "total": 14,
        "last": {"phase": "forward", "node": "k"},
    }  # fmt: skip
    assert node(out, "k")["value"] == 0.09 and node(out, "linear")["value"] is None
    change("POST", "update", body("update"), status=409)  # no gradients yet
    out = change("POST", "seek", body("seek", position=10))
    assert out["cursor"] == {
        "position": 10, "phase": "backward", "node": "b", "total": 14,
        "last": {"phase": "backward", "node": "linear"},
    }  # fmt: skip
    assert node(out, "linear")["grad"] == pytest.approx(want["grads"]["linear"], rel=1e-12)
    # visiting linear pushed its gradient to its inputs already
    assert node(out, "k")["grad"] == pytest.approx(want["grads"]["k"], rel=1e-12)
    out = change("POST", "seek", body("seek", position=0))
    assert out["cursor"]["last"] is None and all(n["value"] is None for n in out["nodes"])

    # one descent step from the gradients: k <- k - 0.1 dk
    change("POST", "seek", body("seek", position=14))
    change("POST", "update", body("update"))
    spec = send(api, "GET", f"{base}/export", 200, params={"format": "json"}).json()
    params = {n["id"]: n["value"] for n in spec["nodes"] if n["op"] == "param"}
    assert params["k"] == pytest.approx(0.09 - 0.1 * want["grads"]["k"], rel=1e-12)
    assert params["b"] == pytest.approx(0.5 - 0.1 * want["grads"]["b"], rel=1e-12)

    # train: the loss history comes back, and the state under `state`
    r = send(
        api,
        "POST",
        f"{base}/train",
        200,
        body("train", epochs=50, learning_rate=0.5, optimizer="sgd", batch_size=1),
        h,
    )
    trained = r.json()
    losses = trained["history"]["train_loss"]
    assert len(losses) == 50 and losses[-1] < losses[0]
    check_state(trained["state"])
    version = trained["state"]["version"]
    assert without_events(get_state(api, gid)) == without_events(trained["state"])

    # forward runs at most to the end of its pass; reset clears values, gradients, cursor
    out = change("POST", "forward", {"steps": 100})
    assert out["cursor"]["position"] == 7 and len(out["events"]) == 7
    out = change("POST", "reset")
    assert out["cursor"]["position"] == 0 and out["cursor"]["last"] is None
    assert all(n["value"] is None and n["grad"] is None for n in out["nodes"])

    # fork: no token, a new id and a new token, which edits the fork only
    r = send(api, "POST", f"{base}/fork", 201)
    fork = r.json()
    check_state(fork)
    assert fork["id"] != gid and fork["edit_token"] != state["edit_token"]
    assert fork["order"] == SEED_ORDER
    fh = auth(fork["edit_token"])
    send(api, "POST", f"/api/graphs/{fork['id']}/forward", 200, body("steps"), fh)
    send(api, "POST", f"/api/graphs/{fork['id']}/forward", 403, body("steps"), h)
    send(api, "POST", f"{base}/forward", 403, body("steps"), fh)

    # export: the spec round-trips through POST; DOT names every node
    spec = send(api, "GET", f"{base}/export", 200, params={"format": "json"}).json()
    again, _ = create(api, spec)
    assert again["order"] == SEED_ORDER and again["name"] == "seed example"
    assert send(api, "GET", f"/api/graphs/{again['id']}/export", 200).json() == spec
    r = send(api, "GET", f"{base}/export", 200, params={"format": "dot"})
    assert r.headers["content-type"].startswith("text/vnd.graphviz")
    assert r.text.lstrip().startswith("digraph")
    for nid in SEED_ORDER:
        assert f'"{nid}"' in r.text

    # the events stream: server-sent events, the state first
    r = send(api, "GET", f"{base}/events", 200, params={"max_events": 1})
    assert r.headers["content-type"].startswith("text/event-stream")
    first = r.text.split("\n\n")[0].splitlines()
    assert first[0] == "event: state"
    assert json.loads(first[1].removeprefix("data: "))["version"] == version

    # delete: the edit token, then the graph is gone
    send(api, "DELETE", base, 401)
    send(api, "DELETE", base, 403, headers=auth("not-the-token"))
    r = send(api, "DELETE", base, 204, headers=h)
    assert r.content == b""
    send(api, "GET", base, 404)


def test_non_finite_results_are_sent_as_strings_in_strict_json(api):
    state, h = create(
        api,
        {
            "nodes": [
                {"id": "x", "op": "input", "value": 0.0},
                {"id": "l", "op": "log", "inputs": ["x"]},
            ]
        },
    )
    r = send(api, "POST", f"/api/graphs/{state['id']}/forward", 200, body("all"), h)

    def refuse(literal: str):
        raise AssertionError(f"{literal} in a response body")

    out = json.loads(r.text, parse_constant=refuse)
    assert node(out, "l")["value"] == "-Infinity"


# ---- the edit token ----------------------------------------------------------------------

CHANGES = [
    ("PUT", "values", "values", {}),
    ("POST", "forward", "steps", {}),
    ("POST", "backward", "steps", {}),
    ("POST", "seek", "seek", {"position": 2}),
    ("POST", "update", "update", {}),
    (
        "POST",
        "train",
        "train",
        {"epochs": 1, "learning_rate": 0.1, "optimizer": "sgd", "batch_size": 1},
    ),
    ("POST", "reset", None, {}),
    ("PUT", "spec", "spec", {}),
    ("POST", "quiz", "quiz", {"node": "sigmoid", "quantity": "value"}),
    ("POST", "quiz/reveal", None, {}),
    ("DELETE", "", None, {}),
]


@pytest.mark.parametrize(
    ("method", "what", "key", "fill"), CHANGES, ids=[c[1] or "delete" for c in CHANGES]
)
def test_every_change_needs_the_edit_token(api, method, what, key, fill):
    state, _ = create(api, body("spec"))
    gid = state["id"]
    path = f"/api/graphs/{gid}/{what}".rstrip("/")
    json_body = body(key, **fill) if key else None
    send(api, method, path, 401, json_body)
    send(api, method, path, 403, json_body, auth("not-" + state["edit_token"]))
    after = get_state(api, gid)
    assert after["version"] == state["version"]
    assert send(api, "GET", f"/api/graphs/{gid}/quiz", 200).json()["status"] == "none"
    # reading, following, checking, exporting and forking need no token
    send(api, "GET", f"/api/graphs/{gid}/gradcheck", 200)
    send(api, "GET", f"/api/graphs/{gid}/export", 200)
    send(api, "GET", f"/api/graphs/{gid}/events", 200, params={"max_events": 1})
    send(api, "POST", f"/api/graphs/{gid}/fork", 201)


# ---- v1.1: patches -----------------------------------------------------------------------


def test_every_change_answers_a_patch_that_rebuilds_get(api):
    state, h = create(api, body("spec"))
    gid = state["id"]
    before = get_state(api, gid)

    def patched(method: str, what: str, json_body=None) -> dict:
        nonlocal before
        r = send(
            api, method, f"/api/graphs/{gid}/{what}", 200, json_body, h, params={"return": "patch"}
        )
        answer = r.json()
        patch = answer["state"] if what == "train" else answer
        check_patch(patch, before["version"])
        assert patch["id"] == gid
        now = get_state(api, gid)
        assert patch["version"] == now["version"]
        check_cursor(patch["cursor"], now["order"])
        assert patch["cursor"] == now["cursor"]
        assert without_events(apply(before, patch)) == without_events(now)
        before = now
        return answer

    p = patched("PUT", "values", body("values"))
    assert p["cursor"]["last"] is None
    p = patched("POST", "forward", body("steps"))
    # a one-node step lists what it touched, and no layout field
    assert [n["id"] for n in p["nodes"]] == ["x"] and p["edges"] == []
    assert [e["node"] for e in p["events"]] == ["x"]
    assert not any(LAYOUT_FIELDS & set(n) for n in p["nodes"])
    assert p["cursor"]["last"] == {"phase": "forward", "node": "x"}
    p = patched("POST", "forward", body("all"))
    assert {n["id"] for n in p["nodes"]} == set(SEED_ORDER[1:])
    p = patched("POST", "backward", body("steps"))
    assert p["cursor"]["last"] == {"phase": "backward", "node": "loss"}
    p = patched("POST", "backward", body("all"))
    assert p["cursor"]["last"] == {"phase": "backward", "node": "x"}
    p = patched("POST", "seek", body("seek", position=9))
    assert p["cursor"]["last"] == {"phase": "backward", "node": "sigmoid"}
    patched("POST", "seek", body("seek", position=14))
    p = patched("POST", "update", body("update"))
    assert p["cursor"]["last"] is None
    trained = patched(
        "POST", "train", body("train", epochs=3, learning_rate=0.5, optimizer="sgd", batch_size=1)
    )
    assert len(trained["history"]["train_loss"]) == 3
    p = patched("POST", "reset")
    assert p["cursor"]["position"] == 0 and p["cursor"]["last"] is None
    patched("POST", "forward", body("all"))
    p = patched("PUT", "spec", body("spec"))
    assert p["cursor"]["position"] == 0 and p["cursor"]["last"] is None
    # a new structure: the patch is the whole state (with "full": true), applying all the same
    bigger = body("spec")
    bigger["nodes"].append({"id": "twice", "op": "mul", "inputs": ["loss", "x"]})
    p = patched("PUT", "spec", bigger)
    assert "twice" in {n["id"] for n in p["nodes"]}


def test_since_answers_the_patch_from_a_version_or_the_full_state(api):
    state, h = create(api, body("spec"))
    gid = state["id"]
    old = get_state(api, gid)
    for method, what, json_body in [
        ("PUT", "values", body("values")),
        ("POST", "forward", body("steps")),
        ("POST", "forward", body("all")),
        ("POST", "backward", body("steps")),
    ]:
        send(api, method, f"/api/graphs/{gid}/{what}", 200, json_body, h)
    now = get_state(api, gid)
    patch = send(api, "GET", f"/api/graphs/{gid}", 200, params={"since": old["version"]}).json()
    check_patch(patch, old["version"])
    assert patch["version"] == now["version"]
    assert without_events(apply(old, patch)) == without_events(now)
    # nothing changed since now
    same = send(api, "GET", f"/api/graphs/{gid}", 200, params={"since": now["version"]}).json()
    assert same["base_version"] == same["version"] == now["version"]
    assert same["nodes"] == [] and same["edges"] == []
    # a version from before the structure changed is too old: the full state
    bigger = body("spec")
    bigger["nodes"].append({"id": "twice", "op": "mul", "inputs": ["loss", "x"]})
    send(api, "PUT", f"/api/graphs/{gid}/spec", 200, bigger, h)
    full = send(api, "GET", f"/api/graphs/{gid}", 200, params={"since": old["version"]}).json()
    assert full["full"] is True
    latest = get_state(api, gid)
    assert without_events(apply(old, full)) == without_events(latest)


def test_the_events_stream_sends_state_then_patches_and_quiz(live_server):
    """GET .../events?format=patch: `event: state` on connect, `event: patch` after a change
    (applying to the state sent), `event: quiz` when a question opens."""
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    url = live_server(create_app(Settings(db=":memory:")))
    with httpx.Client(base_url=url, timeout=10) as http:
        r = http.post("/api/graphs", json=body("spec"))
        assert r.status_code == 201, r.text
        state = r.json()
        gid, h = state["id"], auth(state["edit_token"])
        params = {"format": "patch", "max_events": 3}
        with http.stream("GET", f"/api/graphs/{gid}/events", params=params) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            check_security_headers(stream)
            lines = stream.iter_lines()

            def next_event() -> tuple[str, dict]:
                name = data = ""
                for line in lines:
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and name:
                        return name, json.loads(data)
                raise AssertionError("the stream ended")

            name, first = next_event()
            assert name == "state" and first["version"] == state["version"]
            r = http.post(f"/api/graphs/{gid}/forward", json=body("steps"), headers=h)
            assert r.status_code == 200, r.text
            name, patch = next_event()
            assert name == "patch"
            check_patch(patch, first["version"])
            after = http.get(f"/api/graphs/{gid}").json()
            assert without_events(apply(first, patch)) == without_events(after)
            r = http.post(
                f"/api/graphs/{gid}/quiz",
                json=body("quiz", node="loss", quantity="value"),
                headers=h,
            )
            assert r.status_code == 201, r.text
            name, quiz = next_event()
            assert name == "quiz" and quiz["status"] == "open" and quiz["node"] == "loss"


# ---- v1.1: editing -----------------------------------------------------------------------


def test_put_spec_with_if_match_keeps_params_and_resets_the_timeline(api):
    state, h = create(api, body("spec"))
    gid = state["id"]
    base = f"/api/graphs/{gid}"
    send(api, "POST", f"{base}/forward", 200, body("all"), h)
    send(api, "POST", f"{base}/backward", 200, body("all"), h)
    send(api, "POST", f"{base}/update", 200, body("update"), h)
    trained_k = next(
        n["value"]
        for n in send(api, "GET", f"{base}/export", 200).json()["nodes"]
        if n["id"] == "k"
    )
    assert trained_k != 0.09
    send(api, "POST", f"{base}/forward", 200, body("steps"), h)
    r = send(api, "GET", base, 200)
    etag, current = r.headers["etag"], r.json()
    assert etag == f'"{current["version"]}"'

    # a stale If-Match: 412, and nothing changes
    stale = f'"{current["version"] - 1}"'
    send(api, "PUT", f"{base}/spec", 412, body("spec"), {**h, "If-Match": stale})
    assert get_state(api, gid) == current

    # the spec refused with a sentence naming the node, or `cycle`: nothing changes
    bad = body("spec")
    bad["nodes"][4] = {"id": "linear", "op": "frobnicate", "inputs": ["x", "k", "b"]}
    r = send(api, "PUT", f"{base}/spec", 422, bad, {**h, "If-Match": etag})
    assert "linear" in r.json()["detail"]
    loop = body("spec")
    loop["nodes"][4] = {"id": "linear", "op": "linear", "inputs": ["loss", "k", "b"]}
    r = send(api, "PUT", f"{base}/spec", 422, loop, {**h, "If-Match": etag})
    assert "cycle" in r.json()["detail"]
    assert get_state(api, gid) == current

    # the current version: replaced, timeline at 0, k keeps its trained value
    r = send(api, "PUT", f"{base}/spec", 200, body("spec"), {**h, "If-Match": etag})
    out = r.json()
    check_state(out)
    assert out["version"] == current["version"] + 1
    assert out["cursor"]["position"] == 0 and out["cursor"]["last"] is None
    assert get_state(api, gid)["version"] == out["version"]
    spec = send(api, "GET", f"{base}/export", 200).json()
    assert next(n["value"] for n in spec["nodes"] if n["id"] == "k") == trained_k
    # the old ETag is stale now
    send(api, "PUT", f"{base}/spec", 412, body("spec"), {**h, "If-Match": etag})


X1 = {"id": "x", "op": "input", "value": 1}
# bodies POST /api/graphs accepts (201): PUT .../spec accepts them too (200)
ACCEPTED = {
    "design_spec": body("spec"),
    "design_expression": body("expression"),
    "design_example": body("example", example="seed"),
    # issue 19: `b` was a param of the seed graph; here it is computed
    "b_becomes_computed": {
        "nodes": [{"id": "x", "op": "input", "value": 1}, {"id": "b", "op": "neg", "inputs": ["x"]}]
    },
    "k_becomes_computed": {"nodes": [X1, {"id": "k", "op": "exp", "inputs": ["x"]}]},
    "loss_becomes_a_leaf": {"nodes": [{"id": "loss", "op": "input", "value": 1.0}]},
    "output_named": {
        "nodes": [
            X1,
            {"id": "p", "op": "neg", "inputs": ["x"]},
            {"id": "q", "op": "exp", "inputs": ["x"]},
        ],
        "output": "q",
    },
}
# bodies POST refuses (422): PUT refuses them with the same status and sentence
REFUSED = {
    "unknown_op": {"nodes": [X1, {"id": "z", "op": "frobnicate", "inputs": ["x"]}]},
    "missing_input": {"nodes": [X1, {"id": "z", "op": "neg", "inputs": ["w"]}]},
    "cycle": {
        "nodes": [
            X1,
            {"id": "a", "op": "add", "inputs": ["x", "c"]},
            {"id": "c", "op": "neg", "inputs": ["a"]},
        ]
    },
    "arity": {"nodes": [X1, {"id": "z", "op": "neg", "inputs": ["x", "x"]}]},
    "id_twice": {"nodes": [X1, {"id": "x", "op": "neg", "inputs": ["x"]}]},
    "id_not_identifier": {"nodes": [{"id": "1x", "op": "input", "value": 1}]},
    "two_outputs": {
        "nodes": [
            X1,
            {"id": "p", "op": "neg", "inputs": ["x"]},
            {"id": "q", "op": "exp", "inputs": ["x"]},
        ]
    },
    "computed_with_value": {"nodes": [X1, {"id": "z", "op": "neg", "value": 1, "inputs": ["x"]}]},
    "shapes": {
        "nodes": [
            {"id": "a", "op": "input", "value": [1, 2]},
            {"id": "c", "op": "input", "value": [1, 2, 3]},
            {"id": "z", "op": "add", "inputs": ["a", "c"]},
        ]
    },
    "no_nodes": {"nodes": []},
    "name_too_long": {"name": "n" * 201, "nodes": [X1]},
    "unknown_example": {"example": "no-such-example"},
    "expression_syntax": {"expression": "y = = x", "inputs": {"x": 1.0}},
    "expression_unknown_name": {"expression": "y = x + z", "inputs": {"x": 1.0}},
    "output_not_a_node": {"nodes": [X1], "output": "nope"},
    "new_leaf_without_value": {
        "nodes": [{"id": "z", "op": "input"}, {"id": "e", "op": "exp", "inputs": ["z"]}]
    },
    "nan_literal": '{"nodes": [{"id": "x", "op": "input", "value": NaN}]}',
    "infinity_literal": '{"nodes": [{"id": "x", "op": "input", "value": Infinity}]}',
}


# The one documented difference (REST reference, "Editing"): a leaf the edited graph has
# may leave out its value in PUT and keeps its current one, which POST has not to give
KEEPS_CURRENT = {
    "param_without_value": (
        {"nodes": [{"id": "k", "op": "param"}, {"id": "e", "op": "exp", "inputs": ["k"]}]},
        "k",
    ),
    "input_without_value": (
        {"nodes": [{"id": "x", "op": "input"}, {"id": "e", "op": "exp", "inputs": ["x"]}]},
        "x",
    ),
}


def send_spec(api, method: str, path: str, spec, headers=None) -> httpx.Response:
    if isinstance(spec, str):  # raw text, for literals JSON has not
        headers = {**(headers or {}), "Content-Type": "application/json"}
        return api.request(method, path, content=spec, headers=headers)
    return api.request(method, path, json=spec, headers=headers)


@pytest.mark.parametrize("case", [*ACCEPTED, *REFUSED])
def test_put_spec_validates_exactly_as_post(api, case):
    """v1.1 Editing: PUT .../spec has the same validation as POST. Each body goes to POST
    /api/graphs and to PUT .../spec of the seed graph, run to the end and updated once."""
    spec = ACCEPTED.get(case, REFUSED.get(case))
    posted = send_spec(api, "POST", "/api/graphs", spec)
    state, h = create(api, body("spec"))
    gid = state["id"]
    send(api, "POST", f"/api/graphs/{gid}/forward", 200, body("all"), h)
    send(api, "POST", f"/api/graphs/{gid}/backward", 200, body("all"), h)
    send(api, "POST", f"/api/graphs/{gid}/update", 200, body("update"), h)
    before = get_state(api, gid)
    put = send_spec(api, "PUT", f"/api/graphs/{gid}/spec", spec, h)
    if case in ACCEPTED:
        assert posted.status_code == 201, posted.text
        assert put.status_code == 200, put.text
        assert get_state(api, gid)["order"] == posted.json()["order"]
    else:
        assert posted.status_code == 422, posted.text
        assert put.status_code == posted.status_code, put.text
        assert put.json()["detail"] == posted.json()["detail"]
        assert get_state(api, gid) == before


@pytest.mark.parametrize("case", sorted(KEEPS_CURRENT))
def test_put_keeps_the_value_of_a_leaf_that_leaves_it_out(api, case):
    spec, leaf = KEEPS_CURRENT[case]
    posted = send_spec(api, "POST", "/api/graphs", spec)
    assert posted.status_code == 422 and repr(leaf) in posted.json()["detail"], posted.text
    state, h = create(api, body("spec"))
    gid = state["id"]
    value = next(n["value"] for n in state["nodes"] if n["id"] == leaf)
    put = send_spec(api, "PUT", f"/api/graphs/{gid}/spec", spec, h)
    assert put.status_code == 200, put.text
    assert next(n["value"] for n in put.json()["nodes"] if n["id"] == leaf) == value


# ---- v1.1 and v1.2: the quiz -------------------------------------------------------------


def open_quiz(api, gid: str, h: dict, nid: str, quantity: str) -> dict:
    r = send(
        api, "POST", f"/api/graphs/{gid}/quiz", 201, body("quiz", node=nid, quantity=quantity), h
    )
    quiz = r.json()
    assert quiz["status"] == "open" and quiz["node"] == nid and quiz["quantity"] == quantity
    assert quiz["answers"] == 0 and quiz["quiz_id"]
    return quiz


def shows_no_answer(quiz: dict) -> None:
    """Before the reveal: the question and the number of answers, and nothing of them."""
    for field in ("truth", "histogram", "within_1pct", "share_within_1pct"):
        assert quiz.get(field) is None, field


def test_quiz_answers_without_client_count_one_per_browser_cookie(api):
    """v1.1 body {"quiz_id", "answer", "name"?} (no `client`): 201; v1.2 says the server
    knows the browser by a cookie it sets on the first answer (HttpOnly, SameSite=Lax, the
    graph's path); a later answer from that browser replaces its first."""
    state, h = create(api, body("spec"))
    gid = state["id"]
    quiz = open_quiz(api, gid, h, "sigmoid", "value")
    qid = quiz["quiz_id"]
    truth = seed_numbers()["values"]["sigmoid"]
    answers = f"/api/graphs/{gid}/quiz/answers"

    r = send(api, "POST", answers, 201, body("answer_v11", quiz_id=qid, answer=0.5, name="Ada"))
    assert r.json() == {"quiz_id": qid, "answers": 1}
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    attrs = [a.strip() for a in cookies[0].split(";")]
    lower = {a.split("=", 1)[0].lower(): a.split("=", 1)[-1] for a in attrs[1:]}
    assert "httponly" in lower and lower.get("samesite", "").lower() == "lax", cookies
    assert lower.get("path") == f"/api/graphs/{gid}", cookies

    # the same browser (its cookie jar) answers again: replaced, still one answer
    r = send(api, "POST", answers, 201, body("answer_v11", quiz_id=qid, answer=truth * 1.001))
    assert r.json()["answers"] == 1
    assert send(api, "GET", f"/api/graphs/{gid}/quiz", 200).json()["answers"] == 1

    # another browser, with no cookie: a second answer, and a cookie of its own
    first_browser = httpx.Cookies(api.cookies)
    api.cookies.clear()
    r = send(api, "POST", answers, 201, body("answer_v11", quiz_id=qid, answer=0.2))
    assert r.json()["answers"] == 2
    assert r.headers.get_list("set-cookie") and r.headers["set-cookie"] != cookies[0]
    r = send(api, "POST", answers, 201, body("answer_v11", quiz_id=qid, answer=0.3, name="Bo"))
    assert r.json()["answers"] == 2
    api.cookies = first_browser
    r = send(api, "POST", answers, 201, body("answer_v11", quiz_id=qid, answer=truth))
    assert r.json()["answers"] == 2

    seen = send(api, "GET", f"/api/graphs/{gid}/quiz", 200)
    assert seen.json()["answers"] == 2 and seen.json()["status"] == "open"
    shows_no_answer(seen.json())
    assert "Ada" not in seen.text and "Bo" not in seen.text

    out = send(api, "POST", f"/api/graphs/{gid}/quiz/reveal", 200, headers=h).json()
    assert out["truth"] == pytest.approx(truth, rel=1e-12)
    assert out["within_1pct"] == 1 and out["share_within_1pct"] == pytest.approx(0.5)
    hist = out["histogram"]
    assert sum(hist["counts"]) + hist["below"] + hist["above"] == 2
    send(api, "POST", answers, 409, body("answer_v11", quiz_id=qid, answer=truth))


def test_quiz_open_answer_with_client_and_reveal(api):
    """v1.1 / v1.2: open on a scalar node (edit token), answers with `client`, GET before
    and after the reveal, 409 once closed; a gradient question too."""
    state, h = create(api, body("spec"))
    gid = state["id"]
    base = f"/api/graphs/{gid}"
    assert send(api, "GET", f"{base}/quiz", 200).json()["status"] == "none"
    quiz = open_quiz(api, gid, h, "loss", "value")
    qid = quiz["quiz_id"]
    truth = seed_numbers()["values"]["loss"]
    guesses = {"browser-ann": truth * 1.005, "browser-ben": truth * 2, "browser-cy": truth * 0.995}
    for i, (who, guess) in enumerate(guesses.items(), 1):
        r = send(
            api,
            "POST",
            f"{base}/quiz/answers",
            201,
            body("answer_v12", quiz_id=qid, answer=guess, client=who),
        )
        assert r.json() == {"quiz_id": qid, "answers": i}
    # ben thinks again: replaced, not added
    guesses["browser-ben"] = truth
    r = send(
        api,
        "POST",
        f"{base}/quiz/answers",
        201,
        body("answer_v12", quiz_id=qid, answer=truth, name="Ben", client="browser-ben"),
    )
    assert r.json()["answers"] == 3
    seen = send(api, "GET", f"{base}/quiz", 200).json()
    assert seen["answers"] == 3 and seen["quiz_id"] == qid and seen["node"] == "loss"
    shows_no_answer(seen)
    # the class's timeline is not touched by the question
    assert get_state(api, gid)["cursor"]["position"] == 0

    out = send(api, "POST", f"{base}/quiz/reveal", 200, headers=h).json()
    assert out["status"] == "revealed" and out["truth"] == pytest.approx(truth, rel=1e-12)
    assert out["within_1pct"] == 3 and out["share_within_1pct"] == pytest.approx(1.0)
    hist = out["histogram"]
    assert len(hist["counts"]) == len(hist["edges"]) - 1
    assert sum(hist["counts"]) + hist["below"] + hist["above"] == 3
    assert send(api, "GET", f"{base}/quiz", 200).json() == out
    send(
        api,
        "POST",
        f"{base}/quiz/answers",
        409,
        body("answer_v12", quiz_id=qid, answer=truth, client="browser-dee"),
    )
    assert get_state(api, gid)["cursor"]["position"] == 0

    # a gradient question, before backward computes it
    send(api, "POST", f"{base}/forward", 200, body("all"), h)
    quiz = open_quiz(api, gid, h, "k", "grad")
    send(
        api,
        "POST",
        f"{base}/quiz/answers",
        201,
        body("answer_v12", quiz_id=quiz["quiz_id"], answer=-0.03, client="browser-ann"),
    )
    out = send(api, "POST", f"{base}/quiz/reveal", 200, headers=h).json()
    assert out["truth"] == pytest.approx(seed_numbers()["grads"]["k"], rel=1e-12)


# ---- v1.2: what the cursor just did ------------------------------------------------------


def test_last_names_the_node_backward_really_visits_with_a_target(api):
    """With a backward target (PUT .../options {"target"}) backward visits only the target
    and its ancestors; `cursor.last` names each node as it is visited."""
    state, h = create(api, body("spec"))
    gid = state["id"]
    base = f"/api/graphs/{gid}"
    send(api, "PUT", f"{base}/options", 200, {"target": "linear"}, h)
    send(api, "POST", f"{base}/forward", 200, body("all"), h)
    visited = []
    for _ in range(len(SEED_ORDER)):
        r = api.post(f"{base}/backward", json=body("steps"), headers=h)
        if r.status_code == 409:
            break
        assert r.status_code == 200, r.text
        out = r.json()
        last = out["cursor"]["last"]
        (event,) = out["events"]
        assert last == {"phase": "backward", "node": event["node"]}
        assert node(out, last["node"])["grad"] is not None
        visited.append(last["node"])
    assert visited == ["linear", "b", "k", "x"]
    out = get_state(api, gid)
    assert out["cursor"]["phase"] == "done" and out["cursor"]["node"] is None
    assert out["cursor"]["last"] == {"phase": "backward", "node": "x"}
    assert all(node(out, nid)["grad"] is None for nid in ("y", "sigmoid", "loss"))
    out = send(api, "POST", f"{base}/reset", 200, headers=h).json()
    assert out["cursor"]["last"] is None


# ---- v1.1: work and abuse: the headers of every response ---------------------------------


def test_every_kind_of_response_carries_the_security_headers(api):
    """The `api` fixture checks every response of this module; here one of each kind."""
    state, h = create(api, body("spec"))
    gid = state["id"]
    for method, path, status, kw in [
        ("GET", "/", 200, {}),
        ("GET", "/static/js/api.js", 200, {}),
        ("GET", "/docs", 200, {}),
        ("GET", "/openapi.json", 200, {}),
        ("PATCH", f"/api/graphs/{gid}", 405, {}),
        ("GET", "/api/health", 200, {}),
        ("GET", f"/api/graphs/{gid}", 200, {}),
        ("GET", f"/api/graphs/{gid}/export", 200, {"params": {"format": "dot"}}),
        ("GET", f"/api/graphs/{gid}/events", 200, {"params": {"max_events": 1}}),
        ("GET", "/api/graphs/no-such-graph", 404, {}),
        ("GET", "/api/no-such-route", 404, {}),
        ("POST", "/api/graphs", 422, {"json": {"nodes": []}}),
        ("POST", f"/api/graphs/{gid}/forward", 401, {"json": body("steps")}),
        ("DELETE", f"/api/graphs/{gid}", 204, {"headers": h}),
    ]:
        r = api.request(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check_security_headers(r)


def test_creation_and_answers_are_rate_limited_and_a_full_store_refuses(make_client):
    """Work and abuse: creation and answer posting rate-limited per address (429 with
    Retry-After); a full store refuses a new graph (503) rather than evict one in use."""
    api = make_client(rate_create="2/minute", rate_answer="2/minute")
    state, h = create(api, body("spec"))
    gid = state["id"]
    send(api, "POST", f"/api/graphs/{gid}/fork", 201)
    r = send(api, "POST", "/api/graphs", 429, body("spec"))
    assert int(r.headers["retry-after"]) > 0
    check_security_headers(r)
    quiz = open_quiz(api, gid, h, "loss", "value")
    for i in range(2):
        answer = body("answer_v12", quiz_id=quiz["quiz_id"], answer=0.1, client=f"browser-{i}")
        send(api, "POST", f"/api/graphs/{gid}/quiz/answers", 201, answer)
    answer = body("answer_v12", quiz_id=quiz["quiz_id"], answer=0.1, client="browser-9")
    r = send(api, "POST", f"/api/graphs/{gid}/quiz/answers", 429, answer)
    assert int(r.headers["retry-after"]) > 0

    full = make_client(max_graphs=1)
    create(full, body("spec"))
    r = send(full, "POST", "/api/graphs", 503, body("expression"))
    check_security_headers(r)
