"""How much work a heavy call would do, in element operations, before it runs.

Counting nodes or steps misleads both ways: a 121-node graph of 7,000-element tensors costs
as much per pass as a 9,000-node chain of scalars. So a call is bounded by the element
operations it makes (tensor elements x evaluations), estimated from the graph's shapes:

- a node's evaluation costs the larger of its output's and its inputs' elements, times the
  inner dimension for `matmul` and `linear`, and at least NODE_FLOOR (the fixed cost of
  one op call, about as long as that many elements take);
- a training step is three forward passes (forward, backward, update), a random-search try
  one; each epoch adds a forward pass over the training (and test) rows; each step and
  each evaluation also costs STEP_FLOOR (the trainer's own bookkeeping);
- a gradient check is two forward passes and two copies of the leaf per element checked;
- a race is its trainers' training, PyTorch's counted three times (its per-call cost);
- a topological sort lists a node name per entry of each step's ready set, per node taken
  and two per edge removed: that count is both its work and its response size.
On a 2-core machine 10^8 element operations take about a second.
"""

from __future__ import annotations

import heapq

from stepgrad.engine.gradcheck import checked_nodes
from stepgrad.engine.graph import Graph

NODE_FLOOR = 100
STEP_FLOOR = 2_000
STEP_PASSES = 3  # forward, backward and the update, in forward passes


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _node_cost(graph: Graph, nid: str) -> int:
    node = graph.nodes[nid]
    if node.op.leaf:
        return 0  # fed, not computed
    out = _size(graph.shapes[nid])
    ins = [graph.shapes[s] for s in node.inputs]
    cost = max(out, sum(_size(s) for s in ins))
    if node.op.name in ("matmul", "linear") and len(ins) >= 2 and ins[0] and ins[1]:
        cost = max(cost, out * int(ins[0][-1]))
    return cost


def _data_rows(graph: Graph):
    """(nodes fed by the bound data, rows the graph holds now, train rows, test rows), or
    None for a graph without bound inputs."""
    from stepgrad.engine.data import bound_data

    found = bound_data(graph)
    if found is None:
        return None
    _, data = found
    bound = [nid for nid, node in graph.nodes.items() if node.bind]
    shape = graph.shapes[bound[0]]
    rows_now = int(shape[0]) if shape else 1
    fed = set(bound)
    for nid in graph.order:  # topological: inputs come first
        if any(s in fed for s in graph.nodes[nid].inputs):
            fed.add(nid)
    n_train = len(next(iter(data.train.values())))
    n_test = len(next(iter(data.test.values())))
    return fed, rows_now, n_train, n_test


class PassCost:
    """The element operations of one forward pass, for any number of data rows."""

    def __init__(self, graph: Graph):
        self.costs = [(nid, _node_cost(graph, nid)) for nid in graph.order]
        self.computed = [(nid, c) for nid, c in self.costs if not graph.nodes[nid].op.leaf]
        self.data = _data_rows(graph)

    def __call__(self, rows: int | None = None) -> int:
        if self.data is None or rows is None:
            return sum(max(c, NODE_FLOOR) for _, c in self.computed)
        fed, rows_now, _, _ = self.data
        scale = rows / max(rows_now, 1)
        return sum(max(int(c * scale) if nid in fed else c, NODE_FLOOR) for nid, c in self.computed)


def train_work(
    graph: Graph,
    epochs: int,
    optimizer: str = "sgd",
    batch_size: int | None = None,
    evaluate_test: bool = True,
) -> int:
    """Element operations of `engine.training.train` with these arguments."""
    cost = PassCost(graph)
    if cost.data is None:
        per_step = cost() if optimizer == "random_search" else STEP_PASSES * cost()
        evaluation = cost() + STEP_FLOOR
        return epochs * (per_step + STEP_FLOOR + evaluation) + 2 * evaluation
    _, _, n_train, n_test = cost.data
    bound = next(node.bind for node in graph.nodes.values() if node.bind)
    batch = min(batch_size or bound.get("batch_size") or n_train, n_train)
    steps = -(-n_train // batch)
    if optimizer == "random_search":
        per_epoch = steps * cost(n_train)
    else:
        full, last = divmod(n_train, batch)
        per_epoch = full * STEP_PASSES * cost(batch) + (STEP_PASSES * cost(last) if last else 0)
    per_epoch += steps * STEP_FLOOR
    evaluation = cost(n_train) + (cost(n_test) if evaluate_test and n_test else 0) + STEP_FLOOR
    return epochs * (per_epoch + evaluation) + 2 * evaluation


def gradcheck_work(graph: Graph, max_elements: int) -> int:
    """Element operations of `engine.gradcheck.gradcheck` checking `max_elements` per leaf."""
    per_pass = PassCost(graph)()
    work = STEP_PASSES * per_pass
    for nid in checked_nodes(graph):
        size = _size(graph.shapes[nid])
        work += min(size, max_elements) * 2 * (per_pass + size)
    return work


TORCH_WEIGHT = 3  # PyTorch eager takes about three times the engine's time per step here


def race_work(hidden: int, batch_size: int, epochs: int, torch: bool) -> int:
    """Element operations of `engine.race.race`: the engine, numpy (the same arithmetic)
    and PyTorch each train the same network."""
    from stepgrad.engine.race import boston_mlp_spec, initial_weights

    graph = Graph.from_spec(boston_mlp_spec(initial_weights(13, hidden), batch_size))
    one = train_work(graph, epochs, "sgd", batch_size, evaluate_test=False)
    return one * (2 + (TORCH_WEIGHT if torch else 0))


def toposort_size(
    nodes: list[str], edges: list[tuple[str, str]] | list[list[str]], choose: list[str] | None
) -> int:
    """Node names the steps of `engine.toposort.kahn_steps` would list (counted, not built).

    Input the engine refuses is counted as far as it goes; the engine then says why."""
    rank = {n: i for i, n in enumerate(nodes) if isinstance(n, str)}
    succ: dict[str, list[str]] = {n: [] for n in rank}
    indegree = dict.fromkeys(rank, 0)
    for edge in edges:
        if len(edge) != 2 or edge[0] not in rank or edge[1] not in rank:
            continue
        succ[edge[0]].append(edge[1])
        indegree[edge[1]] += 1
    heap = [(rank[n], n) for n in rank if indegree[n] == 0]
    heapq.heapify(heap)
    ready = len(heap)
    taken: set[str] = set()  # taken by a pick but still in the heap: skipped when popped
    picks = list(choose or [])[::-1]
    names = 0
    while ready:
        names += ready + 1
        if picks:
            take = picks.pop()
            if take not in rank or take in taken or indegree[take] != 0:
                break
        else:
            while heap[0][1] in taken:
                heapq.heappop(heap)
            _, take = heapq.heappop(heap)
        taken.add(take)
        ready -= 1
        for v in succ[take]:
            names += 2
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(heap, (rank[v], v))
                ready += 1
    return names
