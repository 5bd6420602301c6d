"""PUT /api/graphs/{id}/spec (ETag / If-Match), hand positions and the layout on demand."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stepgrad.app.schemas import SEED_SPEC, GraphPatch, GraphState
from tests.helpers import FANOUT, create, live, node, post, put_spec, read_event


def snapshot_of(client, gid):
    """What must not move when a change is refused: version, spec and every value."""
    state = client.get(f"/api/graphs/{gid}").json()
    spec = client.get(f"/api/graphs/{gid}/export").json()
    return state["version"], spec, [(n["id"], n["value"], n["grad"]) for n in state["nodes"]]


def test_get_and_every_change_send_the_version_as_etag(client):
    state, h = create(client)
    gid = state["id"]
    r = client.get(f"/api/graphs/{gid}")
    assert r.headers["etag"] == f'"{state["version"]}"'
    r = client.post(f"/api/graphs/{gid}/forward", json={"steps": 2}, headers=h)
    assert r.headers["etag"] == f'"{r.json()["version"]}"' == f'"{state["version"] + 1}"'
    r = client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": True}, headers=h)
    assert r.headers["etag"] == f'"{state["version"] + 2}"'


def test_put_spec_replaces_the_graph_and_resets_the_timeline(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    r = put_spec(client, gid, h, FANOUT)
    new = r.json()
    GraphState.model_validate(new)
    assert r.headers["etag"] == f'"{new["version"]}"'
    assert [n["id"] for n in new["nodes"]] == [n["id"] for n in FANOUT["nodes"]]
    assert new["cursor"] == {
        "position": 0,
        "phase": "forward",
        "node": "x",
        "total": 18,
        "last": None,
    }
    assert new["name"] == "fan-out"
    assert client.get(f"/api/graphs/{gid}/export").json()["nodes"][5] == FANOUT["nodes"][5]
    # the new graph computes: backward through the fan-out of x adds up both paths
    done = post(client, gid, "forward", h, {"all": True})
    done = post(client, gid, "backward", h, {"all": True})
    x, k, b = 3.0, 0.09, 0.5
    s = 1 / (1 + np.exp(-(k * x + b + x * x)))
    dloss_dboth = 2 * (s - 0.71) * s * (1 - s)
    assert node(done, "x")["grad"] == pytest.approx(dloss_dboth * (k + 2 * x), rel=1e-12)


def test_params_keep_value_and_optimizer_state_inputs_take_the_bodys(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    done = post(
        client, gid, "update", h, {"optimizer": "momentum", "learning_rate": 0.5, "options": {}}
    )
    k_now = node(done, "k")["fed"]
    graphs = client.app.state.services.graphs
    velocity = graphs.snapshot(gid).state["optimizer_state"]["velocity"]
    assert set(velocity) == {"k", "b"}
    spec = copy.deepcopy(FANOUT)
    spec["nodes"][0]["value"] = 2.0  # an input: the body's value wins
    spec["nodes"][3]["value"] = [0.1, 0.2]  # b changes shape: a new param
    spec["nodes"][2]["value"] = 123.0  # k keeps id and shape: its value is kept
    spec["nodes"][6]["inputs"] = ["linear", "sq"]
    spec["nodes"].insert(7, {"id": "m", "op": "mean", "inputs": ["both"]})
    spec["nodes"][8]["inputs"] = ["m"]
    new = put_spec(client, gid, h, spec).json()
    assert node(new, "k")["fed"] == k_now != 123.0
    assert node(new, "b")["fed"] == [0.1, 0.2]
    assert node(new, "x")["fed"] == 2.0
    kept = graphs.snapshot(gid).state["optimizer_state"]["velocity"]
    assert kept == {"k": velocity["k"]}
    assert new["optimizer"]["name"] == "momentum"
    # the next update carries k's momentum on: v = 0.9 v + g, k -= lr * v
    post(client, gid, "forward", h, {"all": True})
    done = post(client, gid, "backward", h, {"all": True})
    g_k = node(done, "k")["grad"]
    done = post(client, gid, "update", h, {"learning_rate": 0.5})
    assert node(done, "k")["fed"] == pytest.approx(k_now - 0.5 * (0.9 * velocity["k"] + g_k))


def test_inputs_may_leave_out_their_value_to_keep_it(client):
    state, h = create(client)
    gid = state["id"]
    client.put(f"/api/graphs/{gid}/values", json={"values": {"x": 7.5}}, headers=h)
    spec = copy.deepcopy(SEED_SPEC)
    del spec["nodes"][0]["value"]
    new = put_spec(client, gid, h, spec).json()
    assert node(new, "x")["fed"] == 7.5
    spec["nodes"].append({"id": "z", "op": "input"})  # a new leaf has nothing to keep
    spec["nodes"][6]["inputs"] = ["z", "sigmoid"]
    r = put_spec(client, gid, h, spec, status=422)
    assert "'z'" in r.json()["detail"] and "value" in r.json()["detail"]


def test_stale_if_match_is_412_and_changes_nothing(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"steps": 3})
    before = snapshot_of(client, gid)
    stale = f'"{before[0] - 1}"'
    r = put_spec(client, gid, {**h, "If-Match": stale}, FANOUT, status=412)
    assert "version" in r.json()["detail"]
    assert snapshot_of(client, gid) == before
    # a long list of stale tags is a 412 too, its sentence cut short
    many = ", ".join(f'"{v}"' for v in range(1000, 1100))
    r = put_spec(client, gid, {**h, "If-Match": many}, FANOUT, status=412)
    assert f"now at version {before[0]}" in r.json()["detail"]
    assert len(r.json()["detail"]) < 400
    assert snapshot_of(client, gid) == before
    # the current version, a weak tag, a list, the bare number and * all match
    version = before[0]
    for tag in (
        f'"{version}"',
        f'W/"{version + 1}"',
        f'"1", "{version + 2}"',
        str(version + 3),
        f"1, {version + 4}",
        "*",
    ):
        r = put_spec(client, gid, {**h, "If-Match": tag}, FANOUT)
        version = r.json()["version"]
    # a bare number that is not the version is stale like a quoted one
    r = put_spec(client, gid, {**h, "If-Match": str(version - 1)}, FANOUT, status=412)
    assert f"now at version {version}" in r.json()["detail"]
    # without If-Match the last writer wins
    assert put_spec(client, gid, h, SEED_SPEC).json()["version"] == version + 1


@pytest.mark.parametrize(
    "change, status, words",
    [
        (lambda s: s["nodes"][4].update(inputs=["x", "k", "sigmoid"]), 422, ["cycle"]),
        (lambda s: s["nodes"][5].update(op="nope"), 422, ["'sigmoid'", "nope"]),
        (lambda s: s["nodes"][5].update(inputs=["linear", "x"]), 422, ["'sigmoid'", "input"]),
        (
            lambda s: (
                s["nodes"][1].update(value=[1.0, 2.0, 3.0])
                or s["nodes"][2].update(value=[1.0, 2.0])
            ),
            422,
            ["'loss'", "[3]", "[2]"],
        ),
        (lambda s: s["nodes"][6].update(inputs=["y", "ghost"]), 422, ["'ghost'"]),
    ],
)
def test_a_bad_spec_is_refused_naming_the_node_and_changes_nothing(client, change, status, words):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"steps": 2})
    before = snapshot_of(client, gid)
    spec = copy.deepcopy(SEED_SPEC)
    change(spec)
    body = put_spec(client, gid, h, spec, status=status).json()
    for word in words:
        assert word in body["detail"]
    if "cycle" in words:
        assert set(body["cycle"]) == {"linear", "sigmoid"}
    assert snapshot_of(client, gid) == before


def test_limits_are_those_of_post(make_client):
    client = make_client(max_nodes=8)
    state, h = create(client)
    before = snapshot_of(client, state["id"])
    spec = copy.deepcopy(FANOUT)
    spec["nodes"].insert(0, {"id": "extra", "op": "const", "value": 1.0})
    spec["output"] = "loss"
    r = put_spec(client, state["id"], h, spec, status=413)
    assert "limit is 8" in r.json()["detail"]
    assert snapshot_of(client, state["id"]) == before


def test_put_spec_needs_the_edit_token(client):
    state, _ = create(client)
    put_spec(client, state["id"], {}, FANOUT, status=401)
    put_spec(client, state["id"], {"Authorization": "Bearer nope"}, FANOUT, status=403)


def test_an_expression_is_kept_reopened_and_reapplied(client):
    body = {
        "expression": "h = sigmoid(k*x + b)\nloss = mse(y, h)",
        "inputs": {"x": 3.0, "y": 0.71},
        "params": {"k": 0.09, "b": 0.5},
    }
    state, h = create(client, body)
    gid = state["id"]
    assert state["source"] == body
    assert client.get(f"/api/graphs/{gid}/export").json()["source"] == body
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    k_new = node(post(client, gid, "update", h, {"learning_rate": 1.0}), "k")["fed"]
    # reopen the source, add a second path from x, apply it again
    edited = dict(client.get(f"/api/graphs/{gid}").json()["source"])
    edited["expression"] = "h = sigmoid(k*x + b + x*x)\nloss = mse(y, h)"
    new = put_spec(client, gid, h, edited).json()
    assert new["source"]["expression"] == edited["expression"]
    assert node(new, "k")["fed"] == k_new  # trained value kept
    assert node(new, "x")["fed"] == 3.0
    assert any(n["op"] == "mul" and n["inputs"] == ["x", "x"] for n in new["nodes"])
    # a spec replaces the source: it made the graph, not the expression
    assert put_spec(client, gid, h, SEED_SPEC).json()["source"] is None


def test_return_patch_answers_the_whole_state_for_a_new_structure(client):
    state, h = create(client)
    r = client.put(f"/api/graphs/{state['id']}/spec?return=patch", json=FANOUT, headers=h)
    assert r.status_code == 200, r.text
    data = r.json()
    GraphPatch.model_validate(data)
    assert data["full"] is True and data["base_version"] == state["version"]
    assert len(data["nodes"]) == len(FANOUT["nodes"])


def test_target_is_kept_while_its_node_exists(client):
    state, h = create(client)
    gid = state["id"]
    client.put(f"/api/graphs/{gid}/options", json={"target": "linear"}, headers=h)
    assert put_spec(client, gid, h, FANOUT).json()["target"] == "linear"
    spec = copy.deepcopy(FANOUT)
    spec["nodes"][4]["id"] = "lin"
    spec["nodes"][6]["inputs"] = ["lin", "sq"]
    assert put_spec(client, gid, h, spec).json()["target"] is None


# ---- positions --------------------------------------------------------------------------


def test_hand_positions_are_kept_and_auto_layout_drops_them(client):
    state, h = create(client)
    gid = state["id"]
    auto = {n["id"]: (n["x"], n["y"]) for n in state["nodes"]}
    spec = copy.deepcopy(SEED_SPEC)
    spec["nodes"][2].update(x=-50.0, y=300.5)
    new = put_spec(client, gid, h, spec).json()
    assert (node(new, "k")["x"], node(new, "k")["y"]) == (-50.0, 300.5)
    assert node(new, "k")["pinned"] is True and node(new, "x")["pinned"] is False
    assert (node(new, "x")["x"], node(new, "x")["y"]) == auto["x"]
    exported = client.get(f"/api/graphs/{gid}/export").json()
    assert exported["nodes"][2]["x"] == -50.0
    # an edge from a placed node has no waypoints of the automatic layout
    assert all(e["points"] == [] for e in new["edges"] if e["source"] == "k")
    new = put_spec(client, gid, h, {**spec, "layout": "auto"}).json()
    assert (node(new, "k")["x"], node(new, "k")["y"]) == auto["k"]
    assert node(new, "k")["pinned"] is False
    spec["nodes"][2]["x"] = float("1e300")
    put_spec(client, gid, h, spec, status=422)


def test_placing_nodes_keeps_the_timeline_and_patches_only_layout(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"all": True})
    done = post(client, gid, "backward", h, {"steps": 3})
    r = client.put(
        f"/api/graphs/{gid}/positions?return=patch",
        json={"positions": {"b": {"x": 12.0, "y": -40.0}}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    patch = r.json()
    GraphPatch.model_validate(patch)
    assert patch["base_version"] == done["version"]
    assert patch["cursor"] == done["cursor"]
    assert patch["nodes"] == [{"id": "b", "x": 12.0, "y": -40.0, "pinned": True}]
    state = client.get(f"/api/graphs/{gid}").json()
    assert [(n["value"], n["grad"]) for n in state["nodes"]] == [
        (n["value"], n["grad"]) for n in done["nodes"]
    ]
    # followers asking since the step get the same
    since = client.get(f"/api/graphs/{gid}?since={done['version']}").json()
    assert [{**n, "layer": 0} for n in since["nodes"]] == [{**patch["nodes"][0], "layer": 0}]
    # the layout on demand gives every node back
    r = client.post(f"/api/graphs/{gid}/layout", headers=h)
    assert r.status_code == 200, r.text
    assert node(r.json(), "b")["pinned"] is False
    assert node(r.json(), "b")["y"] == node(done, "b")["y"]
    r = client.put(f"/api/graphs/{gid}/positions", json={"positions": {"ghost": None}}, headers=h)
    assert r.status_code == 422 and "'ghost'" in r.json()["detail"]


def test_followers_get_the_new_graph_and_the_moves(live_server):
    import httpx

    _, base = live(live_server)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], {"Authorization": f"Bearer {state['edit_token']}"}
    with (
        httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=5) as plain,
        httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=5) as patch,
    ):
        streams = [plain.iter_lines(), patch.iter_lines()]
        for lines in streams:
            assert read_event(lines)[0] == "state"
        with httpx.Client() as other:
            r = other.put(f"{base}/api/graphs/{gid}/spec", json=FANOUT, headers=h)
            assert r.status_code == 200, r.text
            r = other.put(
                f"{base}/api/graphs/{gid}/positions",
                json={"positions": {"sq": {"x": 5.0, "y": 6.0}}},
                headers=h,
            )
            assert r.status_code == 200, r.text
        # the new structure reaches both as a whole state
        for lines in streams:
            event, data = read_event(lines)
            got = httpx.Response(200, content=data).json()
            assert event == "state" and [n["id"] for n in got["nodes"]][5] == "sq"
        event, data = read_event(streams[0])
        assert event == "state"
        assert node(httpx.Response(200, content=data).json(), "sq")["x"] == 5.0
        event, data = read_event(streams[1])
        got = httpx.Response(200, content=data).json()
        assert event == "patch" and got["nodes"] == [
            {"id": "sq", "x": 5.0, "y": 6.0, "pinned": True}
        ]


def test_a_large_value_is_left_out_of_the_source_and_kept_when_put_back(client):
    big = np.arange(100.0).reshape(10, 10).tolist()
    body = {"expression": "loss = mean(W * x)", "inputs": {"x": 2.0}, "params": {"W": big}}
    state, h = create(client, body)
    gid = state["id"]
    assert state["source"]["params"] == {"W": None} and state["source"]["inputs"] == {"x": 2.0}
    source = state["source"]
    new = put_spec(client, gid, h, {**source, "expression": "loss = sum(W * x)"}).json()
    full = client.get(f"/api/graphs/{gid}?full=true").json()
    assert node(full, "W")["fed"] == big
    assert node(new, "loss")["op"] == "sum"
    # the same nodes and edges with another op: a field-level patch, not the whole state
    since = client.get(f"/api/graphs/{gid}?since={state['version']}").json()
    assert "full" not in since and since["version"] == new["version"]
    assert node(since, "loss")["op"] == "sum"
    # a new structure: the whole state
    put_spec(client, gid, h, {**source, "expression": "s = W * x\nloss = sum(s)"})
    since = client.get(f"/api/graphs/{gid}?since={new['version']}").json()
    assert since["full"] is True
    # a new graph cannot start from a null value
    r = client.post("/api/graphs", json=source)
    assert r.status_code == 422 and "'W'" in r.json()["detail"]


def test_positions_and_source_round_trip_through_the_engine():
    from stepgrad.engine.graph import Graph

    spec = copy.deepcopy(SEED_SPEC)
    spec["nodes"][0].update(x=1.5, y=-2)
    spec["source"] = {"expression": "loss = x", "inputs": {"x": 1}, "params": {}}
    graph = Graph.from_spec(spec)
    assert graph.nodes["x"].position == (1.5, -2.0) and graph.nodes["k"].position is None
    again = Graph.from_spec(graph.to_spec())
    assert again.to_spec() == graph.to_spec() and again.source == spec["source"]
    moved = graph.with_positions({"x": None, "k": (3.0, 4.0)})
    assert moved.nodes["x"].position is None and moved.nodes["k"].position == (3.0, 4.0)
    assert moved.nodes["k"].value is graph.nodes["k"].value  # the same arrays
    assert graph.nodes["x"].position == (1.5, -2.0)  # unchanged
    for bad in ({"x": 1.0}, {"x": True, "y": 1.0}, {"x": 1e8, "y": 0.0}):
        wrong = copy.deepcopy(SEED_SPEC)
        wrong["nodes"][2].update(bad)
        with pytest.raises(Exception, match="'k'"):
            Graph.from_spec(wrong)
    with pytest.raises(Exception, match="source"):
        Graph.from_spec({**SEED_SPEC, "source": {"x": float("nan")}})


def test_check_validates_without_changing_the_graph(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"steps": 2})
    before = snapshot_of(client, gid)
    url = f"/api/graphs/{gid}/spec/check"
    r = client.post(url, json=FANOUT, headers=h)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["ok"] is True and data["output"] == "loss"
    assert data["order"] == [n["id"] for n in FANOUT["nodes"]]
    assert data["shapes"]["sq"] == [] and data["kept"] == ["b", "k"]
    spec = copy.deepcopy(FANOUT)
    spec["nodes"][4]["inputs"] = ["x", "k", "sigmoid"]
    r = client.post(url, json=spec, headers=h)
    assert r.status_code == 422 and "cycle" in r.json()
    spec = copy.deepcopy(FANOUT)
    spec["nodes"][2]["value"] = [1.0, 2.0]
    data = client.post(url, json={**spec, "keep_params": True}, headers=h).json()
    assert data["kept"] == ["b"] and data["shapes"]["linear"] == [2]
    assert client.post(url, json=FANOUT, headers={}).status_code == 401
    assert snapshot_of(client, gid) == before


def test_an_export_round_trips_through_post_and_put_with_its_source(client):
    body = {"expression": "h = sigmoid(k*x + b)\nloss = mse(y, h)", "inputs": {"x": 3.0, "y": 0.7}}
    body["params"] = {"k": 0.1, "b": 0.5}
    state, h = create(client, body)
    gid = state["id"]
    exported = client.get(f"/api/graphs/{gid}/export").json()
    copy_state, _ = create(client, exported)
    assert copy_state["source"] == state["source"]
    assert client.get(f"/api/graphs/{copy_state['id']}/export").json() == exported
    # sent back with other values or positions only: the source still describes it
    exported["nodes"][0].update(x=40.0, y=0.0)
    assert put_spec(client, gid, h, exported).json()["source"] == state["source"]
    # sent back with a node more: the expression no longer makes it, so it is dropped
    exported["nodes"].append({"id": "extra", "op": "mul", "inputs": ["loss", "loss"]})
    new = put_spec(client, gid, h, exported).json()
    assert new["source"] is None and new["output"] == "extra"
    r = client.post("/api/graphs", json={"example": "seed", "source": {"a": 1}})
    assert r.status_code == 422


BAD_BODIES = [
    {},
    {"nodes": []},
    {"nodes": [{"id": "z", "op": "input"}]},
    {"nodes": SEED_SPEC["nodes"], "expression": "loss = x"},
    {"expression": "loss = x", "inputs": {"x": None}},
    {"expression": "loss = x", "inputs": {"x": [[1.0], [2.0, 3.0]]}},
    {"expression": "loss = (", "inputs": {"x": 1.0}},
    {"network": {"inputs": 2, "hidden": [3], "dataset_params": {"noise": 1.0}}},
    {"network": {"dataset": "moons", "dataset_params": {"noise": "a lot"}}},
    {"network": {"dataset": "moons", "dataset_params": {"noise": [1]}}},
    {"network": {"dataset": "moons", "form": "scalar", "dataset_params": {"n_samples": 3}}},
    {"network": {"dataset": "boston", "loss": "cross_entropy"}},
    {"network": {"inputs": 2, "hidden": [3] * 9}},
    {"network": {"inputs": 2, "bogus": 1}},
    {"example": "nope"},
    {"nodes": SEED_SPEC["nodes"], "layout": "sideways"},
    {"nodes": SEED_SPEC["nodes"], "keep_params": "yes"},
    {"nodes": [{**n, "x": "1"} for n in SEED_SPEC["nodes"]]},
    {"nodes": SEED_SPEC["nodes"], "source": "text"},
    {"nodes": SEED_SPEC["nodes"], "output": "nobody"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_are_4xx_sentences_and_change_nothing(client, body):
    state, h = create(client)
    gid = state["id"]
    before = snapshot_of(client, gid)
    for url in (f"/api/graphs/{gid}/spec", f"/api/graphs/{gid}/spec/check"):
        method = client.put if url.endswith("spec") else client.post
        r = method(url, json=body, headers=h)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
        assert r.json()["detail"]
    assert snapshot_of(client, gid) == before


@pytest.mark.parametrize(
    "body",
    [
        {"positions": {"x": {"x": 1.0}}},
        {"positions": {"x": {"x": 1.0, "y": 1e300}}},
        {"positions": {"x": [1.0, 2.0]}},
        {"positions": {"nobody": None}},
        {"positions": "all"},
    ],
)
def test_bad_positions_are_4xx_and_change_nothing(client, body):
    state, h = create(client)
    gid = state["id"]
    before = snapshot_of(client, gid)
    r = client.put(f"/api/graphs/{gid}/positions", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert snapshot_of(client, gid) == before


def test_put_accepts_a_computed_node_on_an_old_leafs_id(client):
    """PUT validates exactly as POST: `b` was a param of the seed example, and a computed
    node with that id takes nothing from it."""
    r = client.post("/api/graphs", json={"example": "seed"})
    gid, h = r.json()["id"], {"Authorization": f"Bearer {r.json()['edit_token']}"}
    body = {
        "nodes": [
            {"id": "x", "op": "input", "value": 1},
            {"id": "b", "op": "neg", "inputs": ["x"]},
        ]
    }
    assert client.post("/api/graphs", json=body).status_code == 201
    r = client.put(f"/api/graphs/{gid}/spec", json=body, headers=h)
    assert r.status_code == 200, r.text
    client.post(f"/api/graphs/{gid}/forward", json={"all": True}, headers=h)
    state = client.get(f"/api/graphs/{gid}").json()
    assert {n["id"]: n["value"] for n in state["nodes"]} == {"x": 1.0, "b": -1.0}
