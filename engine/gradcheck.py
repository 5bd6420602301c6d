"""Central differences against the analytic gradient, for every param and input."""

from __future__ import annotations

import numpy as np

from .graph import Graph
from .passes import backward_pass, forward_pass


def _objective(graph: Graph, leaf_values: list) -> float:
    # a non-scalar output is checked through the sum of its elements (the seed is all ones)
    return float(np.sum(forward_pass(graph, leaf_values)[graph.index[graph.output]]))


def checked_nodes(graph: Graph) -> list[str]:
    """The leaves a gradient check looks at: every param and input the output depends on."""
    return [
        nid
        for nid in graph.order
        if graph.nodes[nid].op.name in ("param", "input") and nid in graph.ancestors_of_output
    ]


def gradcheck_work(graph: Graph, max_elements: int = 2_000) -> int:
    """Node evaluations a check makes: two forward passes per element checked."""
    checked = sum(min(graph.nodes[nid].value.size, max_elements) for nid in checked_nodes(graph))
    return 2 * checked * len(graph)


def gradcheck(
    graph: Graph,
    eps: float = 1e-6,
    max_elements: int = 2_000,
    seed: int = 0,
    nodes: list[str] | None = None,
    fanout_bug: bool = False,
) -> dict:
    """Compare d output / d leaf from backward with (f(x + eps) - f(x - eps)) / (2 eps).

    Checks every param and input (or the given `nodes`), at most `max_elements` elements
    each (a deterministic sample beyond that). Relative error per element is
    |analytic - numeric| / max(|analytic|, |numeric|, floor), where the floor is 1e-3 of
    the largest analytic gradient checked: tiny gradients are compared at the scale of the
    others, since central differences carry a rounding error of about 1e-10 whatever the
    gradient's size. `fanout_bug` checks the gradients of the buggy backward (see `Run`)."""
    leaf_values = list(graph.leaf_values)
    with np.errstate(all="ignore"):
        values = forward_pass(graph, leaf_values)
        grads = backward_pass(graph, values, train_only=False, fanout_bug=fanout_bug)
        if nodes is None:
            nodes = checked_nodes(graph)
        rng = np.random.default_rng(seed)
        report = []
        for nid in nodes:
            i = graph.index[nid]
            base = leaf_values[i]
            analytic = grads[i] if grads[i] is not None else np.zeros_like(base)
            flat_idx = np.arange(base.size)
            if base.size > max_elements:
                flat_idx = np.sort(rng.choice(base.size, max_elements, replace=False))
            numeric = np.empty(flat_idx.size)
            for n, k in enumerate(flat_idx):
                plus, minus = base.copy(), base.copy()
                plus.flat[k] += eps
                minus.flat[k] -= eps
                leaf_values[i] = plus
                f_plus = _objective(graph, leaf_values)
                leaf_values[i] = minus
                f_minus = _objective(graph, leaf_values)
                numeric[n] = (f_plus - f_minus) / (2 * eps)
            leaf_values[i] = base
            a = np.asarray(analytic, dtype=np.float64).ravel()[flat_idx]
            report.append(
                {
                    "node": nid,
                    "op": graph.nodes[nid].op.name,
                    "checked": int(flat_idx.size),
                    "analytic": a,
                    "numeric": numeric,
                }
            )
        scale = max(
            (float(np.nanmax(np.abs(r["analytic"]), initial=0.0)) for r in report), default=0.0
        )
        floor = max(1e-3 * scale, 1e-12)
        for r in report:
            a, numeric = r["analytic"], r["numeric"]
            abs_err = np.abs(a - numeric)
            rel_err = abs_err / np.maximum(np.maximum(np.abs(a), np.abs(numeric)), floor)
            r["max_abs_error"] = float(np.nanmax(abs_err, initial=0.0))
            r["max_rel_error"] = float(np.nanmax(rel_err, initial=0.0))
    worst = max((r["max_rel_error"] for r in report), default=0.0)
    return {"eps": eps, "nodes": report, "max_rel_error": worst}
