"""Building graphs in Python, in the course's own style.

    x, y = Placeholder("x", 3.0), Placeholder("y", 0.71)
    k, b = Parameter("k", 0.09), Parameter("b", 0.5)
    loss = MSE(y, Sigmoid(Linear(x, k, b)))      # or: MSE(y, Sigmoid(k * x + b))
    run = Run(loss.graph())
    run.run_all(); run.grad("k")

A Node here only records what to build; `graph()` turns the nodes reachable from an
output into an engine Graph (validated, topologically ordered), `to_spec()` into JSON.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from stepgrad.engine.graph import Graph, Limits
from stepgrad.engine.ops import OPS
from stepgrad.engine.tensor import to_json

# what an op takes: a node, or a value that becomes a constant
Operand: TypeAlias = "Node | npt.ArrayLike"


class Node:
    _serial = itertools.count()

    def __init__(
        self,
        op: str,
        inputs: Iterable[Operand] = (),
        value: npt.ArrayLike | None = None,
        name: str | None = None,
        label: str | None = None,
        **attrs: Any,
    ) -> None:
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        self.op = op
        self.inputs = tuple(_as_node(x) for x in inputs)
        self.value = value
        self.name = name
        self.label = label
        self.attrs = attrs
        self._serial_no = next(Node._serial)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name or self.op!r})"

    # operator overloading, as the course's later chapters do
    def __add__(self, other: Operand) -> Node:
        return Node("add", (self, other))

    def __radd__(self, other: Operand) -> Node:
        return Node("add", (other, self))

    def __sub__(self, other: Operand) -> Node:
        return Node("sub", (self, other))

    def __rsub__(self, other: Operand) -> Node:
        return Node("sub", (other, self))

    def __mul__(self, other: Operand) -> Node:
        return Node("mul", (self, other))

    def __rmul__(self, other: Operand) -> Node:
        return Node("mul", (other, self))

    def __truediv__(self, other: Operand) -> Node:
        return Node("div", (self, other))

    def __rtruediv__(self, other: Operand) -> Node:
        return Node("div", (other, self))

    def __pow__(self, other: Operand) -> Node:
        return Node("pow", (self, other))

    def __rpow__(self, other: Operand) -> Node:
        return Node("pow", (other, self))

    def __matmul__(self, other: Operand) -> Node:
        return Node("matmul", (self, other))

    def __neg__(self) -> Node:
        return Node("neg", (self,))

    def ancestors(self) -> list[Node]:
        """This node and every node it depends on, each once (iterative, no recursion)."""
        seen: dict[int, Node] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen[id(node)] = node
            stack.extend(node.inputs)
        return sorted(seen.values(), key=lambda n: n._serial_no)

    def to_spec(self, name: str = "graph") -> dict[str, Any]:
        nodes = self.ancestors()
        ids = _assign_ids(nodes)
        out = []
        for node in nodes:
            item: dict[str, Any] = {"id": ids[id(node)], "op": node.op}
            if node.inputs:
                item["inputs"] = [ids[id(x)] for x in node.inputs]
            if node.attrs:
                item["attrs"] = dict(node.attrs)
            if OPS[node.op].leaf:
                item["value"] = to_json(node.value) if hasattr(node.value, "shape") else node.value
            if node.label:
                item["label"] = node.label
            out.append(item)
        return {"name": name, "nodes": out, "output": ids[id(self)]}

    def graph(self, name: str = "graph", limits: Limits | None = None) -> Graph:
        return Graph.from_spec(self.to_spec(name), limits)


def _assign_ids(nodes: list[Node]) -> dict[int, str]:
    taken = {n.name for n in nodes if n.name}
    counters: dict[str, int] = {}
    ids = {}
    for node in nodes:
        if node.name:
            ids[id(node)] = node.name
            continue
        while True:
            counters[node.op] = counters.get(node.op, 0) + 1
            candidate = f"{node.op}_{counters[node.op]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        ids[id(node)] = candidate
    return ids


def _as_node(x: Operand) -> Node:
    return x if isinstance(x, Node) else Constant(x)


class Placeholder(Node):
    """An input fed from outside; not trained (the course's Placeholder)."""

    def __init__(self, name: str | None = None, value: npt.ArrayLike = 0.0) -> None:
        super().__init__("input", value=value, name=name)


class Parameter(Node):
    """A trainable value, updated by gradient descent."""

    def __init__(self, name: str | None = None, value: npt.ArrayLike = 0.0) -> None:
        super().__init__("param", value=value, name=name)


class Constant(Node):
    def __init__(self, value: npt.ArrayLike, name: str | None = None) -> None:
        super().__init__("const", value=value, name=name, label=None if name else _short(value))


def _short(value: npt.ArrayLike) -> str:
    """A label for an unnamed constant: the number itself, or its shape for a tensor."""
    shape = np.shape(value)
    text = str(np.asarray(value).tolist()) if shape else str(value)
    if len(text) <= 40:
        return text
    return "const " + "x".join(map(str, shape)) if shape else "const"


class Linear(Node):
    """x @ w + b (x * w + b for scalars), the course's Linear node."""

    def __init__(self, x: Operand, w: Operand, b: Operand, name: str | None = None) -> None:
        super().__init__("linear", (x, w, b), name=name)


class Sigmoid(Node):
    def __init__(self, x: Operand, name: str | None = None) -> None:
        super().__init__("sigmoid", (x,), name=name)


class MSE(Node):
    """mean((y - yhat) ** 2), the course's loss node."""

    def __init__(self, y: Operand, yhat: Operand, name: str | None = None) -> None:
        super().__init__("mse", (y, yhat), name=name)


def apply(op: str, *inputs: Operand, name: str | None = None, **attrs: Any) -> Node:
    """Any registered op by name: apply("relu", h), apply("sum", x, axis=0)."""
    return Node(op, inputs, name=name, **attrs)
