"""Latency of the REST API on a real server (uvicorn in a subprocess, SQLite file), one run.

    python bench/api_latency.py [--requests 300] [--clients 1,20]

Measures p50/p99 of: the no-op endpoint (GET /api/health, the floor), a single forward
step on the course's graph (POST /forward), and a full forward + backward pass on a
200-node graph (two calls: forward all, backward all), with 1 and 20 concurrent clients,
each client on its own graph with its own keep-alive connection. Also lays out a
2,000-node random DAG. Prints the ratios to the floor; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import scalar_nodes, start_server  # noqa: E402
from bench.layout import random_dag  # noqa: E402
from stepgrad.app.live.layout import layered_layout  # noqa: E402


def dag_spec(n: int) -> dict:
    """A random 200-node scalar graph: tanh for one input, add/mul for two, one output."""
    nodes, loose = scalar_nodes(*random_dag(n, seed=0, window=20))
    nodes.append({"id": "out", "op": "add", "inputs": loose[:2]}) if len(loose) > 1 else None
    return {"name": "random 200", "nodes": nodes, "output": "out" if len(loose) > 1 else loose[0]}


def new_graph(client: httpx.Client, body: dict) -> tuple[str, dict]:
    r = client.post("/api/graphs", json=body)
    r.raise_for_status()
    state = r.json()
    return state["id"], {"Authorization": f"Bearer {state['edit_token']}"}


def noop(client: httpx.Client, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get("/api/health").raise_for_status()
        times.append(time.perf_counter() - start)
    return times


def single_step(client: httpx.Client, requests: int) -> list[float]:
    gid, h = new_graph(client, {"example": "seed"})
    times = []
    while len(times) < requests:
        for _ in range(7):  # the forward pass of the seed graph
            start = time.perf_counter()
            client.post(
                f"/api/graphs/{gid}/forward", json={"steps": 1}, headers=h
            ).raise_for_status()
            times.append(time.perf_counter() - start)
        client.post(f"/api/graphs/{gid}/reset", headers=h).raise_for_status()
    return times[:requests]


def full_pass(client: httpx.Client, requests: int, spec: dict) -> list[float]:
    gid, h = new_graph(client, spec)
    times = []
    for _ in range(max(1, requests // 10)):
        start = time.perf_counter()
        client.post(f"/api/graphs/{gid}/forward", json={"all": True}, headers=h).raise_for_status()
        client.post(f"/api/graphs/{gid}/backward", json={"all": True}, headers=h).raise_for_status()
        times.append(time.perf_counter() - start)
        client.post(f"/api/graphs/{gid}/reset", headers=h).raise_for_status()
    return times


def run(base: str, clients: int, work, *args) -> list[float]:
    results: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def one(i: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            client.get("/api/health")  # open the connection
            barrier.wait()
            results[i] = work(client, *args)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for r in results for x in r]


def pct(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per client and kind")
    parser.add_argument("--clients", default="1,20")
    args = parser.parse_args()
    spec = dag_spec(200)
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(str(Path(tmp) / "bench.db"))
        try:
            for clients in (int(c) for c in args.clients.split(",")):
                run(base, clients, noop, 50)  # warm up
                floor = run(base, clients, noop, args.requests)
                step = run(base, clients, single_step, args.requests)
                full = run(base, clients, full_pass, args.requests, spec)
                figures[clients] = {
                    "noop": (pct(floor, 50), pct(floor, 99)),
                    "step": (pct(step, 50), pct(step, 99)),
                    "full_200": (pct(full, 50), pct(full, 99)),
                }
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    names, edges = random_dag(2000, seed=0, window=None)
    layout_ms = 1000 * min(
        (lambda s: (layered_layout(names, edges), time.perf_counter() - s)[1])(time.perf_counter())
        for _ in range(5)
    )
    layout = layered_layout(names, edges)

    print(f"{'clients':>7} {'endpoint':<28} {'p50 ms':>8} {'p99 ms':>8} {'p50 / no-op p50':>16}")
    for clients, f in figures.items():
        floor = f["noop"][0]
        for key, label in [("noop", "GET /api/health (no-op)"), ("step", "forward, 1 step (seed)"),
                           ("full_200", "forward+backward, 200 nodes")]:  # fmt: skip
            p50, p99 = f[key]
            print(f"{clients:>7} {label:<28} {p50:>8.2f} {p99:>8.2f} {p50 / floor:>16.2f}")
    print(f"layout of a 2,000-node random DAG: {layout_ms:.1f} ms, crossings "
          f"{layout.initial_crossings} -> {layout.crossings}")  # fmt: skip
    one = figures[min(figures)]
    out = {
        "step_p50_ms": one["step"][0],
        "step_p99_ms": one["step"][1],
        "noop_p50_ms": one["noop"][0],
        "step_over_noop": one["step"][0] / one["noop"][0],
        "full_200_p50_ms": one["full_200"][0],
        "layout_2000_ms": layout_ms,
        "layout_crossings_ratio": layout.crossings / layout.initial_crossings,
        "by_clients": {
            str(c): {k: {"p50_ms": v[0], "p99_ms": v[1]} for k, v in f.items()}
            for c, f in figures.items()
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
