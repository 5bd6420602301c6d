"""What one step costs at 7, 200, 2,000 and 10,000 nodes, measured in one run on a real server.

    python bench/step_scaling.py [--sizes 7,200,2000,10000] [--full-state] [--steps 40]

Starts `stepgrad serve` in a subprocess (SQLite file in a temporary folder, max_nodes
10,000) and, per size (7: the course's seed graph; others: a random DAG of scalars whose
nodes take 1-2 inputs from any earlier node, the kind whose long edges carry many
waypoints):

- open: POST /api/graphs, then GET of the state (what a page does to open the graph), and
  the size of that state; the layout of the same graph timed in this process;
- step: p50 latency and response size of one forward step and one backward step, with
  `?return=patch` (or the whole state with --full-state, what a v1 client gets), and the
  forward p50 over the 7-node one;
- followers: that many event streams (`format=patch`, or the state events with
  --full-state) from loopback addresses 127.0.0.2-5; the stepper steps, waiting until
  every follower has the new version; delivery = from sending the step to a follower
  holding the whole event, p50/p99 over followers and steps; the server's RSS before
  they connect, at the end of the steps, and 3 s after they have left.

Followers: 100 at 2,000 nodes, 20 at the other sizes (--followers-2000, --followers).
The server's run of the state events with --full-state is also how the figures before
patches were taken. The last line is one JSON object.

Then the page, in Debian's Chromium (Playwright, 1280x720), on the same graphs:

- page open: navigation start to the frame after the first one that shows the graph
  (`sg:open-painted`, the page's own Performance API measure);
- key to paint: from a key press (the keydown event's timestamp) to the next frame after the
  render that showed the state the step produced (the request and its patch, applying it,
  the drawing, the frame that paints it), p50 and p95, stepping forward from the start and
  back from the end of the timeline (a step back is a seek: the engine recomputes from the
  start, so its server time grows with the graph).

The last line is one JSON object: per size the server's figures and `page_open_ms`,
`key_to_paint_ms`, `back_key_to_paint_ms`, and the issue's headline figures
`key_to_paint_ms_2000`, `key_to_paint_ms_10000`, `open_ms_10000` (the page's open time),
`follower_p99_ms_2000`. --no-page skips Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser_render import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.harness import scalar_nodes, start_server  # noqa: E402
from bench.layout import random_dag  # noqa: E402

SIZES = (7, 200, 2000, 10000)
FOLLOWER_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
VERSION = re.compile(rb'"version":(\d+)')


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dag_spec(n: int) -> dict:
    """The 7-node seed graph, or a random DAG of n scalar nodes (params, tanh, add, mul)."""
    if n == 7:
        from stepgrad.engine.examples import load_example

        return load_example("seed")
    nodes, loose = scalar_nodes(*random_dag(n - 1, seed=0, window=None))
    nodes.append({"id": "out", "op": "add", "inputs": [loose[-2], loose[-1]]})
    return {"name": f"random {n}", "nodes": nodes, "output": "out"}


def layout_ms(spec: dict) -> float:
    """Building the graph and laying it out, in this process (what creation does besides I/O)."""
    from stepgrad.app.live.layout import graph_layout
    from stepgrad.engine.graph import Graph, Limits

    start = time.perf_counter()
    graph = Graph.from_spec(spec, Limits(max_nodes=20_000))
    graph_layout(graph)
    return 1000 * (time.perf_counter() - start)


def p(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times), q)) if times else float("nan")


class Stepper:
    def __init__(self, base: str, gid: str, token: str, patch: bool):
        self.client = httpx.Client(base_url=base, timeout=120)
        self.gid = gid
        self.headers = {"Authorization": f"Bearer {token}"}
        self.query = "?return=patch" if patch else ""

    def call(self, what: str, body: dict | None = None) -> httpx.Response:
        r = self.client.post(
            f"/api/graphs/{self.gid}/{what}{self.query}", json=body, headers=self.headers
        )
        r.raise_for_status()
        return r

    def timed(self, what: str) -> tuple[float, int, int]:
        start = time.perf_counter()
        r = self.call(what, {"steps": 1})
        ms = 1000 * (time.perf_counter() - start)
        return ms, len(r.content), json.loads(r.content)["version"]


def step_figures(stepper: Stepper, n: int, steps: int) -> dict:
    forward: list[tuple[float, int]] = []
    backward: list[tuple[float, int]] = []
    stepper.call("reset")
    while len(forward) < steps:
        for _ in range(min(n, steps - len(forward))):
            forward.append(stepper.timed("forward")[:2])
        stepper.call("reset")
    stepper.call("forward", {"all": True})
    while len(backward) < steps:
        for _ in range(min(n, steps - len(backward))):
            backward.append(stepper.timed("backward")[:2])
        if len(backward) < steps:
            stepper.call("reset")
            stepper.call("forward", {"all": True})
    stepper.call("reset")
    return {
        "step_ms": p([t for t, _ in forward], 50),
        "step_p99_ms": p([t for t, _ in forward], 99),
        "backward_step_ms": p([t for t, _ in backward], 50),
        "patch_bytes": int(np.median([b for _, b in forward])),
        "backward_patch_bytes": int(np.median([b for _, b in backward])),
    }


class Follower:
    """One event stream, read as raw bytes: only frame ends and versions are looked at, so
    the reader costs little next to what it measures."""

    def __init__(self, base: str, gid: str, patch: bool, address: str):
        self.url = f"{base}/api/graphs/{gid}/events" + ("?format=patch" if patch else "")
        self.address = address
        self.arrived: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.failed: str | None = None

    async def run(self) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=self.address)
        try:
            async with (
                httpx.AsyncClient(transport=transport, timeout=None) as client,
                client.stream("GET", self.url) as r,
            ):
                if r.status_code != 200:
                    self.failed = f"status {r.status_code}"
                    self.connected.set()
                    return
                buf = b""
                async for chunk in r.aiter_raw():
                    scan = max(0, len(buf) - 1)  # the frame's end can only be in the new bytes
                    buf += chunk
                    start = 0
                    while (end := buf.find(b"\n\n", scan)) >= 0:
                        frame, start = buf[start:end], end + 2
                        scan = start
                        if frame.startswith(b":"):
                            continue
                        match = VERSION.search(frame, 0, 400)
                        if match:
                            self.arrived.setdefault(int(match.group(1)), time.perf_counter())
                        self.connected.set()
                    buf = buf[start:]
        except httpx.HTTPError as exc:
            self.failed = self.failed or repr(exc)
            self.connected.set()


def follower_figures(
    base: str, gid: str, n: int, stepper: Stepper, count: int, steps: int, patch: bool, pid: int
) -> dict:
    """`count` followers; `steps` forward steps, each sent once every follower has the last."""
    rss_before = rss_mb(pid)
    sent: dict[int, float] = {}
    result: dict = {}
    ready = threading.Event()
    done = threading.Event()

    async def follow() -> None:
        followers = [
            Follower(base, gid, patch, FOLLOWER_ADDRESSES[i % len(FOLLOWER_ADDRESSES)])
            for i in range(count)
        ]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        await asyncio.gather(*(f.connected.wait() for f in followers))
        result["followers"] = followers
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=lambda: asyncio.run(follow()), daemon=True)
    thread.start()
    ready.wait(120)
    followers = result["followers"]
    failed = [f.failed for f in followers if f.failed]

    def delivered(version: int) -> None:
        wait_until = time.monotonic() + 60
        while time.monotonic() < wait_until:
            if all(version in f.arrived or f.failed for f in followers):
                return
            time.sleep(0.001)

    rss_peak = rss_mb(pid)
    try:
        position = json.loads(stepper.call("reset").content)["cursor"]["position"]
        for _ in range(steps):
            if position >= n:  # not timed: back to the start of the forward pass
                r = stepper.call("reset")
                delivered(json.loads(r.content)["version"])
            start = time.perf_counter()
            r = stepper.call("forward", {"steps": 1})
            body = json.loads(r.content)
            sent[body["version"]] = start
            position = body["cursor"]["position"]
            delivered(body["version"])
            rss_peak = max(rss_peak, rss_mb(pid))
            time.sleep(0.02)
    finally:
        done.set()
        thread.join(60)
    time.sleep(3)
    delays = [
        1000 * (f.arrived[v] - t) for f in followers for v, t in sent.items() if v in f.arrived
    ]
    missing = sum(1 for f in followers for v in sent if v not in f.arrived)
    return {
        "followers": count,
        "follower_failed": len(failed),
        "follower_missing": missing,
        "follower_p50_ms": p(delays, 50),
        "follower_p99_ms": p(delays, 99),
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "rss_after_mb": rss_mb(pid),
    }


def server_measurements(base: str, pid: int, sizes, args) -> dict[int, dict]:
    """Per size: the graph (`gid`, `token`) and the server's figures."""
    rows: dict[int, dict] = {}
    patch = not args.full_state
    layout_ms(dag_spec(7))  # imports
    with httpx.Client(base_url=base, timeout=120) as client:
        warm = client.post("/api/graphs", json=dag_spec(7)).json()
        warm_stepper = Stepper(base, warm["id"], warm["edit_token"], patch)
        step_figures(warm_stepper, 7, 50)
        for n in sizes:
            spec = dag_spec(n)
            row: dict = {"nodes": len(spec["nodes"]), "layout_ms": layout_ms(spec)}
            start = time.perf_counter()
            r = client.post("/api/graphs", json=spec)
            r.raise_for_status()
            created = time.perf_counter()
            gid, token = r.json()["id"], r.json()["edit_token"]
            state = client.get(f"/api/graphs/{gid}")
            state.raise_for_status()
            row["open_ms"] = 1000 * (time.perf_counter() - start)
            row["create_ms"] = 1000 * (created - start)
            row["state_bytes"] = len(state.content)
            row["gid"], row["token"] = gid, token
            stepper = Stepper(base, gid, token, patch)
            stepper.call("forward", {"steps": 1})  # warm up
            row.update(step_figures(stepper, n, args.steps))
            count = args.followers_2000 if n == 2000 else args.followers
            follow = follower_figures(base, gid, n, stepper, count, args.follow_steps, patch, pid)
            row.update(follow)
            rows[n] = row
            print(f"  measured {n} nodes", file=sys.stderr)
    return rows


# In the page: from each keydown to the end of the frame that paints the new position.
WATCH = """() => {
  window.__k2p = [];
  window.__pending = null;
  document.addEventListener('keydown', (ev) => {
    window.__pending = {t0: ev.timeStamp, from: window.stepgrad.state.graph.cursor.position};
  }, true);
  window.stepgrad.store.subscribe((s) => {
    const p = window.__pending;
    if (!p || s.graph.cursor.position === p.from) return;
    window.__pending = null;
    // the frame after the change: its rAF callbacks run before it paints, so the clock
    // stops on a message posted from there, which runs once that frame is painted
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => window.__k2p.push(performance.now() - p.t0);
      channel.port2.postMessage(null);
    });
  });
}"""


def page_steps(page, key: str, count: int) -> list[float]:
    page.evaluate("window.__k2p = []")
    for i in range(1, count + 1):
        page.keyboard.press(key)
        page.wait_for_function("n => window.__k2p.length >= n", arg=i, timeout=60000)
        page.wait_for_function(
            "() => !document.querySelector('#app').classList.contains('is-busy')"
        )
        page.wait_for_timeout(30)
    return page.evaluate("window.__k2p")


def page_figures(browser, base: str, row: dict, count: int) -> dict:
    """Open the graph's page (as its editor) and step it with the keyboard."""
    headers = {"Authorization": f"Bearer {row['token']}"}
    r = httpx.post(f"{base}/api/graphs/{row['gid']}/reset", headers=headers, timeout=120)
    r.raise_for_status()
    total = r.json()["cursor"]["total"]
    count = min(count, total // 2)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{base}/g/{row['gid']}#edit={row['token']}")
        page.wait_for_selector("#app[data-painted=true]", timeout=120000)
        page.wait_for_selector("[data-role=live].live-dot--live", timeout=30000)
        open_ms = page.evaluate("performance.getEntriesByName('sg:open-painted')[0].duration")
        page.evaluate(WATCH)
        forward = page_steps(page, "ArrowRight", count)
        page.keyboard.press("End")
        page.wait_for_function("t => window.stepgrad.state.graph.cursor.position === t", arg=total)
        page.wait_for_timeout(300)
        back = page_steps(page, "ArrowLeft", count)
    finally:
        context.close()
    return {
        "page_open_ms": open_ms,
        "key_to_paint_ms": p(forward, 50),
        "key_to_paint_p95_ms": p(forward, 95),
        "back_key_to_paint_ms": p(back, 50),
        "back_key_to_paint_p95_ms": p(back, 95),
    }


def page_measurements(base: str, rows: dict[int, dict], count: int) -> None:
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium (or --no-page)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n, row in rows.items():
                row.update(page_figures(browser, base, row, count))
                print(f"  measured the page at {n} nodes", file=sys.stderr)
        finally:
            browser.close()


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--steps", type=int, default=40, help="timed steps per direction")
    parser.add_argument("--follow-steps", type=int, default=20)
    parser.add_argument("--followers", type=int, default=20)
    parser.add_argument("--followers-2000", type=int, default=100)
    parser.add_argument(
        "--full-state", action="store_true", help="v1 clients: whole states, state events"
    )
    parser.add_argument("--page-steps", type=int, default=15, help="key presses per direction")
    parser.add_argument("--no-page", action="store_true", help="the server's figures only")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(
            str(Path(tmp) / "bench.db"),
            max_nodes=10000,
            rate_create="1000/minute",
            log_level="warning",
        )
        try:
            rows = server_measurements(base, proc.pid, sizes, args)
            if not args.no_page:
                page_measurements(base, rows, args.page_steps)
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
    floor = rows[sizes[0]]["step_ms"]
    mode = "whole state (v1)" if args.full_state else "?return=patch"
    print(f"step responses: {mode}; events: {'state' if args.full_state else 'format=patch'}")
    head = (
        f"{'nodes':>6} {'layout':>8} {'open':>8} {'state':>10} {'step resp':>10} {'fwd p50':>8} "
        f"{'/7 nodes':>8} {'bwd p50':>8} {'followers':>9} {'deliv p50':>9} {'deliv p99':>9} "
        f"{'RSS before/peak/after MiB':>26}"
    )
    page = not args.no_page
    if page:
        head += f" {'page open':>9} {'key->paint p50/p95':>19} {'back p50/p95':>14}"

    print(head)
    for r in rows.values():
        print(
            f"{r['nodes']:>6} {r['layout_ms']:>6.0f}ms {r['open_ms']:>6.0f}ms "
            f"{kib(r['state_bytes']):>10} {kib(r['patch_bytes']):>10} {r['step_ms']:>6.1f}ms "
            f"{r['step_ms'] / floor:>8.2f} {r['backward_step_ms']:>6.1f}ms {r['followers']:>9} "
            f"{r['follower_p50_ms']:>7.1f}ms {r['follower_p99_ms']:>7.1f}ms "
            f"{r['rss_before_mb']:>8.0f} /{r['rss_peak_mb']:>5.0f} /{r['rss_after_mb']:>5.0f}"
            + (
                f" {r['page_open_ms']:>7.0f}ms {r['key_to_paint_ms']:>8.1f}"
                f" /{r['key_to_paint_p95_ms']:>6.1f}ms"
                f" {r['back_key_to_paint_ms']:>6.0f} /{r['back_key_to_paint_p95_ms']:>4.0f}ms"
                if page
                else ""
            )
        )
        if r["follower_failed"] or r["follower_missing"]:
            print(f"       {r['follower_failed']} followers failed, {r['follower_missing']} "
                  "deliveries missing")  # fmt: skip
    keys = [
        "nodes", "layout_ms", "open_ms", "create_ms", "state_bytes", "patch_bytes",
        "backward_patch_bytes", "step_ms", "step_p99_ms", "backward_step_ms", "followers",
        "follower_p50_ms", "follower_p99_ms", "rss_before_mb", "rss_peak_mb", "rss_after_mb",
    ]  # fmt: skip
    if page:
        keys += ["page_open_ms", "key_to_paint_ms", "key_to_paint_p95_ms", "back_key_to_paint_ms",
                 "back_key_to_paint_p95_ms"]  # fmt: skip
    out: dict = {"mode": "full_state" if args.full_state else "patch"}
    for key in keys:
        out[key] = {str(n): rows[n][key] for n in rows}
    out["step_ratio"] = {str(n): rows[n]["step_ms"] / floor for n in rows}
    if 2000 in rows:
        out["follower_p99_ms_2000"] = rows[2000]["follower_p99_ms"]
    targets = {2000: 50, 10000: 100}
    for n, ms in targets.items():
        if page and n in rows:
            out[f"key_to_paint_ms_{n}"] = rows[n]["key_to_paint_ms"]
            out[f"back_key_to_paint_ms_{n}"] = rows[n]["back_key_to_paint_ms"]
            print(f"{n} nodes: a step painted in {rows[n]['key_to_paint_ms']:.0f} ms (p50), "
                  f"{rows[n]['key_to_paint_ms'] / ms:.2f} of the {ms} ms target; stepping back "
                  f"{rows[n]['back_key_to_paint_ms']:.0f} ms")  # fmt: skip
    if 10000 in rows:
        out["open_ms_10000"] = rows[10000]["page_open_ms" if page else "open_ms"]
        if page:
            print(f"10000 nodes: the page open in {out['open_ms_10000']:.0f} ms, "
                  f"{out['open_ms_10000'] / 3000:.2f} of the 3 s target")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
