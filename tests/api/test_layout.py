"""The layered layout: layers, crossing reduction, coordinates, determinism, speed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stepgrad.app.live.layout import (
    SPACING_Y,
    TENSOR_ROWS,
    count_inversions,
    count_segment_crossings,
    generations,
    graph_layout,
    layered_layout,
)
from stepgrad.engine.graph import Graph
from tests.helpers import SEED_SPEC


def random_dag(n: int, seed: int, fan_in: int = 2, window: int | None = None):
    """n nodes in topological order; each non-leaf takes up to `fan_in` earlier nodes."""
    rng = np.random.default_rng(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = []
    leaves = max(2, n // 10)
    for i in range(leaves, n):
        low = 0 if window is None else max(0, i - window)
        k = min(int(rng.integers(1, fan_in + 1)), i - low)
        for j in rng.choice(np.arange(low, i), size=k, replace=False):
            edges.append((nodes[int(j)], nodes[i]))
    return nodes, edges


def brute_force_crossings(layout, nodes, edges) -> int:
    """Crossings of the drawn polylines, segment by segment, by definition."""
    points = {}
    for u, v in set(edges):
        chain = [(layout.x[u], layout.y[u])]
        chain += layout.points.get((u, v), [])
        chain.append((layout.x[v], layout.y[v]))
        points[(u, v)] = chain
    segments = [(a, b) for chain in points.values() for a, b in itertools.pairwise(chain)]
    count = 0
    for (a1, b1), (a2, b2) in itertools.combinations(segments, 2):
        if a1[0] != a2[0]:
            continue  # different layer gaps
        if a1[1] == a2[1] or b1[1] == b2[1]:
            continue  # a shared end is not a crossing
        if (a1[1] < a2[1]) != (b1[1] < b2[1]):
            count += 1
    return count


def test_inversions_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = rng.integers(0, 12, size=int(rng.integers(0, 50)))
        want = sum(1 for i, j in itertools.combinations(range(len(a)), 2) if a[i] > a[j])
        assert count_inversions(a) == want


def test_barycenter_removes_a_crossing():
    # a -> d and b -> c cross when both layers keep the spec order
    nodes = ["a", "b", "c", "d"]
    edges = [("a", "d"), ("b", "c")]
    layout = layered_layout(nodes, edges)
    assert layout.initial_crossings == 1
    assert layout.crossings == 0
    assert layout.y["d"] < layout.y["c"]
    assert layout.layer == {"a": 0, "b": 0, "c": 1, "d": 1}


def test_coordinates_left_to_right_and_centred():
    graph = Graph.from_spec(SEED_SPEC)
    layout = graph_layout(graph)
    assert layout.layer == graph.layers
    assert [layout.x[n] for n in ("x", "linear", "sigmoid", "loss")] == [0.0, 160.0, 320.0, 480.0]
    # the leaf y is a generation-0 node drawn beside its one consumer, the loss: the first
    # column holds 3 nodes, centred on 0, and y -> loss needs no waypoint
    assert layout.layer["y"] == 0 and layout.column["y"] == 2 and layout.x["y"] == 320.0
    assert sorted(layout.y[n] for n in ("x", "k", "b")) == [-80.0, 0.0, 80.0]
    assert ("y", "loss") not in layout.points
    assert layout.crossings == 0


def test_a_leaf_is_drawn_beside_its_first_consumer():
    # c feeds d (layer 2) and e (layer 3): one column left of d; a feeds nothing: column 0
    nodes = ["a", "b", "c", "m", "d", "e"]
    edges = [("b", "m"), ("m", "d"), ("c", "d"), ("d", "e"), ("c", "e")]
    layout = layered_layout(nodes, edges)
    assert layout.layer == {"a": 0, "b": 0, "c": 0, "m": 1, "d": 2, "e": 3}
    assert layout.column == {"a": 0, "b": 0, "c": 1, "m": 1, "d": 2, "e": 3}
    # the long edge c -> e has waypoints only in the columns it crosses
    assert [p[0] for p in layout.points[("c", "e")]] == [320.0]


def test_generations_match_the_engine():
    nodes, edges = random_dag(300, seed=3)
    g = Graph.from_spec(
        {
            "nodes": [
                {"id": n, "op": "input", "value": 1.0}
                if not any(v == n for _, v in edges)
                else {
                    "id": n,
                    "op": "sum",
                    "inputs": [u for u, v in edges if v == n][:1],
                }
                for n in nodes
            ],
            "output": nodes[-1],
        }
    )
    assert generations(g.order, [(s, t) for s, t, _ in g.edges]) == g.layers


@pytest.mark.parametrize("seed", range(8))
def test_crossings_never_increase_and_match_a_brute_force_count(seed):
    nodes, edges = random_dag(60, seed, window=None if seed % 2 else 8)
    layout = layered_layout(nodes, edges)
    assert layout.crossings <= layout.initial_crossings
    assert brute_force_crossings(layout, nodes, edges) == layout.crossings
    # no two nodes of a layer share a place
    places = {(layout.x[n], layout.y[n]) for n in nodes}
    assert len(places) == len(nodes)


def test_crossings_drop_on_random_dags():
    before = after = 0
    for seed in range(5):
        nodes, edges = random_dag(200, seed, window=20)
        layout = layered_layout(nodes, edges)
        before += layout.initial_crossings
        after += layout.crossings
    assert after < 0.8 * before


def test_deterministic():
    nodes, edges = random_dag(300, seed=5)
    a = layered_layout(nodes, edges)
    b = layered_layout(list(nodes), list(edges))
    assert a == b


def test_segment_crossings_of_parallel_and_shared_ends():
    # two segments sharing an end never cross; opposite orders do
    assert count_segment_crossings([0, 0], [0, 0], [0, 1]) == 0
    assert count_segment_crossings([0, 0], [0, 1], [1, 0]) == 1
    assert count_segment_crossings([0, 1], [0, 1], [1, 0]) == 0  # different layer gaps


def test_2000_nodes_are_laid_out_with_fewer_crossings():
    # how long it takes: bench/layout.py (layout_2000_ms)
    nodes, edges = random_dag(2000, seed=0)
    layout = layered_layout(nodes, edges)
    assert len(layout.x) == 2000 and layout.crossings < layout.initial_crossings


def test_a_column_is_stacked_by_the_heights_of_its_nodes():
    # a tensor node (TENSOR_ROWS tall) and two scalar ones in one column: each pair of
    # neighbours apart by the mean of their heights, the column centred on 0
    nodes = ["t", "a", "b", "out"]
    edges = [("t", "out"), ("a", "out"), ("b", "out")]
    layout = layered_layout(nodes, edges, heights={"t": TENSOR_ROWS})
    y = sorted((layout.y[n], n) for n in ("t", "a", "b"))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(y)]
    assert [n for _, n in y] == ["t", "a", "b"]
    assert gaps == pytest.approx([(TENSOR_ROWS + 1) / 2 * SPACING_Y, SPACING_Y])
    assert y[0][0] == pytest.approx(-y[-1][0])
