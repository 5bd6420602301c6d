"""Calls on one graph are serialised (no lost update); calls on different graphs, and reads
of a busy graph, are not held up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import auth, chain_spec, create

# each test runs on the SQLite store and again on Redis (tests/conftest.py)
pytestmark = pytest.mark.both_stores


def test_fifty_concurrent_single_steps_advance_the_cursor_by_fifty(client):
    state, h = create(client, chain_spec(60))
    gid = state["id"]
    barrier = threading.Barrier(50)

    def step(_):
        barrier.wait()
        r = client.post(f"/api/graphs/{gid}/forward", json={"steps": 1}, headers=h)
        return r.status_code, r.json()["version"], r.json()["events"][0]["node"]

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(step, range(50)))
    assert {status for status, _, _ in results} == {200}
    assert sorted(v for _, v, _ in results) == list(range(2, 52))
    assert sorted(int(n[1:]) for _, _, n in results) == list(range(50))
    final = client.get(f"/api/graphs/{gid}").json()
    assert final["cursor"]["position"] == 50 and final["version"] == 51


def test_fifty_concurrent_steps_on_a_real_server(make_client, live_server):
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    base = live_server(create_app(Settings(db=":memory:")))
    state = httpx.post(f"{base}/api/graphs", json=chain_spec(60)).json()
    gid, h = state["id"], auth(state["edit_token"])

    def step(_):
        with httpx.Client() as c:
            return c.post(f"{base}/api/graphs/{gid}/forward", headers=h).status_code

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(step, range(50))) == {200}
    final = httpx.get(f"{base}/api/graphs/{gid}").json()
    assert final["cursor"]["position"] == 50 and final["version"] == 51


def test_a_busy_graph_does_not_hold_up_others_or_its_readers(make_client):
    client = make_client(lock_timeout_seconds=1.0)
    a, ha = create(client)
    b, hb = create(client)
    session = client.app.state.services.graphs._sessions[a["id"]]
    with session.lock:  # as a long training run would, held until the block ends
        # a call that waited for this lock would get its 409 after lock_timeout_seconds
        assert client.post(f"/api/graphs/{b['id']}/forward", headers=hb).status_code == 200
        assert client.get(f"/api/graphs/{a['id']}").json()["version"] == 1
        assert client.post(f"/api/graphs/{a['id']}/fork").status_code == 201
        r = client.post(f"/api/graphs/{a['id']}/forward", headers=ha)
        assert r.status_code == 409 and "busy" in r.json()["detail"]
    assert client.post(f"/api/graphs/{a['id']}/forward", headers=ha).status_code == 200


def test_different_graphs_step_in_parallel(client):
    graphs = [create(client, chain_spec(30)) for _ in range(8)]

    def run(pair):
        state, h = pair
        for _ in range(10):
            assert client.post(f"/api/graphs/{state['id']}/forward", headers=h).status_code == 200
        return client.get(f"/api/graphs/{state['id']}").json()["cursor"]["position"]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(run, graphs)) == [10] * 8
