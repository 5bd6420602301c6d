"""Patches (contract v1.1): applying each patch to the state before it gives exactly the state
GET answers after it, on random graphs and random sequences of calls; `?since=V` from any
older version; the event stream's patches applied from its first state; and a step's
patch is the same size at 7 and at 10,000 nodes."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import apply, auth, chain, live, read_event, without_events

# each test runs on the SQLite store and again on Redis (tests/conftest.py)
pytestmark = pytest.mark.both_stores

# ---- random graphs --------------------------------------------------------------------------

SHAPES = [(), (3,), (2, 3), (9, 9)]  # 81 elements: past the summary threshold of 64
UNARY = ["tanh", "sigmoid", "relu", "neg", "exp", "abs"]
BINARY = ["add", "sub", "mul"]


def tensor(shape, seed: float):
    if not shape:
        return round(seed, 3)
    size = 1
    for d in shape:
        size *= d
    flat = [round(seed + 0.37 * k - 0.05 * k * k, 3) for k in range(size)]
    if len(shape) == 1:
        return flat
    rows, cols = shape
    return [flat[r * cols : (r + 1) * cols] for r in range(rows)]


@st.composite
def random_spec(draw) -> dict:
    shape = draw(st.sampled_from(SHAPES))
    leaves = draw(st.integers(1, 4))
    nodes = []
    for i in range(leaves):
        op = draw(st.sampled_from(["input", "param", "param", "const"]))
        leaf_shape = shape if draw(st.booleans()) else ()
        seed = draw(st.floats(-2, 2, allow_nan=False))
        nodes.append({"id": f"l{i}", "op": op, "value": tensor(leaf_shape, seed)})
    for i in range(draw(st.integers(1, 8))):
        earlier = [n["id"] for n in nodes]
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce"]))
        if kind == "unary":
            node = {"op": draw(st.sampled_from(UNARY)), "inputs": [draw(st.sampled_from(earlier))]}
        elif kind == "binary":
            a = draw(st.sampled_from(earlier))
            b = draw(st.sampled_from(earlier))  # may be a: a node used twice
            node = {"op": draw(st.sampled_from(BINARY)), "inputs": [a, b]}
        else:
            node = {"op": draw(st.sampled_from(["sum", "mean"])), "inputs": [earlier[-1]]}
        nodes.append({"id": f"n{i}", **node})
    last = nodes[-1]["id"]
    nodes.append({"id": "loss", "op": "sum", "inputs": [last]})
    return {"name": "random", "nodes": nodes, "output": "loss"}


EXAMPLES = ["seed", "two_layer", "chain_rule", "fanout", "diamond", "boston_line", "sigmoid_curve"]


@st.composite
def call(draw):
    kind = draw(
        st.sampled_from(
            [
                "forward",
                "forward",
                "backward",
                "backward",
                "seek",
                "reset",
                "values",
                "update",
                "options",
                "train",
            ]
        )
    )
    if kind in ("forward", "backward"):
        body = {"all": True} if draw(st.integers(0, 4)) == 0 else {"steps": draw(st.integers(1, 3))}
        return kind, body
    if kind == "seek":
        return kind, {"fraction": draw(st.floats(0, 1))}
    if kind == "values":
        return kind, {"seed": draw(st.floats(-3, 3, allow_nan=False))}
    if kind == "update":
        return kind, {
            "learning_rate": draw(st.sampled_from([0.1, 0.01])),
            "optimizer": draw(st.sampled_from(["sgd", "momentum", "adam"])),
        }
    if kind == "options":
        return kind, {"fanout_bug": draw(st.booleans()), "reverse": draw(st.booleans())}
    if kind == "train":
        return kind, {"epochs": 1, "learning_rate": 0.05}
    return kind, None


def send(client, gid: str, h: dict, state: dict, kind: str, arg, query: str = "?return=patch"):
    base = f"/api/graphs/{gid}"
    if kind in ("forward", "backward"):
        return client.post(f"{base}/{kind}{query}", json=arg, headers=h)
    if kind == "seek":
        position = round(arg["fraction"] * state["cursor"]["total"])
        return client.post(f"{base}/seek{query}", json={"position": position}, headers=h)
    if kind == "reset":
        return client.post(f"{base}/reset{query}", headers=h)
    if kind == "values":
        # not an input bound to a dataset: training then fails on the engine's side
        leaves = [
            n
            for n in state["nodes"]
            if n["op"] in ("param", "const") or (n["op"] == "input" and not n["bind"])
        ]
        leaf = leaves[int(abs(arg["seed"]) * 100) % len(leaves)]
        value = tensor(tuple(leaf["shape"]), arg["seed"])
        return client.put(f"{base}/values{query}", json={"values": {leaf["id"]: value}}, headers=h)
    if kind == "update":
        return client.post(f"{base}/update{query}", json=arg, headers=h)
    if kind == "options":
        body: dict = {"fanout_bug": arg["fanout_bug"]}
        if arg["reverse"]:
            # another valid order: the leaves last-first, then the rest
            order = state["order"]
            leaves = [
                n for n in order if not next(x for x in state["nodes"] if x["id"] == n)["inputs"]
            ]
            body["order"] = leaves[::-1] + [n for n in order if n not in leaves]
        else:
            body["order"] = []
        return client.put(f"{base}/options{query}", json=body, headers=h)
    assert kind == "train"
    return client.post(f"{base}/train{query}", json=arg, headers=h)


def check_sequence(client, body: dict, calls: list) -> None:
    r = client.post("/api/graphs", json=body)
    if r.status_code == 422:  # a random graph the engine refuses (shapes): nothing to patch
        return
    assert r.status_code == 201, r.text
    created = r.json()
    gid, h = created["id"], auth(created.pop("edit_token"))
    states = {created["version"]: created}
    state = created
    for kind, arg in calls:
        r = send(client, gid, h, state, kind, arg)
        if r.status_code >= 400:
            assert r.status_code in (409, 413, 422), r.text
            after = client.get(f"/api/graphs/{gid}").json()
            assert after["version"] == state["version"]  # a refused call changes nothing
            continue
        patch = r.json()["state"] if kind == "train" else r.json()
        got = client.get(f"/api/graphs/{gid}").json()
        assert patch["version"] == got["version"] == state["version"] + 1
        assert not patch.get("full")
        new = apply(state, patch)
        assert without_events(new) == without_events(got), (kind, arg)
        assert got["events"] == []
        state = got
        states[got["version"]] = got
    # ?since=V from every version seen
    for version, old in states.items():
        patch = client.get(f"/api/graphs/{gid}?since={version}").json()
        assert patch["events"] == []
        assert apply(old, patch) == state, version


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=random_spec(), calls=st.lists(call(), min_size=1, max_size=12))
def test_patches_of_random_calls_on_random_graphs_give_the_state(app_client, spec, calls):
    check_sequence(app_client, spec, calls)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=st.sampled_from(EXAMPLES), calls=st.lists(call(), min_size=1, max_size=10))
def test_patches_of_random_calls_on_the_examples_give_the_state(app_client, example, calls):
    check_sequence(app_client, {"example": example}, calls)


# ---- the same change, as a patch and as a whole state ----------------------------------------


def test_a_patch_carries_the_events_of_the_whole_state(client):
    a = client.post("/api/graphs", json={"example": "seed"}).json()
    b = client.post("/api/graphs", json={"example": "seed"}).json()
    for body in ({"steps": 3}, {"all": True}):
        whole = client.post(
            f"/api/graphs/{a['id']}/forward", json=body, headers=auth(a["edit_token"])
        ).json()
        patch = client.post(
            f"/api/graphs/{b['id']}/forward?return=patch", json=body, headers=auth(b["edit_token"])
        ).json()
        assert patch["events"] == whole["events"] and len(patch["events"]) >= 3
    # a forward step of one node lists that node's value, and no other node
    r = client.post(f"/api/graphs/{b['id']}/backward?return=patch", headers=auth(b["edit_token"]))
    patch = r.json()
    assert set(patch) == {"id", "version", "base_version", "cursor", "nodes", "edges", "events"}
    # the first backward step seeds the output and sends back along its two input edges
    assert sorted(n["id"] for n in patch["nodes"]) == ["loss", "sigmoid", "y"]
    assert all(set(n) == {"id", "grad"} for n in patch["nodes"])
    assert sorted((e["source"], e["slot"]) for e in patch["edges"]) == [("sigmoid", 1), ("y", 0)]
    assert {n["id"]: n["grad"] for n in patch["nodes"]}["loss"] == 1.0


def test_layout_is_sent_only_when_it_changes(client):
    s = client.post("/api/graphs", json={"example": "two_layer"}).json()
    h = auth(s["edit_token"])
    gid = s["id"]
    for call_ in (
        lambda: client.post(
            f"/api/graphs/{gid}/forward?return=patch", json={"all": True}, headers=h
        ),
        lambda: client.post(
            f"/api/graphs/{gid}/backward?return=patch", json={"all": True}, headers=h
        ),
        lambda: client.post(f"/api/graphs/{gid}/update?return=patch", headers=h),
        lambda: client.post(f"/api/graphs/{gid}/forward?return=patch", headers=h),
        lambda: client.post(f"/api/graphs/{gid}/reset?return=patch", headers=h),
    ):
        patch = call_().json()
        assert patch["nodes"]
        for node in patch["nodes"]:
            assert not {"layer", "x", "y", "op", "inputs", "shape"} & set(node), node
        for edge in patch["edges"]:
            assert "points" not in edge


# ---- bad requests: a sentence, never a 500 ---------------------------------------------------


def test_bad_return_since_and_format_are_422_sentences(client):
    s = client.post("/api/graphs", json={"example": "seed"}).json()
    gid, h = s["id"], auth(s["edit_token"])
    for r in (
        client.post(f"/api/graphs/{gid}/forward?return=diff", headers=h),
        client.get(f"/api/graphs/{gid}?since=abc"),
        client.get(f"/api/graphs/{gid}?since=-1"),
        client.get(f"/api/graphs/{gid}?since=99999999999999999999999"),
        client.get(f"/api/graphs/{gid}?since=2"),  # ahead of the graph (version 1)
        client.get(f"/api/graphs/{gid}/events?format=xml"),
    ):
        assert r.status_code == 422, r.text
        assert isinstance(r.json()["detail"], str) and r.json()["detail"].endswith(".")
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 1
    assert client.app.state.services.bus.count() == 0
    # return=state is the whole state, as without it
    whole = client.post(f"/api/graphs/{gid}/forward?return=state", headers=h).json()
    assert len(whole["nodes"]) == 7 and "base_version" not in whole
    empty = client.get(f"/api/graphs/{gid}?since=2").json()
    assert empty["nodes"] == [] and empty["edges"] == [] and empty["base_version"] == 2


# on Redis the store keeps each graph's last changes: such a V is a patch there
# (tests/server/test_since_shared.py)
@pytest.mark.sqlite_only
def test_since_a_version_before_the_graph_was_loaded_is_the_full_state(make_client):
    client = make_client(max_loaded_graphs=1)
    s = client.post("/api/graphs", json={"example": "seed"}).json()
    gid, h = s["id"], auth(s["edit_token"])
    client.post(f"/api/graphs/{gid}/forward", json={"steps": 2}, headers=h)
    client.post("/api/graphs", json={"example": "seed"})  # pushes the first out of memory
    client.post(f"/api/graphs/{gid}/forward", headers=h)  # reloaded at version 2, now 3
    full = client.get(f"/api/graphs/{gid}?since=1").json()
    state = client.get(f"/api/graphs/{gid}").json()
    assert full["full"] is True and full["base_version"] == 1
    assert apply(s | {"version": 1}, full) == state
    patch = client.get(f"/api/graphs/{gid}?since=2").json()
    assert "full" not in patch and [n["id"] for n in patch["nodes"]] == ["k"]


# ---- the event stream ---------------------------------------------------------------------


def test_the_patch_stream_applied_from_its_first_state_gives_the_final_state(live_server):
    _, base = live(live_server)
    s = httpx.post(f"{base}/api/graphs", json={"example": "two_layer"}).json()
    gid, h = s["id"], auth(s["edit_token"])
    calls = [
        ("forward", {"steps": 2}), ("forward", {"all": True}), ("backward", {"steps": 1}),
        ("seek", {"fraction": 0.5}), ("seek", {"fraction": 1.0}), ("update", {}),
        ("values", {"seed": 0.5}), ("options", {"fanout_bug": True, "reverse": True}),
        ("forward", {"all": True}), ("reset", None),
    ]  # fmt: skip
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=10) as r,
    ):
        lines = r.iter_lines()
        event, data = read_event(lines)
        assert event == "state"
        state = json.loads(data)
        current = client.get(f"/api/graphs/{gid}").json()
        for kind, arg in calls:
            r2 = send(client, gid, h, current, kind, arg, query="")
            assert r2.status_code == 200, r2.text
            current = client.get(f"/api/graphs/{gid}").json()
        while state["version"] < current["version"]:
            event, data = read_event(lines)
            if event == "patch":
                patch = json.loads(data)
                events = patch["events"]
                state = apply(state, patch)
                assert isinstance(events, list)
            elif event == "state":
                state = json.loads(data)
    final = httpx.get(f"{base}/api/graphs/{gid}").json()
    assert without_events(state) == without_events(final)
    assert state["version"] == 1 + len(calls)


def test_a_follower_that_falls_behind_gets_the_state_then_patches_again(live_server):
    app, base = live(live_server)
    s = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = s["id"], auth(s["edit_token"])
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=10) as r,
    ):
        lines = r.iter_lines()
        event, data = read_event(lines)
        state = json.loads(data)
        assert event == "state" and state["version"] == 1
        client.post(f"/api/graphs/{gid}/forward", headers=h)
        event, data = read_event(lines)
        assert event == "patch"
        state = apply(state, json.loads(data))
        # as when its queue overflowed: what it holds is dropped, it gets the state
        (sub,) = app.state.services.bus._subscribers[gid]
        sub.lagging = True
        client.post(f"/api/graphs/{gid}/forward", json={"steps": 2}, headers=h)
        event, data = read_event(lines)
        assert event == "state"
        state = json.loads(data)
        assert state["version"] == 3 and state["cursor"]["position"] == 3
        client.post(f"/api/graphs/{gid}/forward", headers=h)
        event, data = read_event(lines)
        assert event == "patch" and json.loads(data)["base_version"] == 3
        state = apply(state, json.loads(data))
    assert without_events(state) == without_events(httpx.get(f"{base}/api/graphs/{gid}").json())


# ---- size: O(what the step touched) ---------------------------------------------------------


def test_a_step_patch_is_the_same_size_at_7_and_at_10000_nodes(client):
    sizes = {}
    for n in (7, 10_000):
        s = client.post("/api/graphs", json=chain(n)).json()
        gid, h = s["id"], auth(s["edit_token"])
        url = f"/api/graphs/{gid}"
        forward = client.post(f"{url}/forward?return=patch", json={"steps": 4}, headers=h)
        client.post(f"{url}/forward", json={"all": True}, headers=h)
        client.post(f"{url}/backward", json={"steps": 3}, headers=h)
        backward = client.post(f"{url}/backward?return=patch", headers=h)
        sizes[n] = (len(forward.content), len(backward.content))
        assert len(forward.json()["nodes"]) == 4 and len(backward.json()["nodes"]) == 1
    # ids and the cursor's total differ in length by a few characters, nothing else
    assert abs(sizes[10_000][0] - sizes[7][0]) < 40, sizes
    assert abs(sizes[10_000][1] - sizes[7][1]) < 40, sizes
