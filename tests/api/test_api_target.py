"""Any node as the target of backward (PUT /options {"target"}): d target / d node for its
ancestors, against central differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.app.schemas import SEED_SPEC, GraphPatch
from stepgrad.engine.examples import load_example
from stepgrad.engine.graph import Graph
from tests.helpers import (
    FANOUT,
    apply,
    assert_same,
    central_differences,
    chain,
    create,
    node,
    post,
    torch_reference,
    without_events,
)


def set_target(client, gid, headers, target, status=200):
    r = client.put(f"/api/graphs/{gid}/options", json={"target": target}, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def gradients_for(client, spec: dict, target: str | None) -> dict:
    """The whole state after forward and backward with that target."""
    state, h = create(client, spec)
    gid = state["id"]
    set_target(client, gid, h, target)
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    return client.get(f"/api/graphs/{gid}?full=true").json()


def test_seed_graph_with_linear_as_the_target(client):
    state, h = create(client, SEED_SPEC)
    gid = state["id"]
    data = set_target(client, gid, h, "linear")
    assert data["target"] == "linear" and data["gradient_of"] == "linear"
    assert data["cursor"]["total"] == 7 + 4  # linear and its inputs x, k, b
    post(client, gid, "forward", h, {"all": True})
    visited = []
    while True:
        r = client.post(f"/api/graphs/{gid}/backward?return=patch", json={}, headers=h)
        if r.status_code == 409:
            break
        patch = r.json()
        GraphPatch.model_validate(patch)
        visited.append(patch["events"][0]["node"])
        # the server says which node it visited (contract v1.2): no client recomputes it
        assert patch["cursor"]["last"] == {"phase": "backward", "node": visited[-1]}
        if len(visited) == 1:  # the first step seeds the target with 1
            assert {"id": "linear", "grad": 1.0} in patch["nodes"]
    assert visited == ["linear", "b", "k", "x"]
    done = client.get(f"/api/graphs/{gid}").json()
    assert done["cursor"] == {
        "position": 11,
        "phase": "done",
        "node": None,
        "total": 11,
        "last": {"phase": "backward", "node": "x"},
    }
    grads = {n["id"]: n["grad"] for n in done["nodes"]}
    assert grads == {
        "x": 0.09, "y": None, "k": 3.0, "b": 1.0, "linear": 1.0, "sigmoid": None, "loss": None,
    }  # fmt: skip
    numeric = central_differences(SEED_SPEC, "linear")
    for nid in ("x", "k", "b"):
        assert grads[nid] == pytest.approx(float(numeric[nid]), rel=1e-8)
    assert float(numeric["y"]) == 0.0  # y is no ancestor: no gradient at all
    # the chain-rule factors on the edges are the local derivatives of linear
    locals_ = {(e["source"], e["target"]): e["local"] for e in done["edges"]}
    assert locals_[("x", "linear")] == 0.09 and locals_[("sigmoid", "loss")] is None


def test_null_target_is_the_output_again_and_a_bad_one_is_refused(client):
    state, h = create(client, SEED_SPEC)
    gid = state["id"]
    set_target(client, gid, h, "sigmoid")
    data = set_target(client, gid, h, None)
    assert data["target"] is None and data["gradient_of"] == "loss"
    assert data["cursor"]["total"] == 14
    before = client.get(f"/api/graphs/{gid}").json()["version"]
    r = client.put(f"/api/graphs/{gid}/options", json={"target": "ghost"}, headers=h)
    assert r.status_code == 422 and "'ghost'" in r.json()["detail"]
    assert client.get(f"/api/graphs/{gid}").json()["version"] == before
    # leaving target out keeps it
    set_target(client, gid, h, "linear")
    r = client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": True}, headers=h)
    assert r.json()["target"] == "linear"


def test_update_refuses_a_middle_target_and_train_trains_the_loss(client):
    state, h = create(client, SEED_SPEC)
    gid = state["id"]
    set_target(client, gid, h, "sigmoid")
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    r = client.post(f"/api/graphs/{gid}/update", json={"learning_rate": 0.1}, headers=h)
    assert r.status_code == 409 and "'sigmoid'" in r.json()["detail"]
    r = client.post(
        f"/api/graphs/{gid}/train", json={"epochs": 50, "learning_rate": 1.0}, headers=h
    )
    assert r.status_code == 200, r.text
    history = r.json()["history"]["train_loss"]
    assert history[-1] < 0.5 * history[0]
    assert r.json()["state"]["target"] == "sigmoid"
    # the output as an explicit target updates as usual
    set_target(client, gid, h, "loss")
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    post(client, gid, "update", h, {"learning_rate": 0.1})


def test_fanout_graph_middle_targets_against_central_differences(client):
    for target, expect_x in (("both", lambda x, k: k + 2 * x), ("sq", lambda x, k: 2 * x)):
        full = gradients_for(client, FANOUT, target)
        assert node(full, "x")["grad"] == pytest.approx(expect_x(3.0, 0.09), rel=1e-12)
        numeric = central_differences(FANOUT, target)
        for nid, g in numeric.items():
            mine = node(full, nid)["grad"]
            if not np.any(g):
                assert mine is None or mine == 0.0
            else:
                assert mine == pytest.approx(float(g), rel=1e-7)
        assert node(full, "sigmoid")["grad"] is None


@pytest.mark.torch
@pytest.mark.parametrize("example", ["seed", "fanout", "diamond", "chain_rule", "two_layer"])
def test_every_middle_node_as_target_matches_pytorch(client, torch, example):
    spec = load_example(example)
    graph = Graph.from_spec(spec)
    middles = [nid for nid in graph.order if not graph.nodes[nid].op.leaf]
    for target in middles:
        full = gradients_for(client, spec, target)
        _, ref_grads = torch_reference(torch, {**spec, "output": target})
        ancestors = graph.ancestors(target)
        sum_of = target if graph.shapes[target] == () else f"sum({target})"
        assert full["gradient_of"] == sum_of
        assert full["cursor"]["total"] == len(graph) + len(ancestors)
        for n in full["nodes"]:
            nid = n["id"]
            if nid not in ancestors:
                assert n["grad"] is None, f"{example}: {nid} is no ancestor of {target}"
            elif nid in ref_grads:
                assert_same(n["grad"], ref_grads[nid], f"{example}: d {target} / d {nid}")
        numeric = central_differences(spec, target)
        for nid, g in numeric.items():
            if nid in ancestors:
                np.testing.assert_allclose(
                    node(full, nid)["grad"], g, rtol=1e-6, atol=1e-8, err_msg=f"{nid}"
                )


@pytest.mark.torch
def test_a_tensor_target_in_a_network_is_seeded_with_ones(client, torch):
    body = {"network": {"inputs": 3, "hidden": [4, 3], "activation": "tanh", "loss": "mse"}}
    state, h = create(client, body)
    gid = state["id"]
    set_target(client, gid, h, "a1")
    post(client, gid, "forward", h, {"all": True})
    post(client, gid, "backward", h, {"all": True})
    full = client.get(f"/api/graphs/{gid}?full=true").json()
    assert full["gradient_of"] == "sum(a1)"
    spec = client.get(f"/api/graphs/{gid}/export").json()
    _, ref = torch_reference(torch, {**spec, "output": "a1"})
    for nid in ("X", "W1", "b1", "h1", "a1"):
        assert_same(node(full, nid)["grad"], ref[nid], f"d sum(a1) / d {nid}")
    for nid in ("W2", "a2", "Wout", "z", "loss"):
        assert node(full, nid)["grad"] is None


def test_seeking_and_reloading_keep_the_target(client):
    state, h = create(client, FANOUT)
    gid = state["id"]
    set_target(client, gid, h, "both")
    post(client, gid, "forward", h, {"all": True})
    done = post(client, gid, "backward", h, {"all": True})
    total = done["cursor"]["total"]
    assert total == 9 + 6
    for position in (11, 9, total):
        post(client, gid, "seek", h, {"position": position})
    again = client.get(f"/api/graphs/{gid}").json()
    assert [n["grad"] for n in again["nodes"]] == [n["grad"] for n in done["nodes"]]
    # a graph loaded again from the store keeps its target and timeline
    registry = client.app.state.services.graphs.registry
    with registry._lock:
        registry.sessions.clear()
    reloaded = client.get(f"/api/graphs/{gid}").json()
    assert reloaded["target"] == "both" and reloaded["cursor"] == done["cursor"]
    assert [n["grad"] for n in reloaded["nodes"]] == [n["grad"] for n in done["nodes"]]


# ---- patches with targets and hand positions ----------------------------------------------


def _edit_calls():
    from hypothesis import strategies as st

    return st.lists(
        st.tuples(
            st.sampled_from(["forward", "backward", "backward", "seek", "target", "place"]),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=14,
    )


def test_patches_with_targets_and_hand_positions_give_the_state(make_client):
    from hypothesis import HealthCheck, given, settings

    client = make_client(rate_create="10000/minute")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(example=st_examples(), calls=_edit_calls())
    def run(example, calls):
        created = client.post("/api/graphs", json={"example": example}).json()
        gid, h = created["id"], {"Authorization": f"Bearer {created.pop('edit_token')}"}
        state, seen = created, {created["version"]: created}
        ids = [n["id"] for n in created["nodes"]]
        for kind, k in calls:
            base = f"/api/graphs/{gid}"
            if kind in ("forward", "backward"):
                r = client.post(f"{base}/{kind}?return=patch", json={"steps": 1 + k % 3}, headers=h)
            elif kind == "seek":
                position = k % (state["cursor"]["total"] + 1)
                r = client.post(f"{base}/seek?return=patch", json={"position": position}, headers=h)
            elif kind == "target":
                target = None if k % 4 == 0 else ids[k % len(ids)]
                r = client.put(f"{base}/options?return=patch", json={"target": target}, headers=h)
            else:
                where = None if k % 3 == 0 else {"x": float(k), "y": -float(k)}
                body = {"positions": {ids[k % len(ids)]: where}}
                r = client.put(f"{base}/positions?return=patch", json=body, headers=h)
            if r.status_code == 409:
                continue
            assert r.status_code == 200, r.text
            got = client.get(f"/api/graphs/{gid}").json()
            assert not r.json().get("full")
            assert without_events(apply(state, r.json())) == without_events(got), (kind, k)
            state = seen[got["version"]] = got
        for version, old in seen.items():
            assert apply(old, client.get(f"/api/graphs/{gid}?since={version}").json()) == state

    run()


def st_examples():
    from hypothesis import strategies as st

    return st.sampled_from(["seed", "fanout", "diamond", "two_layer"])


def test_a_backward_step_with_a_target_sends_the_same_patch_at_7_and_10000_nodes(client):
    # what the step costs in time at both sizes: bench/target_step.py
    sizes = {}
    for n in (7, 10_000):
        s = client.post("/api/graphs", json=chain(n)).json()
        gid, h = s["id"], {"Authorization": f"Bearer {s['edit_token']}"}
        url = f"/api/graphs/{gid}"
        set_target(client, gid, h, f"x{n - 3}")  # all but the last two nodes
        client.post(f"{url}/forward", json={"all": True}, headers=h)
        client.post(f"{url}/seek", json={"position": n + 3}, headers=h)
        r = client.post(f"{url}/backward?return=patch", headers=h)
        assert r.status_code == 200 and r.json()["cursor"]["total"] == 2 * n - 2
        assert len(r.json()["nodes"]) == 1  # the node the step visited, nothing else
        sizes[n] = len(r.content)
    assert abs(sizes[10_000] - sizes[7]) < 40, sizes
