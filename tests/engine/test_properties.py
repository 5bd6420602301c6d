"""Property tests: random graphs over every op compute what PyTorch computes.

Graphs come from tests/helpers.py: broadcastable shapes from scalars to 3-D, fan-out,
extreme and empty values. Each is evaluated by the fast passes, by the timeline stepping
in a random valid order, and through the HTTP API, and every value and gradient is
compared with PyTorch's autograd in float64 (rtol 1e-9, NaN where PyTorch has NaN).
bench/fuzz_engine.py runs the same checks on many more graphs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stepgrad.engine.graph import Graph
from stepgrad.engine.ops import OPS
from stepgrad.engine.passes import backward_pass, forward_pass
from stepgrad.engine.run import Run
from stepgrad.engine.tensor import from_json
from tests.helpers import (
    MILD_EXTREMES,
    HypothesisDraw,
    TorchRefused,
    compare,
    random_spec,
    torch_reference,
)

pytestmark = pytest.mark.torch

SETTINGS = dict(
    deadline=None,
    database=None,
    # the client is shared between examples on purpose: graphs are independent
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture
def client(make_client):
    """The API tests create hundreds of graphs from one address: no per-address rates."""
    return make_client(rate_create="1000000/minute", rate_heavy="1000000/minute")


def random_order(graph: Graph, draw) -> list[str]:
    """A valid evaluation order other than the graph's own: Kahn's algorithm taking a
    random ready node each time."""
    waiting = {nid: len(set(graph.nodes[nid].inputs)) for nid in graph.order}
    ready = [nid for nid, n in waiting.items() if n == 0]
    order = []
    while ready:
        nid = ready.pop(draw.integer(0, len(ready) - 1))
        order.append(nid)
        for consumer, _slot in graph.consumers[nid]:
            ready_now = all(s in order for s in graph.nodes[consumer].inputs)
            if ready_now and consumer not in order and consumer not in ready:
                ready.append(consumer)
    return order


def engine_passes(graph: Graph) -> tuple[dict, dict]:
    values = forward_pass(graph, graph.leaf_values)
    grads = backward_pass(graph, values, train_only=False)
    return dict(zip(graph.order, values, strict=True)), dict(zip(graph.order, grads, strict=True))


def engine_run(graph: Graph, order: list[str] | None) -> tuple[dict, dict]:
    run = Run(graph, order=order)
    while run.position < run.total:
        run.step(1)
    return {n: run.value(n) for n in graph.order}, {n: run.grad(n) for n in graph.order}


def reference(torch, spec):
    try:
        return torch_reference(torch, spec)
    except TorchRefused:
        assume(False)


@settings(max_examples=1500, **SETTINGS)
@given(data=st.data())
def test_random_graphs_match_pytorch_through_passes_and_stepping(torch, data):
    draw = HypothesisDraw(data)
    spec = random_spec(draw, extremes=MILD_EXTREMES)
    graph = Graph.from_spec(spec)
    ref_values, ref_grads = reference(torch, spec)

    values, grads = engine_passes(graph)
    compare(values, grads, ref_values, ref_grads, "passes", graph)

    # the timeline computes the very same numbers in the graph's own order...
    run_values, run_grads = engine_run(graph, None)
    for nid in graph.order:
        for mine, theirs in ((run_values[nid], values[nid]), (run_grads[nid], grads[nid])):
            assert (mine is None) == (theirs is None), nid
            if mine is not None:
                np.testing.assert_array_equal(mine, theirs, err_msg=nid)
    # ...and the same up to rounding (sums in another order) in any other valid order
    run_values, run_grads = engine_run(graph, random_order(graph, draw))
    compare(run_values, run_grads, ref_values, ref_grads, "stepping in a random order", graph)


def _decode(value, shape):
    # JSON keeps no axes after an empty one ([] for 0 x 1): the state's shape does
    return None if value is None else from_json(value).reshape(shape)


@settings(max_examples=150, **SETTINGS)
@given(data=st.data())
def test_random_graphs_match_pytorch_through_the_api(torch, client, data):
    spec = random_spec(
        HypothesisDraw(data), n_ops=data.draw(st.integers(1, 5)), extremes=MILD_EXTREMES
    )
    ref_values, ref_grads = reference(torch, spec)
    res = client.post("/api/graphs", json=spec)
    assert res.status_code == 201, res.text
    body = res.json()
    auth = {"Authorization": f"Bearer {body['edit_token']}"}
    gid = body["id"]
    for step in ("forward", "backward"):
        res = client.post(f"/api/graphs/{gid}/{step}", json={"all": True}, headers=auth)
        assert res.status_code == 200, res.text
    state = client.get(f"/api/graphs/{gid}", params={"full": True}).json()
    values = {n["id"]: _decode(n["value"], n["shape"]) for n in state["nodes"]}
    grads = {n["id"]: _decode(n["grad"], n["shape"]) for n in state["nodes"]}
    compare(values, grads, ref_values, ref_grads, "API", Graph.from_spec(spec))


# ---- any spec at all: never a 5xx ---------------------------------------------------

NAMES = [name for name, op in OPS.items() if not op.leaf]
ATTR_VALUES = [None, 0, 1, -1, 5, [0], [0, 1], [1, 0], [], [-1, 2], True, "x", {"a": 1}, 2.5]


@st.composite
def any_spec(draw):
    """Specs that may be wrong in any way: shapes that do not fit, odd attrs, a sink more."""
    nodes = []
    for i in range(draw(st.integers(1, 3))):
        ndim = draw(st.integers(0, 2))
        shape = [draw(st.integers(0, 3)) for _ in range(ndim)]
        value = np.full(shape, draw(st.sampled_from([0.0, 1.5, -2.0, 800.0, 1e300]))).tolist()
        kind = draw(st.sampled_from(["input", "param", "const"]))
        nodes.append({"id": f"l{i}", "op": kind, "value": value})
    for i in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(NAMES))
        ids = [n["id"] for n in nodes]
        inputs = [draw(st.sampled_from(ids)) for _ in range(OPS[op].arity)]
        node = {"id": f"n{i}", "op": op, "inputs": inputs}
        if OPS[op].attr_defaults and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(OPS[op].attr_defaults)))
            node["attrs"] = {key: draw(st.sampled_from(ATTR_VALUES))}
        nodes.append(node)
    return {"name": "any", "nodes": nodes, "output": nodes[-1]["id"]}


@settings(max_examples=200, **SETTINGS)
@given(spec=any_spec(), options=st.sampled_from([None, {"name": 1}, {"learning_rate": 0.1}]))
def test_any_spec_gets_an_answer_never_a_server_error(client, spec, options):
    res = client.post("/api/graphs", json=spec)
    if res.status_code != 201:
        assert 400 <= res.status_code < 500, res.text
        assert isinstance(res.json()["detail"], str | list) and res.json()["detail"]
        return
    body = res.json()
    auth = {"Authorization": f"Bearer {body['edit_token']}"}
    base = f"/api/graphs/{body['id']}"
    calls = [
        ("post", "/forward", {"all": True}),
        ("post", "/backward", {"all": True}),
        ("get", "/gradcheck", None),
        ("post", "/update", {"learning_rate": 0.1, "options": options}),
        ("post", "/train", {"epochs": 2, "learning_rate": 0.1, "options": options}),
    ]
    for method, path, payload in calls:
        if method == "get":
            res = client.get(base + path)
        else:
            res = client.post(base + path, json=payload, headers=auth)
        assert res.status_code < 500, f"{path}: {res.text}"
        if res.status_code >= 400:
            detail = res.json()["detail"]
            assert detail and isinstance(detail, str | list), path


def test_generated_graphs_cover_every_op():
    from tests.helpers import ALL_OPS, RandomDraw

    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(300):
        spec = random_spec(RandomDraw(rng))
        seen |= {n["op"] for n in spec["nodes"]}
    assert set(ALL_OPS) == seen - {"input", "param", "const"} == set(NAMES)


def _same(a, b) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and np.array_equal(a, b, equal_nan=True)
    )


@settings(max_examples=300, **SETTINGS)
@given(data=st.data())
def test_seeking_back_by_undoing_steps_gives_what_stepping_from_the_start_gives(data):
    draw = HypothesisDraw(data)
    graph = Graph.from_spec(random_spec(draw, extremes=MILD_EXTREMES))
    order = random_order(graph, draw) if draw.integer(0, 1) else None
    fanout_bug = bool(draw.integer(0, 1))
    run = Run(graph, order=order, fanout_bug=fanout_bug)
    for _ in range(draw.integer(1, 6)):
        position = draw.integer(0, run.total)
        run.seek(position)
        fresh = Run(graph, order=order, fanout_bug=fanout_bug)
        fresh.step(position)
        assert run.position == fresh.position == position
        assert run.cursor_node == fresh.cursor_node
        for mine, theirs in zip(run.values + run.grads, fresh.values + fresh.grads, strict=True):
            assert _same(mine, theirs)
        for table in ("edge_grads", "edge_locals"):
            mine, theirs = getattr(run, table), getattr(fresh, table)
            assert mine.keys() == theirs.keys(), table
            assert all(_same(mine[k], theirs[k]) for k in mine), table
