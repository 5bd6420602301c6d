"""The whole forward and backward passes without events: the hot path for training.

Same arithmetic as the step-by-step timeline in `run.py`, but over index lists and
computing gradients only for inputs through which a parameter can be reached.
"""

from __future__ import annotations

import numpy as np

from .graph import Graph
from .tensor import unbroadcast


def forward_pass(graph: Graph, leaf_values: list) -> list:
    """Values of every node, in topological order; `leaf_values[i]` feeds leaf i."""
    values = list(leaf_values)
    for i, (op, attrs, ins, _, _) in enumerate(graph.plan):
        if ins:
            values[i] = op.forward([values[j] for j in ins], attrs)
    return values


def backward_pass(
    graph: Graph, values: list, train_only: bool = True, fanout_bug: bool = False
) -> list:
    """Gradient of the output with respect to every node (None where none flows).

    `fanout_bug` overwrites instead of adding up contributions (see `Run`)."""
    grads: list = [None] * len(values)
    out = graph.index[graph.output]
    grads[out] = np.ones_like(values[out])
    plan = graph.plan
    for i in range(out, -1, -1):
        g = grads[i]
        op, attrs, ins, need, need_train = plan[i]
        if g is None or not ins:
            continue
        mask = need_train if train_only else need
        if not any(mask):
            continue
        xs = [values[j] for j in ins]
        for slot, part in enumerate(op.backward(g, values[i], xs, attrs, mask)):
            if part is None:
                continue
            j = ins[slot]
            if part.shape != xs[slot].shape:
                part = unbroadcast(part, xs[slot].shape)
            grads[j] = part if grads[j] is None or fanout_bug else grads[j] + part
    return grads


def descent_step(graph: Graph, leaf_values: list, optimizer) -> tuple[float, list]:
    """Forward, backward and one optimizer step; returns the loss and the new leaf values."""
    values = forward_pass(graph, leaf_values)
    grads = backward_pass(graph, values)
    index = graph.index
    params = {nid: leaf_values[index[nid]] for nid in graph.params}
    new = optimizer.step(
        params, {nid: grads[index[nid]] for nid in params if grads[index[nid]] is not None}
    )
    leaf_values = list(leaf_values)
    for nid, value in new.items():
        leaf_values[index[nid]] = value
    return float(values[index[graph.output]]), leaf_values
