"""Backward arithmetic, written once, and the whole passes built on it (the training hot path).

`node_backward` is what one backward step does for one node: the op's vector-Jacobian
product, each part summed back to its input's shape. The timeline (`Run`, one node per
step, with events) and `backward_pass` (every node at once, no events) both call it and
`add_grad`, so stepping and training compute the same numbers by construction.
"""

from __future__ import annotations

import numpy as np

from stepgrad.engine.graph import Graph
from stepgrad.engine.tensor import unbroadcast


def node_backward(op, attrs, g, out, xs, need) -> list:
    """g * d out / d input for each input, on the input's own shape (None where `need` is
    false). Call it under `np.errstate(all="ignore")`: inf and NaN are results here."""
    if True not in need:
        return [None] * len(xs)
    parts = op.backward(g, out, xs, attrs, need)
    for slot, part in enumerate(parts):
        if part is None:
            continue
        if not need[slot]:
            # unary ops skip the check: a constant's input slot still gets no gradient
            parts[slot] = None
        elif part.shape != xs[slot].shape:
            parts[slot] = unbroadcast(np.asarray(part, dtype=np.float64), xs[slot].shape)
    return parts


def add_grad(grads: list, j: int, part, overwrite: bool = False) -> None:
    """Add a contribution to node j's gradient: a new array, never in place, since another
    node may hold the old one. `overwrite` is the fan-out mistake (see `Run`)."""
    grads[j] = part if grads[j] is None or overwrite else grads[j] + part


def forward_pass(graph: Graph, leaf_values: list) -> list:
    """Values of every node, in topological order; `leaf_values[i]` feeds leaf i."""
    with np.errstate(all="ignore"):
        return _forward(graph, leaf_values)


def backward_pass(
    graph: Graph, values: list, train_only: bool = True, fanout_bug: bool = False
) -> list:
    """Gradient of the output with respect to every node (None where none flows).

    `train_only` computes only the gradients through which a param can be reached.
    `fanout_bug` overwrites instead of adding up contributions (see `Run`)."""
    with np.errstate(all="ignore"):
        return _backward(graph, values, train_only, fanout_bug)


def descent_step(graph: Graph, leaf_values: list, optimizer) -> tuple[float, list]:
    """Forward, backward and one optimizer step; returns the loss (the output, a scalar)
    and the new leaf values."""
    index = graph.index
    # one guard for the whole step: entering np.errstate costs about a microsecond
    with np.errstate(all="ignore"):
        values = _forward(graph, leaf_values)
        grads = _backward(graph, values, True, False)
        params = {nid: leaf_values[index[nid]] for nid in graph.params}
        new = optimizer.step(
            params, {nid: grads[index[nid]] for nid in params if grads[index[nid]] is not None}
        )
    leaf_values = list(leaf_values)
    for nid, value in new.items():
        leaf_values[index[nid]] = value
    return float(values[index[graph.output]]), leaf_values


def _forward(graph: Graph, leaf_values: list) -> list:
    values = list(leaf_values)
    for i, (op, attrs, ins, _, _) in enumerate(graph.plan):
        if ins:
            values[i] = op.forward([values[j] for j in ins], attrs)
    return values


def _backward(graph: Graph, values: list, train_only: bool, fanout_bug: bool) -> list:
    grads: list = [None] * len(values)
    out = graph.index[graph.output]
    grads[out] = np.ones_like(values[out])
    plan = graph.plan
    for i in range(out, -1, -1):
        g = grads[i]
        op, attrs, ins, need, need_train = plan[i]
        mask = need_train if train_only else need
        if g is None or True not in mask:
            continue
        parts = node_backward(op, attrs, g, values[i], [values[j] for j in ins], mask)
        for j, part in zip(ins, parts, strict=True):
            if part is not None:
                # add_grad, inlined: this loop is the training hot path
                grads[j] = part if grads[j] is None or fanout_bug else grads[j] + part
    return grads
