"""engine/reference.py, the course's classes in one file, gives the engine's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine import examples, race
from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import SGD
from stepgrad.engine.reference import (
    MSE,
    Linear,
    Placeholder,
    Sigmoid,
    forward_and_backward,
    sgd_update,
    topological_sort,
)
from stepgrad.engine.run import Run
from stepgrad.engine.training import train


def test_the_seed_graph_steps_and_descends_as_the_engine_does():
    x, y, k, b = (Placeholder(n) for n in "xykb")
    h = Linear(x, k, b)
    s = Sigmoid(h)
    loss = MSE(y, s)
    feed = {x: 3.0, y: 0.71, k: 0.09, b: 0.5}
    graph = topological_sort(feed)
    assert graph[:4] == [x, y, k, b] and graph[4:] == [h, s, loss]

    run = Run(Graph.from_spec(examples.load_example("seed")))
    for _ in range(5):
        forward_and_backward(graph)
        run.run_all()
        assert loss.value == run.value("loss")
        for node, nid in ((h, "linear"), (s, "sigmoid")):
            assert node.value == run.value(nid)
        for node in (x, y, k, b):
            assert node.gradients[node] == pytest.approx(run.grad(node.name), rel=1e-15)
        sgd_update([k, b], learning_rate=0.1)
        run.update(SGD(0.1))
        new = run.graph.nodes
        assert [float(k.value), float(b.value)] == pytest.approx(
            [float(new["k"].value), float(new["b"].value)], rel=1e-15
        )
    assert k.gradients[k] != 0.0


def test_a_node_used_twice_gets_both_shares():
    a, w, b = Placeholder("a"), Placeholder("w"), Placeholder("b")
    out = MSE(Linear(a, w, b), Sigmoid(a))
    forward_and_backward(topological_sort({a: 0.3, w: 2.0, b: 0.1}))
    s = 1 / (1 + np.exp(-0.3))
    d = s - (0.3 * 2.0 + 0.1)
    assert out.value == pytest.approx(d * d)
    assert a.gradients[a] == pytest.approx(2 * d * (s * (1 - s) - 2.0))


def test_a_cycle_is_refused():
    a = Placeholder("a")
    s = Sigmoid(a)
    t = Sigmoid(s)
    s.inputs.append(t)
    t.outputs.append(s)
    with pytest.raises(ValueError, match="cycle"):
        topological_sort({a: 1.0})


def test_the_boston_network_trains_as_the_engine_does():
    weights = race.initial_weights(hidden=10)
    epochs, batch = 3, 32
    engine = train(
        Graph.from_spec(race.boston_mlp_spec(weights, batch)),
        epochs=epochs, learning_rate=race.LEARNING_RATE, seed=race.SEED, evaluate_test=False,
    )  # fmt: skip

    data = race.boston_split()
    X, y = Placeholder("X"), Placeholder("y")
    params = {name: Placeholder(name) for name in ("W1", "b1", "W2", "b2")}
    loss = MSE(y, Linear(Sigmoid(Linear(X, params["W1"], params["b1"])), params["W2"],
                         params["b2"]))  # fmt: skip
    values = {name: w.copy() for name, w in weights.items()}
    losses = []
    for order in race.epoch_orders(len(data.x_train), batch, epochs):
        for idx in order:
            feed = {X: data.x_train[idx], y: data.y_train[idx]}
            feed.update({p: values[name] for name, p in params.items()})
            forward_and_backward(topological_sort(feed))
            losses.append(float(loss.value))
            sgd_update(params.values(), race.LEARNING_RATE)
            values = {name: p.value for name, p in params.items()}
    assert len(losses) == engine["steps"]
    for name, value in values.items():
        np.testing.assert_allclose(value, engine["params"][name], rtol=1e-12, atol=1e-14)
