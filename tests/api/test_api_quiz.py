"""The class quiz and the teacher's focus (contract v1.1): open, answer, reveal with the
engine's truth, the histogram and the share within 1 %; every refusal; the event stream."""

from __future__ import annotations

import math
import threading
import time

import httpx
import numpy as np
import pytest

from stepgrad.app.classroom.quiz import histogram, within
from stepgrad.engine.examples import load_example
from stepgrad.engine.graph import Graph
from stepgrad.engine.run import Run
from tests.helpers import auth, create, live, read_event

# each test runs on the SQLite store and again on Redis (tests/conftest.py)
pytestmark = pytest.mark.both_stores


def engine_run(example: str = "seed") -> Run:
    run = Run(Graph.from_spec(load_example(example)))
    run.run_all()
    return run


def client_id(i: int) -> str:
    return f"student-{i:04d}"


def open_quiz(client, gid, h, node="sigmoid", quantity="value"):
    r = client.post(f"/api/graphs/{gid}/quiz", json={"node": node, "quantity": quantity}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def answer(client, gid, quiz_id, value, i, **extra):
    return client.post(
        f"/api/graphs/{gid}/quiz/answers",
        json={"quiz_id": quiz_id, "answer": value, "client": client_id(i), **extra},
    )


def test_a_value_question_counts_hides_and_reveals_the_engines_truth(client):
    state, h = create(client)
    gid = state["id"]
    q = open_quiz(client, gid, h, "sigmoid", "value")
    assert q["status"] == "open" and q["answers"] == 0 and q["node"] == "sigmoid"
    truth = float(engine_run().value("sigmoid"))  # sigmoid(0.09 * 3 + 0.5)
    assert truth == pytest.approx(1 / (1 + math.exp(-0.77)), rel=1e-12)
    guesses = [truth * 1.005, truth * 0.995, 0.5, 0.9, truth]  # three within 1 %
    for i, g in enumerate(guesses):
        r = answer(client, gid, q["quiz_id"], g, i, name=f"s{i}")
        assert r.status_code == 201, r.text
        assert r.json() == {"quiz_id": q["quiz_id"], "answers": i + 1}
    # the same browser answers again: its answer is replaced, not added
    r = answer(client, gid, q["quiz_id"], 0.1, 3)
    assert r.status_code == 201 and r.json()["answers"] == 5
    guesses[3] = 0.1
    seen = client.get(f"/api/graphs/{gid}/quiz").json()
    assert seen["answers"] == 5 and seen["status"] == "open"
    assert not {"truth", "histogram", "within_1pct"} & {k for k, v in seen.items() if v is not None}

    r = client.post(f"/api/graphs/{gid}/quiz/reveal", headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "revealed" and out["truth"] == truth
    assert out["within_1pct"] == 3 and out["share_within_1pct"] == pytest.approx(3 / 5)
    hist = out["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    assert len(counts) == len(edges) - 1 and edges == sorted(edges)
    assert edges[0] <= truth < edges[-1]
    assert sum(counts) + hist["below"] + hist["above"] == 5
    expected = [0] * len(counts)
    for g in guesses:
        if edges[0] <= g < edges[-1]:
            expected[int(np.searchsorted(edges, g, side="right")) - 1] += 1
    assert counts == expected
    assert hist["below"] == sum(g < edges[0] for g in guesses)
    # the class's cursor did not move, and GET shows the same results
    assert client.get(f"/api/graphs/{gid}").json()["cursor"]["position"] == 0
    assert client.get(f"/api/graphs/{gid}/quiz").json() == out
    # answering is closed
    r = answer(client, gid, q["quiz_id"], truth, 9)
    assert r.status_code == 409 and "revealed" in r.json()["detail"]


def test_a_gradient_question_reveals_the_gradient_backward_will_show(client):
    state, h = create(client)
    gid = state["id"]
    client.post(f"/api/graphs/{gid}/forward", json={"all": True}, headers=h)
    q = open_quiz(client, gid, h, "k", "grad")
    answer(client, gid, q["quiz_id"], -0.0343, 1)
    out = client.post(f"/api/graphs/{gid}/quiz/reveal", headers=h).json()
    assert out["truth"] == float(engine_run().grad("k"))
    assert out["truth"] == pytest.approx(-0.0343677, abs=1e-7)
    assert out["within_1pct"] == 1
    # then the step runs and everyone sees that very number
    ran = client.post(f"/api/graphs/{gid}/backward", json={"all": True}, headers=h).json()
    k = next(n for n in ran["nodes"] if n["id"] == "k")
    assert k["grad"] == out["truth"]
    assert ran["cursor"]["position"] == 14


def test_the_teacher_alone_opens_and_reveals(client):
    state, h = create(client)
    gid = state["id"]
    body = {"node": "sigmoid", "quantity": "value"}
    assert client.post(f"/api/graphs/{gid}/quiz", json=body).status_code == 401
    wrong = auth("not-the-token")
    assert client.post(f"/api/graphs/{gid}/quiz", json=body, headers=wrong).status_code == 403
    assert client.post("/api/graphs/nope/quiz", json=body, headers=h).status_code == 404
    open_quiz(client, gid, h)
    assert client.post(f"/api/graphs/{gid}/quiz/reveal").status_code == 401
    assert client.post(f"/api/graphs/{gid}/quiz/reveal", headers=wrong).status_code == 403
    assert client.delete(f"/api/graphs/{gid}/quiz", headers=wrong).status_code == 403
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "open"


@pytest.mark.parametrize(
    ("example", "prepare", "body", "words"),
    [
        ("seed", None, {"node": "nope", "quantity": "value"}, "'nope'"),
        ("two_layer", None, {"node": "W1", "quantity": "value"}, "shape"),
        ("seed", {"all": True}, {"node": "sigmoid", "quantity": "value"}, "already computed"),
        ("seed", None, {"node": "sigmoid", "quantity": "mean"}, "quantity"),
        ("seed", None, {"node": "sigmoid"}, "quantity"),
    ],
)
def test_questions_that_cannot_be_asked_are_422_with_a_sentence(
    client, example, prepare, body, words
):
    state, h = create(client, {"example": example})
    gid = state["id"]
    if prepare:
        client.post(f"/api/graphs/{gid}/forward", json=prepare, headers=h)
    r = client.post(f"/api/graphs/{gid}/quiz", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert words in str(r.json()["detail"])
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "none"


def test_a_gradient_already_on_screen_cannot_be_asked(client):
    state, h = create(client)
    gid = state["id"]
    client.post(f"/api/graphs/{gid}/forward", json={"all": True}, headers=h)
    client.post(
        f"/api/graphs/{gid}/backward", json={"steps": 3}, headers=h
    )  # loss, sigmoid, linear
    r = client.post(f"/api/graphs/{gid}/quiz", json={"node": "k", "quantity": "grad"}, headers=h)
    assert r.status_code == 422 and "already on screen" in r.json()["detail"]


def test_bad_answers_are_refused_and_change_nothing(make_client):
    client = make_client(quiz_max_answers=3)
    state, h = create(client)
    gid = state["id"]
    q = open_quiz(client, gid, h)
    qid = q["quiz_id"]
    url = f"/api/graphs/{gid}/quiz/answers"
    bad = [
        {"quiz_id": qid, "answer": "0.5", "client": client_id(1)},
        {"quiz_id": qid, "answer": 0.5, "client": "short"},
        {"quiz_id": qid, "answer": 0.5, "client": "has spaces in it"},
        {"quiz_id": qid, "answer": 0.5, "client": client_id(1), "name": "x" * 41},
        {"quiz_id": qid, "answer": 0.5, "client": client_id(1), "extra": 1},
        {"quiz_id": qid, "client": client_id(1)},
    ]
    for body in bad:
        assert client.post(url, json=body).status_code == 422, body
    r = client.post(
        url,
        content=b'{"quiz_id": "%s", "answer": NaN, "client": "abcdefgh"}' % qid.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    assert (
        client.post(
            url, json={"quiz_id": "other", "answer": 1.0, "client": client_id(1)}
        ).status_code
        == 404
    )
    assert (
        client.post("/api/graphs/nope/quiz/answers", json=bad[0] | {"answer": 1.0}).status_code
        == 404
    )
    assert client.get(f"/api/graphs/{gid}/quiz").json()["answers"] == 0
    # an integer is a number too
    assert answer(client, gid, qid, 1, 1).status_code == 201
    for i in (2, 3):
        assert answer(client, gid, qid, 0.5, i).status_code == 201
    r = answer(client, gid, qid, 0.5, 4)
    assert r.status_code == 409 and "3 answers" in r.json()["detail"]
    assert answer(client, gid, qid, 0.7, 2).status_code == 201  # a replacement still counts
    assert client.get(f"/api/graphs/{gid}/quiz").json()["answers"] == 3
    # a new question closes the old one
    q2 = open_quiz(client, gid, h, "linear", "value")
    r = answer(client, gid, qid, 0.5, 1)
    assert r.status_code == 409 and "newer" in r.json()["detail"]
    assert client.get(f"/api/graphs/{gid}/quiz").json()["answers"] == 0
    assert answer(client, gid, q2["quiz_id"], 0.77, 1).status_code == 201


def test_answers_are_rate_limited_per_address(make_client):
    client = make_client(rate_answer="3/minute")
    state, h = create(client)
    gid = state["id"]
    q = open_quiz(client, gid, h)
    for i in range(3):
        assert answer(client, gid, q["quiz_id"], 0.5, i).status_code == 201
    r = answer(client, gid, q["quiz_id"], 0.5, 3)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1 and "quiz answers" in r.json()["detail"]
    assert client.get(f"/api/graphs/{gid}/quiz").json()["answers"] == 3


def test_revealing_nothing_closing_and_deleting(client):
    state, h = create(client)
    gid = state["id"]
    r = client.post(f"/api/graphs/{gid}/quiz/reveal", headers=h)
    assert r.status_code == 409 and "no question" in r.json()["detail"]
    open_quiz(client, gid, h)
    assert client.delete(f"/api/graphs/{gid}/quiz", headers=h).status_code == 204
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "none"
    open_quiz(client, gid, h)
    client.put(f"/api/graphs/{gid}/focus", json={"node": "k"}, headers=h)
    assert client.delete(f"/api/graphs/{gid}", headers=h).status_code == 204
    assert client.app.state.services.quizzes.get(gid) is None
    assert client.app.state.services.focuses.get(gid) is None
    assert client.get(f"/api/graphs/{gid}/quiz").status_code == 404


def test_histogram_bins_hold_the_truth_and_count_outliers_apart():
    # a class of 25: one wild answer goes above the bins instead of stretching them
    answers = [0.98, 1.0, 1.004, 1.02, 1.1, 1.2, 0.9] * 3 + [0.95, 1.05, 1.01, 1000.0]
    h = histogram(answers, 1.0)
    edges = h["edges"]
    assert edges[0] <= 1.0 < edges[-1] and edges[-1] < 2
    assert 2 <= len(h["counts"]) <= 24
    steps = np.diff(edges)
    assert np.allclose(steps, steps[0])
    assert h["above"] >= 1 and sum(h["counts"]) + h["below"] + h["above"] == 25
    assert h["above"] + h["below"] <= 3  # the 5 % each side, no more
    # a few answers are all in the bins, however far apart; an answer on an edge opens its bin
    h = histogram([0.5, 0.68, 0.684, 0.7], 0.6835)
    assert h["below"] == h["above"] == 0 and sum(h["counts"]) == 4
    assert h["edges"][:2] == [0.5, 0.52] and h["counts"][0] == 1
    at = h["edges"].index(0.7)
    assert h["counts"][at] == 1 and h["counts"][h["edges"].index(0.68)] == 2
    # everybody right: bins still span a visible width around the truth
    h = histogram([5.0, 5.0, 5.0], 5.0)
    assert h["edges"][0] < 5.0 < h["edges"][-1] and sum(h["counts"]) == 3
    assert histogram([], 0.0)["counts"] and sum(histogram([], 0.0)["counts"]) == 0
    assert within(1.0099, 1.0) and not within(1.0101, 1.0)
    assert within(-2.019, -2.0) and not within(1e-3, 0.0) and within(0.0, 0.0)


# ---- the teacher's focus ------------------------------------------------------------------


def test_focus_is_the_teachers_and_validated(client):
    state, h = create(client)
    gid = state["id"]
    assert client.get(f"/api/graphs/{gid}/focus").json() == {
        "graph_id": gid,
        "node": None,
        "viewport": None,
        "seq": 0,
    }
    body = {"node": "k", "viewport": {"cx": 120.0, "cy": 40.5, "width": 600.0, "height": 300}}
    assert client.put(f"/api/graphs/{gid}/focus", json=body).status_code == 401
    assert client.put(f"/api/graphs/{gid}/focus", json=body, headers=auth("x")).status_code == 403
    r = client.put(f"/api/graphs/{gid}/focus", json=body, headers=h)
    assert r.status_code == 200 and r.json()["seq"] == 1
    assert client.get(f"/api/graphs/{gid}/focus").json() == {
        "graph_id": gid,
        "node": "k",
        "viewport": {"cx": 120.0, "cy": 40.5, "width": 600.0, "height": 300.0},
        "seq": 1,
    }
    for bad in (
        {"node": "nope"},
        {"viewport": {"cx": 0, "cy": 0, "width": 0, "height": 10}},
        {"viewport": {"cx": 0, "cy": 0, "width": 1e9, "height": 10}},
        {"viewport": {"cx": 0, "cy": 0, "width": 10}},
        {"node": 3},
    ):
        r = client.put(f"/api/graphs/{gid}/focus", json=bad, headers=h)
        assert r.status_code == 422, bad
    assert client.get(f"/api/graphs/{gid}/focus").json()["seq"] == 1
    r = client.put(f"/api/graphs/{gid}/focus", json={"node": None}, headers=h)
    assert r.json()["node"] is None and r.json()["seq"] == 2


# ---- the event stream ---------------------------------------------------------------------


def events_until(lines, name, predicate=lambda d: True, limit=50):
    for _ in range(limit):
        event, data = read_event(lines)
        if event == name:
            got = httpx.Response(200, content=data).json()
            if predicate(got):
                return got
    raise AssertionError(f"no {name} event")


def test_the_stream_sends_the_quiz_on_open_coalesced_answers_and_the_reveal(live_server):
    _app, base = live(live_server)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], auth(state["edit_token"])
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=5) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        q = httpx.post(
            f"{base}/api/graphs/{gid}/quiz", json={"node": "b", "quantity": "grad"}, headers=h
        ).json()
        got = events_until(lines, "quiz")
        assert got["quiz_id"] == q["quiz_id"] and got["answers"] == 0 and got["status"] == "open"
        # 20 answers as fast as one client can post them
        start = time.monotonic()
        with httpx.Client(base_url=base) as c:
            for i in range(20):
                c.post(
                    f"/api/graphs/{gid}/quiz/answers",
                    json={
                        "quiz_id": q["quiz_id"],
                        "answer": -0.07 + i * 1e-3,
                        "client": client_id(i),
                    },
                )
        posting = time.monotonic() - start
        counts = []
        while not counts or counts[-1] < 20:
            counts.append(events_until(lines, "quiz")["answers"])
        elapsed = time.monotonic() - start
        # at most one event per 0.25 s, plus the first one
        assert len(counts) <= elapsed / 0.25 + 2, (counts, elapsed, posting)
        assert counts == sorted(counts) and counts[-1] == 20
        httpx.post(f"{base}/api/graphs/{gid}/quiz/reveal", headers=h)
        out = events_until(lines, "quiz", lambda d: d["status"] == "revealed")
        truth = float(engine_run().grad("b"))
        assert out["truth"] == truth
        assert out["within_1pct"] == sum(within(-0.07 + i * 1e-3, truth) for i in range(20))
    # a follower connecting now gets the state, then the question with its results
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=5) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        event, data = read_event(lines)
        assert event == "quiz" and httpx.Response(200, content=data).json()["truth"] == truth


def test_the_stream_sends_the_teachers_focus_coalesced_and_on_connect(live_server):
    _app, base = live(live_server, focus_event_interval_seconds=0.2)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], auth(state["edit_token"])
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=5) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        got: list = []

        def drag():
            with httpx.Client(base_url=base) as c:
                for i in range(10):  # a drag: ten moves at once
                    c.put(
                        f"/api/graphs/{gid}/focus",
                        headers=h,
                        json={
                            "node": "linear",
                            "viewport": {
                                "cx": float(i),
                                "cy": 0.0,
                                "width": 400.0,
                                "height": 200.0,
                            },
                        },
                    )

        t = threading.Thread(target=drag)
        t.start()
        t.join()
        while not got or got[-1]["viewport"]["cx"] != 9.0:
            got.append(events_until(lines, "focus"))
        assert len(got) < 10 and got[-1]["seq"] == 10 and got[-1]["node"] == "linear"
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events?max_events=2", timeout=5) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        event, data = read_event(lines)
        assert event == "focus" and httpx.Response(200, content=data).json()["seq"] == 10


def test_a_question_whose_node_stops_being_scalar_cannot_be_revealed(client):
    state, h = create(client)
    gid = state["id"]
    q = open_quiz(client, gid, h, "sigmoid", "value")
    r = client.put(f"/api/graphs/{gid}/values", json={"values": {"x": [1.0, 2.0]}}, headers=h)
    assert r.status_code == 200, r.text  # x, linear, sigmoid are vectors now
    r = client.post(f"/api/graphs/{gid}/quiz/reveal", headers=h)
    assert r.status_code == 409 and "no longer a scalar" in r.json()["detail"]
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "none"
    assert answer(client, gid, q["quiz_id"], 0.5, 1).status_code == 409


@pytest.mark.parametrize("seed", range(40))
def test_histogram_invariants_on_random_classes(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    truth = float(rng.choice([0.0, -0.0343677, 584.39, 1e-7, -3.5]))
    scale = abs(truth) if truth else 1.0
    answers = (truth + rng.normal(0, scale * rng.choice([0.01, 0.3, 5]), n)).tolist()
    h = histogram(answers, truth)
    edges = np.array(h["edges"])
    assert len(h["counts"]) == len(edges) - 1 and 1 <= len(h["counts"]) <= 24
    assert np.all(np.diff(edges) > 0) and np.allclose(np.diff(edges), np.diff(edges)[0])
    assert edges[0] <= truth < edges[-1]
    assert sum(h["counts"]) + h["below"] + h["above"] == n
    # each answer is counted in the bin its value falls in, against the edges as sent
    want = np.histogram([a for a in answers if edges[0] <= a < edges[-1]], bins=edges)[0]
    assert h["counts"][:-1] == want.tolist()[:-1]
    if n < 20:
        assert h["below"] == h["above"] == 0
    else:
        assert h["below"] + h["above"] <= 2 * math.ceil(0.05 * n) + 2


def test_an_answer_without_client_is_counted_by_the_browsers_cookie(client):
    """Contract v1.2: `client` is optional; the server sets a cookie on the first answer
    (HttpOnly, SameSite=Lax, the graph's path) and counts that browser once."""
    state, h = create(client)
    gid = state["id"]
    qid = open_quiz(client, gid, h)["quiz_id"]
    url = f"/api/graphs/{gid}/quiz/answers"
    r = client.post(url, json={"quiz_id": qid, "answer": 0.5})
    assert r.status_code == 201, r.text
    assert r.json()["answers"] == 1
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert f"Path=/api/graphs/{gid}" in cookie
    # the same browser answers again: its answer replaces the first
    r = client.post(url, json={"quiz_id": qid, "answer": 0.7, "name": "Ada"})
    assert r.status_code == 201 and r.json()["answers"] == 1
    assert "set-cookie" not in r.headers
    # another browser, without a cookie, is another answer
    client.cookies.clear()
    r = client.post(url, json={"quiz_id": qid, "answer": 0.9})
    assert r.status_code == 201 and r.json()["answers"] == 2
