"""The graph page in Chromium at 7, 200, 2,000 and 10,000 nodes: open time and key-to-paint.

    python bench/page_scaling.py [--sizes 7 200 2000 10000] [--steps 20]

Starts the real server (uvicorn, in-memory store, `STEPGRAD_MAX_NODES=10000`), creates the
course's seed graph (7 nodes) and layered graphs of about 200, 2,000 and 10,000 nodes (a row
of params, layers of up to 100 nodes each fed by its neighbours in the layer before, a sum
into one output), opens /g/{id} in Debian's Chromium and measures:

- open: navigation start to the frame after the first one that shows the graph
  (`sg:open-painted`, the page's own Performance API measure);
- key to paint: from a key press (the keydown event's timestamp) to the start of the frame
  after the one that drew the state the step produced: the step's request and answer,
  applying it, drawing it, and the frame that paints it. Measured stepping forward from the
  start, and stepping back from the end of the timeline.

Ratios are against the 7-node graph. The last line is one JSON object with the figures,
including `open_ms_10000`, `key_to_paint_ms_2000` and `key_to_paint_ms_10000` (forward p50).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from browser_render import CHROMIUM, CHROMIUM_ARGS, ROOT, call, free_port, pct


def layered_graph(n: int, width: int = 100) -> dict:
    """About n scalar nodes: params, layers of `width` nodes fed by neighbours, a sum tree."""
    width = min(width, max(2, n // 4))
    nodes = [
        {"id": f"p{i}", "op": "param", "value": round(((i * 37) % 200) / 100 - 1, 2)}
        for i in range(width)
    ]
    prev = [f"p{i}" for i in range(width)]
    layer = 0
    while len(nodes) + width + width - 1 <= n:
        layer += 1
        cur = []
        for i in range(width):
            nid = f"l{layer}_{i}"
            if i % 3 == 0:
                nodes.append({"id": nid, "op": "tanh", "inputs": [prev[i]]})
            else:
                op = "add" if i % 3 == 1 else "mul"
                nodes.append({"id": nid, "op": op, "inputs": [prev[i], prev[(i + 1) % width]]})
            cur.append(nid)
        prev = cur
    k = 0
    while len(prev) > 1:
        nxt = []
        for j in range(0, len(prev) - 1, 2):
            nodes.append({"id": f"s{k}", "op": "add", "inputs": [prev[j], prev[j + 1]]})
            nxt.append(f"s{k}")
            k += 1
        if len(prev) % 2:
            nxt.append(prev[-1])
        prev = nxt
    return {"name": f"layered {len(nodes)}", "nodes": nodes, "output": prev[0]}


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "STEPGRAD_DB": ":memory:",
        "STEPGRAD_MAX_NODES": "10000",
        "STEPGRAD_RATE_CREATE": "100000/minute",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            call(base, "GET", "/api/health")
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


# In the page: from each keydown to the frame after the render that shows a new position.
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
    requestAnimationFrame((ts) => window.__k2p.push(ts - p.t0));
  });
}"""


def steps(page, key: str, count: int) -> list[float]:
    page.evaluate("window.__k2p = []")
    for i in range(1, count + 1):
        page.keyboard.press(key)
        page.wait_for_function("n => window.__k2p.length >= n", arg=i, timeout=60000)
        page.wait_for_function(
            "() => !document.querySelector('#app').classList.contains('is-busy')"
        )
    return page.evaluate("window.__k2p")


def measure(browser, base: str, size: int, count: int) -> dict:
    body = {"example": "seed"} if size <= 7 else layered_graph(size)
    t0 = time.perf_counter()
    created = call(base, "POST", "/api/graphs", body)
    create_s = time.perf_counter() - t0
    gid, token = created["id"], created["edit_token"]
    total = created["cursor"]["total"]
    count = min(count, total // 2)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{base}/g/{gid}#edit={token}")
        page.wait_for_selector("#app[data-painted=true]", timeout=120000)
        page.wait_for_selector("[data-role=live].live-dot--live", timeout=30000)
        open_ms = page.evaluate("performance.getEntriesByName('sg:open-painted')[0].duration")
        page.evaluate(WATCH)
        forward = steps(page, "ArrowRight", count)
        page.keyboard.press("End")
        page.wait_for_function("t => window.stepgrad.state.graph.cursor.position === t", arg=total)
        page.wait_for_timeout(300)
        back = steps(page, "ArrowLeft", count)
        return {
            "nodes": len(created["nodes"]),
            "create_s": create_s,
            "open_ms": open_ms,
            "key_to_paint_p50_ms": statistics.median(forward),
            "key_to_paint_p95_ms": pct(forward, 0.95),
            "back_key_to_paint_p50_ms": statistics.median(back),
            "back_key_to_paint_p95_ms": pct(back, 0.95),
        }
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[7, 200, 2000, 10000])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    proc, base = start_server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                rows = [measure(browser, base, size, args.steps) for size in args.sizes]
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    ref = rows[0]
    print(
        f"{'nodes':>6} {'open ms':>8} {'key->paint p50/p95 ms':>22} {'x 7-node':>9} "
        f"{'back from end p50/p95 ms':>25}"
    )
    for r in rows:
        print(
            f"{r['nodes']:>6} {r['open_ms']:>8.0f} "
            f"{r['key_to_paint_p50_ms']:>11.1f} / {r['key_to_paint_p95_ms']:<8.1f} "
            f"{r['key_to_paint_p50_ms'] / ref['key_to_paint_p50_ms']:>9.2f} "
            f"{r['back_key_to_paint_p50_ms']:>13.1f} / {r['back_key_to_paint_p95_ms']:<9.1f}"
        )
    targets = {2000: 50, 10000: 100}
    for r in rows:
        for n, ms in targets.items():
            if abs(r["nodes"] - n) <= n * 0.05:
                print(
                    f"{r['nodes']} nodes: a step painted in {r['key_to_paint_p50_ms']:.0f} ms "
                    f"(p50): {r['key_to_paint_p50_ms'] / ms:.2f} of the {ms} ms target"
                )
        if abs(r["nodes"] - 10000) <= 500:
            print(
                f"{r['nodes']} nodes open in {r['open_ms']:.0f} ms: "
                f"{r['open_ms'] / 3000:.2f} of the 3 s target"
            )
    summary: dict = {f"n{r['nodes']}": {k: round(v, 2) for k, v in r.items()} for r in rows}
    for r in rows:
        for n in (2000, 10000):
            if abs(r["nodes"] - n) <= n * 0.05:
                summary[f"key_to_paint_ms_{n}"] = round(r["key_to_paint_p50_ms"], 1)
                summary[f"back_key_to_paint_ms_{n}"] = round(r["back_key_to_paint_p50_ms"], 1)
                summary[f"open_ms_{n}"] = round(r["open_ms"], 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
