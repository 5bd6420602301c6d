"""The API behind the course's lessons: the topological sort, run options, datasets, race."""

from __future__ import annotations

import importlib.util

import pytest

from stepgrad.app.schemas import DatasetView, GraphState, KnnResult, RaceResult, ToposortResult
from tests.helpers import SEED_SPEC, TINY_FANOUT, create, node, post


def test_toposort_of_a_graph_reproduces_its_order(client):
    state, _ = create(client, SEED_SPEC)
    r = client.get(f"/api/graphs/{state['id']}/toposort")
    assert r.status_code == 200
    result = ToposortResult.model_validate(r.json())
    assert result.complete and result.order == state["order"]
    assert result.steps[0].ready == ["x", "y", "k", "b"]
    chosen = client.get(f"/api/graphs/{state['id']}/toposort", params={"choose": "b,k"}).json()
    assert chosen["order"][:2] == ["b", "k"]
    bad = client.get(f"/api/graphs/{state['id']}/toposort", params={"choose": "loss"})
    assert bad.status_code == 422 and "'loss' is not ready at step 1" in bad.json()["detail"]


def test_toposort_of_any_directed_graph_names_the_cycle(client):
    body = {"nodes": ["a", "b", "c", "d"], "edges": [["a", "b"], ["b", "c"], ["c", "b"],
                                                     ["c", "d"]]}  # fmt: skip
    r = client.post("/api/toposort", json=body)
    assert r.status_code == 200
    result = r.json()
    assert not result["complete"] and result["order"] == ["a"]
    assert result["stuck"] == {"remaining": ["b", "c", "d"], "cycle": ["b", "c"]}
    r = client.post("/api/toposort", json={"nodes": ["a"], "edges": [["a", "zz"]]})
    assert r.status_code == 422 and "'zz'" in r.json()["detail"]
    r = client.post("/api/toposort", json={"nodes": ["a"], "edges": [["a"]]})
    assert r.status_code == 422


def test_another_order_gives_the_same_gradients(client):
    state, headers = create(client, SEED_SPEC)
    gid = state["id"]
    post(client, gid, "forward", headers, {"all": True})
    default = post(client, gid, "backward", headers, {"all": True})
    order = ["b", "k", "x", "linear", "y", "sigmoid", "loss"]
    r = client.put(f"/api/graphs/{gid}/options", json={"order": order}, headers=headers)
    assert r.status_code == 200
    again = GraphState.model_validate(r.json())
    assert again.order == order and again.cursor.position == 0 and again.cursor.node == "b"
    post(client, gid, "forward", headers, {"all": True})
    mine = post(client, gid, "backward", headers, {"all": True})
    for nid in ("x", "y", "k", "b", "linear", "sigmoid"):
        assert node(mine, nid)["grad"] == node(default, nid)["grad"]
    r = client.put(f"/api/graphs/{gid}/options", json={"order": ["loss"]}, headers=headers)
    assert r.status_code == 422 and "every node" in r.json()["detail"]
    r = client.put(f"/api/graphs/{gid}/options", json={"order": []}, headers=headers)
    assert r.json()["order"] == state["order"]


def test_fanout_bug_toggle_is_seen_and_caught_by_gradcheck(client):
    state, headers = create(client, TINY_FANOUT)
    gid = state["id"]
    r = client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": True}, headers=headers)
    assert r.status_code == 200 and r.json()["fanout_bug"] is True
    post(client, gid, "forward", headers, {"all": True})
    buggy = post(client, gid, "backward", headers, {"all": True})
    assert node(buggy, "x")["grad"] == pytest.approx(1.5)  # should be 2 * 1.5 + 1
    assert client.get(f"/api/graphs/{gid}/options").status_code == 405
    # the option survives a reload from the store
    assert client.get(f"/api/graphs/{gid}").json()["fanout_bug"] is True
    r = client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": False}, headers=headers)
    post(client, gid, "forward", headers, {"all": True})
    fixed = post(client, gid, "backward", headers, {"all": True})
    assert node(fixed, "x")["grad"] == pytest.approx(4.0)
    r = client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": True})
    assert r.status_code == 401


def test_options_persist_across_a_restart(tmp_path):
    from fastapi.testclient import TestClient

    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    db = str(tmp_path / "g.db")
    with TestClient(create_app(Settings(db=db))) as first:
        state, headers = create(first, TINY_FANOUT)
        first.put(f"/api/graphs/{state['id']}/options", json={"fanout_bug": True,
                  "order": ["x", "sq", "f"]}, headers=headers)  # fmt: skip
    with TestClient(create_app(Settings(db=db))) as second:
        again = second.get(f"/api/graphs/{state['id']}").json()
    assert again["fanout_bug"] is True and again["order"] == ["x", "sq", "f"]


def test_dataset_views(client):
    listed = client.get("/api/datasets").json()
    assert {d["name"] for d in listed} >= {"boston", "moons", "spiral"}
    view = DatasetView.model_validate(client.get("/api/datasets/boston?rows=3").json())
    assert view.n_rows == 506 and view.columns[-1] == "MEDV" and len(view.head) == 3
    assert view.correlations[5][13] == pytest.approx(0.6954, abs=1e-4)
    assert "Black" in view.description
    sc = client.get("/api/datasets/boston/scatter", params={"x": "RM"}).json()
    assert sc["y_name"] == "MEDV" and len(sc["x"]) == 506 and sc["x"][0] == 6.575
    r = client.get("/api/datasets/boston/scatter", params={"x": "ROOMS"})
    assert r.status_code == 422 and "no column 'ROOMS'" in r.json()["detail"]
    assert client.get("/api/datasets/nope").status_code == 422


def test_knn_and_baselines(client):
    r = client.post("/api/datasets/boston/knn", json={"features": ["RM"], "query": [7.0]})
    knn = KnnResult.model_validate(r.json())
    assert len(knn.neighbours) == 3 and knn.prediction == pytest.approx(
        sum(knn.neighbour_targets) / 3
    )
    r = client.post("/api/datasets/boston/knn", json={"features": ["RM"], "query": [7.0, 1.0]})
    assert r.status_code == 422
    b = client.get("/api/datasets/boston/baselines", params={"features": "RM"}).json()
    assert b["mean"]["test_mse"] == pytest.approx(88.5075, abs=1e-3)
    assert b["least_squares"]["test_mse"] < b["mean"]["test_mse"]
    cost = client.get("/api/datasets/boston/knn_cost").json()
    assert [c["rows"] for c in cost] == [506, 5060, 50600]


def test_race_without_torch_says_how_to_install(client, monkeypatch):
    import stepgrad.app.routes.race as race_route

    monkeypatch.setattr(race_route, "import_torch", lambda: None)
    r = client.post("/api/race", json={"epochs": 2})
    assert r.status_code == 200
    result = RaceResult.model_validate(r.json())
    assert not result.torch_installed and result.torch_us is None
    assert result.install == 'pip install "stepgrad[bench]"'
    assert result.ran == ["engine", "numpy"]
    assert result.agree and result.mse_engine == pytest.approx(result.mse_numpy, rel=1e-9)
    r = client.post("/api/race", json={"epochs": 500, "batch_size": 1})
    assert r.status_code == 413 and "limit is 500,000,000" in r.json()["detail"]


def test_race_says_which_trainers_ran(make_client):
    # the race_torch setting leaves PyTorch out whether or not it is installed: two ran
    client = make_client(race_torch=False)
    result = RaceResult.model_validate(client.post("/api/race", json={"epochs": 2}).json())
    assert result.ran == ["engine", "numpy"]
    assert result.torch_us is None and result.mse_torch is None
    assert result.mse_engine > 0 and result.mse_numpy > 0
    assert result.agree and result.mse_engine == pytest.approx(result.mse_numpy, rel=1e-6)
    # installed or not is said apart from what ran
    assert result.torch_installed == (importlib.util.find_spec("torch") is not None)
    assert (result.install is None) == result.torch_installed


@pytest.mark.torch
def test_race_with_torch(client, torch):
    result = client.post("/api/race", json={"epochs": 3}).json()
    assert result["torch_installed"] and result["torch_us"] > 0 and result["agree"]
    assert result["ran"] == ["engine", "torch", "numpy"]
    assert result["mse_torch"] == pytest.approx(result["mse_engine"], rel=1e-9)


def test_chain_rule_factors_and_fed_leaves(client):
    state, headers = create(client, {"example": "chain_rule"})
    gid = state["id"]
    # before any step a leaf shows the value it will be fed, a computed node nothing
    assert node(state, "x")["fed"] == 3.0 and node(state, "x")["value"] is None
    assert node(state, "L1")["fed"] is None
    post(client, gid, "forward", headers, {"all": True})
    done = post(client, gid, "backward", headers, {"all": True})
    assert node(done, "x")["fed"] is None
    local = {(e["source"], e["target"]): e["local"] for e in done["edges"]}
    s = node(done, "sigma")["value"]
    assert local[("sigma", "L2")] == pytest.approx(node(done, "k2")["value"])
    assert local[("L1", "sigma")] == pytest.approx(s * (1 - s))
    assert local[("k1", "L1")] == pytest.approx(3.0)
    # the factors along the path multiply to the gradient
    chain = local[("L2", "loss")] * local[("sigma", "L2")] * local[("L1", "sigma")]
    assert chain * local[("k1", "L1")] == pytest.approx(node(done, "k1")["grad"], rel=1e-12)
    event = done["events"][0]
    assert {c["input"]: c["local"] for c in event["contributions"]}["L2"] == pytest.approx(
        local[("L2", "loss")]
    )


def test_tensor_edges_have_no_local_factor(client):
    state, headers = create(client, {"example": "two_layer"})
    post(client, state["id"], "forward", headers, {"all": True})
    done = post(client, state["id"], "backward", headers, {"all": True})
    assert all(e["local"] is None for e in done["edges"] if e["source"] in ("X", "W1"))


def test_gradcheck_checks_the_gradients_backward_really_computes(client):
    state, headers = create(client, TINY_FANOUT)
    gid = state["id"]
    assert client.get(f"/api/graphs/{gid}/gradcheck").json()["max_rel_error"] < 1e-8
    client.put(f"/api/graphs/{gid}/options", json={"fanout_bug": True}, headers=headers)
    assert client.get(f"/api/graphs/{gid}/gradcheck").json()["max_rel_error"] > 0.1
