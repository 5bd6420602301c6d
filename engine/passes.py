"""Backward arithmetic, written once, and the whole passes built on it (the training hot path).

`node_backward` is what one backward step does for one node: the op's vector-Jacobian
product, each part summed back to its input's shape. The timeline (`Run`, one node per
step, with events) and `backward_pass` (every node at once, no events) both call it and
`add_grad`, so stepping and training compute the same numbers by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from stepgrad.engine.graph import Graph
from stepgrad.engine.ops import Grads, Op
from stepgrad.engine.optim import SGD
from stepgrad.engine.tensor import Array, unbroadcast


def node_backward(
    op: Op,
    attrs: dict[str, Any],
    g: Array,
    out: Array,
    xs: list[Array],
    need: Sequence[bool],
) -> Grads:
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


def add_grad(grads: list[Array | None], j: int, part: Array, overwrite: bool = False) -> None:
    """Add a contribution to node j's gradient: a new array, never in place, since another
    node may hold the old one. `overwrite` is the fan-out mistake (see `Run`)."""
    prev = grads[j]
    grads[j] = part if prev is None or overwrite else prev + part


def forward_pass(graph: Graph, leaf_values: Sequence[Array | None]) -> list[Array]:
    """Values of every node, in topological order; `leaf_values[i]` feeds leaf i."""
    with np.errstate(all="ignore"):
        return _forward(graph, leaf_values)


def backward_pass(
    graph: Graph, values: list[Array], train_only: bool = True, fanout_bug: bool = False
) -> list[Array | None]:
    """Gradient of the output with respect to every node (None where none flows).

    `train_only` computes only the gradients through which a param can be reached.
    `fanout_bug` overwrites instead of adding up contributions (see `Run`)."""
    with np.errstate(all="ignore"):
        return _backward(graph, values, train_only, fanout_bug)


def descent_step(
    graph: Graph, leaf_values: Sequence[Array | None], optimizer: SGD
) -> tuple[float, list[Array | None]]:
    """Forward, backward and one optimizer step; returns the loss (the output, a scalar)
    and the new leaf values."""
    index = graph.index
    # one guard for the whole step: entering np.errstate costs about a microsecond
    with np.errstate(all="ignore"):
        values = _forward(graph, leaf_values)
        grads = _backward(graph, values, True, False)
        params = {nid: values[index[nid]] for nid in graph.params}
        new = optimizer.step(
            params, {nid: g for nid in params if (g := grads[index[nid]]) is not None}
        )
    new_values = list(leaf_values)
    for nid, value in new.items():
        new_values[index[nid]] = value
    return float(values[index[graph.output]]), new_values


def _forward(graph: Graph, leaf_values: Sequence[Array | None]) -> list[Array]:
    # None only at computed nodes, each filled before a later node reads it (topological order)
    values = cast(list[Array], list(leaf_values))
    for i, (op, attrs, ins, _, _) in enumerate(graph.plan):
        if ins:
            values[i] = op.forward([values[j] for j in ins], attrs)
    return values


def _backward(
    graph: Graph, values: list[Array], train_only: bool, fanout_bug: bool
) -> list[Array | None]:
    grads: list[Array | None] = [None] * len(values)
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
                prev = grads[j]
                grads[j] = part if prev is None or fanout_bug else prev + part
    return grads
