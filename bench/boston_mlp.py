"""The course's race: the Boston network trained by the engine, by PyTorch and by plain numpy.

Same network (13 -> hidden sigmoid -> 1 linear, MSE, float64), same initial weights,
same mini-batch order, plain SGD at learning rate 0.01: (a) the engine through the
graph, (b) PyTorch eager on the CPU with one thread, (c) the same arithmetic written by
hand in numpy (the floor). Because the arithmetic is the same, the three final MSEs
must agree to 1e-6 relative; the script exits non-zero otherwise.

    python bench/boston_mlp.py [--repeats 3]

The last line is one JSON object keyed by configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from engine.datasets import batches, load, split
from engine.graph import Graph
from engine.training import train

LR = 0.01
SEED = 0
# name: (hidden units, batch size, epochs)
CONFIGS = {
    "batch32": (10, 32, 100),
    "batch1": (10, 1, 10),
    "batch506": (10, 506, 1000),
    "hidden256": (256, 32, 100),
}


def initial_weights(n_in: int, hidden: int) -> dict[str, np.ndarray]:
    """PyTorch's default nn.Linear initialisation, drawn from numpy so all three share it."""
    rng = np.random.default_rng(1)
    b1_, b2_ = 1 / np.sqrt(n_in), 1 / np.sqrt(hidden)
    return {
        "W1": rng.uniform(-b1_, b1_, size=(n_in, hidden)),
        "b1": rng.uniform(-b1_, b1_, size=hidden),
        "W2": rng.uniform(-b2_, b2_, size=(hidden, 1)),
        "b2": rng.uniform(-b2_, b2_, size=1),
    }


def graph_spec(weights: dict, batch_size: int) -> dict:
    bind = {"dataset": "boston", "test_fraction": 0.2, "seed": SEED, "standardize": True,
            "batch_size": batch_size}  # fmt: skip
    return {
        "name": "boston mlp",
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
    """The mini-batch order the engine's trainer draws for this seed."""
    rng = np.random.default_rng(SEED)
    if batch_size >= n:
        return [[np.arange(n)] for _ in range(epochs)]
    return [batches(n, batch_size, rng) for _ in range(epochs)]


def mse(y, yhat) -> float:
    return float(np.mean((y - yhat) ** 2))


def run_engine(data, weights, batch_size, epochs):
    graph = Graph.from_spec(graph_spec(weights, batch_size))
    result = train(graph, epochs=epochs, learning_rate=LR, seed=SEED, evaluate_test=False)
    return result["train_seconds"] / result["steps"], result["params"]


def run_numpy(data, weights, batch_size, epochs):
    x, y = data.x_train, data.y_train
    w1, b1, w2, b2 = (weights[k].copy() for k in ("W1", "b1", "W2", "b2"))
    orders = epoch_orders(len(x), batch_size, epochs)
    steps = 0
    t0 = time.perf_counter()
    for order in orders:
        for idx in order:
            xb, yb = x[idx], y[idx]
            a = 0.5 * (1.0 + np.tanh(0.5 * (xb @ w1 + b1)))
            d = yb - (a @ w2 + b2)
            g = -(2.0 / d.size) * d
            g_h = (g @ w2.T) * a * (1.0 - a)
            w2, b2 = w2 - LR * (a.T @ g), b2 - LR * g.sum(axis=0)
            w1, b1 = w1 - LR * (xb.T @ g_h), b1 - LR * g_h.sum(axis=0)
            steps += 1
    seconds = time.perf_counter() - t0
    return seconds / steps, {"W1": w1, "b1": b1, "W2": w2, "b2": b2}


def run_torch(torch, data, weights, batch_size, epochs):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(13, weights["W1"].shape[1]), nn.Sigmoid(), nn.Linear(
        weights["W1"].shape[1], 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(weights["W1"].T))
        model[0].bias.copy_(torch.from_numpy(weights["b1"]))
        model[2].weight.copy_(torch.from_numpy(weights["W2"].T))
        model[2].bias.copy_(torch.from_numpy(weights["b2"]))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    orders = [[torch.from_numpy(idx) for idx in o] for o in epoch_orders(len(x), batch_size, epochs)]
    steps = 0
    t0 = time.perf_counter()
    for order in orders:
        for idx in order:
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            steps += 1
    seconds = time.perf_counter() - t0
    return seconds / steps, {
        "W1": model[0].weight.detach().numpy().T.copy(),
        "b1": model[0].bias.detach().numpy().copy(),
        "W2": model[2].weight.detach().numpy().T.copy(),
        "b2": model[2].bias.detach().numpy().copy(),
    }


def predict(data_x, p) -> np.ndarray:
    a = 0.5 * (1.0 + np.tanh(0.5 * (data_x @ p["W1"] + p["b1"])))
    return a @ p["W2"] + p["b2"]


def warm_up(torch, data) -> None:
    w = initial_weights(13, 10)
    run_torch(torch, data, w, 32, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
        print("torch is not installed: pip install 'stepgrad[bench]'", file=sys.stderr)
    data = split(load("boston"), test_fraction=0.2, seed=SEED, standardize=True)
    if torch is not None:
        warm_up(torch, data)
    results = {}
    failed = False
    header = (f"{'config':10} {'engine us':>10} {'torch us':>9} {'numpy us':>9} "
              f"{'eng/torch':>9} {'eng/numpy':>9} {'test mse eng':>13} {'torch':>10} {'numpy':>10}")
    print(header)
    for name, (hidden, batch, epochs) in CONFIGS.items():
        weights = initial_weights(13, hidden)
        runners = {"engine": lambda: run_engine(data, weights, batch, epochs),
                   "numpy": lambda: run_numpy(data, weights, batch, epochs)}
        if torch is not None:
            runners["torch"] = lambda: run_torch(torch, data, weights, batch, epochs)
        best, params = {}, {}
        for _ in range(args.repeats):
            for who, fn in runners.items():
                sec, params[who] = fn()
                best[who] = min(best.get(who, float("inf")), sec)
        us = {who: best[who] * 1e6 for who in best}
        row = {"hidden": hidden, "batch_size": batch, "epochs": epochs}
        for who in ("engine", "torch", "numpy"):
            row[f"{who}_us"] = round(us[who], 2) if who in us else None
        row["engine_over_torch"] = round(us["engine"] / us["torch"], 3) if "torch" in us else None
        row["engine_over_numpy"] = round(us["engine"] / us["numpy"], 3)
        for who in ("engine", "torch", "numpy"):
            if who in params:
                row[f"mse_{who}"] = mse(data.y_test, predict(data.x_test, params[who]))
                row[f"train_mse_{who}"] = mse(data.y_train, predict(data.x_train, params[who]))
            else:
                row[f"mse_{who}"] = row[f"train_mse_{who}"] = None
        ref = row["mse_numpy"]
        for who in ("engine", "torch"):
            got = row[f"mse_{who}"]
            if got is not None and abs(got - ref) > 1e-6 * abs(ref):
                print(f"{name}: {who} test MSE {got!r} differs from numpy's {ref!r}",
                      file=sys.stderr)
                failed = True
        results[name] = row

        def fmt(v, spec):
            return format(v, spec) if v is not None else "-".rjust(len(format(0.0, spec)))

        print(f"{name:10} {row['engine_us']:10.1f} {fmt(row['torch_us'], '9.1f')} "
              f"{row['numpy_us']:9.1f} {fmt(row['engine_over_torch'], '9.2f')} "
              f"{row['engine_over_numpy']:9.2f} {row['mse_engine']:13.6f} "
              f"{fmt(row['mse_torch'], '10.6f')} {row['mse_numpy']:10.6f}")
    print(json.dumps(results))
    if failed:
        print("the three trainings did not agree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
