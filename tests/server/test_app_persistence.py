"""Graphs survive a restart (in-process and a real server killed with SIGKILL); idle graphs
expire; the number of graphs and of graphs held in memory is capped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT, SEED_DK, TestClient, auth, create, free_port, node, post

# each test runs on the SQLite store and again on Redis (tests/conftest.py), but those
# marked sqlite_only: restarts on one file, its process lock, its rows
pytestmark = pytest.mark.both_stores


def app_on(path, **overrides):
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    return create_app(Settings(db=str(path), **overrides))


@pytest.mark.sqlite_only
def test_restart_keeps_the_state_and_the_optimizer(tmp_path):
    db = tmp_path / "graphs.db"
    with TestClient(app_on(db)) as first:
        state, h = create(first)
        gid = state["id"]
        post(first, gid, "seek", h, {"position": 14})
        k_grad_1 = node(first.get(f"/api/graphs/{gid}").json(), "k")["grad"]
        body = {"learning_rate": 0.1, "optimizer": "momentum", "options": {"momentum": 0.9}}
        post(first, gid, "update", h, body)
        post(first, gid, "forward", h, {"steps": 5})
        before = first.get(f"/api/graphs/{gid}").json()
        assert before["version"] == 4
    with TestClient(app_on(db)) as second:
        after = second.get(f"/api/graphs/{gid}").json()
        assert after == before
        assert after["cursor"]["position"] == 5
        # the edit token still works, and the momentum velocity came back too
        post(second, gid, "seek", h, {"position": 14})
        state = second.get(f"/api/graphs/{gid}").json()
        k, k_grad_2 = node(after, "k")["value"], node(state, "k")["grad"]
        state = post(second, gid, "update", h, {})
        velocity = 0.9 * k_grad_1 + k_grad_2
        assert state["events"][0]["params"]["k"] == pytest.approx(k - 0.1 * velocity, rel=1e-12)
        assert k_grad_1 == pytest.approx(SEED_DK)
        post(second, gid, "forward", h, {"steps": 1}, status=200)
        post(second, gid, "reset", auth("wrong"), status=403)


def test_idle_graphs_expire(tmp_path):
    with TestClient(app_on(tmp_path / "g.db", idle_expiry_seconds=1.0)) as client:
        old, h = create(client)
        time.sleep(1.1)
        fresh, _ = create(client)
        assert client.get(f"/api/graphs/{old['id']}").status_code == 404
        assert client.post(f"/api/graphs/{old['id']}/forward", headers=h).status_code == 404
        assert client.get(f"/api/graphs/{fresh['id']}").status_code == 200
        assert client.app.state.services.store.ids() == [fresh["id"]]


@pytest.mark.sqlite_only
def test_expiry_also_applies_after_a_restart(tmp_path):
    db = tmp_path / "g.db"
    with TestClient(app_on(db)) as client:
        state, _ = create(client)
    time.sleep(0.3)
    with TestClient(app_on(db, idle_expiry_seconds=0.2)) as client:
        assert client.get(f"/api/graphs/{state['id']}").status_code == 404
        assert client.app.state.services.store.count() == 0


def test_a_full_store_refuses_new_graphs_rather_than_delete_one_in_use(make_client):
    client = make_client(max_graphs=3)
    made = [create(client) for _ in range(3)]
    for body in ({"example": "seed"}, None):
        r = (
            client.post("/api/graphs", json=body)
            if body
            else client.post(f"/api/graphs/{made[0][0]['id']}/fork")
        )
        assert r.status_code == 503
        assert "at most 3 graphs" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= 3600
    for g, _ in made:
        assert client.get(f"/api/graphs/{g['id']}").status_code == 200
    assert client.app.state.services.store.count() == 3
    g1, h1 = made[0]
    assert client.delete(f"/api/graphs/{g1['id']}", headers=h1).status_code == 204
    assert client.post("/api/graphs", json={"example": "seed"}).status_code == 201


def test_a_full_store_makes_room_by_expiring_idle_graphs_only(make_client):
    client = make_client(max_graphs=2, idle_expiry_seconds=1.0)
    old, _ = create(client)
    time.sleep(0.6)
    used, _ = create(client)
    time.sleep(0.5)  # old is now idle past the window; used is not
    fresh, _ = create(client)
    assert client.get(f"/api/graphs/{old['id']}").status_code == 404
    assert client.get(f"/api/graphs/{used['id']}").status_code == 200
    assert client.get(f"/api/graphs/{fresh['id']}").status_code == 200


def test_graphs_held_in_memory_are_capped_and_reload(make_client):
    client = make_client(max_loaded_graphs=2)
    made = [create(client) for _ in range(5)]
    graphs = client.app.state.services.graphs
    assert graphs.loaded() <= 2
    for state, h in made:
        post(client, state["id"], "forward", h, {"steps": 2})
    for state, _ in made:
        got = client.get(f"/api/graphs/{state['id']}").json()
        assert got["cursor"]["position"] == 2 and got["version"] == 2
        assert node(got, "y")["value"] == 0.71
    assert graphs.loaded() <= 2


def call(url: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepgrad.app.cli", "serve", "--port", str(port), "--db", str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode())
        try:
            call(f"http://127.0.0.1:{port}/api/health")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def test_a_real_server_killed_with_sigkill_keeps_its_graphs(tmp_path):
    db = tmp_path / "graphs.db"
    port = free_port()
    proc = start_server(db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        state = call(f"{base}/api/graphs", {"example": "chain_rule"})
        gid, token = state["id"], state["edit_token"]
        call(f"{base}/api/graphs/{gid}/forward", {"steps": 7}, token)
        before = call(f"{base}/api/graphs/{gid}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stderr.close()
    port = free_port()
    proc = start_server(db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert call(f"{base}/api/graphs/{gid}") == before
        after = call(f"{base}/api/graphs/{gid}/forward", {"all": True}, token)
        assert after["cursor"]["position"] == 10 and after["version"] == before["version"] + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stderr.close()


@pytest.mark.sqlite_only
def test_concurrent_first_reads_after_a_restart_load_the_graph_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "g.db"
    with TestClient(app_on(db)) as client:
        state, h = create(client, {"example": "two_layer"})
    with TestClient(app_on(db)) as client:
        graphs = client.app.state.services.graphs
        loads = []
        original = graphs._load
        graphs._load = lambda record: loads.append(record.id) or original(record)

        def step(_):
            return client.post(f"/api/graphs/{state['id']}/forward", headers=h).status_code

        with ThreadPoolExecutor(10) as pool:
            assert set(pool.map(step, range(10))) == {200}
        assert loads == [state["id"]]
        assert client.get(f"/api/graphs/{state['id']}").json()["cursor"]["position"] == 10
