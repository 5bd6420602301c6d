"""A teacher's class while one address floods the server with large graphs, measured in one
run against the same server quiet.

    python bench/flood.py [--seconds 20] [--nodes 10000] [--followers 10] [--flooders 4]
                          [--flood-rate 4] [--python PATH]

Starts `stepgrad serve` (default settings, a fresh SQLite file in a temporary folder)
unless `flood_section` is given a running server. The teacher (127.0.0.2) creates the
course's seed graph and steps it through its timeline, one step every 50 ms with
`?return=patch`; `--followers` event streams (`format=patch`, from 127.0.0.3-6) follow it.
Two phases of `--seconds` each, with the same teacher and followers:

- quiet: nobody else uses the server;
- flood: `--flooders` connections from one address (127.0.0.66), in a process of their
  own, send creates of `--nodes`-node chains, `--flood-rate` a second in all (4 by
  default: four times the issue's flood of 60 a minute), ignoring every refusal and
  Retry-After.

Per phase: the teacher's step latency (request to answer) and the followers' delivery
(request to a follower holding the event), p50 and p99; for the flood, its answers by
status and the server's RSS (before, peak, after). The figures that matter are the flood's
p99 over the quiet p99 (the goal: at most 2), and the peak RSS. `--python` runs the server
with another interpreter (another checkout's venv: the figures before a change).

`flood_section(...)` returns the same figures as a dict, for other scripts
(bench/lecture_hall.py). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import free_port  # noqa: E402
from tests.helpers import chain_spec  # noqa: E402

TEACHER = "127.0.0.2"
FOLLOWERS = ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
FLOODER = "127.0.0.66"
VERSION = re.compile(rb'"version":(\d+)')


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Server:
    """`stepgrad serve` with the default settings (but a quiet log) on a free port, run by
    `python` (default: this interpreter)."""

    def __init__(self, python: str | None = None, **settings: object):
        self.tmp = tempfile.TemporaryDirectory(prefix="stepgrad-flood-")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "STEPGRAD_LOG_LEVEL": "warning"}
        env.update({f"STEPGRAD_{k.upper()}": str(v) for k, v in settings.items()})
        env.pop("PYTHONPATH", None)  # the interpreter's own install of stepgrad
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "stepgrad.app.cli", "serve", "--port", str(port),
             "--db", str(Path(self.tmp.name) / "graphs.db")],
            cwd=self.tmp.name,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/api/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.tmp.cleanup()


class Followers:
    """Event streams of one graph (format=patch) in a thread of their own; `arrived[i]`
    maps a version to when follower i held its whole event."""

    def __init__(self, base: str, gid: str, count: int):
        self.url = f"{base}/api/graphs/{gid}/events?format=patch"
        self.count = count
        self.arrived: list[dict[int, float]] = [{} for _ in range(count)]
        self.failed: list[str] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Followers:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the followers did not connect")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _main(self) -> None:
        connected = [asyncio.Event() for _ in range(self.count)]
        tasks = [asyncio.create_task(self._follow(i, connected[i])) for i in range(self.count)]
        await asyncio.gather(*(e.wait() for e in connected))
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, i: int, connected: asyncio.Event) -> None:
        arrived = self.arrived[i]
        transport = httpx.AsyncHTTPTransport(local_address=FOLLOWERS[i % len(FOLLOWERS)])
        try:
            async with (
                httpx.AsyncClient(transport=transport, timeout=None) as client,
                client.stream("GET", self.url) as r,
            ):
                if r.status_code != 200:
                    self.failed.append(f"status {r.status_code}")
                    connected.set()
                    return
                buf = b""
                async for chunk in r.aiter_raw():
                    buf += chunk
                    while (end := buf.find(b"\n\n")) >= 0:
                        frame, buf = buf[:end], buf[end + 2 :]
                        match = VERSION.search(frame, 0, 400)
                        if match:
                            arrived.setdefault(int(match.group(1)), time.perf_counter())
                            connected.set()
        except httpx.HTTPError as exc:
            self.failed.append(repr(exc))
        finally:
            connected.set()


class Teacher:
    """Steps the seed graph through its timeline, forward then backward, then resets (the
    reset is not timed)."""

    def __init__(self, base: str):
        self.client = httpx.Client(
            base_url=base, timeout=120, transport=httpx.HTTPTransport(local_address=TEACHER)
        )
        r = self.client.post("/api/graphs", json={"example": "seed"})
        r.raise_for_status()
        state = r.json()
        self.gid = state["id"]
        self.headers = {"Authorization": f"Bearer {state['edit_token']}"}
        self.total = state["cursor"]["total"]
        self.position = state["cursor"]["position"]
        self.nodes = self.total // 2

    def call(self, what: str, body: dict | None = None) -> dict:
        r = self.client.post(
            f"/api/graphs/{self.gid}/{what}?return=patch", json=body, headers=self.headers
        )
        r.raise_for_status()
        return r.json()

    def step(self) -> tuple[int, float, float]:
        """One timed step: (version, sent at, latency in ms)."""
        if self.position >= self.total:
            self.position = self.call("reset")["cursor"]["position"]
        what = "forward" if self.position < self.nodes else "backward"
        start = time.perf_counter()
        answer = self.call(what, {"steps": 1})
        latency = 1000 * (time.perf_counter() - start)
        self.position = answer["cursor"]["position"]
        return answer["version"], start, latency


def run_phase(
    teacher: Teacher, followers: Followers, seconds: float, interval: float, slow: float = 1e9
) -> dict:
    """Steps every `interval` for `seconds`; the figures, and when (seconds into the phase)
    the steps slower than `slow` ms were sent."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    slow_at: list[float] = []
    began = time.perf_counter()
    end = time.monotonic() + seconds
    next_step = time.monotonic()
    while time.monotonic() < end:
        version, start, ms = teacher.step()
        sent[version] = start
        latencies.append(ms)
        if ms > slow:
            slow_at.append(round(start - began, 2))
        next_step += interval
        time.sleep(max(0.0, next_step - time.monotonic()))
    last = max(sent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(last in a for a in followers.arrived):
        time.sleep(0.01)
    delays = [1000 * (a[v] - t) for a in followers.arrived for v, t in sent.items() if v in a]
    missing = sum(1 for a in followers.arrived for v in sent if v not in a)
    return {
        "steps": len(latencies),
        "step_p50_ms": round(percentile(latencies, 50), 2),
        "step_p99_ms": round(percentile(latencies, 99), 2),
        "step_max_ms": round(max(latencies), 2),
        "delivery_p50_ms": round(percentile(delays, 50), 2),
        "delivery_p99_ms": round(percentile(delays, 99), 2),
        "deliveries_missing": missing,
        "slow_steps_at_s": slow_at,
    }


class Flood:
    """`connections` loops, in a process of their own (the flood must not share this
    process's interpreter with the teacher and followers it is measured against), sending
    creates of an n-node chain from one address, `rate` a second in all, ignoring every
    refusal and Retry-After; answers counted by status."""

    def __init__(self, base: str, nodes: int, connections: int, rate: float):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._results = ctx.Queue()
        self._proc = ctx.Process(
            target=_flood, args=(base, nodes, connections, rate, self._stop, self._results)
        )
        self.statuses: dict[str, int] = {}
        self.refusals: dict[str, int] = {}  # the 429 sentences, their numbers blanked

    def __enter__(self) -> Flood:
        self._proc.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.statuses, self.refusals = self._results.get(timeout=300)
        self._proc.join(60)


def _flood(base: str, nodes: int, connections: int, rate: float, stop, results) -> None:
    body = json.dumps(chain_spec(nodes)).encode()
    statuses: dict[str, int] = {}
    refusals: dict[str, int] = {}
    lock = threading.Lock()
    start = time.monotonic()
    sent = [0]

    def loop() -> None:
        transport = httpx.HTTPTransport(local_address=FLOODER)
        with httpx.Client(base_url=base, transport=transport, timeout=120) as client:
            while not stop.is_set():
                with lock:  # the n-th request of all leaves n / rate seconds in
                    due = start + sent[0] / rate
                    sent[0] += 1
                time.sleep(max(0.0, due - time.monotonic()))
                if stop.is_set():
                    return
                try:
                    r = client.post(
                        "/api/graphs", content=body, headers={"Content-Type": "application/json"}
                    )
                    status = str(r.status_code)
                    detail = r.json().get("detail", "") if r.status_code == 429 else ""
                except httpx.HTTPError as exc:
                    status, detail = type(exc).__name__, ""
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if detail:
                        key = re.sub(r"\d[\d,]*", "N", detail)[:160]
                        refusals[key] = refusals.get(key, 0) + 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((dict(sorted(statuses.items())), refusals))


class RssPeak:
    def __init__(self, pid: int | None):
        self.pid = pid
        self.peak = rss_mib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            now = rss_mib(self.pid)
            if now == now:  # not NaN
                self.peak = max(self.peak, now)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def flood_section(
    base: str | None = None,
    pid: int | None = None,
    *,
    seconds: float = 20.0,
    nodes: int = 10_000,
    followers: int = 10,
    flooders: int = 4,
    flood_rate: float = 4.0,
    interval: float = 0.05,
    python: str | None = None,
) -> dict:
    """The teacher's step and the followers' delivery, quiet and then during a flood of
    `nodes`-node creates from one address, on the server at `base` (its process id `pid`
    for the RSS), or on a server of its own with the default settings."""
    server = Server(python) if base is None else None
    if server is not None:
        base, pid = server.base, server.pid
    assert base is not None
    try:
        teacher = Teacher(base)
        with Followers(base, teacher.gid, followers) as stream:
            for _ in range(10):  # warm up: imports, connections
                teacher.step()
            quiet = run_phase(teacher, stream, seconds, interval)
            rss_before = rss_mib(pid)
            with RssPeak(pid) as rss, Flood(base, nodes, flooders, flood_rate) as flood:
                flooded = run_phase(
                    teacher, stream, seconds, interval, slow=2 * quiet["step_p99_ms"]
                )
            flooded["rss_peak_mib"] = round(rss.peak, 1)
            failed = list(stream.failed)
        time.sleep(2)
        rss_after = rss_mib(pid)
        # the server still serves a new class afterwards
        after = httpx.post(f"{base}/api/graphs", json={"example": "seed"}, timeout=60)
    finally:
        if server is not None:
            server.close()
    return {
        "nodes": nodes,
        "seconds": seconds,
        "followers": followers,
        "flooders": flooders,
        "flood_rate": flood_rate,
        "quiet": quiet,
        "flood": {
            **flooded,
            "answers": dict(sorted(flood.statuses.items())),
            "refusals": flood.refusals,
        },
        "step_p99_ratio": round(flooded["step_p99_ms"] / quiet["step_p99_ms"], 2),
        "delivery_p99_ratio": round(flooded["delivery_p99_ms"] / quiet["delivery_p99_ms"], 2),
        "step_p50_ratio": round(flooded["step_p50_ms"] / quiet["step_p50_ms"], 2),
        "rss_before_mib": round(rss_before, 1),
        "rss_peak_mib": flooded["rss_peak_mib"],
        "rss_after_mib": round(rss_after, 1),
        "follower_failures": failed,
        "create_after_flood": after.status_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--nodes", type=int, default=10_000, help="nodes per flooded graph")
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--flooders", type=int, default=4, help="connections of the flood")
    parser.add_argument(
        "--flood-rate", type=float, default=4.0, help="creates a second the flood sends"
    )
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between steps")
    parser.add_argument("--python", help="the server's interpreter (default: this one)")
    args = parser.parse_args()
    out = flood_section(
        seconds=args.seconds,
        nodes=args.nodes,
        followers=args.followers,
        flooders=args.flooders,
        flood_rate=args.flood_rate,
        interval=args.interval,
        python=args.python,
    )
    q, f = out["quiet"], out["flood"]
    print(
        f"{out['followers']} followers of the seed graph; a step every "
        f"{args.interval * 1000:.0f} ms for {out['seconds']:g} s per phase; flood: "
        f"{out['flooders']} connections from one address sending {out['flood_rate']:g} "
        f"creates of {out['nodes']:,}-node chains a second"
    )
    print(
        f"{'':>8} {'steps':>6} {'step p50':>9} {'step p99':>9} {'deliv p50':>10} {'deliv p99':>10}"
    )
    for name, row in (("quiet", q), ("flood", f)):
        print(
            f"{name:>8} {row['steps']:>6} {row['step_p50_ms']:>7.1f}ms "
            f"{row['step_p99_ms']:>7.1f}ms {row['delivery_p50_ms']:>8.1f}ms "
            f"{row['delivery_p99_ms']:>8.1f}ms"
        )
    print(
        f"flood / quiet p99: step {out['step_p99_ratio']:.2f}, delivery "
        f"{out['delivery_p99_ratio']:.2f} (goal: at most 2)"
    )
    print(f"flood answers: {f['answers']}")
    for sentence, count in f["refusals"].items():
        print(f"  {count} x {sentence}")
    print(
        f"server RSS: {out['rss_before_mib']:.0f} MiB before the flood, peak "
        f"{out['rss_peak_mib']:.0f}, {out['rss_after_mib']:.0f} after"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
