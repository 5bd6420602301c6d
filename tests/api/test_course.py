"""The lessons: their files are valid, and what each step claims holds on the API."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stepgrad.app.classroom import course
from stepgrad.app.schemas import Lesson
from tests.helpers import create, node, post


def lessons() -> list[Lesson]:
    return [course.get_lesson(item["id"]) for item in course.list_lessons()]


def test_three_days_in_both_languages(client):
    listed = client.get("/api/lessons").json()
    assert [(item["id"], item["day"]) for item in listed] == [("day1", 1), ("day2", 2), ("day3", 3)]
    for lesson in lessons():
        for step in lesson.steps:
            assert step.title.en and step.title.zh and step.text.en and step.text.zh
    day1 = client.get("/api/lessons/day1").json()
    assert day1["graphs"] == {"line": "boston_line"} and len(day1["steps"]) >= 8
    assert client.get("/api/lessons/day9").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["graphs"].update(line="nope"), "names no example 'nope'"),
        (
            lambda d: d["steps"][5].update(select="ghost"),
            "step 6: graph 'line' has no node 'ghost'",
        ),
        (lambda d: d["steps"][5].update(graph="other"), "'other' is not one of the lesson's"),
        (lambda d: d["steps"][0]["title"].pop("zh"), "steps.0.title.zh"),
        (lambda d: d["steps"][0].update(view="movie"), "steps.0.view"),
        (lambda d: d["steps"][5].update(position=99), "position 99 is outside 0..12"),
        (lambda d: d["steps"][5].update(graph=None), "step 6: the graph view needs a graph"),
        # a step's question must be answerable where the step puts the timeline
        (
            lambda d: d["steps"][5].update(quiz={"node": "ghost", "quantity": "value"}),
            "step 6: the question asks about 'ghost', which is not in the graph",
        ),
        (
            lambda d: d["steps"][5].update(quiz={"node": "yhat", "quantity": "value"}),
            "step 6: the question asks about 'yhat', which is not a scalar",
        ),
        (
            lambda d: d["steps"][5].update(position=6),
            "step 6: the value of 'loss' is already computed at that position",
        ),
        (
            lambda d: d["steps"][7].update(position=8),
            "step 8: the gradient of 'b' is already on screen at that position",
        ),
        (
            lambda d: d["steps"][5].update(quiz={"node": "k", "quantity": "mean"}),
            "steps.5.quiz.quantity",
        ),
    ],
)
def test_a_broken_lesson_is_refused_with_a_sentence(change, message):
    data = course.get_lesson("day1").model_dump(exclude={"id"})
    change(data)
    with pytest.raises(course.LessonError, match=message.replace("(", r"\(").replace(")", r"\)")):
        course.check_lesson("day1", data)


# ---- Day 1 ------------------------------------------------------------------------------


def test_day1_mse_examples_and_correlations(client):
    for yhat, want in (([3, 4, 7], 4 / 3), ([3, 6, 6], 1 / 3)):
        state, headers = create(client, {"expression": "loss = mse(y, yhat)",
                                         "inputs": {"y": [3, 6, 7], "yhat": yhat}})  # fmt: skip
        done = post(client, state["id"], "forward", headers, {"all": True})
        assert node(done, "loss")["value"] == pytest.approx(want)
    view = client.get("/api/datasets/boston").json()
    c = np.array(view["correlations"])
    assert round(c[5, 13], 2) == 0.70 and round(c[12, 13], 2) == -0.74


def test_day1_knn_step_and_the_comparison(client):
    step = course.get_lesson("day1").steps[3]
    knn = client.post("/api/datasets/boston/knn", json=step.knn.model_dump()).json()
    assert len(knn["neighbours"]) == 3 and 15 < knn["prediction"] < 45
    compare = next(
        s.compare for s in course.get_lesson("day1").steps if s.compare and len(s.compare) > 1
    )
    results = {}
    for run in compare:
        state, headers = create(client, {"example": "boston_line"})
        body = run.model_dump(exclude_none=True)
        results[run.optimizer] = post(client, state["id"], "train", headers, body)
    search, descent = results["random_search"], results["momentum"]
    assert search["steps"] == descent["steps"]  # the same number of loss evaluations
    least = client.get("/api/datasets/boston/baselines",
                       params={"features": "RM", "standardize": "false"}).json()  # fmt: skip
    # descent lands closer to the least-squares optimum than random search
    optimum = least["least_squares"]["test_mse"]
    assert optimum < descent["final"]["test_loss"] < search["final"]["test_loss"]


# ---- Day 2 ------------------------------------------------------------------------------


def test_day2_sliders_move_the_curve(client):
    state, headers = create(client, {"example": "sigmoid_curve"})
    gid = state["id"]
    before = post(client, gid, "forward", headers, {"all": True})
    r = client.put(f"/api/graphs/{gid}/values", json={"values": {"k1": 4.0}}, headers=headers)
    assert r.status_code == 200
    after = post(client, gid, "forward", headers, {"all": True})
    a, b = np.array(node(before, "L2")["value"]), np.array(node(after, "L2")["value"])
    assert a.shape == b.shape == (41,)
    # a steeper step: closer to 0 left of the middle, closer to 1 right of it
    assert b[10] < a[10] and b[30] > a[30]


def test_day2_blocks_fit_better_than_one(client):
    steps = course.get_lesson("day2").steps
    finals = []
    for step in (steps[1], steps[2]):
        example = course.get_lesson("day2").graphs[step.graph]
        state, headers = create(client, {"example": example})
        result = post(
            client, state["id"], "train", headers, step.train.model_dump(exclude_none=True)
        )
        finals.append(result["final"]["train_loss"])
    assert finals[1] < finals[0] / 5


def test_day2_chain_factors_multiply_to_the_gradient(client):
    state, headers = create(client, {"example": "chain_rule"})
    done = post(client, state["id"], "forward", headers, {"all": True})
    done = post(client, state["id"], "backward", headers, {"all": True})
    edge = {(e["source"], e["target"]): e for e in done["edges"]}
    d_l2 = node(done, "L2")["grad"]
    s = node(done, "sigma")["value"]
    k2 = node(done, "k2")["value"]
    x = node(done, "x")["value"]
    # dloss/dk1 = dloss/dL2 * dL2/dsigma * dsigma/dL1 * dL1/dk1
    assert node(done, "k1")["grad"] == pytest.approx(d_l2 * k2 * s * (1 - s) * x, rel=1e-12)
    assert edge[("k1", "L1")]["grad"] == pytest.approx(node(done, "k1")["grad"])


# ---- Day 3 ------------------------------------------------------------------------------


def test_day3_cycle_step_stops_where_claimed(client):
    step = course.get_lesson("day3").steps[1]
    result = client.post("/api/toposort", json=step.toposort.model_dump()).json()
    assert result["order"] == ["x"] and not result["complete"]
    assert sorted(result["stuck"]["cycle"]) == ["a", "b", "c"]


def test_day3_fanout_bug_step(client):
    step = course.get_lesson("day3").steps[4]
    state, headers = create(client, {"example": "fanout"})
    gid = state["id"]
    r = client.put(f"/api/graphs/{gid}/options", json=step.options.model_dump(exclude_none=True),
                   headers=headers)  # fmt: skip
    assert r.json()["fanout_bug"] is True
    post(client, gid, "forward", headers, {"all": True})
    done = post(client, gid, "backward", headers, {"all": True})
    assert node(done, "x")["grad"] != pytest.approx(4.0)


def test_day3_code_runs_and_prints_the_course_numbers(tmp_path):
    code = course.get_lesson("day3").steps[5].code
    path = tmp_path / "course.py"
    path.write_text(code)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()  # fmt: skip
    assert float(out[0]) == pytest.approx(0.000701143, rel=1e-6)
    assert float(out[1]) == pytest.approx(-0.03436777456, rel=1e-9)
    assert float(out[2]) == pytest.approx(0.09 + 0.1 * 0.03436777456, rel=1e-9)


def test_day3_boston_batch_shapes(client):
    state, _ = create(client, {"example": "boston_mlp"})
    assert node(state, "X")["shape"] == [32, 13] and node(state, "h")["shape"] == [32, 10]
