"""Fully connected networks from layer sizes, as graph specs a class can step through.

    spec = build_network({"dataset": "moons", "hidden": [16, 16], "activation": "tanh",
                          "loss": "bce", "form": "tensor", "seed": 0})

Two forms of the same network:

- **tensor**: one matmul per layer, `h1 = linear(X, W1, b1)`, `a1 = tanh(h1)`, ...,
  `z = linear(aL, Wout, bout)`, then the loss. With a dataset, X and y are bound to it
  (a real mini-batch flows through; `POST .../train` feeds the others).
- **scalar**: unrolled, one node per weight and per neuron: neuron j of layer l sums its
  inputs through a chain of the course's scalar Linear nodes,
  `s = linear(x1, w1_1_j, b1_j)`, `s' = linear(x2, w1_2_j, s)`, ..., then its activation.
  Capped at `MAX_SCALAR_NODES` nodes so it stays readable; with a dataset its inputs hold
  the first training row (the scalar graph computes one example).

Ids are stable across sizes (`W1`, `b1`, `Wout`, `w2_3_1`, ...), so rebuilding after a
layer or a neuron is added keeps every param whose id and shape are unchanged (see
PUT /api/graphs/{id}/spec). Weights start as Xavier (tanh, sigmoid) or He (relu) normal
draws from `default_rng([seed, layer])`; biases start at 0.

Losses: `mse(y, z)`; `bce(y, sigmoid(z))` for labels 0/1; `cross_entropy(Y, z)` over two
logits, Y being the one-hot labels, computed in the graph as `linear(y, E, e0)` with the
constants E = [[-1, 1]] and e0 = [1, 0] (so Y = [1 - y, y]).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from stepgrad.engine.errors import GraphError, LimitError

if TYPE_CHECKING:
    from stepgrad.engine.graph import Limits

ACTIVATIONS = ("tanh", "relu", "sigmoid")
LOSSES = ("mse", "bce", "cross_entropy")
FORMS = ("tensor", "scalar")
KEYS = {
    "inputs", "dataset", "dataset_params", "hidden", "activation", "loss", "form", "seed",
    "batch_size", "test_fraction",
}  # fmt: skip
MAX_LAYERS = 8
MAX_WIDTH = 512
MAX_INPUTS = 512
MAX_BATCH = 4096
MAX_SCALAR_NODES = 150
CLASSES = 2  # every classification dataset has labels 0 and 1
SAMPLE_ROWS = 4  # rows of made-up data when no dataset is given


def _count(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GraphError(f"The network's {what} must be a whole number from {low} to {high}.")
    return value


def _choice(value: object, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise GraphError(f"The network's {what} is {value!r}; choose one of {', '.join(choices)}.")
    return value


def normalize(raw: object) -> dict[str, Any]:
    """The network description checked, with every default filled in (sentences on error)."""
    from stepgrad.engine import datasets

    if not isinstance(raw, dict):
        raise GraphError('A network must be an object such as {"inputs": 2, "hidden": [4]}.')
    unknown = set(raw) - KEYS
    if unknown:
        raise GraphError(f"The network has unknown field(s): {', '.join(sorted(unknown))}.")
    dataset = raw.get("dataset")
    if (dataset is None) == (raw.get("inputs") is None):
        raise GraphError("A network needs either inputs (a number of features) or a dataset.")
    out: dict[str, Any] = {}
    if dataset is not None:
        if not isinstance(dataset, str) or dataset not in datasets.DATASETS:
            raise GraphError(
                f"Unknown dataset {dataset!r}; the datasets are {', '.join(datasets.DATASETS)}."
            )
        out["dataset"] = dataset
        params = raw.get("dataset_params") or {}
        if not isinstance(params, dict):
            raise GraphError("The network's dataset_params must be an object.")
        out["dataset_params"] = dict(params)
    else:
        out["inputs"] = _count(raw["inputs"], "inputs", 1, MAX_INPUTS)
        if raw.get("dataset_params"):
            raise GraphError("The network's dataset_params go with a dataset, not with inputs.")
    hidden = raw.get("hidden", [])
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise GraphError(
            f"The network's hidden must be a list of at most {MAX_LAYERS} layer sizes."
        )
    out["hidden"] = [_count(h, "layer sizes", 1, MAX_WIDTH) for h in hidden]
    out["activation"] = _choice(raw.get("activation", "tanh"), "activation", ACTIVATIONS)
    out["loss"] = _choice(raw.get("loss", "mse"), "loss", LOSSES)
    out["form"] = _choice(raw.get("form", "tensor"), "form", FORMS)
    out["seed"] = _count(raw.get("seed", 0), "seed", 0, 2**32 - 1)
    out["batch_size"] = _count(raw.get("batch_size", 32), "batch_size", 1, MAX_BATCH)
    fraction = raw.get("test_fraction", 0.2)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise GraphError("The network's test_fraction must be a number.")
    out["test_fraction"] = float(fraction)
    if dataset is not None:
        task = datasets.DATASETS[dataset].task
        if out["loss"] in ("bce", "cross_entropy") and task != "classification":
            raise GraphError(
                f"The loss {out['loss']} needs class labels, and dataset {dataset!r} is a "
                "regression dataset: use mse."
            )
    if out["form"] == "scalar" and out["loss"] == "cross_entropy":
        raise GraphError(
            "cross_entropy works on a row of logits, which the scalar form does not have: "
            "use bce (or mse), or the tensor form."
        )
    return out


def _weights(fan_in: int, fan_out: int, activation: str, seed: int, layer: int) -> np.ndarray:
    rng = np.random.default_rng([seed, layer])
    # He for relu, Xavier (Glorot) normal otherwise
    std = np.sqrt(2.0 / fan_in) if activation == "relu" else np.sqrt(2.0 / (fan_in + fan_out))
    return np.round(rng.normal(0.0, std, size=(fan_in, fan_out)), 6)


def _sizes(net: dict[str, Any]) -> tuple[int, int]:
    """(inputs, outputs) of the network."""
    from stepgrad.engine import datasets

    if "dataset" in net:
        n_in = len(datasets.DATASETS[net["dataset"]].feature_names)
    else:
        n_in = net["inputs"]
    return n_in, CLASSES if net["loss"] == "cross_entropy" else 1


def _made_up(net: dict[str, Any], n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """A few rows of sample data for a network without a dataset."""
    rng = np.random.default_rng([net["seed"], 10_000])
    x = np.round(rng.normal(size=(SAMPLE_ROWS, n_in)), 3)
    labels = rng.integers(0, 2, size=(SAMPLE_ROWS, 1)).astype(np.float64)
    if net["loss"] == "mse":
        return x, np.round(rng.normal(size=(SAMPLE_ROWS, 1)), 3)
    return x, labels


def _check_size(net: dict[str, Any], limits: Limits) -> None:
    """LimitError before any weight is drawn when a weight matrix or all of them together
    would pass the graph limits (the graph would refuse them anyway, after the work)."""
    n_in, n_out = _sizes(net)
    widths = [n_in, *net["hidden"], n_out]
    sizes = [a * b for a, b in itertools.pairwise(widths)]
    if max(sizes) > limits.max_elements:
        raise LimitError(
            f"A weight matrix of this network would hold {max(sizes):,} elements; the limit is "
            f"{limits.max_elements:,} per tensor. Use smaller layers."
        )
    if sum(sizes) > limits.max_total_elements:
        raise LimitError(
            f"The weights of this network would hold {sum(sizes):,} elements; the limit is "
            f"{limits.max_total_elements:,} for a graph. Use fewer or smaller layers."
        )


def build_network(
    raw: object, name: str | None = None, limits: Limits | None = None
) -> dict[str, Any]:
    """The graph spec of the network `raw` describes (see the module's docstring); its
    `source` holds the checked description, for an editor to reopen. `limits` (an
    engine.graph.Limits) bounds the weights before they are drawn."""
    from stepgrad.engine.graph import Limits

    net = normalize(raw)
    _check_size(net, limits or Limits())
    nodes = _scalar(net) if net["form"] == "scalar" else _tensor(net)
    sizes = "-".join(str(s) for s in (_sizes(net)[0], *net["hidden"], _sizes(net)[1]))
    title = name or (
        f"{sizes} {net['activation']} network"
        + (f" on {net['dataset']}" if "dataset" in net else "")
        + f" ({net['form']})"
    )
    return {"name": title, "nodes": nodes, "source": {"network": net}}


def _binding(net: dict[str, Any], role: str) -> dict[str, Any]:
    return {
        "dataset": net["dataset"],
        "role": role,
        "params": dict(net["dataset_params"]),
        "test_fraction": net["test_fraction"],
        "seed": net["seed"],
        "standardize": True,
        "batch_size": net["batch_size"],
    }


def _head(net: dict[str, Any], z: str, truth: str) -> list[dict[str, Any]]:
    """The loss nodes after the output logits `z`."""
    if net["loss"] == "mse":
        return [{"id": "loss", "op": "mse", "inputs": [truth, z]}]
    if net["loss"] == "bce":
        return [
            {"id": "p", "op": "sigmoid", "inputs": [z], "label": f"sigmoid({z})"},
            {"id": "loss", "op": "bce", "inputs": [truth, "p"]},
        ]
    return [{"id": "loss", "op": "cross_entropy", "inputs": [truth, z]}]


def _tensor(net: dict[str, Any]) -> list[dict[str, Any]]:
    n_in, n_out = _sizes(net)
    nodes: list[dict[str, Any]] = []
    truth = "y"
    if "dataset" in net:
        nodes.append({"id": "X", "op": "input", "bind": _binding(net, "features")})
        nodes.append({"id": "y", "op": "input", "bind": _binding(net, "target")})
        if net["loss"] == "cross_entropy":
            nodes += [
                {"id": "E", "op": "const", "value": [[-1.0, 1.0]]},
                {"id": "e0", "op": "const", "value": [1.0, 0.0]},
                {"id": "Y", "op": "linear", "inputs": ["y", "E", "e0"], "label": "one-hot y"},
            ]
            truth = "Y"
    else:
        x, y = _made_up(net, n_in)
        nodes.append({"id": "X", "op": "input", "value": x.tolist()})
        if net["loss"] == "cross_entropy":
            y = np.hstack([1.0 - y, y])
        nodes.append({"id": "y", "op": "input", "value": y.tolist()})
    prev, width = "X", n_in
    for layer, size in enumerate(net["hidden"], start=1):
        w, b, h, a = f"W{layer}", f"b{layer}", f"h{layer}", f"a{layer}"
        weights = _weights(width, size, net["activation"], net["seed"], layer)
        nodes += [
            {"id": w, "op": "param", "value": weights.tolist()},
            {"id": b, "op": "param", "value": [0.0] * size},
            {"id": h, "op": "linear", "inputs": [prev, w, b], "label": f"{prev} @ {w} + {b}"},
            {"id": a, "op": net["activation"], "inputs": [h], "label": f"{net['activation']}({h})"},
        ]
        prev, width = a, size
    weights = _weights(width, n_out, "sigmoid", net["seed"], 0)
    nodes += [
        {"id": "Wout", "op": "param", "value": weights.tolist()},
        {"id": "bout", "op": "param", "value": [0.0] * n_out},
        {
            "id": "z",
            "op": "linear",
            "inputs": [prev, "Wout", "bout"],
            "label": f"{prev} @ Wout + bout",
        },
    ]
    return nodes + _head(net, "z", truth)


def scalar_node_count(net: dict[str, Any]) -> int:
    n_in, _ = _sizes(net)
    count, width = n_in + 1, n_in  # the inputs and y
    for size in net["hidden"]:
        count += size * (2 * width + 2)  # weights, partial sums, bias, activation
        width = size
    count += 2 * width + 1  # the output neuron: weights, partial sums, bias
    return count + (2 if net["loss"] == "bce" else 1)


def _first_row(net: dict[str, Any], n_in: int) -> tuple[list[float], float]:
    from stepgrad.engine.data import load_split, parse_binding

    split = load_split(parse_binding("X", _binding(net, "features")))
    return [round(float(v), 6) for v in split.x_train[0]], float(split.y_train[0, 0])


def _scalar(net: dict[str, Any]) -> list[dict[str, Any]]:
    n_in, _ = _sizes(net)
    count = scalar_node_count(net)
    if count > MAX_SCALAR_NODES:
        raise GraphError(
            f"In scalar form this network has {count} nodes; the scalar form is capped at "
            f"{MAX_SCALAR_NODES} to stay readable. Use fewer or smaller layers, or the tensor "
            "form."
        )
    if "dataset" in net:
        row, label = _first_row(net, n_in)
    else:
        x, y = _made_up(net, n_in)
        row, label = x[0].tolist(), float(y[0, 0])
    nodes: list[dict[str, Any]] = [
        {"id": f"x{i}", "op": "input", "value": row[i - 1]} for i in range(1, n_in + 1)
    ]
    nodes.append({"id": "y", "op": "input", "value": label})
    prev = [f"x{i}" for i in range(1, n_in + 1)]
    layers = [*net["hidden"], 1]
    for layer, size in enumerate(layers, start=1):
        last = layer == len(layers)
        act = "sigmoid" if last else net["activation"]
        weights = _weights(len(prev), size, act, net["seed"], 0 if last else layer)
        outs = []
        for j in range(1, size + 1):
            bias = f"b{layer}_{j}"
            nodes.append({"id": bias, "op": "param", "value": 0.0})
            acc = bias
            for i, src in enumerate(prev, start=1):
                w = f"w{layer}_{i}_{j}"
                nodes.append({"id": w, "op": "param", "value": float(weights[i - 1, j - 1])})
                if last and i == len(prev):
                    s = "z"
                elif i == len(prev):
                    s = f"h{layer}_{j}"
                else:
                    s = f"s{layer}_{j}_{i}"
                nodes.append({"id": s, "op": "linear", "inputs": [src, w, acc]})
                acc = s
            if not last:
                a = f"a{layer}_{j}"
                nodes.append({"id": a, "op": net["activation"], "inputs": [acc]})
                outs.append(a)
        prev = outs
    return nodes + _head(net, "z", "y")
