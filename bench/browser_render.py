"""Render times of the graph page in Chromium, read from the page's own Performance API marks.

    python bench/browser_render.py [--sizes 300 2000] [--steps 40] [--repeats 3]

Starts the real server (uvicorn, in-memory store), creates random scalar graphs through the
API, opens /g/{id} in Debian's Chromium with Playwright and reads what the page measured:

- `sg:open-painted`: navigation start to the first frame that shows the whole drawing
  (fetching the state, building the SVG, style, layout and paint included);
- `sg:open`: the same up to the end of the script that builds the drawing (before paint);
- `sg:render-build`: building the SVG for the graph;
- `sg:render-update`: one step re-rendered (only what changed) after ArrowRight;
- the whole timeline (2N steps) played back with no pause between steps, and the frame
  intervals while panning the drawing (requestAnimationFrame timestamps).

Targets (issue 5): 300 nodes open within 1 s, 2,000 nodes within 3 s and pannable. The last
line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def call(base: str, method: str, path: str, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read().decode())


def random_graph(n: int, seed: int = 0, window: int = 20) -> dict:
    """A random scalar DAG of exactly n nodes: params, then tanh/add/mul, folded into one output."""
    rng = random.Random(seed)
    leaves = max(2, n // 10)
    nodes = [
        {"id": f"p{i}", "op": "param", "value": round(rng.uniform(-1, 1), 3)} for i in range(leaves)
    ]
    consumers = {node["id"]: 0 for node in nodes}
    # reserve room for the adds that fold the loose ends into one output
    while True:
        loose = [nid for nid, c in consumers.items() if c == 0]
        if len(nodes) + len(loose) - 1 >= n:
            break
        i = len(nodes)
        low = max(0, i - window)
        k = min(rng.choice((1, 2)), i - low)
        picks = rng.sample(range(low, i), k)
        ins = [nodes[j]["id"] for j in picks]
        op = "tanh" if k == 1 else rng.choice(("add", "mul"))
        nid = f"n{i}"
        nodes.append({"id": nid, "op": op, "inputs": ins})
        consumers[nid] = 0
        for s in ins:
            consumers[s] += 1
    loose = [nid for nid, c in consumers.items() if c == 0]
    acc = loose[0]
    for j, other in enumerate(loose[1:]):
        nid = f"out{j}"
        nodes.append({"id": nid, "op": "add", "inputs": [acc, other]})
        acc = nid
    return {"name": f"random {len(nodes)}", "nodes": nodes, "output": acc}


MEASURES = """(name) => performance.getEntriesByName(name).map((e) => e.duration)"""

PAN = """async (frames) => {
  const view = window.stepgrad.view;
  const times = [];
  await new Promise((done) => {
    let i = 0;
    const tick = (ts) => {
      times.push(ts);
      if (i++ >= frames) return done();
      view.panBy(i % 2 ? 7 : -5, 3);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return gaps;
}"""

ZOOM = """async (frames) => {
  const view = window.stepgrad.view;
  const times = [];
  await new Promise((done) => {
    let i = 0;
    const tick = (ts) => {
      times.push(ts);
      if (i++ >= frames) return done();
      view.zoomBy(i < frames / 2 ? 1.04 : 1 / 1.04);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  return times.slice(1).map((t, i) => t - times[i]);
}"""


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def measure(browser, base: str, size: int, steps: int, playback: bool) -> dict:
    spec = random_graph(size)
    created = call(base, "POST", "/api/graphs", spec)
    gid, token = created["id"], created["edit_token"]
    total = created["cursor"]["total"]
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{base}/g/{gid}#edit={token}")
        page.wait_for_selector("#app[data-painted=true]", timeout=60000)
        page.wait_for_timeout(300)
        open_ms = page.evaluate(MEASURES, "sg:open-painted")[0]
        script_ms = page.evaluate(MEASURES, "sg:open")[0]
        build_ms = page.evaluate(MEASURES, "sg:render-build")[0]
        # stepping: one key press, one partial re-render
        round_trips = []
        for i in range(1, steps + 1):
            start = time.perf_counter()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("p => window.stepgrad.state.graph.cursor.position === p", arg=i)
            round_trips.append(1000 * (time.perf_counter() - start))
        updates = page.evaluate(MEASURES, "sg:render-update")
        result = {
            "nodes": len(spec["nodes"]),
            "edges": sum(len(n.get("inputs", [])) for n in spec["nodes"]),
            "open_ms": open_ms,
            "open_script_ms": script_ms,
            "build_ms": build_ms,
            "step_render_p50_ms": statistics.median(updates),
            "step_render_max_ms": max(updates),
            "step_roundtrip_p50_ms": statistics.median(round_trips),
        }
        if playback:
            page.keyboard.press("Home")
            page.wait_for_function("() => window.stepgrad.state.graph.cursor.position === 0")
            page.evaluate("performance.clearMeasures('sg:render-update')")
            page.evaluate("window.stepgrad.state.playInterval = 0")
            start = time.perf_counter()
            page.evaluate("window.stepgrad.actions.play()")
            page.wait_for_function(
                "t => window.stepgrad.state.graph.cursor.position === t"
                " && !window.stepgrad.state.playing",
                arg=total,
                timeout=300000,
            )
            seconds = time.perf_counter() - start
            played = page.evaluate(MEASURES, "sg:render-update")
            result.update(
                {
                    "playback_steps": total,
                    "playback_s": seconds,
                    "playback_steps_per_s": total / seconds,
                    "playback_render_p50_ms": statistics.median(played),
                    "playback_render_p95_ms": pct(played, 0.95),
                    "playback_render_max_ms": max(played),
                }
            )
        page.keyboard.press("0")  # fit: the whole graph on screen, the worst case for panning
        page.wait_for_timeout(200)
        gaps = page.evaluate(PAN, 90)
        zoom_gaps = page.evaluate(ZOOM, 60)
        result.update(
            {
                "pan_frame_p50_ms": statistics.median(gaps),
                "pan_frame_p95_ms": pct(gaps, 0.95),
                "pan_fps": 1000 / statistics.mean(gaps),
                "zoom_frame_p50_ms": statistics.median(zoom_gaps),
                "zoom_fps": 1000 / statistics.mean(zoom_gaps),
            }
        )
        return result
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument(
        "--repeats", type=int, default=3, help="page loads per size (best open time)"
    )
    parser.add_argument("--no-playback", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    proc, base = start_server(":memory:", max_nodes=5000, log_level="warning")
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for size in args.sizes:
                    runs = [
                        measure(
                            browser,
                            base,
                            size,
                            args.steps,
                            playback=(r == 0 and size <= 300 and not args.no_playback),
                        )
                        for r in range(args.repeats)
                    ]
                    best = min(runs, key=lambda r: r["open_ms"])
                    merged = {
                        **runs[0],
                        "open_ms": best["open_ms"],
                        "open_script_ms": best["open_script_ms"],
                        "build_ms": best["build_ms"],
                        "open_ms_all": [round(r["open_ms"]) for r in runs],
                    }
                    rows.append(merged)
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(
        f"{'nodes':>6} {'edges':>6} {'open ms':>8} {'build ms':>9} {'step render p50/max ms':>23} "
        f"{'step key->screen ms':>20} {'pan fps':>8} {'zoom fps':>9}"
    )
    for r in rows:
        print(
            f"{r['nodes']:>6} {r['edges']:>6} {r['open_ms']:>8.0f} {r['build_ms']:>9.0f} "
            f"{r['step_render_p50_ms']:>11.2f} / {r['step_render_max_ms']:<9.2f} "
            f"{r['step_roundtrip_p50_ms']:>20.1f} {r['pan_fps']:>8.1f} {r['zoom_fps']:>9.1f}"
        )
    for r in rows:
        if "playback_s" in r:
            print(
                f"playback of {r['playback_steps']} steps on {r['nodes']} nodes: "
                f"{r['playback_s']:.1f} s "
                f"({r['playback_steps_per_s']:.0f} steps/s), render per step p50 "
                f"{r['playback_render_p50_ms']:.2f} ms, p95 {r['playback_render_p95_ms']:.2f} ms, "
                f"max {r['playback_render_max_ms']:.2f} ms"
            )
    targets = {300: 1000, 2000: 3000}
    for r in rows:
        limit = next((ms for n, ms in sorted(targets.items()) if r["nodes"] <= n * 1.05), None)
        if limit:
            print(
                f"{r['nodes']} nodes open in {r['open_ms']:.0f} ms: "
                f"{r['open_ms'] / limit:.2f} of the {limit} ms target"
            )
    summary = {
        f"n{r['nodes']}": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
        for r in rows
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
