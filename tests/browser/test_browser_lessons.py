"""The course's lessons in Chromium: each day walked from the keyboard, and at every step what
the step declares is checked on the page (data attributes, and the numbers against the API):
its view, chart, graph position, selection, highlight, panel, trainings, the topological
sort, the fan-out mistake, the code and the race. Day 1 and Day 3 in English, Day 2 in
Chinese; screenshots of each day's important steps go to artifacts/screenshots/."""

from __future__ import annotations

import importlib.util
import math
import re

import pytest

from tests.helpers import STEP_TIMEOUT, browser_stack, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


# ---- helpers ---------------------------------------------------------------------------------


def lesson_of(page_api, lesson_id: str) -> dict:
    status, lesson = page_api.call("GET", f"/api/lessons/{lesson_id}")
    assert status == 200, lesson
    return lesson


def open_lesson(page, base: str, lesson_id: str) -> None:
    # no pulses or fades: the screenshots show the end of each change, not its middle
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{base}/lessons/{lesson_id}")
    expect(page.locator("#lesson")).to_have_attribute("data-ready", "true")
    wait_step(page, 1)


def wait_step(page, k: int) -> None:
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-step", str(k))
    expect(root).to_have_attribute("data-step-state", "ready", timeout=STEP_TIMEOUT)


def next_step(page, k: int, key: str = "PageDown") -> None:
    """Press a lesson key and wait until step k (1-based) is on the page and applied."""
    page.keyboard.press(key)
    wait_step(page, k)


def number(text: str) -> float:
    """A number as the page prints it (U+2212 minus, thin spaces, a trailing unit)."""
    cleaned = text.strip().replace("\u2212", "-").replace("\u2009", "").rstrip("\u00d7")
    return float(cleaned)


def position_of(step: dict, state: dict) -> int:
    ends = {"start": 0, "forward": len(state["order"]), "end": state["cursor"]["total"]}
    return ends.get(step["position"], step["position"])


def graph_id(page) -> str:
    gid = page.locator("[data-role=stage]").get_attribute("data-graph-id")
    assert gid, "the step's graph has no id on the stage"
    return gid


def classes(locator) -> set[str]:
    return set((locator.get_attribute("class") or "").split())


def panel_of(step: dict) -> str:
    if step.get("panel"):
        return step["panel"]
    if step["view"] == "graph" and step.get("chart") == "compare":
        return "compare"
    if step["view"] == "toposort" and step.get("choose_order"):
        return "order"
    return ""


def check_common(page, page_api, lesson: dict, k: int, lang: str) -> dict | None:
    """What every step declares: its text, view, graph position, options, selection,
    highlight and panel. Returns the API state of the step's graph (or None)."""
    step = lesson["steps"][k - 1]
    n = len(lesson["steps"])
    expect(page.locator("[data-role=step-title]")).to_have_text(step["title"][lang])
    expect(page.locator("[data-role=step-text]")).to_have_text(step["text"][lang])
    count = f"Step {k} of {n}" if lang == "en" else f"第 {k} 步，共 {n} 步"
    expect(page.locator("[data-role=step-count]")).to_have_text(count)
    expect(page.locator("#lesson")).to_have_attribute("data-view", step["view"])
    expect(page.locator("[data-role=panel]")).to_have_attribute("data-panel", panel_of(step))
    if panel_of(step):
        expect(page.locator(f'[data-panel-body="{panel_of(step)}"]')).to_be_visible()
    if not step.get("graph"):
        return None
    state = page_api.state(graph_id(page))
    assert state["fanout_bug"] is bool((step.get("options") or {}).get("fanout_bug"))
    if step.get("position") is not None:
        p = position_of(step, state)
        assert state["cursor"]["position"] == p
        if step["view"] == "graph":
            expect(page.locator("[data-role=position]")).to_have_text(
                f"{p} / {state['cursor']['total']}"
            )
    if step["view"] != "graph":
        return state
    svg = page.locator("#graph-svg")
    expect(svg.locator("[data-node-id]")).to_have_count(len(state["nodes"]))
    if step.get("select"):
        node = svg.locator(f'[data-node-id="{step["select"]}"]')
        assert "is-selected" in classes(node)
        if panel_of(step) == "inspector":
            expect(page.locator("#inspector")).to_have_attribute("data-node", step["select"])
    highlight = set(step.get("highlight") or [])
    shown = {g.get_attribute("data-node-id") for g in svg.locator(".node.is-highlighted").all()}
    assert shown == highlight
    lit = {
        (e.get_attribute("data-source"), e.get_attribute("data-target"))
        for e in svg.locator("path.edge.is-highlighted").all()
    }
    between = {
        (e["source"], e["target"])
        for e in state["edges"]
        if e["source"] in highlight and e["target"] in highlight
    }
    assert lit == between
    return state


def shown_grad(page, node_id: str) -> str:
    return page.locator(f'#graph-svg [data-node-id="{node_id}"] [data-role=grad]').text_content()


def wait_compare(page, runs: int) -> None:
    series = page.locator("#compare-chart [data-role=series][data-steps]")
    expect(series).to_have_count(runs, timeout=STEP_TIMEOUT)


# ---- Day 1, in English --------------------------------------------------------------------------


def test_day1_walk(page, page_server, page_api, screenshots):
    lesson = lesson_of(page_api, "day1")
    steps = lesson["steps"]
    view = page_api.call("GET", "/api/datasets/boston")[1]
    columns = view["columns"]
    open_lesson(page, page_server, "day1")
    for k, step in enumerate(steps, start=1):
        if k > 1:
            next_step(page, k, "PageDown" if k % 2 else "n")
        check_common(page, page_api, lesson, k, "en")
        chart = step.get("chart")
        stage = page.locator("[data-role=stage]")
        if chart == "table":
            table = stage.locator("table[data-chart=table]")
            expect(table.locator("tbody tr")).to_have_count(len(view["head"]))
            assert [th.text_content() for th in table.locator("th").all()] == columns
            expect(stage).to_contain_text(f"of {view['n_rows']} rows")
            # back and forth: Shift+N and PageUp go to the previous step
            next_step(page, 2, "n")
            next_step(page, 1, "Shift+N")
            next_step(page, 2, "PageDown")
            next_step(page, 1, "PageUp")
        elif chart == "heatmap":
            cells = stage.locator("[data-chart=heatmap] [data-role=cell]")
            expect(cells).to_have_count(len(columns) ** 2)
            rm = stage.locator('[data-role=cell][data-row="RM"][data-col="MEDV"]')
            assert float(rm.get_attribute("data-value")) == pytest.approx(
                view["correlations"][columns.index("RM")][columns.index("MEDV")]
            )
            lstat = stage.locator('[data-role=cell][data-row="LSTAT"][data-col="MEDV"]')
            assert lstat.locator("xpath=following-sibling::*[1]").text_content() == "\u22120.74"
            page.screenshot(path=screenshots / "lesson-day1-heatmap.png")
        elif chart == "scatter":
            scatter = page_api.call("GET", f"/api/datasets/boston/scatter?x={step['scatter']['x']}")
            points = stage.locator("[data-chart=scatter] [data-role=point]")
            expect(points).to_have_count(len(scatter[1]["x"]))
        elif chart == "knn":
            knn = page_api.call("POST", "/api/datasets/boston/knn", step["knn"])[1]
            near = stage.locator("[data-chart=knn] [data-role=neighbour]")
            expect(near).to_have_count(step["knn"]["k"])
            assert sorted(int(c.get_attribute("data-row")) for c in near.all()) == sorted(
                knn["neighbours"]
            )
            marker = stage.locator("[data-chart=knn] [data-role=prediction]")
            assert float(marker.get_attribute("data-value")) == pytest.approx(knn["prediction"])
            expect(stage.locator("[data-legend=prediction]")).to_contain_text(
                f"{knn['prediction']:.4g}"
            )
            page.screenshot(path=screenshots / "lesson-day1-knn.png")
        elif chart == "knn_cost":
            bars = stage.locator("[data-chart=knn_cost] [data-role=bar]")
            expect(bars).to_have_count(3)
            rows = [int(b.get_attribute("data-rows")) for b in bars.all()]
            assert rows == sorted(rows) and rows[0] == view["n_rows"]
            assert all(float(b.get_attribute("data-seconds")) > 0 for b in bars.all())
        elif chart == "compare":
            wait_compare(page, len(step["compare"]))
            lines = page.locator("#compare-chart [data-role=series]").all()
            for line, run in zip(lines, step["compare"], strict=True):
                assert line.get_attribute("data-series") == run["optimizer"]
                assert int(line.get_attribute("data-points")) == run["epochs"]
            # the same number of loss evaluations for every training
            assert len({line.get_attribute("data-steps") for line in lines}) == 1
            least = page_api.call(
                "GET", "/api/datasets/boston/baselines?features=RM&standardize=false"
            )[1]["least_squares"]
            expect(page.locator("#compare-chart [data-role=reference]")).to_have_count(1)
            expect(page.locator("#compare-chart")).to_contain_text(f"{least['test_mse']:.4g}")
            if len(step["compare"]) > 1:
                finals = {
                    line.get_attribute("data-series"): float(line.get_attribute("data-final"))
                    for line in lines
                }
                # descent lands closer to the least-squares optimum than random search
                assert least["test_mse"] < finals["momentum"] < finals["random_search"]
                page.screenshot(path=screenshots / "lesson-day1-compare.png")
        elif chart == "lines":
            fits = stage.locator("[data-chart=lines] [data-role=fit-line]")
            expect(fits).to_have_count(len(step["compare"]) + 1)
            least = page_api.call(
                "GET", "/api/datasets/boston/baselines?features=RM&standardize=false"
            )[1]["least_squares"]
            ls = stage.locator('[data-role=fit-line][data-series="least_squares"]')
            assert float(ls.get_attribute("data-slope")) == pytest.approx(least["weights"][0])
            assert float(ls.get_attribute("data-intercept")) == pytest.approx(least["bias"])
            momentum = stage.locator('[data-role=fit-line][data-series="momentum"]')
            slope = float(momentum.get_attribute("data-slope"))
            assert 0 < slope < least["weights"][0] + 5
            page.screenshot(path=screenshots / "lesson-day1-lines.png")
        if step["view"] == "graph" and step.get("select") == "loss":
            state = page_api.state(graph_id(page))
            loss = next(n for n in state["nodes"] if n["id"] == "loss")
            expect(page.locator("#inspector .facts")).to_contain_text(f"{loss['value']:.6g}")


# ---- Day 2, in Chinese ---------------------------------------------------------------------------


def test_day2_walk_in_chinese(page, page_server, page_api, screenshots):
    lesson = lesson_of(page_api, "day2")
    steps = lesson["steps"]
    open_lesson(page, page_server, "day2")
    page.keyboard.press("l")
    expect(page.locator("#lesson")).to_have_attribute("data-lang", "zh")
    expect(page.locator("[data-role=step-title]")).to_have_text(steps[0]["title"]["zh"])
    expect(page.locator("[data-action=lang]")).to_have_text("English")
    for k, step in enumerate(steps, start=1):
        if k > 1:
            next_step(page, k)
        state = check_common(page, page_api, lesson, k, "zh")
        if step["view"] == "curve":
            curve = step["curve"]
            nodes = {n["id"]: n for n in state["nodes"]}
            line = page.locator("[data-chart=curve] [data-role=curve-line]")
            assert int(line.get_attribute("data-points")) == len(nodes[curve["y"]]["value"])
            expect(page.locator("[data-chart=curve] [data-role=target]")).to_have_count(
                len(nodes[curve["target"]]["value"])
            )
            if step.get("train"):
                expect(page.locator("[data-role=curve-status]")).to_contain_text("已训练")
                assert state["training"]["epochs"] == step["train"]["epochs"]
            loss = nodes[state["output"]]["value"]
            expect(page.locator("[data-role=curve-status]")).to_contain_text(f"{loss:.4g}")
        if step.get("sliders"):
            expect(page.locator("[data-param]")).to_have_count(len(step["sliders"]))
            page.screenshot(path=screenshots / "lesson-day2-curve-zh.png")
            move_a_slider(page, page_api, step)
        if k == 3:
            page.screenshot(path=screenshots / "lesson-day2-blocks-zh.png")
        if step.get("highlight"):
            # the chain: one factor per edge of the path, with its number
            chain = page.locator("#inspector [data-role=chain-path]")
            expect(chain).to_contain_text("\u2202loss/\u2202k1")
            numbers = page.locator("#inspector [data-role=chain-rule] .eq--numbers").first
            locals_ = {(e["source"], e["target"]): e["local"] for e in state["edges"]}
            path = [("k1", "L1"), ("L1", "sigma"), ("sigma", "L2"), ("L2", "loss")]
            text = numbers.text_content()
            for edge in path:
                assert f"{locals_[edge]:.4g}".replace("-", "\u2212") in text
            grad = next(n["grad"] for n in state["nodes"] if n["id"] == "k1")
            expect(page.locator("#inspector [data-role=chain-rule]")).to_contain_text(
                f"{grad:.6g}".replace("-", "\u2212")
            )
            page.screenshot(path=screenshots / "lesson-day2-chain-zh.png")
            # i folds the notes away: the drawing takes the whole width (the graph is
            # already drawn at the least readable zoom or more: it shows more of it, no smaller)
            box = page.locator('#graph-svg [data-node-id="k1"]').bounding_box()
            svg_w = page.locator("#graph-svg").bounding_box()["width"]
            notes_w = page.locator("[data-role=notes]").bounding_box()["width"]
            page.keyboard.press("i")
            expect(page.locator("[data-role=notes]")).to_be_hidden()
            wait_js(
                page,
                "w => document.querySelector('#graph-svg').getBoundingClientRect().width > w",
                arg=svg_w + 0.9 * notes_w,
            )
            k1 = page.locator('#graph-svg [data-node-id="k1"]')
            assert k1.bounding_box()["width"] >= box["width"] * 0.98
            page.screenshot(path=screenshots / "lesson-day2-chain-wide-zh.png")
            page.keyboard.press("i")
            expect(page.locator("[data-role=notes]")).to_be_visible()


def move_a_slider(page, page_api, step: dict) -> None:
    """Moving a slider sends the value to the API; the curve is redrawn from its values."""
    gid = graph_id(page)
    param = step["sliders"][0]
    line = page.locator("[data-chart=curve] [data-role=curve-line]")
    before = line.get_attribute("points")
    slider = page.locator(f'[data-param="{param}"]')
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    wanted = float(slider.input_value())
    wait_js(
        page,
        """([id, v]) => {
          const g = window.stepgrad.state.rec.graph;
          const n = g.nodes.find((m) => m.id === id);
          return n && n.value === v && g.cursor.position >= g.order.length;
        }""",
        arg=[param, wanted],
    )
    state = page_api.state(gid)
    nodes = {n["id"]: n for n in state["nodes"]}
    assert nodes[param]["value"] == pytest.approx(wanted)
    y = nodes[step["curve"]["y"]]["value"]
    expect(line).to_have_attribute("data-points", str(len(y)))
    expect(page.locator("svg[data-chart=curve]")).to_have_attribute(
        "data-version", str(state["version"])
    )
    assert line.get_attribute("points") != before
    # a lesson key still works from a focused slider (its arrows move the slider)
    next_step(page, 2, "n")
    next_step(page, 1, "PageUp")


# ---- Day 3, in English ---------------------------------------------------------------------------


def test_day3_walk(page, page_server, page_api, screenshots):
    lesson = lesson_of(page_api, "day3")
    steps = lesson["steps"]
    open_lesson(page, page_server, "day3")
    for k, step in enumerate(steps, start=1):
        if k > 1:
            next_step(page, k)
        state = check_common(page, page_api, lesson, k, "en")
        if step["view"] == "toposort" and step.get("toposort"):
            check_cycle(page, page_api, step, screenshots)
        elif step["view"] == "toposort" and step.get("choose_order"):
            check_choose_order(page, page_api, screenshots)
        elif step["view"] == "toposort":
            check_kahn_on_the_graph(page, page_api, screenshots)
        elif step.get("options", {}) and step["options"].get("fanout_bug"):
            check_fanout_mistake(page, page_api, state, screenshots)
        elif step.get("select") == "x":
            assert shown_grad(page, "x") == "4"  # 2x + 1 at x = 1.5: the sum of both paths
            expect(page.locator("#inspector [data-role=chain-sum]")).to_be_visible()
        elif step.get("panel") == "code":
            check_code_and_stepping(page, page_api, step, screenshots)
        elif step.get("chart") == "loss":
            check_training(page, page_api, step, screenshots)
        elif step.get("chart") == "predictions":
            result = page_api.call("GET", f"/api/graphs/{graph_id(page)}/train")[1]
            dots = page.locator(
                "#lesson-train-chart[data-chart=predictions] [data-role=prediction]"
            )
            expect(dots).to_have_count(len(result["predictions"]["y_true"]))
            page.screenshot(path=screenshots / "lesson-day3-predictions.png")
        elif step["view"] == "race":
            check_race(page, screenshots)
        elif step.get("select") == "W1":
            expect(page.locator("#graph-svg .edge-label.is-visible")).not_to_have_count(0)
            expect(page.locator("#graph-svg")).to_contain_text("13\u00d710")


def check_kahn_on_the_graph(page, page_api, screenshots) -> None:
    gid = graph_id(page)
    kahn = page_api.call("GET", f"/api/graphs/{gid}/toposort")[1]
    ready = page.locator("[data-role=topo-ready]")
    for p, step in enumerate(kahn["steps"]):
        expect(page.locator("[data-role=topo-position]")).to_have_text(
            f"Step {p} / {len(kahn['steps'])}"
        )
        expect(ready).to_have_count(len(step["ready"]))
        assert [c.get_attribute("data-node") for c in ready.all()] == step["ready"]
        for node_id in step["ready"]:
            assert "topo-ready" in classes(page.locator(f'#graph-svg [data-node-id="{node_id}"]'))
        if p == 3:
            page.screenshot(path=screenshots / "lesson-day3-kahn.png")
        page.keyboard.press("ArrowRight")
        taken = page.locator(f'#graph-svg [data-node-id="{step["take"]}"]')
        expect(taken).to_have_class(re.compile(r"\btopo-current\b"))
        for source, target in step["removed"]:
            edge = page.locator(
                f'#graph-svg path.edge[data-source="{source}"][data-target="{target}"]'
            )
            expect(edge).to_have_class(re.compile(r"\btopo-removed\b"))
    expect(page.locator("[data-role=topo-done]")).to_be_visible()
    expect(page.locator("[data-role=topo-order]")).to_have_text(" \u2192 ".join(kahn["order"]))
    page.keyboard.press("ArrowLeft")
    expect(ready).to_have_count(len(kahn["steps"][-1]["ready"]))
    page.keyboard.press("Home")
    expect(page.locator("[data-role=topo-order]")).to_have_text("nothing taken yet")


def check_cycle(page, page_api, step, screenshots) -> None:
    kahn = page_api.call("POST", "/api/toposort", step["toposort"])[1]
    assert not kahn["complete"]
    ready = page.locator("[data-role=topo-ready]")
    assert [c.get_attribute("data-node") for c in ready.all()] == kahn["steps"][0]["ready"]
    expect(page.locator("#graph-svg [data-node-id]")).to_have_count(len(step["toposort"]["nodes"]))
    expect(page.locator("#graph-svg path.edge")).to_have_count(len(step["toposort"]["edges"]))
    for _ in kahn["steps"]:
        page.keyboard.press("ArrowRight")
    stuck = page.locator("[data-role=topo-stuck]")
    expect(stuck).to_be_visible()
    cycle = kahn["stuck"]["cycle"]
    assert stuck.get_attribute("data-cycle") == ",".join(cycle)
    expect(stuck).to_contain_text(" \u2192 ".join([*cycle, cycle[0]]))
    expect(ready).to_have_count(0)
    for node_id in kahn["stuck"]["remaining"]:
        assert "topo-stuck" in classes(page.locator(f'#graph-svg [data-node-id="{node_id}"]'))
    cycle_edges = page.locator("#graph-svg path.edge.topo-cycle")
    expect(cycle_edges).to_have_count(len(cycle))
    page.screenshot(path=screenshots / "lesson-day3-cycle.png")


def check_choose_order(page, page_api, screenshots) -> None:
    gid = graph_id(page)
    default = page_api.call("GET", f"/api/graphs/{gid}/toposort")[1]
    n = len(default["order"])
    ready = page.locator("[data-role=topo-ready]")
    first = [c.get_attribute("data-node") for c in ready.all()]
    assert first == default["steps"][0]["ready"]
    # the student takes the last ready node, then the one before it, from the keyboard...
    chosen = [first[-1], first[-2]]
    page.keyboard.press(str(len(first)))
    expect(page.locator("[data-role=topo-order]")).to_have_text(chosen[0])
    page.keyboard.press(str(len(first) - 1))
    expect(page.locator("[data-role=topo-order]")).to_have_text(" \u2192 ".join(chosen))
    # ...one with the mouse (a ready node on the drawing), and the rest with the arrow
    third = ready.first.get_attribute("data-node")
    page.locator(f'#graph-svg [data-node-id="{third}"]').click()
    chosen.append(third)
    expect(page.locator("[data-role=topo-order]")).to_have_text(" \u2192 ".join(chosen))
    for _ in range(n - len(chosen)):
        page.keyboard.press("ArrowRight")
    verdict = page.locator("[data-role=order-verdict]")
    expect(verdict).to_have_attribute("data-same", "true", timeout=STEP_TIMEOUT)
    state = page_api.state(gid)
    assert state["order"][:3] == chosen and state["order"] != default["order"]
    assert state["cursor"]["phase"] == "done"
    # the graph's own order on a fresh copy of the same graph: the same gradients
    fresh, token = page_api.create({"example": "seed"})
    page_api.call("POST", f"/api/graphs/{fresh['id']}/forward", {"all": True}, token)
    own = page_api.call("POST", f"/api/graphs/{fresh['id']}/backward", {"all": True}, token)[1]
    mine = {n["id"]: n["grad"] for n in state["nodes"]}
    for node in own["nodes"]:
        row = page.locator(f'[data-role=order-compare] tr[data-node="{node["id"]}"]')
        assert number(row.locator("[data-role=their-grad]").text_content()) == pytest.approx(
            node["grad"], rel=1e-5
        )
        assert number(row.locator("[data-role=my-grad]").text_content()) == pytest.approx(
            mine[node["id"]], rel=1e-5
        )
        assert mine[node["id"]] == pytest.approx(node["grad"], rel=1e-12)
    page.screenshot(path=screenshots / "lesson-day3-choose-order.png")


def check_fanout_mistake(page, page_api, state, screenshots) -> None:
    x = next(n for n in state["nodes"] if n["id"] == "x")
    assert x["grad"] != pytest.approx(4.0)  # the mistake: one consumer's share only
    assert shown_grad(page, "x") == f"{x['grad']:.4g}"
    expect(page.locator("[data-role=fanout-bug]")).to_be_visible()
    report = page_api.call("GET", f"/api/graphs/{graph_id(page)}/gradcheck")[1]
    verdict = page.locator("[data-role=gradcheck-result] [data-verdict]")
    expect(verdict).to_have_attribute(
        "data-verdict", {"agree": "ok", "disagree": "bad"}.get(report["verdict"], "inconclusive")
    )
    row = page.locator('[data-role=gradcheck-result] [data-check-node="x"]')
    expect(row).to_contain_text(f"{report['nodes'][0]['analytic'][0]:.4g}")
    page.screenshot(path=screenshots / "lesson-day3-fanout.png")


def check_code_and_stepping(page, page_api, step, screenshots) -> None:
    code = page.locator("[data-role=code]")
    assert code.text_content() == step["code"]
    page.locator("[data-action=copy-code]").click()
    expect(page.locator("[data-role=message]")).to_contain_text(re.compile("Copied|Ctrl\\+C"))
    page.screenshot(path=screenshots / "lesson-day3-code.png")
    # forward, backward and update node by node, from the keyboard
    gid = graph_id(page)
    for p in (1, 2, 3):
        page.keyboard.press("ArrowRight")
        expect(page.locator("[data-role=position]")).to_have_text(f"{p} / 14")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-role=position]")).to_have_text("2 / 14")
    page.keyboard.press("f")
    expect(page.locator("[data-role=position]")).to_have_text("7 / 14")
    loss = next(n for n in page_api.state(gid)["nodes"] if n["id"] == "loss")
    assert loss["value"] == pytest.approx(0.000701143, rel=1e-6)
    page.keyboard.press("End")
    expect(page.locator("[data-role=position]")).to_have_text("14 / 14")
    assert shown_grad(page, "k") == "\u22120.03437"
    page.keyboard.press("u")
    expect(page.locator("[data-role=caption]")).to_contain_text("update")
    k = next(n for n in page_api.state(gid)["nodes"] if n["id"] == "k")
    assert (k["value"] if k["value"] is not None else k["fed"]) == pytest.approx(
        0.09 + 0.1 * 0.03436777456, rel=1e-9
    )


def check_training(page, page_api, step, screenshots) -> None:
    result = page_api.call("GET", f"/api/graphs/{graph_id(page)}/train")[1]
    assert result["epochs"] == step["train"]["epochs"]
    chart = page.locator("#lesson-train-chart[data-chart=loss]")
    for series in ("train_loss", "test_loss"):
        line = chart.locator(f'[data-series="{series}"]')
        expect(line).to_have_attribute("data-points", str(step["train"]["epochs"]))
    expect(page.locator("[data-role=train-status]")).to_contain_text(
        f"epoch {step['train']['epochs']} / {step['train']['epochs']}"
    )
    expect(page.locator("[data-role=train-final]")).to_contain_text(
        f"{result['final']['test_loss']:.6g}"
    )
    page.screenshot(path=screenshots / "lesson-day3-train.png")


def check_race(page, screenshots) -> None:
    race = page.locator("[data-chart=race]")
    expect(race).to_have_attribute("data-status", "done")
    rows = race.locator("[data-role=race-row]")
    if importlib.util.find_spec("torch") is not None:
        expect(rows).to_have_count(3)
        for row in rows.all():
            assert number(row.locator("[data-role=us]").text_content()) > 0
            assert math.isfinite(number(row.locator("[data-role=mse]").text_content()))
        # the same training three ways: the server says whether the test errors agree
        expect(race.locator("[data-role=race-agree]")).to_be_visible()
    else:
        expect(rows).to_have_count(2)
        expect(race.locator("[data-role=install]")).to_have_text('pip install "stepgrad[bench]"')
    page.screenshot(path=screenshots / "lesson-day3-race.png")


def test_day3_gradient_check_catches_the_fanout_mistake(page, page_server):
    page.goto(f"{page_server}/lessons/day3#step-5")
    expect(page.locator("#lesson")).to_have_attribute("data-ready", "true")
    wait_step(page, 5)
    verdict = page.locator("[data-role=gradcheck-result] [data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "bad", timeout=2000)


# ---- the start page, keys, presentation mode --------------------------------------------------


def test_start_page_opens_the_lessons(page, page_server, page_api, screenshots):
    listed = page_api.call("GET", "/api/lessons")[1]
    page.goto(page_server + "/")
    expect(page.locator("#start")).to_have_attribute("data-ready", "true")
    cards = page.locator("[data-lesson]")
    expect(cards).to_have_count(len(listed))
    for card, lesson in zip(cards.all(), listed, strict=True):
        assert card.get_attribute("data-lesson") == lesson["id"]
        assert card.get_attribute("href") == f"/lessons/{lesson['id']}"
        expect(card).to_contain_text(f"Day {lesson['day']}")
        expect(card).to_contain_text(lesson["title"]["en"])
        expect(card).to_contain_text(lesson["summary"]["en"])
    # the example cards are still there, and still create graphs
    examples = page_api.call("GET", "/api/examples")[1]
    expect(page.locator("[data-example]")).to_have_count(len(examples))
    page.screenshot(path=screenshots / "start-page-lessons.png")
    page.locator("[data-action=lang]").click()
    expect(cards.first).to_contain_text(listed[0]["title"]["zh"])
    expect(cards.first).to_contain_text("第 1 天")
    page.locator('[data-lesson="day2"]').click()
    page.wait_for_url(re.compile(r"/lessons/day2$"))
    expect(page.locator("#lesson")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=step-title]")).to_have_text(
        lesson_of(page_api, "day2")["steps"][0]["title"]["zh"]
    )


def test_lesson_keys_help_and_presentation(page, page_server, page_api):
    lesson = lesson_of(page_api, "day3")
    open_lesson(page, page_server, "day3")
    page.keyboard.press("?")
    help_dialog = page.locator("#help-dialog")
    expect(help_dialog).to_be_visible()
    for key in ("PgDn", "PgUp", "Shift"):
        expect(help_dialog).to_contain_text(key)
    expect(help_dialog).to_contain_text("next step of the lesson")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("p")
    expect(page.locator("body")).to_have_class(re.compile(r"\bpresenting\b"))
    expect(page.locator("[data-role=step-title]")).to_be_visible()
    expect(page.locator("[data-action=presentation]")).to_be_hidden()
    # the notes' buttons move through the lesson too, and a reload keeps the step
    page.locator("[data-action=next-step]").click()
    wait_step(page, 2)
    page.reload()
    expect(page.locator("#lesson")).to_have_attribute("data-ready", "true")
    wait_step(page, 2)
    expect(page.locator("[data-role=step-title]")).to_have_text(lesson["steps"][1]["title"]["en"])
    page.keyboard.press("End")
    page.keyboard.press("PageUp")
    wait_step(page, 1)
    expect(page.locator("[data-action=prev-step]")).to_be_disabled()


def test_an_unknown_lesson(page, page_server):
    response = page.goto(f"{page_server}/lessons/day9")
    assert response.status == 404
    expect(page.locator("#lesson")).to_have_attribute("data-ready", "error")
    expect(page.locator("[data-role=step-title]")).to_have_text(
        "There is no lesson \u201cday9\u201d."
    )
