"""Central differences against the analytic gradient, for every param and input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stepgrad.engine.graph import Graph
from stepgrad.engine.passes import backward_pass, forward_pass
from stepgrad.engine.tensor import Array


def _objective(graph: Graph, leaf_values: Sequence[Array | None]) -> float:
    # a non-scalar output is checked through the sum of its elements (the seed is all ones)
    return float(np.sum(forward_pass(graph, leaf_values)[graph.index[graph.output]]))


def checked_nodes(graph: Graph) -> list[str]:
    """The leaves a gradient check looks at: every param and input the output depends on."""
    return [
        nid
        for nid in graph.order
        if graph.nodes[nid].op.name in ("param", "input") and nid in graph.ancestors_of_output
    ]


# relative error under which analytic and numeric gradients agree
TOLERANCE = 1e-4
# rounding of f(x + eps) - f(x - eps): a few ulps of |f| per evaluation, and the
# evaluation itself rounds too; 64 ulps keeps healthy checks well clear of it
NOISE_ULPS = 64 * np.finfo(np.float64).eps


def gradcheck(
    graph: Graph,
    eps: float = 1e-6,
    max_elements: int = 2_000,
    seed: int = 0,
    nodes: list[str] | None = None,
    fanout_bug: bool = False,
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Compare d output / d leaf from backward with (f(x + eps) - f(x - eps)) / (2 eps).

    Checks every param and input (or the given `nodes`), at most `max_elements` elements
    each (a deterministic sample beyond that). Relative error per element is
    |analytic - numeric| / max(|analytic|, |numeric|, floor), where the floor is 1e-3 of
    the largest analytic gradient checked: tiny gradients are compared at the scale of the
    others.

    The verdict is "agree", "disagree" or "inconclusive". Central differences round away
    anything below about 64 ulps of |f| / (2 eps), their noise: at a loss of 1e88 that is
    1e80, so a backprop gradient of 1e45 against a numeric 0 cannot be checked at all
    (inconclusive, whatever the relative error against the other gradients). A difference
    within the noise is no disagreement; a gradient that matters in its node (1e-3 of its
    largest or more) and is not 1e4 times above the noise leaves the check inconclusive,
    as does an output that is not finite near the point. A NaN or infinite gradient where
    the numeric one is finite is a disagreement.
    `fanout_bug` checks the gradients of the buggy backward (see `Run`).
    `check`, if given, is called before each element's pair of evaluations: a caller
    stops a long check by raising from it."""
    leaf_values = list(graph.leaf_values)
    with np.errstate(all="ignore"):
        values = forward_pass(graph, leaf_values)
        grads = backward_pass(graph, values, train_only=False, fanout_bug=fanout_bug)
        if nodes is None:
            nodes = checked_nodes(graph)
        rng = np.random.default_rng(seed)
        report: list[dict[str, Any]] = []
        for nid in nodes:
            i = graph.index[nid]
            base = leaf_values[i]
            assert base is not None  # params and inputs always have a value
            analytic = grads[i] if grads[i] is not None else np.zeros_like(base)
            flat_idx = np.arange(base.size)
            if base.size > max_elements:
                flat_idx = np.sort(rng.choice(base.size, max_elements, replace=False))
            numeric = np.empty(flat_idx.size)
            noise = np.empty(flat_idx.size)
            for n, k in enumerate(flat_idx):
                if check is not None:
                    check()
                plus, minus = base.copy(), base.copy()
                plus.flat[k] += eps
                minus.flat[k] -= eps
                leaf_values[i] = plus
                f_plus = _objective(graph, leaf_values)
                leaf_values[i] = minus
                f_minus = _objective(graph, leaf_values)
                numeric[n] = (f_plus - f_minus) / (2 * eps)
                noise[n] = NOISE_ULPS * max(abs(f_plus), abs(f_minus)) / (2 * eps)
            leaf_values[i] = base
            a = np.asarray(analytic, dtype=np.float64).ravel()[flat_idx]
            report.append(
                {"node": nid, "op": graph.nodes[nid].op.name, "checked": int(flat_idx.size),
                 "analytic": a, "numeric": numeric, "noise": noise}
            )  # fmt: skip
        scale = max(
            (float(np.max(np.abs(r["analytic"][np.isfinite(r["analytic"])]), initial=0.0))
             for r in report),
            default=0.0,
        )  # fmt: skip
        floor = max(1e-3 * scale, 1e-12)
        for r in report:
            r.update(_judge(r.pop("analytic"), r["numeric"], r.pop("noise"), floor))
    worst = max((r["max_rel_error"] for r in report), default=0.0)
    verdicts = {r["verdict"] for r in report}
    verdict = next((v for v in ("disagree", "inconclusive") if v in verdicts), "agree")
    reasons = [f"{r['node']}: {r['reason']}" for r in report if r["reason"]]
    return {
        "eps": eps,
        "nodes": report,
        "max_rel_error": worst,
        "verdict": verdict,
        "reason": "; ".join(reasons[:3]) + ("." if reasons else ""),
    }


def _judge(a: Array, numeric: Array, noise: Array, floor: float) -> dict[str, Any]:
    """One node's errors and verdict (see `gradcheck`)."""
    with np.errstate(all="ignore"):
        resolvable = np.isfinite(numeric) & np.isfinite(noise)
        same_inf = np.isinf(a) & (a == numeric)
        magnitude = np.maximum(np.abs(a), np.abs(numeric))
        abs_err = np.where(same_inf, 0.0, np.abs(a - numeric))
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        rel_err = np.where(same_inf, 0.0, abs_err / np.maximum(magnitude, floor))
        rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
        largest = float(np.max(magnitude[np.isfinite(magnitude)], initial=0.0))
        matters = magnitude >= 1e-3 * largest
        unresolved = ~same_inf & (~resolvable | (matters & (noise > TOLERANCE * magnitude)))
        wrong = resolvable & ~same_inf & (rel_err > TOLERANCE) & (abs_err > noise)
    reason = ""
    if wrong.any():
        verdict = "disagree"
        if not np.all(np.isfinite(a[wrong])):
            reason = "backpropagation gives a NaN or infinite gradient where the slope is finite"
    elif unresolved.any():
        verdict = "inconclusive"
        k = int(np.argmax(unresolved))
        reason = (
            "the output is not finite near this point, so central differences say nothing"
            if not resolvable[k]
            else "the output is so large that central differences round away gradients "
            f"below {noise[k]:.2g}, so they cannot check {a[k]:.4g}"
        )
    else:
        verdict = "agree"
    return {
        "analytic": a,
        "max_abs_error": float(np.max(abs_err, initial=0.0)),
        "max_rel_error": float(np.max(rel_err, initial=0.0)),
        "verdict": verdict,
        "reason": reason,
    }
