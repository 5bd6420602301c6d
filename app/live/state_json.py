"""Engine objects turned into JSON-ready data: the graph state, events, reports, DOT.

Tensors become numbers or nested lists with non-finite elements as strings (via
`engine.tensor.to_json`); past the summary threshold they become
`{"summary": {"shape", "size", "min", "max", "mean", "sample"}}`. Every body is strict JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import numpy as np

from stepgrad.app.jsonio import json_safe, number
from stepgrad.app.live.layout import Layout
from stepgrad.engine.graph import Graph
from stepgrad.engine.tensor import summary, to_json


def tensor(arr: np.ndarray | None, threshold: int, full: bool = False) -> object:
    if arr is None:
        return None
    arr = np.asarray(arr)
    if not full and arr.size > threshold:
        return {"summary": summary(arr)}
    return to_json(arr)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def number_or_none(arr) -> float | str | None:
    """A scalar local derivative as a JSON number (non-finite as a string), or None."""
    return None if arr is None else number(float(np.asarray(arr).reshape(())))


def cursor(order: list[str], position: int, back: list[str] | None = None) -> dict:
    """`back`: the nodes backward visits when a target is chosen (None: all, reversed).

    `node` is the node the next step visits; `last` the step just done (contract v1.2), so
    that no client recomputes the timeline."""
    n = len(order)
    total = 2 * n if back is None else n + len(back)

    # index arithmetic, not a reversed copy: a step's cost must not grow with the graph
    def step(p: int) -> tuple[str, str | None]:
        if p < n:
            return "forward", order[p]
        if p < total:
            return "backward", order[2 * n - 1 - p] if back is None else back[p - n]
        return "done", None

    phase, node = step(position)
    last = None
    if 0 < position <= total:
        last_phase, last_node = step(position - 1)
        last = {"phase": last_phase, "node": last_node}
    return {"position": position, "phase": phase, "node": node, "total": total, "last": last}


def backward_order(snapshot) -> list[str] | None:
    """The nodes backward visits, when a target is chosen; None when it visits them all."""
    target = snapshot.state.get("target")
    if target is None:
        return None
    return snapshot.graph.backward_order(target, snapshot.state.get("order"))


def gradient_of(snapshot) -> str:
    """What the gradients are of: the seed node, or sum(node) for a tensor (seeded with
    ones, as PyTorch's backward(torch.ones_like(t)))."""
    graph = snapshot.graph
    node = snapshot.state.get("target") or graph.output
    return node if graph.shapes[node] == () else f"sum({node})"


def static_nodes(graph: Graph, layout: Layout) -> list[dict]:
    """The parts of each node's state that only change with the graph itself."""
    out = []
    for nid in graph.order:
        node = graph.nodes[nid]
        out.append(
            {
                "id": nid,
                "op": node.op.name,
                "label": node.label,
                "inputs": list(node.inputs),
                "trainable": node.trainable,
                "shape": list(graph.shapes[nid]),
                "value": None,
                "grad": None,
                "layer": layout.layer[nid],
                "x": layout.x[nid],
                "y": layout.y[nid],
                "attrs": json_safe(node.attrs),
                "bind": dict(node.bind) if node.bind is not None else None,
                "pinned": node.position is not None,
            }
        )
    return out


def static_edges(graph: Graph, layout: Layout) -> list[tuple[int, int, dict]]:
    out = []
    no_points: list = []
    for src, dst, slot in graph.edges:
        # the layout's own lists of (x, y) tuples, shared, never changed: JSON writes them as
        # arrays, and copying 10^5 waypoints would cost more than the rest of the state
        points = layout.points.get((src, dst), no_points)
        edge = {"source": src, "target": dst, "slot": slot, "grad": None, "points": points}
        out.append((graph.index[dst], slot, edge))
    return out


def render_event(event: dict, threshold: int) -> dict:
    out = {"phase": event["phase"], "position": event["position"], "node": event["node"]}
    if event["phase"] == "forward":
        out["value"] = tensor(event["value"], threshold)
    elif event["phase"] == "backward":
        out["grad"] = tensor(event["grad"], threshold)
        out["contributions"] = [
            {
                "input": c["input"],
                "slot": c["slot"],
                "grad": tensor(c["grad"], threshold),
                "total": tensor(c["total"], threshold),
                "local": number_or_none(c.get("local")),
            }
            for c in event["contributions"]
        ]
    else:
        out["params"] = {k: tensor(v, threshold) for k, v in event.get("params", {}).items()}
    return out


# ---- the parts of a state, one field at a time (the full state and patches share them) ---


def fed_array(snapshot, i: int):
    """A leaf's value before its forward step has shown it, else None."""
    leaf = snapshot.graph.leaf_values[i]
    return leaf if leaf is not None and snapshot.values[i] is None else None


def node_field(snapshot, i: int, name: str, threshold: int, full: bool = False) -> object:
    if name == "value":
        return tensor(snapshot.values[i], threshold, full)
    if name == "grad":
        return tensor(snapshot.grads[i], threshold, full)
    if name == "fed":
        return tensor(fed_array(snapshot, i), threshold, full)
    return snapshot.static_nodes[i][name]


def edge_field(snapshot, e: int, name: str, threshold: int, full: bool = False) -> object:
    consumer, slot, static = snapshot.static_edges[e]
    if name == "grad":
        return tensor(snapshot.edge_grads.get((consumer, slot)), threshold, full)
    if name == "local":
        return number_or_none(snapshot.edge_locals.get((consumer, slot)))
    return static[name]


def run_order(snapshot) -> list[str]:
    return snapshot.state.get("order") or snapshot.graph.order


def top_field(snapshot, name: str) -> object:
    """A top-level field of the state other than the nodes, edges and events."""
    graph, state = snapshot.graph, snapshot.state
    if name == "id":
        return snapshot.id
    if name == "version":
        return snapshot.version
    if name == "name":
        return graph.name
    if name == "output":
        return graph.output
    if name == "created":
        return iso(snapshot.created)
    if name == "order":
        return list(run_order(snapshot))
    if name == "cursor":
        return cursor(run_order(snapshot), snapshot.position, backward_order(snapshot))
    if name == "fanout_bug":
        return bool(state.get("fanout_bug"))
    if name == "params":
        return list(graph.params)
    if name == "optimizer":
        return state.get("optimizer")
    if name == "training":
        training = state.get("training")
        return training_summary(training) if training else None
    if name == "forked_from":
        return state.get("forked_from")
    if name == "target":
        return state.get("target")
    if name == "gradient_of":
        return gradient_of(snapshot)
    if name == "source":
        return graph.source
    raise KeyError(name)


def render_state(snapshot, threshold: int, full: bool = False, events=()) -> dict:
    """The graph state of a session snapshot (see live.manager.Snapshot)."""
    values, grads = snapshot.values, snapshot.grads
    nodes = []
    leaf_values = snapshot.graph.leaf_values
    for i, static in enumerate(snapshot.static_nodes):
        node = dict(static)
        node["value"] = tensor(values[i], threshold, full)
        leaf = leaf_values[i]
        node["fed"] = (
            tensor(leaf, threshold, full) if leaf is not None and values[i] is None else None
        )
        node["grad"] = tensor(grads[i], threshold, full)
        nodes.append(node)
    edges = []
    edge_grads, edge_locals = snapshot.edge_grads, snapshot.edge_locals
    for consumer, slot, static in snapshot.static_edges:
        edge = dict(static)
        edge["grad"] = tensor(edge_grads.get((consumer, slot)), threshold, full)
        edge["local"] = number_or_none(edge_locals.get((consumer, slot)))
        edges.append(edge)
    state = {key: top_field(snapshot, key) for key in TOP_BEFORE_NODES}
    state["nodes"] = nodes
    state["edges"] = edges
    state["events"] = [render_event(e, threshold) for e in events]
    for key in TOP_AFTER_NODES:
        state[key] = top_field(snapshot, key)
    return state


# the top-level fields of the state, in the order the state lists them
TOP_BEFORE_NODES = ("id", "name", "output", "version", "created", "order", "cursor", "fanout_bug")
TOP_AFTER_NODES = (
    "params", "optimizer", "training", "forked_from", "target", "gradient_of", "source",
)  # fmt: skip


def render_node(snapshot, node_id: str) -> dict:
    i = snapshot.graph.index[node_id]
    node = dict(snapshot.static_nodes[i])
    node["value"] = tensor(snapshot.values[i], 0, full=True)
    node["grad"] = tensor(snapshot.grads[i], 0, full=True)
    return node


# ---- training, gradient check ----------------------------------------------------------

TRAIN_KEYS = (
    "optimizer", "learning_rate", "epochs", "batch_size", "seed", "steps", "seconds",
    "train_seconds", "us_per_step", "history", "final", "predictions",
)  # fmt: skip


def train_result(result: dict, threshold: int) -> dict:
    """The trainer's result as JSON data, without the graph object."""
    out = {k: json_safe(result.get(k)) for k in TRAIN_KEYS}
    out["params"] = {k: tensor(v, threshold) for k, v in result.get("params", {}).items()}
    return out


def training_summary(result: dict) -> dict:
    return {
        k: result.get(k)
        for k in ("optimizer", "learning_rate", "epochs", "steps", "seconds", "final")
    }


def progress(row: dict) -> dict:
    fields = ("epoch", "epochs", "train_loss", "test_loss", "steps", "seconds")
    # json_safe keeps a dict a dict
    return cast(dict, json_safe({k: row.get(k) for k in fields}))


def gradcheck_report(report: dict, threshold: int) -> dict:
    return {
        "eps": report["eps"],
        "max_rel_error": number(report["max_rel_error"]),
        "verdict": report["verdict"],
        "reason": report["reason"],
        "nodes": [
            {
                "node": r["node"],
                "op": r["op"],
                "checked": r["checked"],
                "max_abs_error": number(r["max_abs_error"]),
                "max_rel_error": number(r["max_rel_error"]),
                "verdict": r["verdict"],
                "analytic": tensor(r["analytic"], threshold),
                "numeric": tensor(r["numeric"], threshold),
                "reason": r.get("reason", ""),
            }
            for r in report["nodes"]
        ],
    }


# ---- export ------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become ?
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text: left to right, one box per node labelled with its label and op."""
    lines = [
        f"digraph {_dot_string(graph.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    for nid in graph.order:
        node = graph.nodes[nid]
        label = f"{node.label}\n{node.op.name}" if node.label != node.op.name else node.label
        attrs = f"label={_dot_string(label)}"
        if nid == graph.output:
            attrs += ", peripheries=2"
        elif node.trainable:
            attrs += ', style="rounded,bold"'
        lines.append(f"  {_dot_string(nid)} [{attrs}];")
    for src, dst, slot in graph.edges:
        lines.append(
            f"  {_dot_string(src)} -> {_dot_string(dst)} [label={_dot_string(str(slot))}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
