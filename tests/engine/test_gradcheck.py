"""Gradient check: central differences against backward."""

from __future__ import annotations

import numpy as np

from stepgrad.engine.gradcheck import gradcheck
from stepgrad.engine.graph import Graph
from tests.helpers import SEED_SPEC, spec_with


def test_seed_example_checks_params_and_inputs():
    report = gradcheck(Graph.from_spec(SEED_SPEC))
    assert [r["node"] for r in report["nodes"]] == ["x", "y", "k", "b"]
    assert report["max_rel_error"] < 1e-7
    k = report["nodes"][2]
    assert abs(k["analytic"][0] - k["numeric"][0]) < 1e-9


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    from stepgrad.engine import ops

    graph = Graph.from_spec(SEED_SPEC)
    # a sigmoid backward that forgets the (1 - s) factor must be caught
    monkeypatch.setattr(ops.Sigmoid, "backward", lambda self, g, out, xs, a, need: [g * out])
    assert gradcheck(graph)["max_rel_error"] > 0.1


def test_large_tensors_are_sampled_deterministically():
    rng = np.random.default_rng(0)
    spec = spec_with(
        {"id": "w", "op": "param", "value": rng.normal(size=(40, 50)).tolist()},
        {"id": "t", "op": "tanh", "inputs": ["w"]},
        {"id": "s", "op": "sum", "inputs": ["t"]},
    )
    graph = Graph.from_spec(spec)
    a = gradcheck(graph, max_elements=100, seed=1)
    b = gradcheck(graph, max_elements=100, seed=1)
    assert a["nodes"][0]["checked"] == 100
    np.testing.assert_array_equal(a["nodes"][0]["numeric"], b["nodes"][0]["numeric"])
    assert a["max_rel_error"] < 1e-6


def _line(k: float, b: float) -> Graph:
    return Graph.from_spec(
        spec_with(
            {"id": "x", "op": "input", "value": [4.0, 6.0, 8.0]},
            {"id": "y", "op": "input", "value": [20.0, 24.0, 30.0]},
            {"id": "k", "op": "param", "value": k},
            {"id": "b", "op": "param", "value": b},
            {"id": "yhat", "op": "linear", "inputs": ["x", "k", "b"]},
            {"id": "loss", "op": "mse", "inputs": ["y", "yhat"]},
        )
    )


def test_healthy_checks_agree():
    assert gradcheck(Graph.from_spec(SEED_SPEC))["verdict"] == "agree"
    assert gradcheck(_line(3.0, 1.0))["verdict"] == "agree"


def test_a_diverged_loss_is_inconclusive_not_agreement():
    # the state of "price = k * rm + b" trained at too large a learning rate: loss ~ 1e88
    report = gradcheck(_line(-1.2e43, 1e42))
    assert report["verdict"] == "inconclusive"
    assert "round away" in report["reason"]


def test_a_non_finite_output_is_inconclusive():
    report = gradcheck(
        Graph.from_spec(
            spec_with(
                {"id": "a", "op": "param", "value": 800.0},
                {"id": "e", "op": "exp", "inputs": ["a"]},
                {"id": "d", "op": "sub", "inputs": ["e", "e"]},
            )
        )
    )
    assert report["verdict"] == "inconclusive" and "not finite" in report["reason"]


def test_a_nan_gradient_where_the_slope_is_finite_disagrees():
    report = gradcheck(
        Graph.from_spec(
            spec_with(
                {"id": "a", "op": "param", "value": 0.0},
                {"id": "s", "op": "square", "inputs": ["a"]},
                {"id": "r", "op": "sqrt", "inputs": ["s"]},
            )
        )
    )
    assert report["verdict"] == "disagree"
    assert "NaN or infinite" in report["reason"]
    assert report["max_rel_error"] == np.inf


def test_a_wrong_gradient_disagrees(monkeypatch):
    from stepgrad.engine import ops

    monkeypatch.setattr(ops.Sigmoid, "backward", lambda self, g, out, xs, a, need: [g * out])
    assert gradcheck(Graph.from_spec(SEED_SPEC))["verdict"] == "disagree"
