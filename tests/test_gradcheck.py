"""Gradient check: central differences against backward."""

from __future__ import annotations

import numpy as np

from engine.gradcheck import gradcheck
from engine.graph import Graph

from .test_graph import SEED_SPEC, spec_with


def test_seed_example_checks_params_and_inputs():
    report = gradcheck(Graph.from_spec(SEED_SPEC))
    assert [r["node"] for r in report["nodes"]] == ["x", "y", "k", "b"]
    assert report["max_rel_error"] < 1e-7
    k = report["nodes"][2]
    assert abs(k["analytic"][0] - k["numeric"][0]) < 1e-9


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    from engine import ops

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
