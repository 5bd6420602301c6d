"""A lecture hall on one server process, with the default limits, measured in one run.

    python bench/lecture_hall.py [--steps 30] [--followers 10,1000] [--sizes 7,2000]
                                 [--answers 2000] [--flood-seconds 15]

Starts `stepgrad serve` in a subprocess (SQLite file in a temporary folder, every limit at
its default) and measures, straight to its port:

- delivery: per size (7: the course's seed graph; 2,000: a random DAG of scalars) and per
  number of followers (10, then 1,000, all from one loopback address, as a school network
  behind one router), `--steps` forward steps by the teacher (`?return=patch`), each sent
  once every follower holds the last. Followers read `format=patch`, as the page does.
  Delivery is the time from the teacher sending the step to a follower holding the whole
  event, p50/p99 over followers and steps; `after answer` is the same from the moment the
  teacher had the step's answer (negative: the followers had it first). The 1,000/10 p99
  ratio is the figure to watch (goal: at most 3x, and under 100 ms at 7 nodes).
- RSS per follower: the server's resident memory with the 1,000 followers connected, less
  before they connected, over 1,000.
- quiz answers per second the server takes: `--answers` answers (distinct `client` ids)
  from 32 keep-alive connections at one address, all 201.
- the teacher's step p99 during a large-graph flood over a quiet server's: `flood_section`.

Followers are asyncio protocols on raw sockets, so that this process can hold a thousand
(it lifts its own limit on open files); they note a version's arrival, nothing more. On a
2-core machine the client shares the cores with the server: run it on a quiet machine.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import flood  # noqa: E402
from bench.harness import scalar_nodes, start_server  # noqa: E402
from bench.layout import random_dag  # noqa: E402
from tests.helpers import raise_open_files  # noqa: E402

VERSION = re.compile(rb'"version":(\d+)')
HALL = "127.0.0.3"  # the followers' one address
SMALL_CLASS = "127.0.0.2"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def p(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def dag_spec(n: int) -> dict:
    """The 7-node seed graph, or a random DAG of n scalar nodes (as bench/step_scaling.py)."""
    if n == 7:
        from stepgrad.engine.examples import load_example

        return load_example("seed")
    nodes, loose = scalar_nodes(*random_dag(n - 1, seed=0, window=None))
    nodes.append({"id": "out", "op": "add", "inputs": [loose[-2], loose[-1]]})
    return {"name": f"random {n}", "nodes": nodes, "output": "out"}


# ---- followers: asyncio protocols noting when each version arrives ----------------------


class Arrivals:
    """Per version, when each follower held it; `wait(v)` returns once all have."""

    def __init__(self, count: int):
        self.count = count
        self.times: dict[int, list[float]] = {}
        self.events: dict[int, asyncio.Event] = {}

    def note(self, version: int, at: float) -> None:
        times = self.times.setdefault(version, [])
        times.append(at)
        if len(times) == self.count:
            self.event(version).set()

    def event(self, version: int) -> asyncio.Event:
        return self.events.setdefault(version, asyncio.Event())

    async def wait(self, version: int, timeout: float = 120) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event(version).wait(), timeout)
        return self.event(version).is_set()


class Follower(asyncio.Protocol):
    """One event stream: frames end at a blank line; the version is read from a frame's
    first bytes (chunk sizes between frames do not matter)."""

    def __init__(self, arrivals: Arrivals, request: bytes):
        self.arrivals = arrivals
        self.request = request
        self.buffer = b""
        self.status: int | None = None
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        buffer = self.buffer + data
        if self.status is None:
            head, sep, rest = buffer.partition(b"\r\n\r\n")
            if not sep:
                self.buffer = buffer
                return
            self.status = int(head.split(b" ", 2)[1])
            buffer = rest
        start = 0
        while (end := buffer.find(b"\n\n", start)) >= 0:
            match = VERSION.search(buffer, start, min(end, start + 400))
            if match:
                self.arrivals.note(int(match.group(1)), at)
            start = end + 2
        self.buffer = buffer[start:]

    def connection_lost(self, exc) -> None:
        self.lost = True


async def open_followers(base: str, gid: str, count: int, address: str, version: int):
    """`count` followers of the graph from `address`, each holding the state at `version`."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"GET /api/graphs/{gid}/events?format=patch HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    arrivals = Arrivals(count)
    loop = asyncio.get_running_loop()
    made = await asyncio.gather(
        *(
            loop.create_connection(
                lambda: Follower(arrivals, request), host, int(port), local_addr=(address, 0)
            )
            for _ in range(count)
        )
    )
    followers = [protocol for _, protocol in made]
    if not await arrivals.wait(version, timeout=300):
        statuses = [f.status for f in followers]
        raise SystemExit(
            f"{statuses.count(200)} of {count} followers connected "
            f"(statuses: { {s: statuses.count(s) for s in set(statuses)} })"
        )
    return followers, arrivals


def close(followers) -> None:
    for f in followers:
        if f.transport is not None:
            f.transport.close()


# ---- the teacher: one keep-alive connection ---------------------------------------------


class Teacher:
    """Raw HTTP/1.1 requests on one kept-alive connection, on the followers' event loop."""

    def __init__(self, base: str, token: str):
        self.host, self.port = base.removeprefix("http://").split(":")
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def call(self, method: str, path: str, body: dict | None = None) -> dict:
        if self.writer is not None and time.monotonic() - self.used > 2:
            self.writer.close()  # the server closes a connection idle keep_alive_seconds (5)
            self.writer = None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, int(self.port))
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length = re.search(r"(?i)content-length: *(\d+)", head)
        data = await self.reader.readexactly(int(length.group(1)) if length else 0)
        self.used = time.monotonic()
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def delivery(base: str, pid: int, n: int, count: int, address: str, steps: int) -> dict:
    """`count` followers of a fresh n-node graph; `steps` forward steps, each once all hold
    the last."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        r = await client.post("/api/graphs", json=dag_spec(n))
        r.raise_for_status()
        graph = r.json()
    gid = graph["id"]
    teacher = Teacher(base, graph["edit_token"])
    await teacher.call("POST", f"/api/graphs/{gid}/forward?return=patch", {"steps": 1})  # warm
    version = (await teacher.call("POST", f"/api/graphs/{gid}/reset?return=patch"))["version"]
    rss_before = rss_mib(pid)
    followers, arrivals = await open_followers(base, gid, count, address, version)
    await asyncio.sleep(1)
    rss_with = rss_mib(pid)
    sent: dict[int, tuple[float, float]] = {}
    missing = 0
    try:
        for _ in range(steps):
            start = time.perf_counter()
            got = await teacher.call(
                "POST", f"/api/graphs/{gid}/forward?return=patch", {"steps": 1}
            )
            sent[got["version"]] = (start, time.perf_counter())
            if not await arrivals.wait(got["version"]):
                missing += count - len(arrivals.times.get(got["version"], []))
            if got["cursor"]["position"] >= min(n, 60):  # not timed: back to the start
                r = await teacher.call("POST", f"/api/graphs/{gid}/reset?return=patch")
                await arrivals.wait(r["version"])
            await asyncio.sleep(0.02)
    finally:
        close(followers)
        await teacher.close()
    since_sent = [1000 * (t - s) for v, (s, _) in sent.items() for t in arrivals.times.get(v, [])]
    after = [1000 * (t - a) for v, (_, a) in sent.items() for t in arrivals.times.get(v, [])]
    answers = [1000 * (a - s) for s, a in sent.values()]
    return {
        "nodes": n,
        "followers": count,
        "p50_ms": p(since_sent, 50),
        "p99_ms": p(since_sent, 99),
        "after_answer_p50_ms": p(after, 50),
        "after_answer_p99_ms": p(after, 99),
        "step_answer_p50_ms": p(answers, 50),
        "missing": missing,
        "rss_per_follower_kib": 1024 * (rss_with - rss_before) / count,
        "rss_with_followers_mib": rss_with,
    }


# ---- the quiz ----------------------------------------------------------------------------


async def answers_per_second(base: str, count: int, connections: int = 32) -> dict:
    """`count` answers with distinct `client` ids from one address over `connections`
    kept-alive connections; answers the server took per second."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        graph = (await client.post("/api/graphs", json={"example": "seed"})).json()
        headers = {"Authorization": f"Bearer {graph['edit_token']}"}
        url = f"/api/graphs/{graph['id']}/quiz"
        r = await client.post(url, json={"node": "loss", "quantity": "value"}, headers=headers)
        r.raise_for_status()
        quiz_id = r.json()["quiz_id"]
    transport = httpx.AsyncHTTPTransport(local_address=HALL)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    statuses: list[int] = []
    async with httpx.AsyncClient(
        base_url=base, transport=transport, limits=limits, timeout=120
    ) as hall:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def student_desk() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {"quiz_id": quiz_id, "answer": 0.001 * i, "client": f"student-{i:06d}"}
                statuses.append((await hall.post(f"{url}/answers", json=body)).status_code)

        start = time.perf_counter()
        await asyncio.gather(*(student_desk() for _ in range(connections)))
        seconds = time.perf_counter() - start
    return {
        "answers": count,
        "answers_201": statuses.count(201),
        "answers_per_second": statuses.count(201) / seconds,
    }


# ---- the flood ---------------------------------------------------------------------------


def flood_section(base: str, pid: int, seconds: float = 15.0) -> dict:
    """The teacher's step p99 on a quiet server, then while one address floods it with
    10,000-node chains as fast as the server allows; the ratio (bench/flood.py's flood, on
    this run's server)."""
    r = flood.flood_section(base, pid, seconds=seconds)
    return {
        "quiet_step_p99_ms": r["quiet"]["step_p99_ms"],
        "flood_step_p99_ms": r["flood"]["step_p99_ms"],
        "flood_ratio": r["step_p99_ratio"],
        "flood_creates": r["flood"]["answers"],
        "flood_rss_mib": [r["rss_before_mib"], r["rss_peak_mib"]],
    }


# ---- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run")
    parser.add_argument("--followers", default="10,1000")
    parser.add_argument("--sizes", default="7,2000")
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--flood-seconds", type=float, default=15.0)
    parser.add_argument("--no-flood", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.followers.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    raise_open_files(max(counts) + 200)
    rows: list[dict] = []
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(str(Path(tmp) / "bench.db"), log_level="warning")
        try:

            async def run() -> None:
                for n in sizes:
                    for i, count in enumerate(counts):
                        address = HALL if count == max(counts) else f"127.0.1.{i + 2}"
                        rows.append(await delivery(base, proc.pid, n, count, address, args.steps))
                        print(f"  {n} nodes, {count} followers", file=sys.stderr)
                out.update(await answers_per_second(base, args.answers))

            asyncio.run(run())
            if not args.no_flood:
                out.update(flood_section(base, proc.pid, args.flood_seconds))
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    print("delivery: from the teacher sending a step to a follower holding its patch")
    print(
        f"{'nodes':>6} {'followers':>9} {'p50':>8} {'p99':>8} {'after answer p50/p99':>21} "
        f"{'step answer':>11} {'RSS/follower':>12} {'missing':>7}"
    )
    for r in rows:
        print(
            f"{r['nodes']:>6} {r['followers']:>9} {r['p50_ms']:>6.1f}ms {r['p99_ms']:>6.1f}ms "
            f"{r['after_answer_p50_ms']:>9.1f} /{r['after_answer_p99_ms']:>6.1f}ms "
            f"{r['step_answer_p50_ms']:>9.1f}ms {r['rss_per_follower_kib']:>8.1f} KiB "
            f"{r['missing']:>7}"
        )
    by = {(r["nodes"], r["followers"]): r for r in rows}
    lo, hi = min(counts), max(counts)
    for n in sizes:
        if (n, lo) in by and (n, hi) in by:
            ratio = by[n, hi]["p99_ms"] / by[n, lo]["p99_ms"]
            out[f"p99_ratio_{hi}_over_{lo}_at_{n}"] = ratio
            print(
                f"{n} nodes: {hi} followers' p99 {by[n, hi]['p99_ms']:.1f} ms, "
                f"{ratio:.2f}x the {lo} followers' {by[n, lo]['p99_ms']:.1f} ms"
                + (" (goal: at most 3x, under 100 ms)" if n == 7 else " (goal: at most 3x)")
            )
    print(
        f"quiz: {out['answers_201']} of {out['answers']} answers taken, "
        f"{out['answers_per_second']:.0f} a second"
    )
    if "flood_ratio" in out:
        print(
            f"teacher's step p99: quiet {out['quiet_step_p99_ms']:.1f} ms, during a flood of "
            f"10,000-node chains {out['flood_step_p99_ms']:.1f} ms, {out['flood_ratio']:.2f}x "
            f"(creates answered: {out['flood_creates']}; server RSS "
            f"{out['flood_rss_mib'][0]:.0f} -> {out['flood_rss_mib'][1]:.0f} MiB)"
        )
    out["delivery"] = rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
