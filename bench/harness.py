"""What the benchmarks share: a real server in a subprocess on 127.0.0.1, a redis-server of
their own for the scale-out runs, and random DAGs of scalars made into graph specs."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# one way to start a server and a redis-server, shared with the tests
from tests.helpers import free_port, redis_server, redis_server_path, start_server  # noqa: E402, F401


def scalar_nodes(names: list[str], edges: list[tuple[str, str]]) -> tuple[list[dict], list[str]]:
    """Spec nodes for a DAG: a param for a node without inputs, tanh for one input, add or
    mul of the first two for more; and the ids that feed nothing."""
    inputs: dict[str, list[str]] = {name: [] for name in names}
    for u, v in edges:
        inputs[v].append(u)
    nodes = []
    for i, name in enumerate(names):
        ins = inputs[name]
        if not ins:
            nodes.append({"id": name, "op": "param", "value": 0.1 + 0.001 * (i % 97)})
        elif len(ins) == 1:
            nodes.append({"id": name, "op": "tanh", "inputs": ins})
        else:
            nodes.append({"id": name, "op": "mul" if i % 2 else "add", "inputs": ins[:2]})
    used = {s for node in nodes for s in node.get("inputs", [])}
    return nodes, [node["id"] for node in nodes if node["id"] not in used]
