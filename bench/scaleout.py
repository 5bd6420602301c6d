"""Scale-out: steps per second through 1 and through 2 server processes on one Redis, in one
run, and how fast a follower on one process sees steps made through the other.

    python bench/scaleout.py [--seconds 8] [--clients 6] [--nodes 400]

Each client (a process of its own, so that the clients' Python does not share one GIL)
steps its own graph forward as fast as the server answers, over one kept-alive
connection; with 2 server processes the clients are split between them. A reference row
gives the same load on the embedded SQLite store (one process). Then a follower streams
`events?format=patch` from process B while steps are made through process A; the delay is
from sending the step to receiving its patch, against the same delay with the follower on
process A (the reference: no crossing).

What limits the ratio: the machine's cores are shared by the clients, both servers and
Redis; each step costs a Redis round trip for the version check, one for the lock, one
for the compare-and-set save and one for PUBSUB NUMSUB, whichever process serves it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.abuse import chain_spec, percentile
from bench.harness import redis_server, start_server


def create(base: str, nodes: int) -> tuple[str, dict]:
    r = httpx.post(f"{base}/api/graphs", json=chain_spec(nodes), timeout=60)
    r.raise_for_status()
    state = r.json()
    return state["id"], {"Authorization": f"Bearer {state['edit_token']}"}


def stepper(args: tuple) -> int:
    """Forward steps made on one graph until `until` (time.time()); seeks back to 0 at the
    end of the forward pass (a step too). Returns the 2xx count."""
    base, gid, auth, until = args
    done = 0
    with httpx.Client(timeout=60) as http:
        while time.time() < until:
            r = http.post(f"{base}/api/graphs/{gid}/forward", headers=auth)
            if r.status_code == 409:
                r = http.post(f"{base}/api/graphs/{gid}/seek", json={"position": 0}, headers=auth)
            r.raise_for_status()
            done += 1
    return done


def warm(_: int) -> None:
    """Long enough that every client process takes one: each has imported httpx after."""
    time.sleep(1.0)


def throughput(pool, bases: list[str], clients: int, seconds: float, nodes: int) -> float:
    where = [bases[i % len(bases)] for i in range(clients)]
    graphs = [(base, *create(base, nodes)) for base in where]
    until = time.time() + seconds
    counts = pool.map(stepper, [(b, g, a, until) for b, g, a in graphs], chunksize=1)
    return sum(counts) / seconds


def follower_delays(a: str, b: str, steps: int, nodes: int) -> list[float]:
    gid, auth = create(a, nodes)
    arrived: dict[int, float] = {}
    connected = threading.Event()

    def follow() -> None:
        params = {"format": "patch", "max_events": steps + 1}
        url = f"{b}/api/graphs/{gid}/events"
        with httpx.stream("GET", url, params=params, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    arrived[json.loads(line[6:])["version"]] = time.monotonic()
                    connected.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    connected.wait(10)
    sent: dict[int, float] = {}
    with httpx.Client(timeout=60) as http:
        for _ in range(steps):
            start = time.monotonic()
            r = http.post(f"{a}/api/graphs/{gid}/forward", headers=auth)
            r.raise_for_status()
            sent[r.json()["version"]] = start
            time.sleep(0.01)  # a teacher's pace, faster than any class
    thread.join(30)
    return [arrived[v] - sent[v] for v in sent if v in arrived]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--nodes", type=int, default=400, help="nodes per graph (a chain)")
    parser.add_argument("--steps", type=int, default=200, help="steps the follower sees")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternate 1 and 2 processes this often (median)"
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} cores (load average {load:.1f}); {args.clients} client processes, "
        f"each on its own graph of {args.nodes} nodes; {args.seconds:g} s per measure"
    )
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_server() as url,
        context.Pool(args.clients) as pool,
    ):
        pool.map(warm, range(args.clients), chunksize=1)
        servers = []
        try:
            servers.append(start_server(os.path.join(tmp, "sqlite.db")))
            for i in range(2):
                servers.append(start_server(os.path.join(tmp, f"unused{i}.db"), store=url))
            local, a, b = (base for _, base in servers)
            rows: dict[str, list[float]] = {"sqlite": [], "one": [], "two": []}
            for _ in range(args.rounds):  # alternated: a machine's other load hits all
                for name, bases in (("sqlite", [local]), ("one", [a]), ("two", [a, b])):
                    rate = throughput(pool, bases, args.clients, args.seconds, args.nodes)
                    rows[name].append(rate)
            sqlite, one, two = (statistics.median(rows[k]) for k in ("sqlite", "one", "two"))
            same = follower_delays(a, a, args.steps, args.nodes)
            delays = follower_delays(a, b, args.steps, args.nodes)
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait()
    ones, twos = rows["one"], rows["two"]
    print(f"SQLite, 1 process (median):     {sqlite:8.0f} steps/s")
    print(f"Redis,  1 process (median):     {one:8.0f} steps/s")
    rounds = ", ".join(
        f"{x:.0f}/{y:.0f}/{z:.0f}" for x, y, z in zip(rows["sqlite"], ones, twos, strict=True)
    )
    print(f"rounds (SQLite / Redis 1 process / 2 processes, steps/s): {rounds}")
    print(f"Redis,  2 processes (median):   {two:8.0f} steps/s  ({two / one:.2f}x one process)")
    p50, p99 = (percentile(delays, q) * 1000 for q in (0.5, 0.99))
    ref50, ref99 = (percentile(same, q) * 1000 for q in (0.5, 0.99))
    print(
        f"follower on A, steps through A ({len(same)} steps): p50 {ref50:.1f} ms, "
        f"p99 {ref99:.1f} ms"
    )
    print(
        f"follower on B, steps through A ({len(delays)} steps): p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f"  ({p50 / ref50:.1f}x, {p99 / ref99:.1f}x the follower on A)"
    )


if __name__ == "__main__":
    main()
