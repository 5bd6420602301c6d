"""Random graphs against PyTorch: many more than the property tests run in CI.

Every graph (tests/helpers.py: every op, broadcastable shapes, fan-out, extreme and
empty values) is evaluated by the fast passes and by the timeline in a random valid
order, and each value and gradient is compared with PyTorch's autograd in float64 at
rtol 1e-9 (NaN where PyTorch has NaN). Graphs PyTorch refuses (bce of NaN) and graphs
with a sum that cancels terms 1e8 times its result (its digits depend on the summation
order) are counted, not compared. Prints counts; exits non-zero on any crash or
difference, after printing the first few.

    python bench/fuzz_engine.py [--graphs 20000] [--seed 0] [--api 0]

`--api N` also sends N graphs through the HTTP API (in-process) and checks the answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgrad.engine.graph import Graph
from stepgrad.engine.passes import backward_pass, forward_pass
from stepgrad.engine.run import Run
from stepgrad.engine.tensor import from_json
from tests.helpers import (
    EXTREMES,
    MILD_EXTREMES,
    IllConditioned,
    RandomDraw,
    TorchRefused,
    compare,
    random_spec,
    torch_reference,
)


def random_order(graph: Graph, rng: np.random.Generator) -> list[str]:
    done: set[str] = set()
    ready = [nid for nid in graph.order if not graph.nodes[nid].inputs]
    order = []
    while ready:
        nid = ready.pop(int(rng.integers(len(ready))))
        order.append(nid)
        done.add(nid)
        for consumer, _ in graph.consumers[nid]:
            if (
                consumer not in done
                and consumer not in ready
                and all(s in done for s in graph.nodes[consumer].inputs)
            ):
                ready.append(consumer)
    return order


def check_engine(torch, spec: dict, rng: np.random.Generator) -> None:
    graph = Graph.from_spec(spec)
    ref_values, ref_grads = torch_reference(torch, spec)
    values = forward_pass(graph, graph.leaf_values)
    grads = backward_pass(graph, values, train_only=False)
    compare(
        dict(zip(graph.order, values, strict=True)),
        dict(zip(graph.order, grads, strict=True)),
        ref_values, ref_grads, "passes", graph,
    )  # fmt: skip
    run = Run(graph, order=random_order(graph, rng))
    run.run_all()
    compare(
        {n: run.value(n) for n in graph.order},
        {n: run.grad(n) for n in graph.order},
        ref_values, ref_grads, "stepping", graph,
    )  # fmt: skip


def check_api(torch, client, spec: dict) -> None:
    ref_values, ref_grads = torch_reference(torch, spec)
    res = client.post("/api/graphs", json=spec)
    assert res.status_code == 201, res.text
    body = res.json()
    auth = {"Authorization": f"Bearer {body['edit_token']}"}
    for step in ("forward", "backward"):
        res = client.post(f"/api/graphs/{body['id']}/{step}", json={"all": True}, headers=auth)
        assert res.status_code == 200, res.text
    state = client.get(f"/api/graphs/{body['id']}", params={"full": True}).json()

    def decode(v, shape):
        # JSON keeps no axes after an empty one ([] for 0 x 1): the state's shape does
        return None if v is None else from_json(v).reshape(shape)

    compare(
        {n["id"]: decode(n["value"], n["shape"]) for n in state["nodes"]},
        {n["id"]: decode(n["grad"], n["shape"]) for n in state["nodes"]},
        ref_values, ref_grads, "API", Graph.from_spec(spec),
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api", type=int, default=0, help="graphs also sent through the API")
    parser.add_argument(
        "--mild", action="store_true", help="the property tests' values (none near overflow)"
    )
    args = parser.parse_args()
    import torch

    # as in the tests: a numpy warning escaping the engine's own guards is an error
    warnings.simplefilter("error")
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    counts = dict.fromkeys(
        ("graphs", "nodes", "refused_by_torch", "ill_conditioned", "crashed", "differed"), 0
    )
    failures = []
    client = None
    if args.api:
        with warnings.catch_warnings():
            # starlette prefers httpx2 over httpx; either works
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient

        from stepgrad.app.main import create_app
        from stepgrad.app.settings import Settings

        client = TestClient(create_app(Settings(db=":memory:", max_graphs=100_000)))
        client.__enter__()
        counts["api_graphs"] = 0
    start = time.perf_counter()
    for i in range(args.graphs):
        spec = random_spec(RandomDraw(rng), extremes=MILD_EXTREMES if args.mild else EXTREMES)
        counts["graphs"] += 1
        counts["nodes"] += len(spec["nodes"])
        try:
            check_engine(torch, spec, rng)
            if client is not None and i < args.api:
                check_api(torch, client, spec)
                counts["api_graphs"] += 1
        except IllConditioned:
            counts["ill_conditioned"] += 1
        except TorchRefused:
            counts["refused_by_torch"] += 1
        except AssertionError as exc:
            counts["differed"] += 1
            failures.append((spec, str(exc)))
        except Exception:
            counts["crashed"] += 1
            failures.append((spec, traceback.format_exc()))
    counts["seconds"] = round(time.perf_counter() - start, 1)
    for spec, message in failures[:5]:
        print(json.dumps(spec))
        print(message[-2000:])
        print()
    if client is not None:
        client.__exit__(None, None, None)
    print(json.dumps(counts))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
