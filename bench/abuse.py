"""A hostile student against a real server: what each attack costs and what it leaves behind.

    python bench/abuse.py [SCENARIO ...]     (default: all; each bounded in count and time)

Every scenario starts `stepgrad serve` in a subprocess on 127.0.0.1 with a fresh SQLite
file and the default settings, attacks it from loopback addresses only (127.0.0.x, so
per-address limits see several clients), measures, sends SIGTERM and records how long the
server takes to exit. Scenarios:

  flood      1,100 anonymous creates from 50 addresses while a teacher's graph is followed
  gradcheck  GET gradcheck?max_elements=2000 on 121 nodes holding 863k elements (then
             with the work limits raised: a client that leaves, SIGTERM, one that waits)
  train      200,000 epochs on a 2,000-node chain (the same three ways)
  stall      1,000 epochs on a 2,000-node chain, 45 steps queued behind it, reads of another graph
             (against the same reads on the idle server, measured first)
  race       POST /api/race with hidden=256, batch_size=1
  toposort   POST /api/toposort with 5,000 nodes and no edges
  bodies     1,000 connections each declaring 2 MB and sending 1 MB
  slow       a body sent one byte every 1.5 s, slow headers, an idle connection
  sse        3,000 event streams from 30 addresses; an editor's step time
  headers    security headers on a page, the API, an error, a static file, a DOT export
  two        a second server process on the same SQLite file

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import ServerProcess as Server  # noqa: E402
from tests.helpers import auth, chain_spec, wide_spec  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
RESULTS: dict[str, dict] = {}


def client(address: str = "127.0.0.1", timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def counts(statuses) -> dict:
    out: dict[str, int] = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return dict(sorted(out.items()))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_after_client_left(server: Server, seconds: float = 5.0) -> float:
    before = server.cpu()
    time.sleep(seconds)
    return round(server.cpu() - before, 2)


def timed(fn, *args, **kwargs):
    start = time.monotonic()
    try:
        out = fn(*args, **kwargs)
    except httpx.TimeoutException:
        out = "client timeout"
    except httpx.HTTPError as exc:
        out = f"connection lost ({type(exc).__name__})"
    return out, round(time.monotonic() - start, 2)


# ---- scenarios --------------------------------------------------------------------------


def flood() -> dict:
    with Server() as s, client() as c:
        teacher = c.post(f"{s.base}/api/graphs", json={"example": "seed"}).json()
        gid, h = teacher["id"], auth(teacher["edit_token"])
        for _ in range(3):
            c.post(f"{s.base}/api/graphs/{gid}/forward", headers=h)
        seen: list[str] = []

        def follow() -> None:
            with (
                contextlib.suppress(httpx.HTTPError),  # the server stops under it at the end
                client(timeout=None) as f,
                f.stream("GET", f"{s.base}/api/graphs/{gid}/events") as r,
            ):
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        seen.append(line[7:])
                    if line == "event: deleted" or len(seen) > 5:
                        return

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)

        def creates(i: int) -> list[int]:
            with client(f"127.0.0.{2 + i}") as a:
                return [
                    a.post(f"{s.base}/api/graphs", json={"example": "seed"}).status_code
                    for _ in range(22)
                ]

        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            statuses = [x for xs in pool.map(creates, range(50)) for x in xs]
        seconds = round(time.monotonic() - start, 2)
        with client() as one:
            single = [
                one.post(f"{s.base}/api/graphs", json={"example": "seed"}).status_code
                for _ in range(100)
            ]
        r = c.get(f"{s.base}/api/graphs/{gid}")
        time.sleep(0.3)
        return {
            "creates": len(statuses),
            "seconds": seconds,
            "statuses": counts(statuses),
            "one_address_100_statuses": counts(single),
            "teacher_graph_after": r.status_code,
            "follower_events": seen,
            "sigterm_exit_s": s.stop(),
        }


# work limits raised out of the way (older servers have both settings too, so the same run
# compares them): what a call that passes them costs when its client leaves, on SIGTERM, and in all
UNLIMITED = {"max_gradcheck_work": 10**15, "max_train_work": 10**15}


def _heavy(call) -> dict:
    """`call(server, client, timeout)` makes one heavy request. Figures: the default server's
    answer; then, with the work limits out of the way, the server's CPU after a client that
    gives up at 5 s, how long SIGTERM takes to end it meanwhile, and a client that waits."""
    out: dict = {}
    with Server() as s, client() as c:
        answer, seconds = timed(call, s, c, 10)
        out["default_answer"] = (
            answer if isinstance(answer, str) else f"{answer.status_code} {answer.text[:160]}"
        )
        out["default_seconds"] = seconds
        out["default_server_cpu_s_in_5s_after"] = cpu_after_client_left(s)
        out["default_sigterm_exit_s"] = s.stop()
    with Server(**UNLIMITED) as s, client() as c:
        answer, seconds = timed(call, s, c, 5)
        out["unlimited_client_gave_up_at_s"] = seconds if isinstance(answer, str) else None
        out["unlimited_server_cpu_s_in_5s_after_client_left"] = cpu_after_client_left(s)
        threading.Thread(target=timed, args=(call, s, c, 30), daemon=True).start()
        time.sleep(1)
        out["unlimited_sigterm_while_running_exit_s"] = s.stop()
    with Server(**UNLIMITED) as s, client() as c:
        answer, seconds = timed(call, s, c, 40)
        out["unlimited_waiting_client_answer"] = (
            answer if isinstance(answer, str) else f"{answer.status_code} {answer.text[:160]}"
        )
        out["unlimited_waiting_client_seconds"] = seconds
        out["sigterm_exit_s"] = s.stop()
    return out


def gradcheck() -> dict:
    def call(s: Server, c: httpx.Client, timeout: float):
        gid = c.post(f"{s.base}/api/graphs", json=wide_spec()).json()["id"]
        return c.get(f"{s.base}/api/graphs/{gid}/gradcheck?max_elements=2000", timeout=timeout)

    return _heavy(call)


def train() -> dict:
    def call(s: Server, c: httpx.Client, timeout: float):
        state = c.post(f"{s.base}/api/graphs", json=chain_spec(2000)).json()
        return c.post(
            f"{s.base}/api/graphs/{state['id']}/train",
            json={"epochs": 200_000, "learning_rate": 0.01},
            headers=auth(state["edit_token"]),
            timeout=timeout,
        )

    return _heavy(call)


def stall() -> dict:
    with Server() as s, client() as c:
        a = c.post(f"{s.base}/api/graphs", json=chain_spec(2000)).json()
        b = c.post(f"{s.base}/api/graphs", json={"example": "seed"}).json()
        ha = auth(a["edit_token"])
        done = threading.Event()
        result: dict = {}
        idle: list[float] = []  # the reference: the same reads before any heavy work
        with client() as reader:
            for _ in range(100):
                t0 = time.monotonic()
                reader.get(f"{s.base}/api/graphs/{b['id']}", timeout=60)
                idle.append(time.monotonic() - t0)
                time.sleep(0.02)

        def training() -> None:
            out, seconds = timed(
                c.post,
                f"{s.base}/api/graphs/{a['id']}/train",
                json={"epochs": 1000, "learning_rate": 0.01},
                headers=ha,
                timeout=60,
            )
            result["train"] = out if isinstance(out, str) else out.status_code
            result["train_s"] = seconds
            done.set()

        def step(_: int) -> tuple[int | str, float]:
            with client() as k:
                out, seconds = timed(
                    k.post, f"{s.base}/api/graphs/{a['id']}/forward", headers=ha, timeout=60
                )
                return (out if isinstance(out, str) else out.status_code), seconds

        threading.Thread(target=training, daemon=True).start()
        time.sleep(0.3)
        pool = ThreadPoolExecutor(45)
        steps = [pool.submit(step, i) for i in range(45)]
        time.sleep(0.3)
        reads: list[float] = []
        with client() as reader:
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                t0 = time.monotonic()
                reader.get(f"{s.base}/api/graphs/{b['id']}", timeout=60)
                reads.append(time.monotonic() - t0)
                time.sleep(0.02)
        outcomes = [f.result() for f in steps]
        pool.shutdown()
        return {
            **result,
            "steps": counts(o for o, _ in outcomes),
            "step_max_s": round(max(t for _, t in outcomes), 2),
            "reads": len(reads),
            "read_p50_ms": round(percentile(reads, 0.5) * 1e3, 1),
            "read_p95_ms": round(percentile(reads, 0.95) * 1e3, 1),
            "read_p99_ms": round(percentile(reads, 0.99) * 1e3, 1),
            "read_max_ms": round(max(reads, default=float("nan")) * 1e3, 1),
            "idle_read_p50_ms": round(percentile(idle, 0.5) * 1e3, 1),
            "idle_read_p95_ms": round(percentile(idle, 0.95) * 1e3, 1),
            # how far the heavy work pushes reads of another graph above the idle server's
            # (when reads still ran on the heavy work's threads they took about 4 s)
            "read_p95_over_idle_p95": round(percentile(reads, 0.95) / percentile(idle, 0.95), 1),
            "read_max_over_idle_p95": round(
                max(reads, default=float("nan")) / percentile(idle, 0.95), 1
            ),
            "sigterm_exit_s": s.stop(),
        }


def race() -> dict:
    with Server() as s, client() as c:
        cpu0 = s.cpu()
        out, seconds = timed(
            c.post,
            f"{s.base}/api/race",
            json={"hidden": 256, "batch_size": 1, "epochs": 49},
            timeout=90,
        )
        answer = out if isinstance(out, str) else f"{out.status_code} {out.text[:160]}"
        return {
            "answer": answer,
            "seconds": seconds,
            "server_cpu_s": round(s.cpu() - cpu0, 2),
            "sigterm_exit_s": s.stop(),
        }


def toposort() -> dict:
    with Server() as s, client() as c:
        body = json.dumps({"nodes": [f"n{i}" for i in range(5000)], "edges": []})
        out, seconds = timed(
            c.post,
            f"{s.base}/api/toposort",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        return {
            "request_bytes": len(body),
            "status": out if isinstance(out, str) else out.status_code,
            "response_bytes": 0 if isinstance(out, str) else len(out.content),
            "detail": "" if isinstance(out, str) or out.status_code == 200 else out.text[:200],
            "seconds": seconds,
            "sigterm_exit_s": s.stop(),
        }


async def _open(host: str, port: int, local: str | None = None):
    return await asyncio.open_connection(host, port, local_addr=(local, 0) if local else None)


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True if the server closed the connection (EOF or reset) within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def bodies() -> dict:
    with Server() as s:
        rss0 = s.rss_mib()
        n, declared, sent = 1000, 2_000_000, 1_000_000

        async def attack() -> dict:
            head = (
                f"POST /api/graphs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
            chunk = b" " * sent
            conns = []

            async def one(i: int):
                r, w = await _open("127.0.0.1", s.port, f"127.0.0.{2 + i % 50}")
                w.write(head)
                w.write(chunk)
                with contextlib.suppress(OSError):
                    async with asyncio.timeout(30):
                        await w.drain()
                conns.append((r, w))

            start = time.monotonic()
            await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
            await asyncio.sleep(2)
            peak = s.rss_mib()
            sent_s = round(time.monotonic() - start, 2)
            await asyncio.sleep(10)
            open_after = sum(1 for r, _ in conns if not r.at_eof() and not r.exception())
            probe = [await _closed_within(r, 0.01) for r, _ in conns]
            still_open = sum(1 for p in probe if not p)
            for _, w in conns:
                w.close()
            await asyncio.sleep(3)
            return {
                "connections": len(conns),
                "seconds_to_send": sent_s,
                "rss_peak_mib": round(peak),
                "open_12s_after": min(open_after, still_open),
                "rss_after_close_mib": round(s.rss_mib()),
            }

        figures = asyncio.run(attack())
        return {"rss_before_mib": round(rss0), **figures, "sigterm_exit_s": s.stop()}


def slow() -> dict:
    with Server() as s:

        async def attack() -> dict:
            async def slow_body() -> bool:
                r, w = await _open("127.0.0.1", s.port)
                w.write(
                    b"POST /api/graphs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    b"\r\nContent-Length: 100\r\n\r\n"
                )
                await w.drain()
                for _ in range(20):
                    if r.at_eof():
                        break
                    with contextlib.suppress(OSError):
                        w.write(b" ")
                        await w.drain()
                    if await _closed_within(r, 1.5):
                        return True
                return await _closed_within(r, 0.01)

            async def slow_headers() -> bool:
                r, w = await _open("127.0.0.1", s.port)
                w.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
                await w.drain()
                for _ in range(20):
                    with contextlib.suppress(OSError):
                        w.write(b"X")
                        await w.drain()
                    if await _closed_within(r, 1.5):
                        return True
                return await _closed_within(r, 0.01)

            async def idle() -> bool:
                r, _ = await _open("127.0.0.1", s.port)
                return await _closed_within(r, 30)

            closed = await asyncio.gather(slow_body(), slow_headers(), idle())
            return {
                "slow_body_open_after_30s": not closed[0],
                "slow_headers_open_after_30s": not closed[1],
                "idle_open_after_30s": not closed[2],
            }

        figures = asyncio.run(attack())
        return {**figures, "sigterm_exit_s": s.stop()}


def sse() -> dict:
    with Server() as s, client() as c:
        state = c.post(f"{s.base}/api/graphs", json=chain_spec(200)).json()
        gid, h = state["id"], auth(state["edit_token"])

        def step_ms(k: int = 7) -> float:
            times = []
            for _ in range(k):
                t0 = time.monotonic()
                c.post(f"{s.base}/api/graphs/{gid}/forward", headers=h)
                times.append(time.monotonic() - t0)
            return round(percentile(times, 0.5) * 1e3, 1)

        quiet = step_ms()
        rss0 = s.rss_mib()
        figures: dict = {}

        async def attack() -> None:
            head = f"GET /api/graphs/{gid}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            statuses: list[str] = []
            streams = []

            async def one(i: int) -> None:
                try:
                    r, w = await _open("127.0.0.1", s.port, f"127.0.0.{2 + i % 30}")
                    w.write(head)
                    await w.drain()
                    async with asyncio.timeout(20):
                        line = await r.readline()
                    statuses.append(line.split()[1].decode() if line else "closed")
                    streams.append((r, w))
                except (OSError, TimeoutError) as exc:
                    statuses.append(type(exc).__name__)

            async def drain(r: asyncio.StreamReader) -> None:
                with contextlib.suppress(Exception):
                    while await r.read(65536):
                        pass

            await asyncio.gather(*(one(i) for i in range(3000)))
            readers = [asyncio.create_task(drain(r)) for r, _ in streams]
            await asyncio.sleep(2)
            figures["rss_with_streams_mib"] = round(s.rss_mib())
            figures["step_ms_with_streams"] = await asyncio.to_thread(step_ms)
            figures["statuses"] = counts(statuses)
            for _, w in streams:
                w.close()
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

        asyncio.run(attack())
        return {
            "step_ms_quiet": quiet,
            "rss_before_mib": round(rss0),
            **figures,
            "sigterm_exit_s": s.stop(),
        }


def headers() -> dict:
    wanted = ("content-security-policy", "x-content-type-options", "referrer-policy")
    with Server() as s, client() as c:
        g = c.post(
            f"{s.base}/api/graphs",
            json={
                "name": "<script>alert(1)</script>",
                "nodes": [{"id": "x", "op": "param", "value": 1.0}],
            },
        ).json()
        out = {}
        for path in (
            "/",
            "/api/health",
            "/api/graphs/nope",
            "/static/js/api.js",
            f"/api/graphs/{g['id']}/export?format=dot",
        ):
            r = c.get(s.base + path)
            present = [k for k in wanted if k in r.headers]
            out[path.split("?")[0] if "export" not in path else "export dot"] = (
                f"{r.status_code} {r.headers.get('content-type', '').split(';')[0]}: "
                + (", ".join(present) if present else "none")
            )
        out["sigterm_exit_s"] = s.stop()
        return out


def two() -> dict:
    with Server() as first:
        second = Server(db=first.db)
        started = second.wait_ready(timeout=15)
        if started:
            second.stop()
        message = second.output().strip().splitlines()
        second.__exit__()
        return {
            "second_started": started,
            "second_exit_code": second.proc.returncode,
            "second_says": next((m for m in reversed(message) if "SQLite" in m), "")[:300],
            "sigterm_exit_s": first.stop(),
        }


SCENARIOS = {
    f.__name__: f
    for f in (flood, gradcheck, train, stall, race, toposort, bodies, slow, sse, headers, two)
}


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    for name in names:
        start = time.monotonic()
        try:
            RESULTS[name] = SCENARIOS[name]()
        except Exception as exc:  # a scenario that breaks the bench is a figure too
            RESULTS[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        RESULTS[name]["bench_s"] = round(time.monotonic() - start, 1)
        print(f"{name:10s} {json.dumps(RESULTS[name], ensure_ascii=False)}", flush=True)
    print(json.dumps(RESULTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
