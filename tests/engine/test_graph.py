"""Graph construction: validation, order, layers, shapes, spec round trip."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine.errors import CycleError, GraphError, LimitError, ShapeError, TensorError
from stepgrad.engine.graph import Graph, Limits
from tests.helpers import SEED_SPEC, spec_with


def test_seed_example_order_layers_output_shapes():
    g = Graph.from_spec(SEED_SPEC)
    assert g.order == ["x", "y", "k", "b", "linear", "sigmoid", "loss"]
    assert g.output == "loss"
    assert g.layers == {"x": 0, "y": 0, "k": 0, "b": 0, "linear": 1, "sigmoid": 2, "loss": 3}
    assert all(shape == () for shape in g.shapes.values())
    assert g.params == ["k", "b"]
    assert g.edges[:3] == [("x", "linear", 0), ("k", "linear", 1), ("b", "linear", 2)]


def test_order_is_deterministic_and_follows_the_spec_where_free():
    nodes = [
        {"id": "b", "op": "input", "value": 1.0},
        {"id": "a", "op": "input", "value": 2.0},
        {"id": "s", "op": "add", "inputs": ["a", "b"]},
    ]
    orders = {tuple(Graph.from_spec(spec_with(*nodes)).order) for _ in range(5)}
    assert orders == {("b", "a", "s")}
    # spec order is kept even when the consumer is listed before its inputs
    g = Graph.from_spec(spec_with(nodes[2], nodes[0], nodes[1]))
    assert g.order == ["b", "a", "s"]


def test_round_trip_is_identical():
    g = Graph.from_spec(SEED_SPEC)
    again = Graph.from_spec(g.to_spec())
    assert again.to_spec() == g.to_spec() == SEED_SPEC
    assert again.order == g.order
    for nid in g.order:
        a, b = g.nodes[nid], again.nodes[nid]
        assert (a.op, a.inputs, a.label) == (b.op, b.inputs, b.label)
        if a.value is not None:
            np.testing.assert_array_equal(a.value, b.value)


def test_round_trip_keeps_tensors_attrs_labels_and_output():
    spec = spec_with(
        {"id": "m", "op": "input", "value": [[1.0, 2.0], [3.0, 4.0]], "label": "M <b>"},
        {"id": "s", "op": "sum", "inputs": ["m"], "attrs": {"axis": 0}},
        {"id": "t", "op": "tanh", "inputs": ["m"]},
        output="s",
    )
    g = Graph.from_spec(spec)
    assert g.to_spec() == spec
    assert g.shapes["s"] == (2,)


def test_cycle_error_names_its_nodes():
    spec = spec_with(
        {"id": "x", "op": "input", "value": 1.0},
        {"id": "a", "op": "add", "inputs": ["x", "c"]},
        {"id": "b", "op": "neg", "inputs": ["a"]},
        {"id": "c", "op": "exp", "inputs": ["b"]},
        {"id": "out", "op": "neg", "inputs": ["c"]},
    )
    with pytest.raises(CycleError) as info:
        Graph.from_spec(spec)
    assert sorted(info.value.cycle) == ["a", "b", "c"]
    assert "cycle" in str(info.value) and "a" in str(info.value) and "c" in str(info.value)


def test_self_loop_is_a_cycle():
    with pytest.raises(CycleError, match="a -> a"):
        Graph.from_spec(spec_with({"id": "a", "op": "neg", "inputs": ["a"]}))


@pytest.mark.parametrize(
    ("nodes", "extra", "message"),
    [
        ([{"id": "1x", "op": "input", "value": 1}], {}, "not identifier-like"),
        ([{"id": "a" * 65, "op": "input", "value": 1}], {}, "longer than 64"),
        (
            [{"id": "a", "op": "input", "value": 1}, {"id": "a", "op": "input", "value": 2}],
            {},
            "used twice",
        ),
        ([{"id": "a", "op": "frobnicate"}], {}, "unknown op 'frobnicate'"),
        ([{"id": "a", "op": "neg", "inputs": ["ghost"]}], {}, "'ghost', which does not exist"),
        (
            [{"id": "x", "op": "input", "value": 1}, {"id": "a", "op": "add", "inputs": ["x"]}],
            {},
            r"takes 2 input\(s\), got 1",
        ),
        ([{"id": "a", "op": "param"}], {}, "needs a value"),
        (
            [
                {"id": "x", "op": "input", "value": 1},
                {"id": "a", "op": "neg", "inputs": ["x"], "value": 3},
            ],
            {},
            "cannot take a value",
        ),
        (
            [{"id": "x", "op": "input", "value": 1}, {"id": "y", "op": "input", "value": 1}],
            {},
            "2 nodes that feed nothing",
        ),
        ([{"id": "x", "op": "input", "value": 1}], {"output": "nope"}, "'nope' is not a node"),
        ([{"id": "x", "op": "input", "value": 1, "colour": "red"}], {}, "unknown field"),
        (
            [
                {"id": "x", "op": "input", "value": 1},
                {"id": "s", "op": "sum", "inputs": ["x"], "attrs": {"axes": 1}},
            ],
            {},
            "unknown attribute",
        ),
        ([], {}, "non-empty list of nodes"),
    ],
)
def test_invalid_specs_are_rejected_with_a_sentence(nodes, extra, message):
    with pytest.raises(GraphError, match=message):
        Graph.from_spec(spec_with(*nodes, **extra))


def test_shape_error_names_node_and_both_shapes():
    spec = spec_with(
        {"id": "A", "op": "input", "value": [[1, 2, 3]]},
        {"id": "B", "op": "input", "value": [[1, 2]]},
        {"id": "P", "op": "matmul", "inputs": ["A", "B"]},
    )
    with pytest.raises(ShapeError) as info:
        Graph.from_spec(spec)
    message = str(info.value)
    assert "'P'" in message and "A [1, 3]" in message and "B [1, 2]" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1, 2], [3]], "not a rectangular tensor"),
        ("3", "contains str"),
        (True, "boolean"),
        ([1.0, float("nan")], "non-finite"),
        ([1.0, float("inf")], "non-finite"),
        ({"a": 1}, "contains dict"),
    ],
)
def test_bad_values_are_rejected(value, message):
    with pytest.raises(TensorError, match=message):
        Graph.from_spec(spec_with({"id": "x", "op": "input", "value": value}))


def test_limits_are_enforced():
    with pytest.raises(TensorError, match="limit is 10 per tensor"):
        Graph.from_spec(
            spec_with({"id": "x", "op": "input", "value": [0.0] * 11}), Limits(max_elements=10)
        )
    with pytest.raises(LimitError, match="limit is 2"):
        Graph.from_spec(
            spec_with(*[{"id": f"x{i}", "op": "input", "value": 1} for i in range(3)]),
            Limits(max_nodes=2),
        )
    # outer products stay within the per-tensor limit only if the result does too
    with pytest.raises(TensorError, match="'o' would hold 100 elements"):
        Graph.from_spec(
            spec_with(
                {"id": "a", "op": "input", "value": [[0.0]] * 10},
                {"id": "b", "op": "input", "value": [0.0] * 10},
                {"id": "o", "op": "mul", "inputs": ["a", "b"]},
            ),
            Limits(max_elements=50),
        )


def test_huge_value_list_is_refused_before_allocation():
    # "more than": the leaves were counted up to the limit, before numpy built an array
    with pytest.raises(TensorError, match=r"has more than \d+ elements"):
        Graph.from_spec(spec_with({"id": "x", "op": "input", "value": [0.0] * 2_000_000}))


def test_ten_thousand_node_chain_without_recursion():
    nodes = [{"id": "n0", "op": "input", "value": 0.5}]
    nodes += [{"id": f"n{i}", "op": "tanh", "inputs": [f"n{i - 1}"]} for i in range(1, 10_000)]
    g = Graph.from_spec(spec_with(*nodes), Limits(max_nodes=10_000))
    assert g.order[0] == "n0" and g.order[-1] == "n9999"
    assert g.layers["n9999"] == 9999
    assert Graph.from_spec(g.to_spec(), Limits(max_nodes=10_000)).order == g.order


def test_with_values_checks_shapes_and_leaves_the_original_alone():
    g = Graph.from_spec(SEED_SPEC)
    g2 = g.with_values({"x": 4.0})
    assert float(g2.nodes["x"].value) == 4.0 and float(g.nodes["x"].value) == 3.0
    with pytest.raises(GraphError, match="computed"):
        g.with_values({"loss": 1.0})
    with pytest.raises(GraphError, match="no node 'zz'"):
        g.with_values({"zz": 1.0})
    m = Graph.from_spec(
        spec_with(
            {"id": "A", "op": "input", "value": [[1.0, 2.0]]},
            {"id": "B", "op": "input", "value": [[1.0], [2.0]]},
            {"id": "P", "op": "matmul", "inputs": ["A", "B"]},
        )
    )
    with pytest.raises(ShapeError, match="'P'"):
        m.with_values({"A": [[1.0, 2.0, 3.0]]})
