"""The timeline: values and gradients per node and a cursor over 2N steps for N nodes.

Steps 1..N evaluate one node each in topological order; steps N+1..2N visit one node
each in reverse order and push `grad * local derivative` to its inputs, where
contributions from several consumers add up. Every step returns an event record.
The arithmetic of a backward step is `passes.node_backward`, shared with the fast passes.

Any node can be the `target` of the backward pass instead of the output: backward then
seeds d target / d target = 1 (ones of its shape for a tensor, so the gradients are those
of sum(target)) and visits only the target and its ancestors, so the timeline has
N + (number of those) steps; every other node keeps no gradient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from stepgrad.engine.errors import GraphError, PhaseError
from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import SGD
from stepgrad.engine.passes import add_grad, node_backward
from stepgrad.engine.tensor import Array

# what a step did, as the API reports it
Event = dict[str, Any]
# an edge's gradient and local derivative before a step, keyed by (consumer, input slot)
EdgeUndo = dict[tuple[int, int], tuple[Array | None, Array | None]]
# what a step replaced: (node, its old value, None, None) for a forward step,
# (None, None, old gradients by node, EdgeUndo) for a backward one
Undo = tuple[int | None, Array | None, dict[int, Array | None] | None, EdgeUndo | None]


class Run:
    """`order` replaces the graph's topological order with another valid one (any valid
    order gives the same gradients). `fanout_bug=True` makes backward overwrite a node's
    gradient instead of adding up its consumers' contributions: the classic mistake,
    kept so a class can watch it give wrong gradients. `target` names the node whose
    gradient backward computes (None: the graph's output, visiting every node)."""

    def __init__(
        self,
        graph: Graph,
        order: list[str] | None = None,
        fanout_bug: bool = False,
        target: str | None = None,
    ):
        self.graph = graph
        self.fanout_bug = bool(fanout_bug)
        self._set_order(order)
        self._set_target(target)
        self.reset()

    def _set_target(self, target: str | None) -> None:
        graph = self.graph
        if target is not None and (not isinstance(target, str) or target not in graph.nodes):
            raise GraphError(
                f"The target {str(target)[:64]!r} is not a node of the graph; pick one of its "
                "nodes, or null for the output."
            )
        self.target = target
        if target is None:
            self.back = self.sequence[::-1]
        else:
            wanted = graph.ancestors(target)
            self.back = [i for i in reversed(self.sequence) if graph.order[i] in wanted]

    @property
    def seed_node(self) -> str:
        """The node backward starts from, seeded with ones: the target, else the output."""
        return self.target if self.target is not None else self.graph.output

    def _set_order(self, order: list[str] | None) -> None:
        graph = self.graph
        if order is None:
            self.sequence = list(range(len(graph)))
            return
        if not isinstance(order, list) or sorted(map(str, order)) != sorted(graph.order):
            raise GraphError("The order must list every node of the graph exactly once.")
        seen: set[str] = set()
        for nid in order:
            missing = [s for s in graph.nodes[nid].inputs if s not in seen]
            if missing:
                raise GraphError(
                    f"In that order {nid!r} comes before its input {missing[0]!r}; "
                    "a node can only be evaluated after all of its inputs."
                )
            seen.add(nid)
        self.sequence = [graph.index[nid] for nid in order]

    @property
    def order(self) -> list[str]:
        return [self.graph.order[i] for i in self.sequence]

    @property
    def custom_order(self) -> list[str] | None:
        """The order given instead of the graph's own, or None."""
        return self.order if self.sequence != list(range(len(self.graph))) else None

    # ---- cursor ------------------------------------------------------------------------

    def reset(self) -> None:
        n = len(self.graph)
        self.values: list[Array | None] = [None] * n
        self.grads: list[Array | None] = [None] * n
        # contribution sent along each edge, keyed by (consumer index, input slot)
        self.edge_grads: dict[tuple[int, int], Array] = {}
        # d consumer / d input on edges between scalars: the factors of the chain rule
        self.edge_locals: dict[tuple[int, int], Array] = {}
        self.position = 0
        # what each step replaced, so a step back restores it instead of replaying the
        # timeline from the start (gradients add up into new arrays: the old ones are intact)
        self._undo: list[Undo] = []

    @property
    def total(self) -> int:
        return len(self.graph) + len(self.back)

    @property
    def phase(self) -> str:
        n = len(self.graph)
        if self.position < n:
            return "forward"
        return "backward" if self.position < self.total else "done"

    @property
    def cursor_node(self) -> str | None:
        """The node the next step visits (None at the end)."""
        n = len(self.graph)
        p = self.position
        if p < n:
            return self.graph.order[self.sequence[p]]
        if p < self.total:
            return self.graph.order[self.back[p - n]]
        return None

    @property
    def backward_done(self) -> bool:
        return self.position >= self.total

    def value(self, node_id: str) -> Array | None:
        return self.values[self.graph.index[node_id]]

    def grad(self, node_id: str) -> Array | None:
        return self.grads[self.graph.index[node_id]]

    def _computed(self, i: int) -> Array:
        """Node i's value where the timeline has one: an input of the node being evaluated
        (the order is topological), or any node once the forward pass is done."""
        return cast(Array, self.values[i])

    # ---- steps -------------------------------------------------------------------------

    def _forward_step(self) -> Event:
        i = self.sequence[self.position]
        op, attrs, ins, _, _ = self.graph.plan[i]
        if op.leaf:
            value = self.graph.leaf_values[i]
        else:
            with np.errstate(all="ignore"):
                value = op.forward([self._computed(j) for j in ins], attrs)
        self._undo.append((i, self.values[i], None, None))
        self.values[i] = value
        self.position += 1
        return {
            "phase": "forward",
            "position": self.position,
            "node": self.graph.order[i],
            "value": value,
        }

    def _backward_step(self) -> Event:
        graph = self.graph
        n = len(graph)
        i = self.back[self.position - n]
        old_grads: dict[int, Array | None] = {}
        old_edges: EdgeUndo = {}
        if self.position == n:
            seed = graph.index[self.seed_node]
            old_grads[seed] = self.grads[seed]
            self.grads[seed] = np.ones_like(self._computed(seed))
        self._undo.append((None, None, old_grads, old_edges))
        g = self.grads[i]
        op, attrs, ins, need, _ = graph.plan[i]
        contributions = []
        if g is not None and ins:
            xs = [self._computed(j) for j in ins]
            out = self._computed(i)
            with np.errstate(all="ignore"):
                parts = node_backward(op, attrs, g, out, xs, need)
                # with a scalar output, backward of a seed of 1 is the local derivative itself
                locals_ = (
                    node_backward(op, attrs, np.ones_like(out), out, xs, need)
                    if out.size == 1
                    else None
                )
                for slot, (j, part) in enumerate(zip(ins, parts, strict=True)):
                    if part is None:
                        continue
                    part = np.asarray(part, dtype=np.float64)
                    old_edges.setdefault(
                        (i, slot), (self.edge_grads.get((i, slot)), self.edge_locals.get((i, slot)))
                    )
                    old_grads.setdefault(j, self.grads[j])
                    self.edge_grads[(i, slot)] = part
                    local = None
                    if locals_ is not None and xs[slot].size == 1:
                        local = np.asarray(locals_[slot], dtype=np.float64)
                        self.edge_locals[(i, slot)] = local
                    add_grad(self.grads, j, part, self.fanout_bug)
                    contributions.append(
                        {
                            "input": graph.order[j],
                            "slot": slot,
                            "grad": part,
                            "total": self.grads[j],
                            "local": local,
                        }
                    )
        self.position += 1
        return {
            "phase": "backward",
            "position": self.position,
            "node": graph.order[i],
            "grad": g,
            "contributions": contributions,
        }

    def step(self, steps: int = 1) -> list[Event]:
        """Advance up to `steps` along the whole timeline (forward, then backward)."""
        events = []
        n = len(self.graph)
        for _ in range(max(0, min(steps, self.total - self.position))):
            events.append(self._forward_step() if self.position < n else self._backward_step())
        return events

    def forward(self, steps: int | None = 1) -> list[Event]:
        """Run forward `steps` nodes (None: to the end of the forward pass)."""
        n = len(self.graph)
        if self.position >= n:
            raise PhaseError("The forward pass is already complete; step backward or reset.")
        remaining = n - self.position
        return self.step(remaining if steps is None else min(steps, remaining))

    def backward(self, steps: int | None = 1) -> list[Event]:
        """Run backward `steps` nodes (None: to the end of the backward pass)."""
        if self.position < len(self.graph):
            raise PhaseError(
                "The forward pass is not complete yet; run forward to the end before backward."
            )
        if self.position >= self.total:
            raise PhaseError("The backward pass is already complete; update or reset.")
        remaining = self.total - self.position
        return self.step(remaining if steps is None else min(steps, remaining))

    def seek(self, position: int) -> list[Event]:
        """Move the cursor anywhere in 0..2N; moving back undoes the steps in between."""
        if not isinstance(position, int) or not 0 <= position <= self.total:
            raise PhaseError(f"Position {position!r} is outside the timeline 0..{self.total}.")
        if position < self.position:
            if len(self._undo) == self.position:
                while self.position > position:
                    self._step_back()
            else:  # a run rebuilt from stored arrays has no record of its steps
                self.reset()
                self.step(position)
            return []
        return self.step(position - self.position)

    def _step_back(self) -> None:
        i, value, old_grads, old_edges = self._undo.pop()
        if i is not None:
            self.values[i] = value
        if old_grads is not None and old_edges is not None:
            for j, grad in old_grads.items():
                self.grads[j] = grad
            for key, (edge_grad, edge_local) in old_edges.items():
                for table, old in ((self.edge_grads, edge_grad), (self.edge_locals, edge_local)):
                    if old is None:
                        table.pop(key, None)
                    else:
                        table[key] = old
        self.position -= 1

    def run_all(self) -> None:
        self.seek(self.total)

    # ---- values ------------------------------------------------------------------------

    def set_values(self, values: Mapping[str, object]) -> None:
        """New leaf values; the timeline starts again. On error nothing changes."""
        self.replace_graph(self.graph.with_values(values))

    def replace_graph(self, graph: Graph) -> None:
        order = self.custom_order
        self.graph = graph
        self._set_order(order)
        self._set_target(self.target if self.target in graph.nodes else None)
        self.reset()

    def swap_graph(self, graph: Graph) -> None:
        """Put in a graph that computes the same (same nodes, order and edges; only what
        is drawn differs, such as hand positions): the timeline and its values stay."""
        if graph.order != self.graph.order or any(
            graph.nodes[n].inputs != self.graph.nodes[n].inputs for n in graph.order
        ):
            raise GraphError("swap_graph needs a graph with the same nodes and edges.")
        self.graph = graph

    def param_grads(self) -> dict[str, Array]:
        if self.target is not None and self.target != self.graph.output:
            target, output = self.target, self.graph.output
            raise PhaseError(
                f"The gradients shown are of the target {target!r}, not of the output "
                f"{output!r}, and a descent step follows the output's (the loss's) gradients. "
                "Make the output the target again (null) and run backward, or train."
            )
        if not self.backward_done:
            raise PhaseError(
                "There are no gradients yet; run forward and backward to the end before updating."
            )
        return {
            nid: grad
            for nid in self.graph.params
            if (grad := self.grads[self.graph.index[nid]]) is not None
        }

    def update(self, optimizer: SGD) -> dict[str, Array]:
        """One descent step on every param from the current gradients; the timeline resets.

        Returns the new parameter values."""
        grads = self.param_grads()
        # every param has a value: only inputs can be bound instead
        params = {nid: v for nid in grads if (v := self.graph.nodes[nid].value) is not None}
        new = optimizer.step(params, grads)
        self.set_values(new)
        return new
