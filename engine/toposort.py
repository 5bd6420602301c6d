"""Kahn's algorithm, step by step, for teaching the topological sort.

Works on any directed graph, cycles included (such a graph can never be a computation
graph): the steps then end where no node is ready any more, and the result names the
nodes left and a cycle among them.
"""

from __future__ import annotations

import heapq
from typing import Any

import networkx as nx

from stepgrad.engine.errors import GraphError
from stepgrad.engine.graph import Graph, check_id

MAX_NODES = 5_000


def kahn_steps(
    nodes: list[str], edges: list[tuple[str, str]], choose: list[str] | None = None
) -> dict[str, Any]:
    """Every step of Kahn's algorithm on `nodes` and `edges` (source, target).

    At each step the ready set holds the nodes with no remaining inputs; the node taken
    is the first of them in `nodes` order, or the next of `choose` (which must then be
    ready). Returns {"steps": [{"ready", "take", "removed"}], "order", "complete",
    "stuck": None or {"remaining", "cycle"}}."""
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise GraphError("A directed graph needs a list of nodes and a list of edges.")
    if len(nodes) > MAX_NODES:
        raise GraphError(f"The graph has {len(nodes)} nodes; the limit is {MAX_NODES}.")
    rank: dict[str, int] = {}
    for node in nodes:
        check_id(node)
        if node in rank:
            raise GraphError(f"Node id {node!r} is used twice.")
        rank[node] = len(rank)
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for edge in edges:
        if not isinstance(edge, list | tuple) or len(edge) != 2:
            raise GraphError(f"Edge {edge!r} is not a [source, target] pair.")
        u, v = edge
        for end in (u, v):
            if end not in rank:
                raise GraphError(f"Edge {u!r} -> {v!r} names {end!r}, which is not a node.")
        succ[u].append(v)
        indegree[v] += 1
    if choose is not None and (
        not isinstance(choose, list) or not all(isinstance(c, str) for c in choose)
    ):
        raise GraphError("choose must be a list of node ids.")

    ready = [(rank[n], n) for n in nodes if indegree[n] == 0]
    heapq.heapify(ready)
    steps: list[dict[str, Any]] = []
    order: list[str] = []
    picks = list(choose or [])
    while ready:
        ready_now = [n for _, n in sorted(ready)]
        if picks:
            take = picks.pop(0)
            if take not in ready_now:
                raise GraphError(
                    f"{take!r} is not ready at step {len(steps) + 1}: "
                    f"the ready nodes are {', '.join(ready_now)}."
                )
            ready.remove((rank[take], take))
            heapq.heapify(ready)
        else:
            _, take = heapq.heappop(ready)
        removed = []
        for v in succ[take]:
            removed.append([take, v])
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(ready, (rank[v], v))
        order.append(take)
        steps.append({"ready": ready_now, "take": take, "removed": removed})
    complete = len(order) == len(nodes)
    stuck = None
    if not complete:
        done = set(order)
        remaining = [n for n in nodes if n not in done]
        g = nx.DiGraph()
        g.add_nodes_from(remaining)
        g.add_edges_from((u, v) for u, v in edges if u not in done and v not in done)
        cycle = [u for u, _ in nx.find_cycle(g)]
        stuck = {"remaining": remaining, "cycle": cycle}
    return {"steps": steps, "order": order, "complete": complete, "stuck": stuck}


def graph_kahn_steps(graph: Graph, choose: list[str] | None = None) -> dict[str, Any]:
    """Kahn's steps on a computation graph; by default they reproduce `graph.order`."""
    return kahn_steps(list(graph.nodes), [(u, v) for u, v, _ in graph.edges], choose)
