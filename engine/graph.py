"""A computation graph built from a spec: validated nodes, a deterministic topological order
(networkx), layers, shapes, and a compact plan that the timeline and the trainer run."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np

from stepgrad.engine.errors import CycleError, GraphError, LimitError, ShapeError, TensorError
from stepgrad.engine.ops import OPS, Op
from stepgrad.engine.tensor import DEFAULT_MAX_ELEMENTS, Array, as_tensor, to_json

ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_LABEL_LENGTH = 200
NODE_KEYS = {"id", "op", "inputs", "attrs", "value", "label", "bind", "x", "y"}
SPEC_KEYS = {"name", "nodes", "output", "source"}
MAX_POSITION = 1e7  # |x|, |y| of a node placed by hand
MAX_SOURCE_TEXT = 1_000_000  # characters of the stored source of a graph (see `source`)

# the value of a bound input, from its node id and its `bind` (see engine.data)
ResolveBind = Callable[[str, object], Array]
# per node, in topological order: op, attrs, input indices, need, need_train (see _compile)
PlanStep = tuple[Op, dict[str, Any], tuple[int, ...], tuple[bool, ...], tuple[bool, ...]]


@dataclass(frozen=True)
class Limits:
    max_nodes: int = 5_000
    max_elements: int = DEFAULT_MAX_ELEMENTS  # per tensor
    max_total_elements: int = 10_000_000  # summed over every node's value


@dataclass
class GraphNode:
    id: str
    op: Op
    inputs: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    value: Array | None = None  # leaves only
    label: str = ""
    bind: dict[str, Any] | None = None  # an input fed from a dataset (see engine.data)
    # where a user placed the node by hand (drawing only: the maths never reads it)
    position: tuple[float, float] | None = None

    @property
    def trainable(self) -> bool:
        return self.op.trainable


def check_id(node_id: object, what: str = "Node id") -> str:
    if not isinstance(node_id, str):
        raise GraphError(f"{what} {node_id!r} is not a string.")
    if len(node_id) > MAX_ID_LENGTH:
        raise GraphError(f"{what} {node_id[:20]!r}... is longer than {MAX_ID_LENGTH} characters.")
    if not ID_PATTERN.match(node_id):
        raise GraphError(
            f"{what} {node_id!r} is not identifier-like (letters, digits and _, not starting "
            "with a digit)."
        )
    return node_id


def _node_from_spec(
    raw: object, index: int, limits: Limits, resolve_bind: ResolveBind | None
) -> GraphNode:
    if not isinstance(raw, dict):
        raise GraphError(f"Node #{index} is not an object.")
    node_id = check_id(raw.get("id"), f"Node #{index} id")
    unknown = set(raw) - NODE_KEYS
    if unknown:
        raise GraphError(f"Node {node_id!r} has unknown field(s): {', '.join(sorted(unknown))}.")
    op_name = raw.get("op")
    if not isinstance(op_name, str) or op_name not in OPS:
        raise GraphError(
            f"Node {node_id!r} has unknown op {op_name!r}; known ops: {', '.join(OPS)}."
        )
    op = OPS[op_name]
    inputs = raw.get("inputs", [])
    if not isinstance(inputs, list | tuple) or not all(isinstance(i, str) for i in inputs):
        raise GraphError(f"Node {node_id!r}: inputs must be a list of node ids.")
    if len(inputs) != op.arity:
        raise GraphError(
            f"Node {node_id!r} ({op_name}) takes {op.arity} input(s), got {len(inputs)}."
        )
    attrs = raw.get("attrs") or {}
    if not isinstance(attrs, dict):
        raise GraphError(f"Node {node_id!r}: attrs must be an object.")
    try:
        attrs = op.check_attrs(attrs)
    except ValueError as exc:
        raise GraphError(f"Node {node_id!r} ({op_name}): {exc}.") from None
    label = raw.get("label", node_id)
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
        raise GraphError(
            f"Node {node_id!r}: label must be text of at most {MAX_LABEL_LENGTH} characters."
        )
    bind = raw.get("bind")
    value = None
    if op.leaf:
        if bind is not None:
            if op_name != "input":
                raise GraphError(f"Node {node_id!r}: only input nodes can be bound to a dataset.")
            if resolve_bind is None:
                raise GraphError(f"Node {node_id!r} is bound to a dataset, which is not available.")
            value = resolve_bind(node_id, bind)
        elif "value" not in raw or raw["value"] is None:
            raise GraphError(f"Node {node_id!r} ({op_name}) needs a value.")
        else:
            value = as_tensor(raw["value"], node_id, limits.max_elements)
    else:
        if raw.get("value") is not None:
            raise GraphError(f"Node {node_id!r} ({op_name}) is computed; it cannot take a value.")
        if bind is not None:
            raise GraphError(f"Node {node_id!r} ({op_name}) is computed; it cannot be bound.")
    return GraphNode(node_id, op, tuple(inputs), attrs, value, label, bind, _position(raw, node_id))


def _position(raw: dict[str, Any], node_id: str) -> tuple[float, float] | None:
    """A hand-placed position: both of x and y, finite numbers, or neither."""
    x, y = raw.get("x"), raw.get("y")
    if x is None and y is None:
        return None
    coords = []
    for v in (x, y):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise GraphError(f"Node {node_id!r}: x and y must both be finite numbers.")
        if abs(v) > MAX_POSITION:
            raise GraphError(f"Node {node_id!r}: x and y must be within +-{MAX_POSITION:g}.")
        coords.append(float(v))
    return coords[0], coords[1]


def _source(raw: object) -> dict[str, Any] | None:
    """What made the graph (an expression with its inputs and params, or a network
    description), kept so an editor can reopen it; never read by the maths."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise GraphError("The spec's source must be an object.")
    import json

    try:
        text = json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError):
        raise GraphError("The spec's source must be plain JSON with finite numbers.") from None
    if len(text) > MAX_SOURCE_TEXT:
        raise GraphError(
            f"The spec's source is {len(text):,} characters long; the limit is {MAX_SOURCE_TEXT:,}."
        )
    copy: dict[str, Any] = json.loads(text)  # a private copy
    return copy


class Graph:
    """Immutable once built; `with_values` returns a new graph."""

    def __init__(
        self,
        name: str,
        nodes: list[GraphNode],
        output: str | None,
        limits: Limits,
        source: dict[str, Any] | None = None,
    ):
        self.name = name
        self.source = source
        self.limits = limits
        self.nodes: dict[str, GraphNode] = {}
        for node in nodes:
            if node.id in self.nodes:
                raise GraphError(f"Node id {node.id!r} is used twice.")
            self.nodes[node.id] = node
        if not self.nodes:
            raise GraphError("The graph has no nodes.")
        if len(self.nodes) > limits.max_nodes:
            raise LimitError(
                f"The graph has {len(self.nodes)} nodes; the limit is {limits.max_nodes}."
            )
        spec_index = {nid: i for i, nid in enumerate(self.nodes)}
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        for node in self.nodes.values():
            for src in node.inputs:
                if src not in self.nodes:
                    raise GraphError(f"Node {node.id!r} takes input {src!r}, which does not exist.")
                g.add_edge(src, node.id)
        if not nx.is_directed_acyclic_graph(g):
            cycle = [u for u, _ in nx.find_cycle(g)]
            raise CycleError(
                "The graph has a cycle: " + " -> ".join([*cycle, cycle[0]]) + ".", cycle
            )
        self.nx = g
        self.order: list[str] = list(nx.lexicographical_topological_sort(g, key=spec_index.get))
        self.index = {nid: i for i, nid in enumerate(self.order)}
        self.layers: dict[str, int] = {
            nid: depth for depth, gen in enumerate(nx.topological_generations(g)) for nid in gen
        }
        sinks = [nid for nid in self.order if g.out_degree(nid) == 0]
        if output is None:
            if len(sinks) != 1:
                raise GraphError(
                    f"The graph has {len(sinks)} nodes that feed nothing ("
                    + ", ".join(sinks[:10])
                    + '); name the output with "output".'
                )
            output = sinks[0]
        elif output not in self.nodes:
            raise GraphError(f"The output {output!r} is not a node of the graph.")
        self.output = output
        self.consumers: dict[str, list[tuple[str, int]]] = {nid: [] for nid in self.order}
        for node in self.nodes.values():
            for slot, src in enumerate(node.inputs):
                self.consumers[src].append((node.id, slot))
        self.shapes = self._infer_shapes()
        self._compile()

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls, spec: object, limits: Limits | None = None, resolve_bind: ResolveBind | None = None
    ) -> Graph:
        limits = limits or Limits()
        if not isinstance(spec, dict):
            raise GraphError("A graph spec must be an object with a list of nodes.")
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise GraphError(f"The spec has unknown field(s): {', '.join(sorted(unknown))}.")
        name = spec.get("name", "untitled")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise GraphError(
                f"The graph name must be text of at most {MAX_NAME_LENGTH} characters."
            )
        raw_nodes = spec.get("nodes")
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise GraphError("A graph spec needs a non-empty list of nodes.")
        if len(raw_nodes) > limits.max_nodes:
            raise LimitError(
                f"The graph has {len(raw_nodes)} nodes; the limit is {limits.max_nodes}."
            )
        if resolve_bind is None and any(isinstance(n, dict) and n.get("bind") for n in raw_nodes):
            from stepgrad.engine.data import BindingResolver

            resolve_bind = BindingResolver(limits.max_elements)
        nodes = [_node_from_spec(raw, i, limits, resolve_bind) for i, raw in enumerate(raw_nodes)]
        output = spec.get("output")
        if output is not None and not isinstance(output, str):
            raise GraphError("The output must be a node id.")
        return cls(name, nodes, output, limits, _source(spec.get("source")))

    def to_spec(self) -> dict[str, Any]:
        """The spec that rebuilds this graph (same ids, ops, values, order)."""
        nodes = []
        for node in self.nodes.values():
            item: dict[str, Any] = {"id": node.id, "op": node.op.name}
            if node.inputs:
                item["inputs"] = list(node.inputs)
            attrs = {k: v for k, v in node.attrs.items() if v != node.op.attr_defaults.get(k)}
            if attrs:
                item["attrs"] = attrs
            if node.bind is not None:
                item["bind"] = dict(node.bind)
            elif node.op.leaf:
                item["value"] = to_json(node.value)
            if node.label != node.id:
                item["label"] = node.label
            if node.position is not None:
                item["x"], item["y"] = node.position
            nodes.append(item)
        spec: dict[str, Any] = {"name": self.name, "nodes": nodes}
        sinks = [n for n in self.order if self.nx.out_degree(n) == 0]
        if sinks != [self.output]:
            spec["output"] = self.output
        if self.source is not None:
            spec["source"] = self.source
        return spec

    def with_values(self, values: Mapping[str, object]) -> Graph:
        """A copy with new leaf values; shapes are checked again, this graph is unchanged."""
        nodes = []
        for nid in values:
            if nid not in self.nodes:
                raise GraphError(f"There is no node {nid!r}.")
            if not self.nodes[nid].op.leaf:
                raise GraphError(f"Node {nid!r} is computed; only leaves take values.")
        for node in self.nodes.values():
            if node.id in values:
                arr = as_tensor(values[node.id], node.id, self.limits.max_elements)
                node = replace(node, value=arr, bind=None)
            nodes.append(node)
        return Graph(self.name, nodes, self.output, self.limits, self.source)

    def with_positions(self, positions: dict[str, tuple[float, float] | None]) -> Graph:
        """A copy with nodes placed by hand (None: back to the automatic layout); the
        values and the maths are the same objects, this graph is unchanged."""
        for nid, pos in positions.items():
            if nid not in self.nodes:
                raise GraphError(f"There is no node {nid!r}.")
            if pos is not None:
                _position({"x": pos[0], "y": pos[1]}, nid)
        nodes = []
        for n in self.nodes.values():
            if n.id in positions:
                pos = positions[n.id]
                n = replace(n, position=None if pos is None else (float(pos[0]), float(pos[1])))
            nodes.append(n)
        return Graph(self.name, nodes, self.output, self.limits, self.source)

    # ---- shapes and the plan -----------------------------------------------------------

    def check_feed(self, leaf_shapes: dict[str, tuple[int, ...]]) -> None:
        """Raise ShapeError, naming the node, unless the graph computes with these leaves fed
        values of these shapes (a dataset's whole split instead of one batch, say)."""
        self._infer_shapes(leaf_shapes, limits=False)

    def _infer_shapes(
        self, leaf_shapes: dict[str, tuple[int, ...]] | None = None, limits: bool = True
    ) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        total = 0
        for nid in self.order:
            node = self.nodes[nid]
            if node.op.leaf:
                assert node.value is not None  # every leaf has one (see _node_from_spec)
                shape = (leaf_shapes or {}).get(nid, node.value.shape)
            else:
                ins = [shapes[s] for s in node.inputs]
                try:
                    shape = tuple(node.op.shape(ins, node.attrs))
                except ShapeError as exc:
                    names = ", ".join(f"{s} {list(shapes[s])}" for s in node.inputs)
                    raise ShapeError(
                        f"Node {nid!r} ({node.op.name}): {exc} (inputs: {names})."
                    ) from None
            size = int(np.prod(shape)) if shape else 1
            if limits and size > self.limits.max_elements:
                raise TensorError(
                    f"Node {nid!r} would hold {size} elements; the limit is "
                    f"{self.limits.max_elements} per tensor."
                )
            total += size
            shapes[nid] = shape
        if limits and total > self.limits.max_total_elements:
            raise LimitError(
                f"The graph would hold {total} elements in all; the limit is "
                f"{self.limits.max_total_elements}."
            )
        return shapes

    def _compile(self) -> None:
        """Index-based plan: per node (op, attrs, input indices), and which inputs want a grad.

        `need` (for stepping) asks a gradient of every input but constants; `need_train`
        only of inputs through which a parameter can be reached."""
        idx = self.index
        const = {nid for nid, n in self.nodes.items() if n.op.name == "const"}
        reaches_param: set[str] = set()
        for nid in self.order:
            node = self.nodes[nid]
            if node.op.trainable or any(s in reaches_param for s in node.inputs):
                reaches_param.add(nid)
        self.plan: list[PlanStep] = []
        for nid in self.order:
            node = self.nodes[nid]
            ins = tuple(idx[s] for s in node.inputs)
            need = tuple(s not in const for s in node.inputs)
            need_train = tuple(s in reaches_param for s in node.inputs)
            self.plan.append((node.op, node.attrs, ins, need, need_train))
        self.leaf_values = [self.nodes[nid].value for nid in self.order]
        self.params = [nid for nid in self.order if self.nodes[nid].op.trainable]
        self.ancestors_of_output: set[str] = nx.ancestors(self.nx, self.output) | {self.output}

    def ancestors(self, node_id: str) -> frozenset[str]:
        """The node and every node it depends on (cached per node: the graph never changes)."""
        cache: dict[str, frozenset[str]] = self.__dict__.setdefault("_ancestors", {})
        found = cache.get(node_id)
        if found is None:
            if node_id not in self.nodes:
                raise GraphError(f"There is no node {node_id!r}.")
            found = cache[node_id] = frozenset(nx.ancestors(self.nx, node_id) | {node_id})
        return found

    def backward_order(self, target: str, order: list[str] | None = None) -> list[str]:
        """The nodes a backward pass from `target` visits: its ancestors, in reverse of
        `order` (the graph's own by default). Cached for the last order object given, so
        a caller asking at every step pays O(graph) once."""
        cache: dict[str, tuple[list[str] | None, list[str]]] = self.__dict__.setdefault(
            "_backward_orders", {}
        )
        hit = cache.get(target)
        if hit is not None and hit[0] is order:
            return hit[1]
        wanted = self.ancestors(target)
        back = [nid for nid in reversed(order or self.order) if nid in wanted]
        cache[target] = (order, back)
        return back

    def __len__(self) -> int:
        return len(self.order)

    @property
    def edges(self) -> list[tuple[str, str, int]]:
        return [
            (src, nid, slot)
            for nid in self.order
            for slot, src in enumerate(self.nodes[nid].inputs)
        ]
