"""The timeline: stepping forward and backward node by node, events, seeking, updates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepgrad.engine.errors import PhaseError
from stepgrad.engine.graph import Graph, Limits
from stepgrad.engine.optim import SGD
from stepgrad.engine.run import Run
from tests.helpers import SEED_SPEC, TINY_FANOUT, spec_with


def sigmoid(u):
    return 1.0 / (1.0 + math.exp(-u))


def test_course_example_by_hand_at_every_node():
    run = Run(Graph.from_spec(SEED_SPEC))
    events = run.forward(steps=None)
    assert [e["node"] for e in events] == ["x", "y", "k", "b", "linear", "sigmoid", "loss"]
    x, y, k, b = 3.0, 0.71, 0.09, 0.5
    linear = k * x + b
    s = sigmoid(linear)
    loss = (y - s) ** 2
    assert float(run.value("linear")) == pytest.approx(0.77, abs=1e-15)
    assert float(run.value("sigmoid")) == pytest.approx(s, rel=1e-14)
    assert float(run.value("loss")) == pytest.approx(loss, rel=1e-13)
    assert run.phase == "backward" and run.cursor_node == "loss"

    events = run.backward(steps=None)
    assert [e["node"] for e in events] == ["loss", "sigmoid", "linear", "b", "k", "y", "x"]
    d_s = -2 * (y - s)
    d_lin = d_s * s * (1 - s)
    expected = {
        "loss": 1.0,
        "sigmoid": d_s,
        "linear": d_lin,
        "k": d_lin * x,
        "b": d_lin,
        "x": d_lin * k,
        "y": 2 * (y - s),
    }
    for nid, want in expected.items():
        assert float(run.grad(nid)) == pytest.approx(want, rel=1e-12), nid
    # the backward event of `linear` sends one contribution per input edge
    contrib = {c["input"]: float(c["grad"]) for c in events[2]["contributions"]}
    assert contrib == pytest.approx({"x": d_lin * k, "k": d_lin * x, "b": d_lin}, rel=1e-12)
    assert run.phase == "done" and run.cursor_node is None and run.position == 14


def test_node_used_twice_adds_up_its_gradients():
    # f = x*x + x, df/dx = 2x + 1
    spec = spec_with(
        {"id": "x", "op": "input", "value": 1.5},
        {"id": "sq", "op": "mul", "inputs": ["x", "x"]},
        {"id": "f", "op": "add", "inputs": ["sq", "x"]},
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    assert float(run.grad("x")) == pytest.approx(2 * 1.5 + 1, rel=1e-15)


def test_running_totals_in_events():
    spec = spec_with(
        {"id": "x", "op": "input", "value": 2.0},
        {"id": "a", "op": "mul", "inputs": ["x", "x"]},
        {"id": "f", "op": "add", "inputs": ["a", "x"]},
    )
    run = Run(Graph.from_spec(spec))
    run.forward(steps=None)
    first, second = run.backward(steps=2)
    assert first["node"] == "f"
    assert [(c["input"], float(c["total"])) for c in first["contributions"]] == [
        ("a", 1.0),
        ("x", 1.0),
    ]
    assert second["node"] == "a"
    assert [(c["input"], float(c["grad"]), float(c["total"])) for c in second["contributions"]] == [
        ("x", 2.0, 3.0),
        ("x", 2.0, 5.0),
    ]


def test_diamond():
    # a feeds b and c, both feed d: d = exp(a) * tanh(a)
    spec = spec_with(
        {"id": "a", "op": "param", "value": 0.3},
        {"id": "b", "op": "exp", "inputs": ["a"]},
        {"id": "c", "op": "tanh", "inputs": ["a"]},
        {"id": "d", "op": "mul", "inputs": ["b", "c"]},
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    a = 0.3
    want = math.exp(a) * math.tanh(a) + math.exp(a) * (1 - math.tanh(a) ** 2)
    assert float(run.grad("a")) == pytest.approx(want, rel=1e-14)


def test_phase_errors_say_what_to_do():
    run = Run(Graph.from_spec(SEED_SPEC))
    with pytest.raises(PhaseError, match="run forward to the end before backward"):
        run.backward()
    run.forward(steps=3)
    with pytest.raises(PhaseError, match="forward to the end before backward"):
        run.backward()
    with pytest.raises(PhaseError, match="no gradients yet"):
        run.update(SGD(0.1))
    run.forward(steps=None)
    with pytest.raises(PhaseError, match="already complete"):
        run.forward()
    run.backward(steps=None)
    with pytest.raises(PhaseError, match="already complete"):
        run.backward()
    with pytest.raises(PhaseError, match=r"outside the timeline 0\.\.14"):
        run.seek(15)


def test_forward_stops_at_the_end_of_the_forward_pass():
    run = Run(Graph.from_spec(SEED_SPEC))
    events = run.forward(steps=100)
    assert len(events) == 7 and run.position == 7


def test_seek_anywhere_gives_the_same_state_as_stepping():
    graph = Graph.from_spec(SEED_SPEC)
    stepped = Run(graph)
    for position in range(15):
        sought = Run(graph)
        sought.seek(14)
        sought.seek(position)
        assert sought.position == stepped.position == position
        for a, b in zip(sought.values + sought.grads, stepped.values + stepped.grads):
            assert (a is None and b is None) or np.array_equal(a, b)
        stepped.step(1)


def test_stepping_back_undoes_exactly_one_step():
    run = Run(Graph.from_spec(SEED_SPEC))
    run.seek(10)  # loss, sigmoid, linear visited backward
    assert run.grad("k") is not None and run.grad("b") is not None
    run.seek(9)
    assert run.grad("k") is None and run.grad("linear") is not None
    assert run.cursor_node == "linear"


def test_update_is_gradient_descent_and_resets_the_timeline():
    run = Run(Graph.from_spec(SEED_SPEC))
    run.run_all()
    gk, gb = float(run.grad("k")), float(run.grad("b"))
    run.update(SGD(0.5))
    assert run.position == 0
    assert float(run.graph.nodes["k"].value) == pytest.approx(0.09 - 0.5 * gk, rel=1e-15)
    assert float(run.graph.nodes["b"].value) == pytest.approx(0.5 - 0.5 * gb, rel=1e-15)
    losses = []
    for _ in range(20):
        run.run_all()
        losses.append(float(run.value("loss")))
        run.update(SGD(0.5))
    assert losses[-1] < losses[0] / 2


def test_set_values_resets_and_rejects_without_changing_anything():
    run = Run(Graph.from_spec(SEED_SPEC))
    run.seek(5)
    run.set_values({"x": 2.0})
    assert run.position == 0 and float(run.graph.nodes["x"].value) == 2.0
    run.seek(5)
    with pytest.raises(Exception, match="non-finite"):
        run.set_values({"x": float("nan")})
    assert run.position == 5 and float(run.graph.nodes["x"].value) == 2.0


def test_log_of_zero_is_reported_not_a_crash():
    spec = spec_with(
        {"id": "x", "op": "input", "value": [0.0, 1.0]},
        {"id": "l", "op": "log", "inputs": ["x"]},
        {"id": "s", "op": "sum", "inputs": ["l"]},
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    assert run.value("l").tolist() == [-math.inf, 0.0]
    assert float(run.value("s")) == -math.inf
    assert run.grad("x").tolist() == [math.inf, 1.0]


def test_nodes_outside_the_output_get_no_gradient():
    spec = spec_with(
        {"id": "x", "op": "input", "value": 1.0},
        {"id": "a", "op": "exp", "inputs": ["x"]},
        {"id": "b", "op": "neg", "inputs": ["x"]},
        output="a",
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    assert run.grad("b") is None
    assert float(run.grad("x")) == pytest.approx(math.e)


def test_consts_get_no_gradient_but_everything_else_does():
    spec = spec_with(
        {"id": "x", "op": "input", "value": 2.0},
        {"id": "two", "op": "const", "value": 2.0},
        {"id": "p", "op": "pow", "inputs": ["x", "two"]},
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    assert run.grad("two") is None and float(run.grad("x")) == 4.0


def test_ten_thousand_node_chain_runs_forward_and_backward():
    nodes = [{"id": "n0", "op": "param", "value": 0.1}]
    nodes += [{"id": f"n{i}", "op": "neg", "inputs": [f"n{i - 1}"]} for i in range(1, 10_000)]
    run = Run(Graph.from_spec(spec_with(*nodes), Limits(max_nodes=10_000)))
    run.run_all()
    assert float(run.value("n9999")) == pytest.approx(-0.1)
    assert float(run.grad("n0")) == -1.0


def test_broadcast_gradients_reduce_to_input_shapes():
    spec = spec_with(
        {"id": "X", "op": "input", "value": np.arange(6.0).reshape(3, 2).tolist()},
        {"id": "w", "op": "param", "value": [[0.5], [-1.0]]},
        {"id": "b", "op": "param", "value": 0.25},
        {"id": "h", "op": "linear", "inputs": ["X", "w", "b"]},
        {"id": "m", "op": "mean", "inputs": ["h"]},
    )
    run = Run(Graph.from_spec(spec))
    run.run_all()
    assert run.grad("b").shape == () and float(run.grad("b")) == pytest.approx(1.0)
    np.testing.assert_allclose(run.grad("w"), np.arange(6.0).reshape(3, 2).mean(0)[:, None])


def test_any_valid_order_gives_the_same_gradients():
    graph = Graph.from_spec(SEED_SPEC)
    default = Run(graph)
    default.run_all()
    other = Run(graph, order=["b", "k", "x", "linear", "y", "sigmoid", "loss"])
    events = other.forward(steps=None)
    assert [e["node"] for e in events] == other.order
    other.run_all()
    for nid in graph.order:
        assert float(other.grad(nid)) == float(default.grad(nid))
    with pytest.raises(Exception, match="'linear' comes before its input 'b'"):
        Run(graph, order=["x", "k", "linear", "b", "y", "sigmoid", "loss"])
    with pytest.raises(Exception, match="every node"):
        Run(graph, order=["x"])


def test_fanout_bug_gives_a_wrong_gradient_that_gradcheck_catches():
    from stepgrad.engine.gradcheck import gradcheck

    graph = Graph.from_spec(TINY_FANOUT)
    buggy = Run(graph, fanout_bug=True)
    buggy.run_all()
    assert float(buggy.grad("x")) != pytest.approx(2 * 1.5 + 1)
    assert gradcheck(graph, fanout_bug=True)["max_rel_error"] > 0.1
    assert gradcheck(graph)["max_rel_error"] < 1e-8
