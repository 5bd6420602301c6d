"""The course's framework in one file, as a student writes it after the last lesson.

Nodes know their inputs and outputs and hold their own value and gradients. Kahn's
algorithm orders them, forward runs in that order, backward in reverse, and SGD moves the
trainables against their gradients. The rest of `engine/` does the same arithmetic with
more ops, shapes, checks and one-step-at-a-time events; tests/test_reference.py checks that
both give the same numbers on the seed graph and the Boston network.

    x, y, k, b = Placeholder("x"), Placeholder("y"), Placeholder("k"), Placeholder("b")
    loss = MSE(y, Sigmoid(Linear(x, k, b)))
    graph = topological_sort({x: 3.0, y: 0.71, k: 0.09, b: 0.5})
    forward_and_backward(graph)
    sgd_update([k, b], learning_rate=0.1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt


class Node:
    def __init__(self, inputs: Iterable[Node] = ()) -> None:
        self.inputs = list(inputs)
        self.outputs: list[Node] = []
        for node in self.inputs:
            node.outputs.append(self)
        # None until fed or computed, then a number or an array: numpy's operators take both
        self.value: Any = None
        self.gradients: dict[Node, Any] = {}  # d loss / d input, for each input

    def forward(self) -> None:
        raise NotImplementedError

    def backward(self) -> None:
        raise NotImplementedError

    def grad_of_output(self) -> Any:
        """d loss / d self: summed over every consumer (a node used twice gets both shares);
        1 for the loss itself."""
        if not self.outputs:
            return np.ones_like(self.value)
        return sum(consumer.gradients[self] for consumer in dict.fromkeys(self.outputs))


class Placeholder(Node):
    """An input or a trainable: its value is fed in, its gradient is what flows back."""

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name

    def forward(self) -> None:
        pass

    def backward(self) -> None:
        self.gradients = {self: self.grad_of_output()}


def _sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Undo numpy broadcasting: sum the extra and stretched axes away."""
    while np.ndim(grad) > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Linear(Node):
    """x @ w + b; x * w + b for scalars."""

    def __init__(self, x: Node, w: Node, b: Node) -> None:
        super().__init__([x, w, b])

    def forward(self) -> None:
        x, w, b = (node.value for node in self.inputs)
        self.value = x * w + b if np.ndim(x) == 0 or np.ndim(w) == 0 else x @ w + b

    def backward(self) -> None:
        x, w, b = self.inputs
        g = self.grad_of_output()
        if np.ndim(x.value) == 0 or np.ndim(w.value) == 0:
            gx, gw = g * w.value, g * x.value
        else:
            gx, gw = g @ w.value.T, x.value.T @ g
        self.gradients = {
            x: _sum_to_shape(gx, np.shape(x.value)),
            w: _sum_to_shape(gw, np.shape(w.value)),
            b: _sum_to_shape(g, np.shape(b.value)),
        }


class Sigmoid(Node):
    def __init__(self, x: Node) -> None:
        super().__init__([x])

    def forward(self) -> None:
        self.value = 1.0 / (1.0 + np.exp(-self.inputs[0].value))

    def backward(self) -> None:
        s = self.value
        self.gradients = {self.inputs[0]: self.grad_of_output() * (1.0 - s) * s}


class MSE(Node):
    """mean((y - yhat) ** 2)"""

    def __init__(self, y: Node, yhat: Node) -> None:
        super().__init__([y, yhat])

    def forward(self) -> None:
        y, yhat = (node.value for node in self.inputs)
        self.diff = yhat - y
        self.value = np.mean(self.diff * self.diff)

    def backward(self) -> None:
        y, yhat = self.inputs
        g_yhat = (2.0 / self.diff.size) * self.diff * self.grad_of_output()
        self.gradients = {y: -g_yhat, yhat: g_yhat}


def topological_sort(feed_dict: Mapping[Placeholder, npt.ArrayLike]) -> list[Node]:
    """Kahn's algorithm from the fed placeholders; feeds their values on the way.

    Repeatedly take a node with no input left to wait for, and remove its edges."""
    waiting: dict[Node, int] = {}  # node -> inputs not yet taken, in the order first reached
    queue: list[Node] = list(feed_dict)
    while queue:
        node = queue.pop(0)
        if node not in waiting:
            waiting[node] = len(set(node.inputs))
            queue.extend(node.outputs)
    ready = [node for node in waiting if waiting[node] == 0]
    order: list[Node] = []
    while ready:
        node = ready.pop(0)
        if isinstance(node, Placeholder):
            node.value = np.asarray(feed_dict[node], dtype=np.float64)
        order.append(node)
        for consumer in dict.fromkeys(node.outputs):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    if len(order) != len(waiting):
        raise ValueError("the graph has a cycle, or an input that was not fed")
    return order


def forward_and_backward(graph: list[Node]) -> None:
    for node in graph:
        node.forward()
    for node in reversed(graph):
        node.backward()


def sgd_update(trainables: Iterable[Node], learning_rate: float = 0.01) -> None:
    for t in trainables:
        # a new array: never change a value in place that another node may hold
        t.value = t.value - learning_rate * t.gradients[t]
