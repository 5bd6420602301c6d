"""Training bound graphs: determinism, optimizers, random search, the race with PyTorch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stepgrad.engine.errors import GraphError, StepgradError
from stepgrad.engine.graph import Graph
from stepgrad.engine.run import Run
from stepgrad.engine.training import steps_per_epoch, train
from tests.helpers import SEED_SPEC, boston_spec

BIND = {"dataset": "boston", "test_fraction": 0.2, "seed": 0, "standardize": True,
        "batch_size": 32}  # fmt: skip


def test_bound_inputs_hold_a_real_mini_batch():
    graph = Graph.from_spec(boston_spec())
    assert graph.shapes["X"] == (32, 13) and graph.shapes["y"] == (32, 1)
    assert graph.shapes["h"] == (32, 10)
    run = Run(graph)
    run.run_all()
    assert run.grad("W1").shape == (13, 10)
    # the bound spec round-trips, binding included, and gives the same batch
    again = Graph.from_spec(graph.to_spec())
    np.testing.assert_array_equal(again.nodes["X"].value, graph.nodes["X"].value)
    assert again.to_spec() == graph.to_spec()


def test_features_and_target_see_the_same_rows():
    from stepgrad.engine.datasets import load, split

    graph = Graph.from_spec(boston_spec())
    data = split(load("boston"), test_fraction=0.2, seed=0, standardize=True)
    x, y = graph.nodes["X"].value, graph.nodes["y"].value
    rows = [int(np.flatnonzero((data.x_train == row).all(axis=1))[0]) for row in x]
    np.testing.assert_array_equal(data.y_train[rows], y)


def test_selected_columns_and_errors():
    spec = {"nodes": [
        {"id": "rm", "op": "input", "bind": {**BIND, "role": "features", "columns": ["RM"]}},
        {"id": "s", "op": "sum", "inputs": ["rm"]},
    ]}  # fmt: skip
    assert Graph.from_spec(spec).shapes["rm"] == (32, 1)
    spec["nodes"][0]["bind"]["columns"] = ["ROOMS"]
    with pytest.raises(GraphError, match=r"no column.*ROOMS.*RM"):
        Graph.from_spec(spec)
    spec["nodes"][0]["bind"] = {**BIND, "dataset": "nope"}
    with pytest.raises(GraphError, match="nope"):
        Graph.from_spec(spec)
    spec["nodes"][0]["bind"] = {**BIND, "role": "label"}
    with pytest.raises(GraphError, match="role 'label'"):
        Graph.from_spec(spec)


def test_training_boston_beats_the_mean_predictor_quickly():
    graph = Graph.from_spec(boston_spec())
    result = train(graph, epochs=60, learning_rate=0.01, seed=0)
    assert result["steps"] == 60 * steps_per_epoch(graph) == 60 * 13
    history = result["history"]
    assert len(history["test_loss"]) == 60
    assert history["test_loss"][-1] < 25 < 84 < history["test_loss"][0] + 84
    assert result["final"]["test_loss"] == pytest.approx(history["test_loss"][-1])
    pred = result["predictions"]
    assert pred["part"] == "test" and len(pred["y_true"]) == len(pred["y_pred"]) == 101
    assert np.mean((np.array(pred["y_true"]) - np.array(pred["y_pred"])) ** 2) == pytest.approx(
        result["final"]["test_loss"]
    )
    # the trained graph carries the new params and still its binding
    trained = result["graph"]
    np.testing.assert_array_equal(trained.nodes["W1"].value, result["params"]["W1"])
    assert trained.nodes["X"].bind == graph.nodes["X"].bind


def test_training_is_deterministic_for_a_seed():
    graph = Graph.from_spec(boston_spec())
    a = train(graph, epochs=3, seed=5)
    b = train(graph, epochs=3, seed=5)
    c = train(graph, epochs=3, seed=6)
    assert a["history"]["train_loss"] == b["history"]["train_loss"]
    assert a["history"]["train_loss"] != c["history"]["train_loss"]


@pytest.mark.parametrize(("optimizer", "lr"), [("momentum", 0.005), ("adam", 0.05)])
def test_other_optimizers_train(optimizer, lr):
    graph = Graph.from_spec(boston_spec())
    result = train(graph, epochs=20, optimizer=optimizer, learning_rate=lr)
    assert result["final"]["test_loss"] < 30


def test_random_search_against_gradient_descent_same_evaluations():
    # the course's Day 1: price = k * rm + b
    spec = {"nodes": [
        {"id": "rm", "op": "input",
         "bind": {**BIND, "role": "features", "columns": ["RM"], "standardize": False}},
        {"id": "price", "op": "input", "bind": {**BIND, "role": "target", "standardize": False}},
        {"id": "k", "op": "param", "value": 0.0},
        {"id": "b", "op": "param", "value": 0.0},
        {"id": "yhat", "op": "linear", "inputs": ["rm", "k", "b"]},
        {"id": "loss", "op": "mse", "inputs": ["price", "yhat"]},
    ]}  # fmt: skip
    graph = Graph.from_spec(spec)
    search = train(graph, epochs=20, optimizer="random_search", options={"low": -50, "high": 50})
    descent = train(graph, epochs=20, optimizer="sgd", learning_rate=0.01)
    assert search["steps"] == descent["steps"]
    losses = search["history"]["train_loss"]
    assert all(b <= a for a, b in itertools.pairwise(losses))  # it keeps the best
    assert search["final"]["train_loss"] < 200
    assert descent["final"]["train_loss"] < 100


def test_full_batch_training_without_a_dataset():
    result = train(Graph.from_spec(SEED_SPEC), epochs=50, learning_rate=1.0)
    assert result["steps"] == 50 and result["final"]["test_loss"] is None
    assert result["history"]["train_loss"][-1] < result["history"]["train_loss"][0]
    assert result["predictions"] is None


def test_on_epoch_callback_and_bad_arguments():
    rows = []
    train(Graph.from_spec(SEED_SPEC), epochs=3, on_epoch=rows.append)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["epochs"] == 3
    with pytest.raises(StepgradError, match="epochs must be a whole number"):
        train(Graph.from_spec(SEED_SPEC), epochs=0)
    with pytest.raises(StepgradError, match="Unknown optimizer"):
        train(Graph.from_spec(SEED_SPEC), optimizer="lbfgs")
    no_params = {"nodes": [{"id": "x", "op": "input", "value": 1.0}]}
    with pytest.raises(GraphError, match="no param"):
        train(Graph.from_spec(no_params))


@pytest.mark.torch
def test_trajectory_equals_pytorch(torch):
    """Same init, same batches, plain SGD: the engine's weights follow PyTorch's."""
    from stepgrad.engine.datasets import batches, load, split

    spec = boston_spec(hidden=6)
    graph = Graph.from_spec(spec)
    result = train(graph, epochs=5, learning_rate=0.01, seed=3, evaluate_test=False)

    data = split(load("boston"), test_fraction=0.2, seed=0, standardize=True)
    w = {n["id"]: np.array(n["value"]) for n in spec["nodes"] if n["op"] == "param"}
    model = torch.nn.Sequential(torch.nn.Linear(13, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 1))
    model = model.double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(w["W1"].T))
        model[0].bias.copy_(torch.from_numpy(w["b1"]))
        model[2].weight.copy_(torch.from_numpy(w["W2"].T))
        model[2].bias.copy_(torch.from_numpy(w["b2"]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    rng = np.random.default_rng(3)
    for _ in range(5):
        for idx in batches(len(x), 32, rng):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            opt.step()
    np.testing.assert_allclose(
        result["params"]["W1"], model[0].weight.detach().numpy().T, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(result["params"]["b2"], model[2].bias.detach().numpy(), rtol=1e-9)


def test_divergence_is_a_clear_error():
    with pytest.raises(StepgradError, match=r"diverged at epoch .*Lower the learning rate"):
        train(Graph.from_spec(boston_spec()), epochs=20, learning_rate=1e6)
