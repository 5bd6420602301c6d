"""Kahn's algorithm step by step, cycles included."""

from __future__ import annotations

import pytest

from stepgrad.engine.errors import GraphError
from stepgrad.engine.graph import Graph
from stepgrad.engine.toposort import graph_kahn_steps, kahn_steps
from tests.helpers import SEED_SPEC


def test_steps_reproduce_the_engine_order():
    graph = Graph.from_spec(SEED_SPEC)
    result = graph_kahn_steps(graph)
    assert result["complete"] and result["stuck"] is None
    assert result["order"] == graph.order
    first = result["steps"][0]
    assert first["ready"] == ["x", "y", "k", "b"] and first["take"] == "x"
    assert first["removed"] == [["x", "linear"]]
    # linear becomes ready only once x, k and b are taken
    assert [s["ready"] for s in result["steps"]][4] == ["linear"]


def test_a_chosen_order_is_followed_and_checked():
    graph = Graph.from_spec(SEED_SPEC)
    result = graph_kahn_steps(graph, choose=["b", "k", "y", "x"])
    assert result["order"][:4] == ["b", "k", "y", "x"]
    with pytest.raises(GraphError, match="'linear' is not ready at step 1"):
        graph_kahn_steps(graph, choose=["linear"])


def test_a_cycle_blocks_the_sort_and_is_named():
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b"), ("d", "e")]
    result = kahn_steps(nodes, edges)
    assert not result["complete"]
    assert result["order"] == ["a"]
    assert result["steps"][0]["removed"] == [["a", "b"]]
    assert result["stuck"]["remaining"] == ["b", "c", "d", "e"]
    assert sorted(result["stuck"]["cycle"]) == ["b", "c", "d"]


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        (["a", "a"], [], "used twice"),
        (["a"], [("a", "z")], "'z', which is not a node"),
        (["a"], [("a",)], "not a \\[source, target\\] pair"),
        (["1a"], [], "identifier-like"),
    ],
)
def test_bad_graphs(nodes, edges, message):
    with pytest.raises(GraphError, match=message):
        kahn_steps(nodes, edges)
