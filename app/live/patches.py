"""Patches (contract v1.1): what changed between two versions of a graph, and only that.

A `Diff` lists, per node and per edge (by index), the fields that changed, and the
top-level fields that changed. Applying the rendered patch to the state at `base_version`
(each listed field replaced whole; nodes matched by `id`, edges by `source`, `target`,
`slot`) gives the state at `version`, events aside: a change's patch carries the events
of that change, as its whole state does, while GET sends none.

What a change touched comes from the change itself, not from a walk over the graph:

- a run of forward or backward steps (the same graph and order, the cursor moved on by
  exactly the steps its events report): the nodes and edges those events name, plus the
  output, whose gradient the first backward step seeds. O(steps), whatever the graph's size.
- any other change (reset, seek back, new values, update, train, options): every node and
  edge is compared, first by identity (the run never changes an array in place, so an
  array kept is the same object) then, for a recomputed array, bit for bit. Such changes
  recompute or clear the whole run anyway.

A change of the graph's structure (other node ids, order of nodes or edges) gives no
field-level patch: `full` is set and the whole state is sent, with `"full": true`.

`?since=V` is answered from `Stamps`: per node and per edge, the version at which each
group of fields last changed, O(nodes + edges) integers per graph held in memory,
whatever the number of changes. They start when the graph is loaded into memory (or its
structure changes); a V older than that is answered with the full state.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from itertools import compress

import numpy as np

from stepgrad.app.live import state_json as render

NODE_STATIC = ("op", "label", "inputs", "trainable", "shape", "attrs", "bind")
NODE_LAYOUT = ("layer", "x", "y", "pinned")
# the order fields are listed in a node or an edge of the state
NODE_FIELDS = (
    "op", "label", "inputs", "trainable", "shape", "value", "grad", "layer", "x", "y",
    "attrs", "bind", "fed", "pinned",
)  # fmt: skip
EDGE_FIELDS = ("grad", "points", "local")
# the top-level fields a patch lists only when they changed (id, version, cursor, nodes,
# edges and events are always there)
TOP_OPTIONAL = (
    "name", "output", "created", "order", "fanout_bug", "params", "optimizer", "training",
    "forked_from", "target", "gradient_of", "source",
)  # fmt: skip


@dataclass
class Diff:
    nodes: dict[int, set[str]] = field(default_factory=dict)
    edges: dict[int, set[str]] = field(default_factory=dict)
    top: set[str] = field(default_factory=set)
    full: bool = False  # the structure changed: no field-level patch

    def node(self, i: int, name: str) -> None:
        self.nodes.setdefault(i, set()).add(name)

    def edge(self, e: int, name: str) -> None:
        self.edges.setdefault(e, set()).add(name)


def same(a, b) -> bool:
    """Whether two arrays (or None) render alike: the same object, or equal bit for bit."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_structure(g, h) -> bool:
    """Whether two graphs have the same nodes in the same order, with the same edges."""
    if g is h:
        return True
    if g.order != h.order:
        return False
    return all(
        g.nodes[nid].inputs == h.nodes[nid].inputs for nid in g.order
    )  # same inputs in the same order: the same edges


def _top(before, after) -> set[str]:
    changed = set()
    if before.graph is not after.graph:
        for name in ("name", "output", "params", "source"):
            if render.top_field(before, name) != render.top_field(after, name):
                changed.add(name)
    a, b = before.state, after.state
    order_a, order_b = a.get("order"), b.get("order")
    moved = order_a is not order_b or before.graph is not after.graph
    if moved and render.run_order(before) != render.run_order(after):
        changed.add("order")
    if bool(a.get("fanout_bug")) != bool(b.get("fanout_bug")):
        changed.add("fanout_bug")
    if a.get("optimizer") != b.get("optimizer"):
        changed.add("optimizer")
    if a.get("training") is not b.get("training") and render.top_field(
        before, "training"
    ) != render.top_field(after, "training"):
        changed.add("training")
    if a.get("forked_from") != b.get("forked_from"):
        changed.add("forked_from")
    if a.get("target") != b.get("target"):
        changed.add("target")
    if (a.get("target") != b.get("target") or before.graph is not after.graph) and (
        render.gradient_of(before) != render.gradient_of(after)
    ):
        changed.add("gradient_of")
    if before.created != after.created:
        changed.add("created")
    return changed


def _stepped(before, after, events) -> bool:
    """Whether the change was only steps along the same timeline, all reported as events."""
    if after.graph is not before.graph or not events:
        return False
    if before.state.get("order") is not after.state.get("order"):
        return False
    if bool(before.state.get("fanout_bug")) != bool(after.state.get("fanout_bug")):
        return False
    if before.state.get("target") != after.state.get("target"):
        return False
    if after.position - before.position != len(events):
        return False
    return all(
        e.get("phase") in ("forward", "backward") and e.get("position") == before.position + k
        for k, e in enumerate(events, start=1)
    )


def _compare_node(diff: Diff, before, after, i: int) -> None:
    if not same(before.values[i], after.values[i]):
        diff.node(i, "value")
    if not same(before.grads[i], after.grads[i]):
        diff.node(i, "grad")
    if after.graph.leaf_values[i] is not None and not same(
        render.fed_array(before, i), render.fed_array(after, i)
    ):
        diff.node(i, "fed")


def _compare_edge(diff: Diff, before, after, key: tuple[int, int]) -> None:
    e = after.edge_index[key]
    if not same(before.edge_grads.get(key), after.edge_grads.get(key)):
        diff.edge(e, "grad")
    if not same(before.edge_locals.get(key), after.edge_locals.get(key)):
        diff.edge(e, "local")


def diff(before, after, events=()) -> Diff:
    """What changed from snapshot `before` to snapshot `after` (see the module's docstring)."""
    out = Diff()
    if not same_structure(before.graph, after.graph):
        out.full = True
        return out
    out.top = _top(before, after)
    if _stepped(before, after, events):
        index = after.graph.index
        n = len(after.graph)
        nodes: set[int] = set()
        edges: set[tuple[int, int]] = set()
        for event in events:
            i = index[event["node"]]
            nodes.add(i)
            if event["phase"] == "backward":
                for c in event["contributions"]:
                    nodes.add(index[c["input"]])
                    edges.add((i, c["slot"]))
        if before.position <= n < after.position:  # the first backward step seeds the target
            nodes.add(index[after.state.get("target") or after.graph.output])
        for i in sorted(nodes):
            _compare_node(out, before, after, i)
        for key in edges:
            _compare_edge(out, before, after, key)
        return out
    n = len(after.graph)
    changed = set(compress(range(n), map(operator.is_not, before.values, after.values)))
    changed.update(compress(range(n), map(operator.is_not, before.grads, after.grads)))
    if before.graph is not after.graph:
        changed.update(
            compress(
                range(n),
                map(operator.is_not, before.graph.leaf_values, after.graph.leaf_values),
            )
        )
        for i, (a, b) in enumerate(zip(before.static_nodes, after.static_nodes, strict=True)):
            if a is not b:
                for name in (*NODE_STATIC, *NODE_LAYOUT):
                    if a[name] != b[name]:
                        out.node(i, name)
        for e, (a, b) in enumerate(zip(before.static_edges, after.static_edges, strict=True)):
            if a[2]["points"] != b[2]["points"]:
                out.edge(e, "points")
    for i in sorted(changed):
        _compare_node(out, before, after, i)
    for key in set(before.edge_grads) | set(after.edge_grads):
        if before.edge_grads.get(key) is not after.edge_grads.get(key):
            _compare_edge(out, before, after, key)
    for key in set(before.edge_locals) | set(after.edge_locals):
        if before.edge_locals.get(key) is not after.edge_locals.get(key):
            _compare_edge(out, before, after, key)
    return out


def render_patch(
    snapshot, base_version: int, d: Diff, threshold: int, events=(), full: bool = False
) -> dict:
    """The patch from `base_version` to `snapshot`, as JSON-ready data."""
    if d.full:
        state = render.render_state(snapshot, threshold, full, events)
        return {**state, "base_version": base_version, "full": True}
    out: dict = {
        "id": snapshot.id,
        "version": snapshot.version,
        "base_version": base_version,
        "cursor": render.top_field(snapshot, "cursor"),
    }
    for name in TOP_OPTIONAL:
        if name in d.top:
            out[name] = render.top_field(snapshot, name)
    nodes = []
    for i in sorted(d.nodes):
        names = d.nodes[i]
        node = {"id": snapshot.graph.order[i]}
        for name in NODE_FIELDS:
            if name in names:
                node[name] = render.node_field(snapshot, i, name, threshold, full)
        nodes.append(node)
    edges = []
    for e in sorted(d.edges):
        names = d.edges[e]
        static = snapshot.static_edges[e][2]
        edge = {"source": static["source"], "target": static["target"], "slot": static["slot"]}
        for name in EDGE_FIELDS:
            if name in names:
                edge[name] = render.edge_field(snapshot, e, name, threshold, full)
        edges.append(edge)
    out["nodes"] = nodes
    out["edges"] = edges
    out["events"] = [render.render_event(ev, threshold) for ev in events]
    return out


class Stamps:
    """Per node and edge, the version at which each group of its fields last changed, for
    `?since=V`. Written under the graph's lock; read without it: a stamp only grows, so a
    reader racing a writer at worst lists a field whose value it then renders unchanged."""

    def __init__(self, since: int, nodes: int, edges: int):
        self.since = since  # complete for every change to a later version
        self.value = np.zeros(nodes, dtype=np.int64)  # value and fed
        self.grad = np.zeros(nodes, dtype=np.int64)
        self.static = np.zeros(nodes, dtype=np.int64)
        self.layout = np.zeros(nodes, dtype=np.int64)
        self.edge = np.zeros(edges, dtype=np.int64)  # grad and local
        self.points = np.zeros(edges, dtype=np.int64)
        self.top: dict[str, int] = {}

    def record(self, d: Diff, version: int) -> None:
        for i, names in d.nodes.items():
            if "value" in names or "fed" in names:
                self.value[i] = version
            if "grad" in names:
                self.grad[i] = version
            if not names.isdisjoint(NODE_STATIC):
                self.static[i] = version
            if not names.isdisjoint(NODE_LAYOUT):
                self.layout[i] = version
        for e, names in d.edges.items():
            if "grad" in names or "local" in names:
                self.edge[e] = version
            if "points" in names:
                self.points[e] = version
        for name in d.top:
            self.top[name] = version

    def since_diff(self, snapshot, version: int) -> Diff:
        """Everything that changed after `version` (at least; `version` >= `self.since`)."""
        out = Diff()
        leaves = snapshot.graph.leaf_values
        for i in np.flatnonzero(self.value > version).tolist():
            out.node(i, "value")
            if leaves[i] is not None:
                out.node(i, "fed")
        for i in np.flatnonzero(self.grad > version).tolist():
            out.node(i, "grad")
        for i in np.flatnonzero(self.static > version).tolist():
            out.nodes.setdefault(i, set()).update(NODE_STATIC)
        for i in np.flatnonzero(self.layout > version).tolist():
            out.nodes.setdefault(i, set()).update(NODE_LAYOUT)
        for e in np.flatnonzero(self.edge > version).tolist():
            out.edges.setdefault(e, set()).update(("grad", "local"))
        for e in np.flatnonzero(self.points > version).tolist():
            out.edge(e, "points")
        out.top = {name for name, v in list(self.top.items()) if v > version}
        return out
