"""The live event stream (server-sent events): state on connect, every change, heartbeats,
deletion, and no subscriber left behind by clients that go away."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from stepgrad.app.live.event_bus import EventBus
from tests.helpers import auth, create, live, read_event

# each test runs on the SQLite store and again on Redis (tests/conftest.py)
pytestmark = pytest.mark.both_stores


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_follower_sees_a_change_another_client_makes(live_server):
    _, base = live(live_server)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], auth(state["edit_token"])
    # the change is pushed: one that waited for the next heartbeat (15 s) would come after it
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        event, data = read_event(lines)
        assert event == "state" and httpx.Response(200, content=data).json()["version"] == 1
        # another client makes the change
        with httpx.Client() as other:
            other.post(f"{base}/api/graphs/{gid}/forward", json={"steps": 2}, headers=h)
        event, data = read_event(lines)
        got = httpx.Response(200, content=data).json()
        assert event == "state" and got["version"] == 2
        assert got["cursor"]["position"] == 2 and [e["node"] for e in got["events"]] == ["x", "y"]


def test_heartbeats_and_deletion_end_the_stream(live_server):
    app, base = live(live_server, sse_ping_seconds=0.1)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], auth(state["edit_token"])
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=5) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        assert read_event(lines) == ("", ": ping")
        threading.Timer(0.05, lambda: httpx.delete(f"{base}/api/graphs/{gid}", headers=h)).start()
        event = read_event(lines)
        while event[0] == "":
            event = read_event(lines)
        assert event[0] == "deleted"
        assert list(lines) == []  # the server ended the stream
    assert wait_for(lambda: app.state.services.bus.count() == 0)


def test_clients_that_disconnect_leave_no_subscriber(live_server):
    app, base = live(live_server, sse_ping_seconds=0.2)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid = state["id"]
    bus = app.state.services.bus
    for _ in range(5):
        with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=5) as r:
            lines = r.iter_lines()  # kept: a dropped iterator closes the stream
            read_event(lines)
            assert bus.count(gid) == 1
    assert wait_for(lambda: bus.count() == 0), bus.count()
    # several at once, dropped together
    clients = [httpx.Client(timeout=5) for _ in range(3)]
    streams = [c.stream("GET", f"{base}/api/graphs/{gid}/events") for c in clients]
    readers = [s.__enter__().iter_lines() for s in streams]  # keep them open
    for lines in readers:
        read_event(lines)
    assert bus.count(gid) == 3
    for s, c in zip(streams, clients, strict=True):
        s.__exit__(None, None, None)
        c.close()
    assert wait_for(lambda: bus.count() == 0), bus.count()


def test_unknown_graph_stream_is_404_and_leaves_nothing(client):
    assert client.get("/api/graphs/nope/events").status_code == 404
    assert client.app.state.services.bus.count() == 0


def test_max_events_ends_the_stream(client):
    state, _ = create(client)
    r = client.get(f"/api/graphs/{state['id']}/events?max_events=1")
    assert r.status_code == 200
    assert r.text.startswith("event: state\ndata: {")
    assert r.text.count("event: ") == 1
    assert client.app.state.services.bus.count() == 0


def test_a_stalled_subscriber_is_marked_lagging_not_blocking():
    async def scenario():
        bus = EventBus(queue_size=2)
        sub = bus.subscribe("g")
        publisher = threading.Thread(
            target=lambda: [bus.publish("g", "state", str(i)) for i in range(5)]
        )
        publisher.start()
        await asyncio.to_thread(publisher.join)
        await asyncio.sleep(0.05)
        assert sub.lagging and sub.queue.qsize() == 2
        bus.unsubscribe(sub)
        assert bus.count() == 0

    asyncio.run(scenario())


def test_training_progress_is_streamed(live_server):
    pytest.importorskip("stepgrad.engine.training")
    _, base = live(live_server, progress_interval_seconds=0.0)
    state = httpx.post(f"{base}/api/graphs", json={"example": "seed"}).json()
    gid, h = state["id"], auth(state["edit_token"])
    with httpx.stream("GET", f"{base}/api/graphs/{gid}/events", timeout=10) as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "state"
        body = {"epochs": 5, "learning_rate": 0.5}
        threading.Thread(
            target=lambda: httpx.post(f"{base}/api/graphs/{gid}/train", json=body, headers=h)
        ).start()
        seen = []
        while not seen or seen[-1][0] != "state":
            seen.append(read_event(lines))
    progress = [httpx.Response(200, content=d).json() for e, d in seen if e == "progress"]
    assert [p["epoch"] for p in progress] == [1, 2, 3, 4, 5]
    assert all(p["epochs"] == 5 and isinstance(p["train_loss"], float) for p in progress)
    final = httpx.Response(200, content=seen[-1][1]).json()
    assert final["version"] == 2 and final["training"]["epochs"] == 5
