"""What one backward step with a target costs at 7 and at 10,000 nodes, in one run.

    python bench/target_step.py [--steps 40]

Starts `stepgrad serve` in a subprocess (SQLite file in a temporary folder). Per size, a
chain (a param, tanh and neg in turn, their sum) with the target on all but the last two
nodes, run forward; then single backward steps from the target with `?return=patch`, the
timeline sought back to the target before each. A step visits one node whatever the
graph's size, so the 7-node chain is the reference: prints each size's p50 and p99 and
the 10,000-node p50 over the 7-node one. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_server  # noqa: E402
from tests.helpers import chain  # noqa: E402

SIZES = (7, 10_000)


def step_times(client: httpx.Client, n: int, steps: int) -> list[float]:
    created = client.post("/api/graphs", json=chain(n))
    created.raise_for_status()
    gid = created.json()["id"]
    h = {"Authorization": f"Bearer {created.json()['edit_token']}"}
    url = f"/api/graphs/{gid}"
    target = f"x{n - 3}"
    client.put(f"{url}/options", json={"target": target}, headers=h).raise_for_status()
    client.post(f"{url}/forward", json={"all": True}, headers=h).raise_for_status()
    times = []
    for _ in range(steps):
        # three backward steps in (the timeline: n forward, n - 2 backward from the target)
        client.post(f"{url}/seek", json={"position": n + 3}, headers=h).raise_for_status()
        start = time.perf_counter()
        r = client.post(f"{url}/backward?return=patch", headers=h)
        times.append(time.perf_counter() - start)
        r.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="steps measured per size")
    args = parser.parse_args()
    figures: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(str(Path(tmp) / "bench.db"), log_level="warning")
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                step_times(client, 7, 10)  # warm up
                for n in SIZES:
                    ms = np.asarray(step_times(client, n, args.steps)) * 1000
                    figures[n] = {
                        "p50_ms": float(np.median(ms)),
                        "p99_ms": float(np.percentile(ms, 99)),
                    }
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    ratio = figures[10_000]["p50_ms"] / figures[7]["p50_ms"]
    print(f"{'nodes':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for n, f in figures.items():
        print(f"{n:>7} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f}")
    print(f"a backward step with a target at 10,000 nodes: {ratio:.2f}x its cost at 7")
    print(
        json.dumps({"by_nodes": {str(n): f for n, f in figures.items()}, "p50_10000_over_7": ratio})
    )


if __name__ == "__main__":
    main()
