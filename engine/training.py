"""Mini-batch training of a graph: gradient descent (SGD, momentum, Adam) or random search.

Each epoch shuffles the training rows of the bound dataset (see `engine.data`) into
mini-batches; each batch is fed to the bound inputs, then forward, backward and update.
Graphs without bound inputs train full-batch on their fixed values. Deterministic for a
given seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stepgrad.engine.data import BoundData, bound_data
from stepgrad.engine.errors import GraphError, ShapeError, StepgradError
from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import optimizer_from
from stepgrad.engine.passes import descent_step, forward_pass
from stepgrad.engine.tensor import Array

RANDOM_SEARCH = "random_search"


def _check_count(value: object, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StepgradError(f"{what} must be a whole number of at least {low}, got {value!r}.")
    return value


def _prediction_node(graph: Graph) -> str | None:
    """For a loss node `loss(y, yhat)` with y bound to the target, the node yhat."""
    out = graph.nodes[graph.output]
    if out.op.name not in ("mse", "bce"):
        return None
    truth = graph.nodes[out.inputs[0]]
    if not truth.bind or truth.bind.get("role") != "target":
        return None
    return out.inputs[1]


def steps_per_epoch(graph: Graph, batch_size: int | None = None) -> int:
    """How many updates one epoch makes (what the API bounds epochs x steps with)."""
    found = bound_data(graph)
    if found is None:
        return 1
    binding, data = found
    n = len(next(iter(data.train.values())))
    size = batch_size or binding.batch_size or n
    return max(1, -(-n // size))


class _Feeder:
    """Puts rows of the bound data into a list of leaf values."""

    def __init__(self, graph: Graph, data: BoundData) -> None:
        self.slots = [(graph.index[nid], arr) for nid, arr in data.train.items()]
        self.test_slots = [(graph.index[nid], arr) for nid, arr in data.test.items()]
        self.n_train = len(self.slots[0][1])
        self.has_test = len(self.test_slots[0][1]) > 0

    def rows(self, leaves: list[Array | None], idx: np.ndarray | None) -> list[Array | None]:
        leaves = list(leaves)
        for i, arr in self.slots:
            leaves[i] = arr if idx is None else arr[idx]
        return leaves

    def test(self, leaves: list[Array | None]) -> list[Array | None]:
        leaves = list(leaves)
        for i, arr in self.test_slots:
            leaves[i] = arr
        return leaves


def train(
    graph: Graph,
    epochs: int = 10,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    batch_size: int | None = None,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    record_steps: bool = False,
    evaluate_test: bool = True,
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Train the graph's params; returns the history, metrics, predictions and the new graph.

    `optimizer` is "sgd", "momentum", "adam" (with `options` such as momentum or betas)
    or "random_search" (`options`: low, high: the range params are sampled from; it makes
    the same number of loss evaluations as gradient descent makes updates and keeps the
    best). `on_epoch` is called after every epoch with that epoch's figures; `check`
    before every step (a caller stops training by raising from either)."""
    from stepgrad.engine.datasets import batches

    epochs = _check_count(epochs, "epochs")
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size")
    seed = _check_count(seed, "seed", low=0)
    if not graph.params:
        raise GraphError("The graph has no param nodes, so there is nothing to train.")
    shape = graph.shapes[graph.output]
    if shape != ():
        raise GraphError(
            f"Training needs a loss, a single number, but the output {graph.output!r} has shape "
            f"{list(shape)}; end the graph with a loss such as mse, bce or mean."
        )
    found = bound_data(graph)
    leaves = list(graph.leaf_values)
    out = graph.index[graph.output]
    feeder = None
    if found is not None:
        binding, data = found
        for split in (data.train, data.test):
            if not split or not len(next(iter(split.values()))):
                continue  # an empty test split is never fed
            try:
                graph.check_feed({nid: arr.shape for nid, arr in split.items()})
            except ShapeError as exc:
                raise ShapeError(
                    f"Training feeds every row of the dataset to its bound inputs, and then: {exc}"
                ) from None
        feeder = _Feeder(graph, data)
        batch_size = batch_size or binding.batch_size
    rng = np.random.default_rng(seed)

    def epoch_batches() -> Sequence[np.ndarray | None]:
        if feeder is None or batch_size is None or batch_size >= feeder.n_train:
            return [None]
        return batches(feeder.n_train, batch_size, rng)

    def loss_on(values_leaves: Sequence[Array | None]) -> float:
        return float(np.mean(forward_pass(graph, values_leaves)[out]))

    def evaluate(current: list[Array | None]) -> tuple[float, float | None]:
        train_loss = loss_on(feeder.rows(current, None) if feeder else current)
        test_loss = None
        if feeder is not None and evaluate_test and feeder.has_test:
            test_loss = loss_on(feeder.test(current))
        return train_loss, test_loss

    history: dict[str, list[Any]] = {
        "epoch": [],
        "train_loss": [],
        "test_loss": [],
        "batch_loss_mean": [],
    }
    step_losses: list[float] = []
    steps = 0
    start = time.perf_counter()
    train_seconds = 0.0
    param_slots = [graph.index[nid] for nid in graph.params]
    with np.errstate(all="ignore"):
        start_loss = evaluate(leaves)[0]
        if not np.isfinite(start_loss):
            raise StepgradError(
                f"The training loss is {start_loss} before training starts, so there is no "
                "slope to descend; change the values or the graph."
            )
        if optimizer == RANDOM_SEARCH:
            search = _RandomSearch(graph, options or {}, rng)
            best_loss, best = loss_on(feeder.rows(leaves, None) if feeder else leaves), leaves
        else:
            opt = optimizer_from(optimizer, learning_rate, options)
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            batch_losses = []
            for idx in epoch_batches():
                if check is not None:
                    check()
                if optimizer == RANDOM_SEARCH:
                    # one loss evaluation on the whole training part per try
                    candidate = search.sample(best)
                    loss = loss_on(feeder.rows(candidate, None) if feeder else candidate)
                    if loss < best_loss:
                        best_loss, best = loss, candidate
                    leaves = best
                else:
                    fed = feeder.rows(leaves, idx) if feeder else leaves
                    loss, leaves = descent_step(graph, fed, opt)
                batch_losses.append(loss)
                steps += 1
            train_seconds += time.perf_counter() - t0
            if record_steps:
                step_losses.extend(batch_losses)
            train_loss, test_loss = evaluate(leaves)
            # (every param has a value: the filter only tells the type checker so)
            params = [p for i in param_slots if (p := leaves[i]) is not None]
            _check_diverged(epoch, train_loss, start_loss, params)
            row: dict[str, Any] = {
                "epoch": epoch,
                "epochs": epochs,
                "train_loss": train_loss,
                "test_loss": test_loss,
                "batch_loss_mean": float(np.mean(batch_losses)),
                "steps": steps,
                "seconds": time.perf_counter() - start,
            }
            for key in ("epoch", "train_loss", "test_loss", "batch_loss_mean"):
                history[key].append(row[key])
            if on_epoch is not None:
                on_epoch(row)
    if record_steps:
        history["step_loss"] = step_losses
    final_train, final_test = evaluate(leaves)
    predictions = None
    pred_node = _prediction_node(graph) if feeder else None
    if pred_node is not None and feeder is not None:
        fed = feeder.test(leaves) if feeder.has_test else feeder.rows(leaves, None)
        with np.errstate(all="ignore"):
            values = forward_pass(graph, fed)
        truth_id = graph.nodes[graph.output].inputs[0]
        predictions = {
            "part": "test" if feeder.has_test else "train",
            "y_true": np.asarray(values[graph.index[truth_id]]).ravel().tolist(),
            "y_pred": np.asarray(values[graph.index[pred_node]]).ravel().tolist(),
        }
    new_params = {nid: leaves[graph.index[nid]] for nid in graph.params}
    return {
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "train_seconds": train_seconds,
        "us_per_step": train_seconds / steps * 1e6,
        "history": history,
        "final": {"train_loss": final_train, "test_loss": final_test},
        "predictions": predictions,
        "params": new_params,
        "graph": graph.with_values(new_params),
    }


# a loss this many times larger than where training started (and than 1) has diverged:
# with a learning rate too large for the curvature, each step overshoots further
DIVERGENCE_FACTOR = 1e6


def _check_diverged(epoch: int, loss: float, start_loss: float, params: list[Array]) -> None:
    finite_params = all(np.all(np.isfinite(p)) for p in params)
    if finite_params and abs(loss) <= DIVERGENCE_FACTOR * max(abs(start_loss), 1.0):
        return
    why = (
        "a parameter overflowed"
        if not finite_params
        else f"the loss grew more than {DIVERGENCE_FACTOR:g} times from {start_loss:.4g}"
        if np.isfinite(loss)
        else "the loss overflowed"
    )
    raise StepgradError(
        f"Training diverged at epoch {epoch} (loss {loss:.4g}): {why}. Lower the learning rate."
    )


class _RandomSearch:
    """The course's first attempt: draw params at random in [low, high], keep the best."""

    def __init__(self, graph: Graph, options: dict[str, Any], rng: np.random.Generator):
        unknown = set(options) - {"low", "high"}
        if unknown:
            raise StepgradError(
                f"random_search does not take option(s) {', '.join(sorted(unknown))}."
            )
        self.low = float(options.get("low", -10.0))
        self.high = float(options.get("high", 10.0))
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            raise StepgradError("random_search needs finite low < high.")
        self.slots = [(graph.index[nid], graph.shapes[nid]) for nid in graph.params]
        self.rng = rng

    def sample(self, leaves: list[Array | None]) -> list[Array | None]:
        leaves = list(leaves)
        for i, shape in self.slots:
            leaves[i] = self.rng.uniform(self.low, self.high, size=shape)
        return leaves
