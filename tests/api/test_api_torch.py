"""Values and gradients served by the API against PyTorch, on random graphs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import create, post

pytestmark = pytest.mark.torch

UNARY = ["neg", "sigmoid", "tanh", "exp", "relu", "square"]
BINARY = ["add", "sub", "mul", "div"]


def random_spec(rng: np.random.Generator, n_ops: int, shape=(3, 2)) -> dict:
    """Leaves of one shape (some broadcasting rows), random elementwise ops, then a mean."""
    nodes = []
    pool = []
    for i in range(4):
        leaf_shape = shape if i != 3 else (1, shape[1])
        value = rng.uniform(0.5, 1.5, size=leaf_shape) * rng.choice([-1, 1], size=leaf_shape)
        op = "param" if i % 2 else "input"
        nodes.append({"id": f"l{i}", "op": op, "value": value.tolist()})
        pool.append(f"l{i}")
    for i in range(n_ops):
        if rng.random() < 0.4:
            op, inputs = str(rng.choice(UNARY)), [str(rng.choice(pool))]
        else:
            op = str(rng.choice(BINARY))
            inputs = [str(x) for x in rng.choice(pool, size=2)]
        if op == "div":  # keep away from zero
            nodes.append({"id": f"d{i}", "op": "exp", "inputs": [inputs[1]]})
            inputs[1] = f"d{i}"
        nodes.append({"id": f"o{i}", "op": op, "inputs": inputs})
        pool.append(f"o{i}")
    # every node feeds the output, so each one has a gradient
    used = {s for n in nodes for s in n.get("inputs", [])}
    loose = [n["id"] for n in nodes if n["id"] not in used]
    total = loose[0]
    for j, other in enumerate(loose[1:]):
        nodes.append({"id": f"t{j}", "op": "add", "inputs": [total, other]})
        total = f"t{j}"
    nodes.append({"id": "out", "op": "mean", "inputs": [total]})
    return {"name": "random", "nodes": nodes}


def torch_values(torch, spec):
    fns = {
        "neg": lambda a: -a, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "exp": torch.exp,
        "relu": torch.relu, "square": lambda a: a * a, "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
        "mean": torch.mean,
    }  # fmt: skip
    t = {}
    for node in spec["nodes"]:
        if "value" in node:
            t[node["id"]] = torch.tensor(node["value"], dtype=torch.float64, requires_grad=True)
        else:
            t[node["id"]] = fns[node["op"]](*[t[i] for i in node["inputs"]])
        t[node["id"]].retain_grad()
    t["out"].backward()
    return t


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_match_pytorch(client, torch, seed):
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, n_ops=int(rng.integers(3, 12)))
    state, h = create(client, spec)
    post(client, state["id"], "seek", h, {"position": state["cursor"]["total"]})
    got = client.get(f"/api/graphs/{state['id']}?full=true").json()
    want = torch_values(torch, spec)
    for node in got["nodes"]:
        t = want[node["id"]]
        np.testing.assert_allclose(node["value"], t.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(node["grad"], t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_two_layer_example_matches_pytorch(client, torch):
    state, h = create(client, {"example": "two_layer"})
    spec = client.get(f"/api/graphs/{state['id']}/export").json()
    post(client, state["id"], "seek", h, {"position": 20})
    got = {n["id"]: n for n in client.get(f"/api/graphs/{state['id']}?full=true").json()["nodes"]}
    v = {n["id"]: torch.tensor(n["value"], dtype=torch.float64, requires_grad=True)
         for n in spec["nodes"] if "value" in n}  # fmt: skip
    a = torch.sigmoid(v["X"] @ v["W1"] + v["b1"])
    loss = torch.mean((v["y"] - (a @ v["W2"] + v["b2"])) ** 2)
    loss.backward()
    assert got["loss"]["value"] == pytest.approx(loss.item(), rel=1e-12)
    for name in ("W1", "b1", "W2", "b2", "X"):
        np.testing.assert_allclose(got[name]["grad"], v[name].grad.numpy(), rtol=1e-10)
