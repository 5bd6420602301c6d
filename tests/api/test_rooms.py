"""Rooms (contract v1.2): one follow link for a lesson. Create, read, change with and without
the edit token, the event stream, every refusal with its sentence, and the lesson question
that closes when the teacher leaves its step (and when the graph is reset)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import auth, read_event

# each test runs on the SQLite store and again on Redis (tests/conftest.py)
pytestmark = pytest.mark.both_stores


def new_room(client, lesson="day2") -> tuple[dict, dict]:
    r = client.post("/api/rooms", json={"lesson": lesson})
    assert r.status_code == 201, r.text
    room = r.json()
    return room, auth(room["edit_token"])


def new_graph(client, example="chain_rule") -> tuple[str, dict]:
    r = client.post("/api/graphs", json={"example": example})
    assert r.status_code == 201, r.text
    return r.json()["id"], auth(r.json()["edit_token"])


def serve_app(request, app_store, live_server, **overrides) -> str:
    """A real server (for event streams) on the test's store; its base URL."""
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    if app_store == "redis":
        overrides = {
            "store": request.getfixturevalue("redis_db"),
            "rate_create": "100000/minute",
            **overrides,
        }
    return live_server(create_app(Settings(db=":memory:", **overrides)))


def test_a_room_is_created_at_the_lessons_first_step_and_read_by_anyone(client):
    room, _h = new_room(client)
    assert set(room) == {
        "id", "edit_token", "lesson", "step", "graph", "view", "panel", "race", "compare",
        "version",
    }  # fmt: skip
    assert (room["lesson"], room["step"], room["graph"], room["view"]) == ("day2", 0, None, "curve")
    assert room["version"] == 1 and len(room["edit_token"]) >= 40
    got = client.get(f"/api/rooms/{room['id']}")
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in room.items() if k != "edit_token"}
    # two rooms of one lesson are two links
    other, _ = new_room(client)
    assert other["id"] != room["id"] and other["edit_token"] != room["edit_token"]


def test_the_teacher_says_step_graph_view_and_panel_fields_left_out_keep_their_value(client):
    room, h = new_room(client)
    gid, _ = new_graph(client)
    r = client.put(
        f"/api/rooms/{room['id']}", json={"step": 3, "graph": gid, "view": "graph"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": room["id"], "lesson": "day2", "step": 3, "graph": gid, "view": "graph",
        "panel": None, "race": None, "compare": None, "version": 2,
    }  # fmt: skip
    r = client.put(f"/api/rooms/{room['id']}", json={"panel": "inspector"}, headers=h)
    assert (r.json()["step"], r.json()["graph"], r.json()["panel"]) == (3, gid, "inspector")
    assert r.json()["version"] == 3
    # the same again changes nothing, not even the version
    r = client.put(f"/api/rooms/{room['id']}", json={"panel": "inspector", "step": 3}, headers=h)
    assert r.json()["version"] == 3
    # null takes the graph and the panel off the stage
    r = client.put(f"/api/rooms/{room['id']}", json={"graph": None, "panel": None}, headers=h)
    assert (r.json()["graph"], r.json()["panel"], r.json()["version"]) == (None, None, 4)
    assert client.get(f"/api/rooms/{room['id']}").json() == r.json()


def test_the_teachers_race_result_reaches_the_room(client):
    room, h = new_room(client, "day3")
    race = client.post("/api/race", json={"epochs": 1}).json()
    url = f"/api/rooms/{room['id']}"
    r = client.put(url, json={"step": 11, "view": "race", "panel": "race", "race": race}, headers=h)
    assert r.status_code == 200, r.text
    got = client.get(url).json()["race"]
    assert got["epochs"] == 1 and got["mse_engine"] == race["mse_engine"]
    assert got["engine_us"] == race["engine_us"] and got["agree"] == race["agree"]
    # a race result is the race's fields, not anything
    r = client.put(url, json={"race": {"epochs": 1}}, headers=h)
    assert r.status_code == 422
    assert ["body", "race", "mse_engine"] in [e["loc"] for e in r.json()["detail"]]


def test_the_teachers_compared_trainings_reach_the_room(client):
    room, h = new_room(client, "day1")
    url = f"/api/rooms/{room['id']}"
    run = {
        "optimizer": "sgd", "epochs": 2, "steps": 26, "params": {"k": 3.9, "b": 22.4},
        "final": {"train_loss": 45.2, "test_loss": 41.0},
        "rows": [
            {"epoch": 1, "train_loss": 80.5, "test_loss": 77.25},
            {"epoch": 2, "train_loss": 45.2, "test_loss": 41.0},
        ],
    }  # fmt: skip
    compare = {
        "step": 8,
        "runs": [run],
        "reference": {"value": 40.61, "weights": [3.1], "bias": 22},
    }
    r = client.put(url, json={"step": 8, "compare": compare}, headers=h)
    assert r.status_code == 200, r.text
    got = client.get(url).json()["compare"]
    assert got["step"] == 8 and got["reference"]["value"] == 40.61
    assert got["runs"][0]["rows"][1] == {"epoch": 2, "train_loss": 45.2, "test_loss": 41.0}
    assert got["runs"][0]["params"] == {"k": 3.9, "b": 22.4} and got["runs"][0]["steps"] == 26
    # trainings are numbers, bounded: not a free-form blob
    bad = {**compare, "runs": [{**run, "rows": [{"epoch": 0, "train_loss": "x"}]}]}
    r = client.put(url, json={"compare": bad}, headers=h)
    assert r.status_code == 422
    assert client.get(url).json()["compare"] == got
    r = client.put(url, json={"compare": {**compare, "runs": [run] * 9}}, headers=h)
    assert r.status_code == 422


def test_changing_a_room_needs_its_own_edit_token(client):
    room, _h = new_room(client)
    _other, other_h = new_room(client)
    url = f"/api/rooms/{room['id']}"
    r = client.put(url, json={"step": 1})
    assert r.status_code == 401 and "edit token" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = client.put(url, json={"step": 1}, headers=other_h)
    assert r.status_code == 403 and r.json()["detail"] == "The edit token does not match this room."
    # a graph's edit token is not the room's either
    _gid, gh = new_graph(client)
    assert client.put(url, json={"step": 1}, headers=gh).status_code == 403
    assert client.get(url).json()["step"] == 0 and client.get(url).json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"lesson": "day9"}, "There is no lesson 'day9'; the lessons are: day1, day2, day3."),
        ({}, 'Name the lesson the room follows, as {"lesson": "day2"}.'),
        ({"playground": {"dataset": "circle"}}, "Rooms for a playground are not offered yet"),
        ({"lesson": 2}, "lesson"),
        ({"lesson": "day2", "colour": "red"}, "colour"),
        ({"lesson": "d" * 65}, "at most 64 characters"),
    ],
)
def test_creating_a_room_refuses_what_it_cannot_follow_with_a_sentence(client, body, words):
    r = client.post("/api/rooms", json=body)
    assert r.status_code == 422, r.text
    assert words in json.dumps(r.json()["detail"]).replace('\\"', '"')


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"step": 7}, "Step 7 is not a step of lesson 'day2': its steps are 0 to 6."),
        ({"step": -1}, "greater than or equal to 0"),
        ({"step": None}, "`step` is a step number (0 is the first), not null."),
        ({"step": "3"}, "step"),
        ({"graph": "nograph"}, "There is no graph 'nograph' to put on the stage"),
        ({"graph": "../etc"}, "pattern"),
        ({"view": "slides"}, "view"),
        ({"view": None}, "`view` names what the stage shows"),
        ({"panel": "everything"}, "panel"),
        ({"step": 1, "colour": "red"}, "colour"),
    ],
)
def test_a_change_the_room_cannot_take_is_a_422_with_a_sentence(client, body, words):
    room, h = new_room(client)
    r = client.put(f"/api/rooms/{room['id']}", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert words in json.dumps(r.json()["detail"]).replace('\\"', '"').replace("\\\\", "\\")
    assert client.get(f"/api/rooms/{room['id']}").json()["version"] == 1


def test_an_unknown_room_is_a_404_with_a_sentence(client):
    for r in (
        client.get("/api/rooms/nosuchroom"),
        client.put("/api/rooms/nosuchroom", json={"step": 1}, headers=auth("x" * 43)),
        client.get("/api/rooms/nosuchroom/events"),
    ):
        assert r.status_code == 404
        assert r.json()["detail"] == "There is no room 'nosuchroom' (it may have expired)."
    assert client.get("/api/rooms/" + "r" * 65).status_code == 422
    # the follower's page of an unknown room says so, with a 404
    page = client.get("/r/nosuchroom")
    assert page.status_code == 404 and 'data-room-id="nosuchroom"' in page.text


def test_the_followers_page_names_the_room_and_its_lesson(client):
    room, _h = new_room(client, "day3")
    page = client.get(f"/r/{room['id']}")
    assert page.status_code == 200
    assert f'data-room-id="{room["id"]}"' in page.text and 'data-lesson-id="day3"' in page.text
    assert room["edit_token"] not in page.text


def test_room_creation_is_rate_limited_like_graph_creation(make_client):
    client = make_client(rate_create="3/minute")
    for _ in range(3):
        assert client.post("/api/rooms", json={"lesson": "day1"}).status_code == 201
    r = client.post("/api/rooms", json={"lesson": "day1"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "new graphs and rooms" in r.json()["detail"]
    # graphs and rooms share the allowance: a graph is refused too
    assert client.post("/api/graphs", json={"example": "seed"}).status_code == 429


def test_the_server_keeps_at_most_max_rooms(make_client):
    client = make_client(max_rooms=2)
    new_room(client)
    new_room(client)
    r = client.post("/api/rooms", json={"lesson": "day1"})
    assert r.status_code == 503 and "keeps 2 rooms" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 0


def test_a_room_expires_like_a_graph(make_client):
    client = make_client(idle_expiry_seconds=0.5)
    room, h = new_room(client)
    assert client.get(f"/api/rooms/{room['id']}").status_code == 200
    import time

    time.sleep(0.7)
    assert client.get(f"/api/rooms/{room['id']}").status_code == 404
    assert client.put(f"/api/rooms/{room['id']}", json={"step": 1}, headers=h).status_code == 404


def test_a_room_body_is_bounded(make_client):
    client = make_client(max_body_bytes=1_000)
    r = client.post("/api/rooms", json={"lesson": "day2", "playground": {"x": "y" * 2_000}})
    assert r.status_code == 413


# ---- the lesson's question closes with its step -------------------------------------------


def open_question(client, gid, h, node="sigma", quantity="grad") -> dict:
    r = client.post(f"/api/graphs/{gid}/quiz", json={"node": node, "quantity": quantity}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_leaving_the_step_closes_its_question_and_answers_to_it_are_refused(client):
    room, h = new_room(client)
    gid, gh = new_graph(client)
    url = f"/api/rooms/{room['id']}"
    client.put(url, json={"step": 5, "graph": gid, "view": "graph"}, headers=h)
    q = open_question(client, gid, gh)
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "open"
    # the same step said again (its panel changed): the question stays
    client.put(url, json={"step": 5, "panel": "inspector"}, headers=h)
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "open"
    answer = {"quiz_id": q["quiz_id"], "answer": 0.1, "client": "student-0001"}
    assert client.post(f"/api/graphs/{gid}/quiz/answers", json=answer).status_code == 201
    # day 2, step 6 -> step 7 on the same graph
    assert client.put(url, json={"step": 6}, headers=h).status_code == 200
    got = client.get(f"/api/graphs/{gid}/quiz").json()
    assert got["status"] == "none" and got["quiz_id"] is None
    r = client.post(f"/api/graphs/{gid}/quiz/answers", json=answer)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("That question is closed: the teacher moved on")


def test_leaving_the_step_closes_a_revealed_question_too_on_the_graph_left(client):
    room, h = new_room(client, "day3")
    course, ch = new_graph(client, "seed")
    boston, _bh = new_graph(client, "seed")
    url = f"/api/rooms/{room['id']}"
    client.put(url, json={"step": 7, "graph": course, "view": "graph"}, headers=h)
    open_question(client, course, ch, node="k", quantity="grad")
    assert client.post(f"/api/graphs/{course}/quiz/reveal", headers=ch).json()["status"] == (
        "revealed"
    )
    # the next step puts another graph on the stage: the question of the graph left closes
    client.put(url, json={"step": 8, "graph": boston}, headers=h)
    assert client.get(f"/api/graphs/{course}/quiz").json()["status"] == "none"


def test_a_question_of_another_graph_than_the_rooms_stays_open(client):
    room, h = new_room(client)
    shown, _ = new_graph(client)
    elsewhere, eh = new_graph(client)
    url = f"/api/rooms/{room['id']}"
    client.put(url, json={"step": 5, "graph": shown}, headers=h)
    open_question(client, elsewhere, eh)
    client.put(url, json={"step": 6}, headers=h)
    assert client.get(f"/api/graphs/{elsewhere}/quiz").json()["status"] == "open"


def test_a_reset_closes_an_open_question_and_a_revealed_one(client):
    gid, gh = new_graph(client)
    open_question(client, gid, gh)
    assert client.post(f"/api/graphs/{gid}/reset", headers=gh).status_code == 200
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "none"
    open_question(client, gid, gh, node="loss", quantity="value")
    assert client.post(f"/api/graphs/{gid}/quiz/reveal", headers=gh).status_code == 200
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "revealed"
    assert client.post(f"/api/graphs/{gid}/reset?return=patch", headers=gh).status_code == 200
    assert client.get(f"/api/graphs/{gid}/quiz").json()["status"] == "none"


# ---- event streams ------------------------------------------------------------------------


def events_until(lines, name, predicate=lambda d: True, limit=50) -> dict:
    for _ in range(limit):
        event, data = read_event(lines)
        if event == name:
            got = json.loads(data)
            if predicate(got):
                return got
    raise AssertionError(f"no {name} event")


def test_the_rooms_stream_sends_the_room_on_connect_and_on_every_change(
    request, app_store, live_server
):
    base = serve_app(request, app_store, live_server)
    room = httpx.post(f"{base}/api/rooms", json={"lesson": "day2"}).json()
    h = auth(room["edit_token"])
    gid = httpx.post(f"{base}/api/graphs", json={"example": "chain_rule"}).json()["id"]
    url = f"{base}/api/rooms/{room['id']}"
    with httpx.stream("GET", f"{url}/events", timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        first = events_until(lines, "room")
        assert (first["step"], first["graph"], first["version"]) == (0, None, 1)
        httpx.put(url, json={"step": 3, "graph": gid, "view": "graph"}, headers=h)
        got = events_until(lines, "room")
        assert (got["step"], got["graph"], got["view"], got["version"]) == (3, gid, "graph", 2)
        # a refused change sends nothing; the next change does
        assert httpx.put(url, json={"step": 3}).status_code == 401
        httpx.put(url, json={"step": 4}, headers=h)
        assert events_until(lines, "room")["step"] == 4
    # a follower connecting now hears the room as it is
    with httpx.stream("GET", f"{url}/events", timeout=10) as r:
        got = events_until(r.iter_lines(), "room")
        assert (got["step"], got["graph"], got["version"]) == (4, gid, 3)


def test_followers_of_the_graph_hear_the_question_close_when_the_step_is_left(
    request, app_store, live_server
):
    base = serve_app(request, app_store, live_server)
    room = httpx.post(f"{base}/api/rooms", json={"lesson": "day2"}).json()
    h = auth(room["edit_token"])
    graph = httpx.post(f"{base}/api/graphs", json={"example": "chain_rule"}).json()
    gid, gh = graph["id"], auth(graph["edit_token"])
    url = f"{base}/api/rooms/{room['id']}"
    httpx.put(url, json={"step": 5, "graph": gid, "view": "graph"}, headers=h)
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=10) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        httpx.post(
            f"{base}/api/graphs/{gid}/quiz", json={"node": "sigma", "quantity": "grad"}, headers=gh
        )
        assert events_until(lines, "quiz")["status"] == "open"
        httpx.put(url, json={"step": 6}, headers=h)
        assert events_until(lines, "quiz")["status"] == "none"


def test_the_room_events_of_two_processes_reach_each_others_followers(
    request, app_store, live_server
):
    """Two apps on one store: a change through one reaches a follower of the other (on
    Redis through pub/sub; on SQLite each app is its own process's world, so skipped)."""
    if app_store != "redis":
        pytest.skip("one SQLite file serves one process")
    a = serve_app(request, app_store, live_server)
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    b = live_server(
        create_app(
            Settings(db=":memory:", store=request.getfixturevalue("redis_url"),
                     rate_create="100000/minute")
        )
    )  # fmt: skip
    room = httpx.post(f"{a}/api/rooms", json={"lesson": "day1"}).json()
    with httpx.stream("GET", f"{b}/api/rooms/{room['id']}/events", timeout=10) as r:
        lines = r.iter_lines()
        assert events_until(lines, "room")["step"] == 0
        httpx.put(f"{a}/api/rooms/{room['id']}", json={"step": 2}, headers=auth(room["edit_token"]))
        assert events_until(lines, "room")["step"] == 2


def test_followers_of_the_graph_hear_a_reset_put_a_revealed_question_away(
    request, app_store, live_server
):
    base = serve_app(request, app_store, live_server)
    graph = httpx.post(f"{base}/api/graphs", json={"example": "chain_rule"}).json()
    gid, gh = graph["id"], auth(graph["edit_token"])
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events?format=patch", timeout=10) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        httpx.post(
            f"{base}/api/graphs/{gid}/quiz", json={"node": "loss", "quantity": "value"}, headers=gh
        )
        assert events_until(lines, "quiz")["status"] == "open"
        httpx.post(f"{base}/api/graphs/{gid}/quiz/reveal", headers=gh)
        assert events_until(lines, "quiz", lambda d: d["status"] == "revealed")["truth"] > 0
        assert httpx.post(f"{base}/api/graphs/{gid}/reset", headers=gh).status_code == 200
        assert events_until(lines, "quiz")["status"] == "none"
