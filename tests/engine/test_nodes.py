"""The Python API in the course's style: Placeholder, Parameter, Linear, Sigmoid, MSE."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine import (
    MSE,
    Graph,
    Linear,
    Parameter,
    Placeholder,
    Run,
    Sigmoid,
    apply,
    gradcheck,
)
from stepgrad.engine.optim import SGD
from tests.helpers import SEED_SPEC


def test_course_classes_build_the_seed_graph():
    x, y = Placeholder("x", 3.0), Placeholder("y", 0.71)
    k, b = Parameter("k", 0.09), Parameter("b", 0.5)
    loss = MSE(y, Sigmoid(Linear(x, k, b, name="linear"), name="sigmoid"), name="loss")
    graph = loss.graph("seed example")
    assert graph.order == Graph.from_spec(SEED_SPEC).order
    spec = graph.to_spec()
    assert spec == SEED_SPEC


def test_operator_overloading_matches_linear():
    x, y = Placeholder("x", 3.0), Placeholder("y", 0.71)
    k, b = Parameter("k", 0.09), Parameter("b", 0.5)
    a = Run(MSE(y, Sigmoid(k * x + b)).graph())
    c = Run(MSE(y, Sigmoid(Linear(x, k, b))).graph())
    a.run_all()
    c.run_all()
    for nid in ("k", "b", "x"):
        assert float(a.grad(nid)) == pytest.approx(float(c.grad(nid)), rel=1e-14)


def test_numbers_become_constants_and_ids_are_generated():
    x = Placeholder("x", 2.0)
    f = 3 * x * x - x / 2 + 1
    spec = f.to_spec()
    ops = [n["op"] for n in spec["nodes"]]
    assert ops.count("const") == 3
    ids = [n["id"] for n in spec["nodes"]]
    assert len(set(ids)) == len(ids) and "mul_1" in ids
    run = Run(f.graph())
    run.run_all()
    assert float(run.grad("x")) == pytest.approx(6 * 2.0 - 0.5)


def test_generated_ids_do_not_collide_with_user_names():
    x = Placeholder("mul_1", 1.0)
    f = x * x
    ids = [n["id"] for n in f.to_spec()["nodes"]]
    assert ids == ["mul_1", "mul_2"]


def test_training_a_small_mlp_in_the_course_style():
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(32, 3))
    y_ = (X_ @ np.array([[1.0], [-2.0], [0.5]])) + 0.3
    X, y = Placeholder("X", X_), Placeholder("y", y_)
    W1, b1 = Parameter("W1", rng.normal(size=(3, 4)) * 0.5), Parameter("b1", np.zeros(4))
    W2, b2 = Parameter("W2", rng.normal(size=(4, 1)) * 0.5), Parameter("b2", np.zeros(1))
    loss = MSE(y, Linear(Sigmoid(Linear(X, W1, b1)), W2, b2))
    graph = loss.graph()
    assert gradcheck(graph)["max_rel_error"] < 1e-6
    run = Run(graph)
    run.run_all()
    first = float(run.value(graph.output))
    for _ in range(200):
        run.update(SGD(0.1))
        run.run_all()
    assert float(run.value(graph.output)) < first / 3


def test_apply_any_op_with_attrs():
    m = Placeholder("m", [[1.0, 2.0], [3.0, 4.0]])
    s = apply("sum", apply("relu", m), axis=0, name="s")
    run = Run(s.graph())
    run.run_all()
    assert run.value("s").tolist() == [4.0, 6.0]


def test_unnamed_tensor_constants_get_a_short_label():
    from stepgrad.engine.nodes import Constant

    p = Parameter("p", np.ones((10, 10)))
    run = Run((p * np.full((10, 10), 2.0)).graph())
    run.run_all()
    assert run.grad("p").tolist() == np.full((10, 10), 2.0).tolist()
    assert Constant(np.full((10, 10), 2.0)).label == "const 10x10"
    assert Constant([1.0, 2.0]).label == "[1.0, 2.0]"
    assert Constant(0.5).label == "0.5"
