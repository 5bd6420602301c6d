"""Training through the API: history, metrics, predictions, stored params, bounds."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from stepgrad.app.schemas import TrainResponse, TrainResult
from tests.helpers import create, node, post

pytest.importorskip("stepgrad.engine.training")

BIND = {"dataset": "boston", "test_fraction": 0.2, "seed": 0, "standardize": True}


def boston_linear_spec(batch_size: int = 32) -> dict:
    return {
        "name": "boston linear",
        "nodes": [
            {"id": "X", "op": "input", "bind": {**BIND, "role": "features",
                                                 "batch_size": batch_size}},
            {"id": "y", "op": "input", "bind": {**BIND, "role": "target",
                                                 "batch_size": batch_size}},
            {"id": "W", "op": "param", "value": [[0.0]] * 13},
            {"id": "b", "op": "param", "value": [22.0]},
            {"id": "yhat", "op": "linear", "inputs": ["X", "W", "b"]},
            {"id": "loss", "op": "mse", "inputs": ["y", "yhat"]},
        ],
    }  # fmt: skip


def test_train_the_seed_graph(client):
    state, h = create(client)
    gid = state["id"]
    post(client, gid, "forward", h, {"steps": 3})
    r = client.post(
        f"/api/graphs/{gid}/train", json={"epochs": 100, "learning_rate": 0.5}, headers=h
    )
    assert r.status_code == 200, r.text
    result = r.json()
    TrainResponse.model_validate(result)
    history = result["history"]
    assert history["epoch"] == list(range(1, 101))
    assert history["train_loss"][0] < 0.000701143068523487
    assert history["train_loss"][-1] < 1e-10 and result["final"]["train_loss"] < 1e-10
    assert result["final"]["test_loss"] is None and result["steps"] == 100
    assert result["seconds"] > 0 and result["predictions"] is None
    state = result["state"]
    assert state["version"] == 3 and state["cursor"]["position"] == 0
    assert state["training"]["epochs"] == 100 and state["training"]["optimizer"] == "sgd"
    # the trained params are the graph's values now
    state = post(client, gid, "forward", h, {"all": True})
    assert node(state, "k")["value"] == pytest.approx(result["params"]["k"])
    assert node(state, "loss")["value"] < 1e-10
    last = client.get(f"/api/graphs/{gid}/train").json()
    TrainResult.model_validate(last)
    assert last == {k: v for k, v in result.items() if k != "state"}


def test_train_a_dataset_bound_graph_gives_predictions(client):
    state, h = create(client, boston_linear_spec())
    gid = state["id"]
    assert node(state, "X")["shape"] == [32, 13]
    body = {"epochs": 20, "learning_rate": 0.01, "optimizer": "adam",
            "options": {"beta1": 0.9}, "seed": 3}  # fmt: skip
    r = client.post(f"/api/graphs/{gid}/train", json=body, headers=h)
    assert r.status_code == 200, r.text
    result = r.json()
    TrainResponse.model_validate(result)
    assert result["steps"] == 20 * 13  # 405 training rows in batches of 32
    assert result["history"]["test_loss"][-1] < result["history"]["test_loss"][0]
    predictions = result["predictions"]
    assert predictions["part"] == "test"
    assert len(predictions["y_true"]) == len(predictions["y_pred"]) == 101
    # the same seed gives the same run
    create_again, h2 = create(client, boston_linear_spec())
    again = client.post(f"/api/graphs/{create_again['id']}/train", json=body, headers=h2).json()
    assert again["history"]["train_loss"] == result["history"]["train_loss"]


def test_training_work_is_bounded(make_client):
    from stepgrad.app.protection.work import train_work
    from stepgrad.engine.graph import Graph

    graph = Graph.from_spec(boston_linear_spec())
    hundred, fifty_full = train_work(graph, 100), train_work(graph, 50, batch_size=405)
    assert fifty_full < hundred
    client = make_client(max_train_work=fifty_full)
    state, h = create(client, boston_linear_spec())
    gid = state["id"]
    r = client.post(f"/api/graphs/{gid}/train", json={"epochs": 100}, headers=h)
    assert r.status_code == 413
    detail = r.json()["detail"]
    assert f"{hundred:,} element operations" in detail and f"limit is {fifty_full:,}" in detail
    r = client.post(f"/api/graphs/{gid}/train", json={"epochs": 10**12}, headers=h)
    assert r.status_code == 413
    r = client.post(f"/api/graphs/{gid}/train", json={"epochs": 50, "batch_size": 405}, headers=h)
    assert r.status_code == 200
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"epochs": 0},
        {"epochs": 1, "optimizer": "lbfgs"},
        {"epochs": 1, "optimizer": "sgd", "options": {"momentum": 0.9}},
        {"epochs": 1, "optimizer": "random_search", "options": {"low": 1.0, "high": -1.0}},
        {"epochs": 1, "learning_rate": -1},
        {"epochs": 1, "batch_size": 0},
        {"epochs": 1, "seed": -1},
        {"epochs": "many"},
    ],
)
def test_bad_training_requests_are_422_and_change_nothing(client, body):
    state, h = create(client)
    gid = state["id"]
    r = client.post(f"/api/graphs/{gid}/train", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 1
    assert client.get(f"/api/graphs/{gid}/train").status_code == 404


def test_a_graph_without_params_cannot_train(client):
    state, h = create(client, {"nodes": [{"id": "x", "op": "input", "value": 1.0},
                                         {"id": "e", "op": "exp", "inputs": ["x"]}]})  # fmt: skip
    r = client.post(f"/api/graphs/{state['id']}/train", json={"epochs": 1}, headers=h)
    assert r.status_code == 422 and "no param" in r.json()["detail"]


def test_random_search_baseline(client):
    state, h = create(client)
    body = {"epochs": 200, "optimizer": "random_search", "options": {"low": -1, "high": 1}}
    r = client.post(f"/api/graphs/{state['id']}/train", json=body, headers=h)
    assert r.status_code == 200
    losses = r.json()["history"]["train_loss"]
    assert all(b <= a for a, b in itertools.pairwise(losses))


def test_reads_are_not_blocked_by_a_long_training_run(make_client):
    client = make_client(lock_timeout_seconds=0.2)
    state, h = create(client, {"example": "two_layer"})
    gid = state["id"]
    done = {}

    def train():
        r = client.post(f"/api/graphs/{gid}/train", json={"epochs": 40_000}, headers=h)
        done["status"] = r.status_code

    thread = threading.Thread(target=train)
    thread.start()
    graphs = client.app.state.services.graphs
    deadline = time.monotonic() + 30
    while not graphs._sessions[gid].lock.locked() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert thread.is_alive(), "training finished too soon to test anything"
    # answered while the training holds the lock (a read that waited for it would get a 409
    # after lock_timeout_seconds), as the forward below shows it still does
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 1
    assert client.get(f"/api/graphs/{gid}/export").status_code == 200
    r = client.post(f"/api/graphs/{gid}/forward", headers=h)
    assert r.status_code == 409 and "busy" in r.json()["detail"]
    thread.join()
    assert done["status"] == 200
    assert client.get(f"/api/graphs/{gid}").json()["version"] == 2


def test_training_after_a_bound_input_was_given_a_fixed_value_is_a_422_naming_the_node(client):
    state, h = create(client, boston_linear_spec())
    gid = state["id"]
    # X loses its binding and keeps 32 rows, while y still brings all 405 training rows
    fixed = {"values": {"X": [[1.0] * 13] * 32}}
    r = client.put(f"/api/graphs/{gid}/values", json=fixed, headers=h)
    assert r.status_code == 200, r.text
    before = client.get(f"/api/graphs/{gid}").json()
    r = client.post(f"/api/graphs/{gid}/train", json={"epochs": 2}, headers=h)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "Node 'loss' (mse)" in detail and "[405, 1] and [32, 1]" in detail
    assert client.get(f"/api/graphs/{gid}").json()["version"] == before["version"]
