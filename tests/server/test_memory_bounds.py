"""Memory by size, on a real `stepgrad serve`: graphs kept computed are bounded by their
nodes, and one address's graphs by the nodes it may have built per minute
(`rate_create_nodes`), so that a flood of large graphs is refused before it is built.

The server's memory is its RSS, read from /proc/<pid>/status."""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx
import pytest
from fastapi import HTTPException

from stepgrad.app.protection.size_rates import LARGE, BuildLane
from tests.helpers import ServerProcess, auth, chain_spec

GIB = 1024.0  # MiB
CHAIN = json.dumps(chain_spec(10_000)).encode()  # 518 kB


def client(base: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base, transport=transport, timeout=120)


def post_chain(c: httpx.Client, body: bytes = CHAIN) -> httpx.Response:
    return c.post("/api/graphs", content=body, headers={"Content-Type": "application/json"})


class RssPeak:
    """The largest RSS of the server seen while the block runs (sampled every 10 ms)."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.peak = server.rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.server.rss_mib())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_graph_past_the_address_allowance_is_refused_with_the_numbers():
    # a day's window: none ends during the test (a sliding window's count fades after)
    with (
        ServerProcess(rate_create_nodes="100/day") as server,
        client(server.base, "127.0.0.2") as a,
        client(server.base, "127.0.0.3") as b,
    ):
        first = a.post("/api/graphs", json=chain_spec(60))
        assert first.status_code == 201
        again = a.post("/api/graphs", json=chain_spec(60))
        assert again.status_code == 429
        wait = int(again.headers["Retry-After"])
        assert 1 <= wait <= 2 * 86400
        assert again.json()["detail"] == (
            "Too many nodes of new graphs from your address: this graph's 60 nodes would pass "
            f"the limit of 100 nodes per day (rate_create_nodes). Try again in {wait} s."
        )
        # refused: a large body is no longer read (nor parsed) from this address...
        large = a.post("/api/graphs", json=chain_spec(400))
        assert large.status_code == 429 and int(large.headers["Retry-After"]) >= 1
        detail = large.json()["detail"]
        assert "the limit is 100 nodes per day (rate_create_nodes)" in detail
        assert "is not read until a graph fits again" in detail
        # ...but a small one is, and a graph that fits is built
        assert a.post("/api/graphs", json={"example": "seed"}).status_code == 201  # 67 nodes
        fork = a.post(f"/api/graphs/{first.json()['id']}/fork")
        assert fork.status_code == 429 and "the fork's 60 nodes" in fork.json()["detail"]
        too_big = a.post("/api/graphs", json=chain_spec(101))
        assert too_big.status_code == 429
        assert too_big.json()["detail"].startswith(
            "This graph has 101 nodes, more than your address may have built at all: the "
            "limit is 100 nodes per day (rate_create_nodes)."
        )
        # another address has its own allowance; replacing a graph's spec is charged too
        mine = b.post("/api/graphs", json=chain_spec(60)).json()
        replaced = b.put(
            f"/api/graphs/{mine['id']}/spec", json=chain_spec(50), headers=auth(mine["edit_token"])
        )
        assert replaced.status_code == 429
        assert "the new graph's 50 nodes would pass" in replaced.json()["detail"]
        fits = b.put(
            f"/api/graphs/{mine['id']}/spec", json=chain_spec(40), headers=auth(mine["edit_token"])
        )
        assert fits.status_code == 200 and len(fits.json()["nodes"]) == 40


def test_a_flood_of_large_graphs_from_one_address_is_refused_before_the_rss_passes_1_gib():
    """The issue's flood: 60 creates of 10,000-node chains from one address, within
    `rate_create`, four at a time; with the default settings."""
    with ServerProcess() as server:
        with client(server.base, "127.0.0.3") as teacher:
            mine = teacher.post("/api/graphs", json={"example": "seed"}).json()
        statuses: list[int] = []
        early = []  # refusals that did not read the body
        lock = threading.Lock()

        def flood() -> None:
            with client(server.base, "127.0.0.2") as c:
                while True:
                    with lock:
                        if len(statuses) >= 60:
                            return
                        statuses.append(0)
                        slot = len(statuses) - 1
                    r = post_chain(c)
                    with lock:
                        statuses[slot] = r.status_code
                        if r.status_code == 429:
                            assert int(r.headers["Retry-After"]) >= 1
                            early.append("is not read" in r.json()["detail"])

        with RssPeak(server) as rss:
            threads = [threading.Thread(target=flood) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
        # 30,000 nodes a minute: three graphs built, the rest refused, most before their
        # body was read (only the requests already read when the first refusal came were)
        assert sorted(statuses) == [201] * 3 + [429] * 57
        assert sum(early) >= 57 - 4
        assert rss.peak < GIB, f"the server's RSS reached {rss.peak:.0f} MiB"
        # the server still serves the other addresses: the teacher's graph, and the large
        # graphs a teacher makes now and then
        with client(server.base, "127.0.0.3") as teacher:
            step = teacher.post(
                f"/api/graphs/{mine['id']}/forward",
                json={"steps": 1},
                headers=auth(mine["edit_token"]),
            )
            assert step.status_code == 200 and step.json()["cursor"]["position"] == 1
        with client(server.base, "127.0.0.4") as other:
            assert post_chain(other).status_code == 201
            assert other.post("/api/graphs", json=chain_spec(2_000)).status_code == 201


def test_graphs_kept_computed_stop_growing_the_rss_past_max_loaded_nodes():
    """Twelve 10,000-node chains from four addresses (each within its allowance): past
    the fifth (max_loaded_nodes, 50,000 by default) older ones leave memory, so the RSS
    stops growing by a graph's 40 MiB each; every graph still answers."""
    with ServerProcess() as server:
        rss = []
        made = []
        for i in range(12):
            with client(server.base, f"127.0.0.{10 + i % 4}") as c:
                r = post_chain(c)
                assert r.status_code == 201, r.text
                made.append(r.json()["id"])
            rss.append(server.rss_mib())
        one_graph = (rss[3] - rss[1]) / 2  # a graph's cost, measured here (about 40 MiB)
        assert one_graph > 10
        grew = rss[11] - rss[5]  # 6 more graphs: 6 x one_graph if they all stayed
        assert grew < 2.5 * one_graph, (rss, one_graph)
        assert max(rss) < GIB
        # an evicted graph reloads from the store on demand
        first = httpx.get(f"{server.base}/api/graphs/{made[0]}", timeout=120)
        assert first.status_code == 200 and len(first.json()["nodes"]) == 10_000


def test_large_builds_take_turns_and_hand_the_interpreter_over_more_often():
    lane = BuildLane(running=1, waiting=1, switch=0.001)
    default = sys.getswitchinterval()
    with lane.turn(LARGE - 1):  # a small graph does not queue
        assert sys.getswitchinterval() == default
    inside, release = threading.Event(), threading.Event()
    order = []

    def build(name: str) -> None:
        with lane.turn(LARGE):
            order.append(name)
            inside.set()
            release.wait(30)

    first = threading.Thread(target=build, args=("first",))
    first.start()
    assert inside.wait(30) and sys.getswitchinterval() == 0.001
    second = threading.Thread(target=build, args=("second",))
    second.start()
    deadline = time.monotonic() + 30
    while lane.queued() < 2 and time.monotonic() < deadline:  # the second waits its turn
        time.sleep(0.01)
    assert order == ["first"] and lane.queued() == 2
    with pytest.raises(HTTPException) as refused, lane.turn(10_000):
        pass
    assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "5"}
    assert "already building 2 large graphs" in refused.value.detail
    release.set()
    first.join(30)
    second.join(30)
    assert order == ["first", "second"] and lane.queued() == 0
    assert sys.getswitchinterval() == default
