"""Per-step cost of forward + backward + SGD update through the engine, against the same
arithmetic written by hand in numpy, measured in one run.

    python bench/engine_step.py [--repeats 7] [--steps 2000]

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import SGD
from stepgrad.engine.passes import descent_step


def mlp_spec(x, y, w1, b1, w2, b2) -> dict:
    return {
        "name": "mlp",
        "nodes": [
            {"id": "X", "op": "input", "value": x.tolist()},
            {"id": "y", "op": "input", "value": y.tolist()},
            {"id": "W1", "op": "param", "value": w1.tolist()},
            {"id": "b1", "op": "param", "value": b1.tolist()},
            {"id": "W2", "op": "param", "value": w2.tolist()},
            {"id": "b2", "op": "param", "value": b2.tolist()},
            {"id": "h", "op": "linear", "inputs": ["X", "W1", "b1"]},
            {"id": "a", "op": "sigmoid", "inputs": ["h"]},
            {"id": "yhat", "op": "linear", "inputs": ["a", "W2", "b2"]},
            {"id": "loss", "op": "mse", "inputs": ["y", "yhat"]},
        ],
    }


def numpy_step(x, y, w1, b1, w2, b2, lr):
    """The same arithmetic as the engine's ops, written out by hand."""
    h = x @ w1 + b1
    a = 1.0 / (1.0 + np.exp(-h))
    yhat = a @ w2 + b2
    d = y - yhat
    loss = np.mean(d * d)
    g_yhat = -(2.0 / d.size) * d
    g_w2 = a.T @ g_yhat
    g_b2 = g_yhat.sum(axis=0)
    g_a = g_yhat @ w2.T
    g_h = g_a * (1.0 - a) * a
    g_w1 = x.T @ g_h
    g_b1 = g_h.sum(axis=0)
    return float(loss), w1 - lr * g_w1, b1 - lr * g_b1, w2 - lr * g_w2, b2 - lr * g_b2


def measure(n_in, n_hidden, batch, steps, repeats, lr=0.01) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, n_in))
    y = rng.normal(size=(batch, 1))
    w1 = rng.normal(size=(n_in, n_hidden)) * 0.3
    b1 = np.zeros(n_hidden)
    w2 = rng.normal(size=(n_hidden, 1)) * 0.3
    b2 = np.zeros(1)
    graph = Graph.from_spec(mlp_spec(x, y, w1, b1, w2, b2))
    opt = SGD(lr)

    def run_engine():
        leaves = graph.leaf_values
        loss = 0.0
        for _ in range(steps):
            loss, leaves = descent_step(graph, leaves, opt)
        return loss

    def run_numpy():
        p = (w1, b1, w2, b2)
        loss = 0.0
        for _ in range(steps):
            loss, *p = numpy_step(x, y, *p, lr)
        return loss

    best = {"engine": float("inf"), "numpy": float("inf")}
    losses = {}
    for _ in range(repeats):
        # interleaved, best of several: the machine is noisy, the minimum is the cost
        for name, fn in (("engine", run_engine), ("numpy", run_numpy)):
            t0 = time.perf_counter()
            losses[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    if not np.isclose(losses["engine"], losses["numpy"], rtol=1e-10):
        raise SystemExit(f"engine and numpy disagree: {losses}")
    engine_us = best["engine"] / steps * 1e6
    numpy_us = best["numpy"] / steps * 1e6
    return {
        "engine_us_per_step": round(engine_us, 2),
        "numpy_us_per_step": round(numpy_us, 2),
        "engine_over_numpy": round(engine_us / numpy_us, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    configs = {
        "mlp_13_10_1_batch32": (13, 10, 32),
        "mlp_13_10_1_batch1": (13, 10, 1),
        "mlp_13_64_1_batch128": (13, 64, 128),
    }
    results = {}
    print(f"{'graph':24} {'engine us':>10} {'numpy us':>10} {'ratio':>7}")
    for name, (n_in, hidden, batch) in configs.items():
        r = measure(n_in, hidden, batch, args.steps, args.repeats)
        results[name] = r
        print(
            f"{name:24} {r['engine_us_per_step']:10.1f} {r['numpy_us_per_step']:10.1f} "
            f"{r['engine_over_numpy']:7.2f}"
        )
    head = results["mlp_13_10_1_batch32"]
    print(json.dumps({**head, "configs": results}))


if __name__ == "__main__":
    main()
