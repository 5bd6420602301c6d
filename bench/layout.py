"""Edge crossings and time of the server's layered layout on random DAGs, measured in one run.

    python bench/layout.py [--seeds 5] [--repeats 5]

"before" is the layers in topological (spec) order; "after" is the barycenter ordering
the API serves. Crossings are counted between adjacent layers, long edges drawn through
their waypoints. Two kinds of random DAG: "global" (each node takes 1-2 inputs from any
earlier node: few, crowded layers) and "local" (inputs from the 20 previous nodes: deep,
narrow graphs, like unrolled computations). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stepgrad.app.live.layout import layered_layout


def random_dag(n: int, seed: int, window: int | None, fan_in: int = 2):
    rng = np.random.default_rng(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = []
    for i in range(max(2, n // 10), n):
        low = 0 if window is None else max(0, i - window)
        k = min(int(rng.integers(1, fan_in + 1)), i - low)
        for j in rng.choice(np.arange(low, i), size=k, replace=False):
            edges.append((nodes[int(j)], nodes[i]))
    return nodes, edges


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for kind, window in (("global", None), ("local", 20)):
        for n in (50, 200, 1000, 2000):
            before = after = virtual = layers = 0
            ms = []
            for seed in range(args.seeds):
                nodes, edges = random_dag(n, seed, window)
                layout = layered_layout(nodes, edges)
                before += layout.initial_crossings
                after += layout.crossings
                virtual += sum(len(p) for p in layout.points.values())
                layers += max(layout.layer.values()) + 1
                ms.append(1000 * best_time(partial(layered_layout, nodes, edges), args.repeats))
            rows.append(
                {
                    "kind": kind,
                    "nodes": n,
                    "layers": layers / args.seeds,
                    "virtual": virtual / args.seeds,
                    "before": before / args.seeds,
                    "after": after / args.seeds,
                    "ratio": after / before if before else 1.0,
                    "ms": float(np.median(ms)),
                }
            )

    print(f"{'DAG':<7} {'nodes':>6} {'layers':>7} {'waypoints':>10} {'crossings before':>17} "
          f"{'after':>10} {'after/before':>13} {'ms':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['kind']:<7} {r['nodes']:>6} {r['layers']:>7.0f} {r['virtual']:>10.0f} "
            f"{r['before']:>17.0f} {r['after']:>10.0f} {r['ratio']:>13.3f} {r['ms']:>8.1f}"
        )
    big = [r for r in rows if r["nodes"] == 2000]
    total_before = sum(r["before"] for r in rows)
    total_after = sum(r["after"] for r in rows)
    print(
        json.dumps(
            {
                "layout_2000_ms": max(r["ms"] for r in big),
                "layout_2000_ms_by_kind": {r["kind"]: round(r["ms"], 2) for r in big},
                "layout_crossings_ratio": total_after / total_before,
                "layout_crossings_ratio_2000": {r["kind"]: round(r["ratio"], 4) for r in big},
                "seeds": args.seeds,
            }
        )
    )


if __name__ == "__main__":
    main()
