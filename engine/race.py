"""The course's race: one Boston network trained three ways on the same footing.

The same network (13 -> hidden sigmoid -> 1 linear, MSE, float64), the same initial
weights, the same mini-batch order, plain SGD: (a) by the engine through the graph,
(b) by PyTorch eager on the CPU with one thread, (c) by the same arithmetic written by
hand in numpy (the floor). PyTorch is optional: it is imported only when asked for, and
the race runs without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from stepgrad.engine.datasets import Split, batches, load, split
from stepgrad.engine.graph import Graph
from stepgrad.engine.tensor import Array
from stepgrad.engine.training import train

LEARNING_RATE = 0.01
SEED = 0
TEST_FRACTION = 0.2


def boston_split() -> Split:
    return split(load("boston"), test_fraction=TEST_FRACTION, seed=SEED, standardize=True)


def initial_weights(n_in: int = 13, hidden: int = 10, seed: int = 1) -> dict[str, Array]:
    """PyTorch's default nn.Linear initialisation, drawn from numpy so all three share it."""
    rng = np.random.default_rng(seed)
    r1, r2 = 1 / np.sqrt(n_in), 1 / np.sqrt(hidden)
    return {
        "W1": rng.uniform(-r1, r1, size=(n_in, hidden)),
        "b1": rng.uniform(-r1, r1, size=hidden),
        "W2": rng.uniform(-r2, r2, size=(hidden, 1)),
        "b2": rng.uniform(-r2, r2, size=1),
    }


def boston_mlp_spec(
    weights: dict[str, Array], batch_size: int | None = 32, name: str = "Boston network"
) -> dict[str, Any]:
    """The network as a graph spec, its inputs bound to the Boston training data."""
    bind = {
        "dataset": "boston",
        "test_fraction": TEST_FRACTION,
        "seed": SEED,
        "standardize": True,
        "batch_size": batch_size,
    }
    return {
        "name": name,
        "nodes": [
            {"id": "X", "op": "input", "bind": {**bind, "role": "features"}},
            {"id": "y", "op": "input", "bind": {**bind, "role": "target"}},
            *({"id": k, "op": "param", "value": v.tolist()} for k, v in weights.items()),
            {"id": "h", "op": "linear", "inputs": ["X", "W1", "b1"]},
            {"id": "a", "op": "sigmoid", "inputs": ["h"]},
            {"id": "yhat", "op": "linear", "inputs": ["a", "W2", "b2"]},
            {"id": "loss", "op": "mse", "inputs": ["y", "yhat"]},
        ],
    }


def epoch_orders(n: int, batch_size: int, epochs: int) -> list[list[np.ndarray]]:
    """The mini-batch order the engine's trainer draws for the seed."""
    rng = np.random.default_rng(SEED)
    if batch_size >= n:
        return [[np.arange(n)] for _ in range(epochs)]
    return [batches(n, batch_size, rng) for _ in range(epochs)]


def _no_check() -> None:
    pass


def train_engine(
    data: Split,
    weights: dict[str, Array],
    batch_size: int,
    epochs: int,
    check: Callable[[], None] = _no_check,
) -> tuple[float, dict[str, Array]]:
    graph = Graph.from_spec(boston_mlp_spec(weights, batch_size))
    result = train(
        graph,
        epochs=epochs,
        learning_rate=LEARNING_RATE,
        seed=SEED,
        evaluate_test=False,
        check=check,
    )
    return result["train_seconds"] / result["steps"], result["params"]


def train_numpy(
    data: Split,
    weights: dict[str, Array],
    batch_size: int,
    epochs: int,
    check: Callable[[], None] = _no_check,
) -> tuple[float, dict[str, Array]]:
    lr = LEARNING_RATE
    x, y = data.x_train, data.y_train
    w1, b1, w2, b2 = (weights[k].copy() for k in ("W1", "b1", "W2", "b2"))
    orders = epoch_orders(len(x), batch_size, epochs)
    steps = 0
    t0 = time.perf_counter()
    for order in orders:
        for idx in order:
            check()
            xb, yb = x[idx], y[idx]
            a = 1.0 / (1.0 + np.exp(-(xb @ w1 + b1)))
            d = yb - (a @ w2 + b2)
            g = -(2.0 / d.size) * d
            g_h = (g @ w2.T) * (1.0 - a) * a
            w2, b2 = w2 - lr * (a.T @ g), b2 - lr * g.sum(axis=0)
            w1, b1 = w1 - lr * (xb.T @ g_h), b1 - lr * g_h.sum(axis=0)
            steps += 1
    return (time.perf_counter() - t0) / steps, {"W1": w1, "b1": b1, "W2": w2, "b2": b2}


def train_torch(
    torch: ModuleType,
    data: Split,
    weights: dict[str, Array],
    batch_size: int,
    epochs: int,
    check: Callable[[], None] = _no_check,
) -> tuple[float, dict[str, Array]]:
    nn = torch.nn
    hidden = weights["W1"].shape[1]
    model = nn.Sequential(nn.Linear(13, hidden), nn.Sigmoid(), nn.Linear(hidden, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(weights["W1"].T))
        model[0].bias.copy_(torch.from_numpy(weights["b1"]))
        model[2].weight.copy_(torch.from_numpy(weights["W2"].T))
        model[2].bias.copy_(torch.from_numpy(weights["b2"]))
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.MSELoss()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    orders = [[torch.from_numpy(i) for i in o] for o in epoch_orders(len(x), batch_size, epochs)]
    steps = 0
    t0 = time.perf_counter()
    for order in orders:
        for idx in order:
            check()
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            steps += 1
    seconds = (time.perf_counter() - t0) / steps
    return seconds, {
        "W1": model[0].weight.detach().numpy().T.copy(),
        "b1": model[0].bias.detach().numpy().copy(),
        "W2": model[2].weight.detach().numpy().T.copy(),
        "b2": model[2].bias.detach().numpy().copy(),
    }


def predict(x: Array, p: dict[str, Array]) -> Array:
    a = 0.5 * (1.0 + np.tanh(0.5 * (x @ p["W1"] + p["b1"])))
    out: Array = a @ p["W2"] + p["b2"]
    return out


def import_torch() -> ModuleType | None:
    """PyTorch set to one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def race(
    hidden: int = 10,
    batch_size: int = 32,
    epochs: int = 100,
    repeats: int = 1,
    torch: ModuleType | None = None,
    check: Callable[[], None] = _no_check,
) -> dict[str, Any]:
    """Train the three ways (PyTorch only if given) and compare time per step and MSE.

    `agree` says whether the final test MSEs agree to 1e-6 relative, as they must with
    the same arithmetic. `check` is called before every training step of each trainer
    (a caller stops the race by raising from it)."""
    data = boston_split()
    weights = initial_weights(13, hidden)
    runners: dict[str, Callable[[], tuple[float, dict[str, Array]]]] = {
        "engine": lambda: train_engine(data, weights, batch_size, epochs, check),
        "numpy": lambda: train_numpy(data, weights, batch_size, epochs, check),
    }
    if torch is not None:
        runners["torch"] = lambda: train_torch(torch, data, weights, batch_size, epochs, check)
    best: dict[str, float] = {}
    params: dict[str, dict[str, Array]] = {}
    for _ in range(repeats):
        # interleaved, best of several: the machine is noisy, the minimum is the cost
        for who, fn in runners.items():
            sec, params[who] = fn()
            best[who] = min(best.get(who, float("inf")), sec)
    row: dict[str, Any] = {"hidden": hidden, "batch_size": batch_size, "epochs": epochs}
    # the trainers that ran, in the table's order: what the race's sentences count
    row["ran"] = [who for who in ("engine", "torch", "numpy") if who in best]
    for who in ("engine", "torch", "numpy"):
        row[f"{who}_us"] = round(best[who] * 1e6, 2) if who in best else None
    row["engine_over_torch"] = round(best["engine"] / best["torch"], 3) if "torch" in best else None
    row["engine_over_numpy"] = round(best["engine"] / best["numpy"], 3)
    for who in ("engine", "torch", "numpy"):
        p = params.get(who)
        row[f"mse_{who}"] = (
            float(np.mean((data.y_test - predict(data.x_test, p)) ** 2)) if p else None
        )
        row[f"train_mse_{who}"] = (
            float(np.mean((data.y_train - predict(data.x_train, p)) ** 2)) if p else None
        )
    ref = row["mse_numpy"]
    row["agree"] = all(
        abs(row[f"mse_{who}"] - ref) <= 1e-6 * abs(ref)
        for who in ("engine", "torch")
        if row[f"mse_{who}"] is not None
    )
    return row
