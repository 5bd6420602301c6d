"""Several server processes on one Redis (contract v1.1, Scale-out): real `stepgrad serve`
processes on loopback, a real redis-server. A change through one process is seen by reads
through the other right after its 2xx, followers on one receive changes made through the
other, concurrent changes through both lose nothing, and a process killed while holding a
graph's lock loses no acknowledged change and blocks the graph only until the lock lapses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
import time

import httpx
import pytest

from tests.helpers import ROOT, apply, chain_spec, free_port, start_server, without_events

pytestmark = pytest.mark.timeout(180)


@contextlib.contextmanager
def servers(redis_url: str, count: int = 2, **settings):
    """`count` server processes on one Redis; yields their URLs and processes."""
    procs, urls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for i in range(count):
                proc, url = start_server(
                    os.path.join(tmp, f"unused{i}.db"), store=redis_url, **settings
                )
                procs.append(proc)
                urls.append(url)
            yield urls, procs
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except Exception:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def pair(redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with servers(redis_url) as (urls, _):
        yield urls


def create(base: str, spec: dict) -> tuple[dict, dict]:
    r = httpx.post(f"{base}/api/graphs", json=spec, timeout=30)
    assert r.status_code == 201, r.text
    state = r.json()
    return state, {"Authorization": f"Bearer {state['edit_token']}"}


def test_a_change_through_one_process_is_read_through_the_other_at_once(pair):
    a, b = pair
    state, auth = create(a, chain_spec(60))
    gid = state["id"]
    total = state["cursor"]["total"]
    stale = 0
    held = httpx.get(f"{b}/api/graphs/{gid}").json()
    with httpx.Client(timeout=30) as http:
        for i in range(100):
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            position = (i * 37) % total
            r = http.post(f"{writer}/api/graphs/{gid}/seek", json={"position": position},
                          headers=auth)  # fmt: skip
            assert r.status_code == 200, r.text
            version = r.json()["version"]
            got = http.get(f"{reader}/api/graphs/{gid}").json()
            if got["version"] != version or got["cursor"]["position"] != position:
                stale += 1
            # ?since=V through the reader: a patch, or the full state, that gives the same
            patch = http.get(f"{reader}/api/graphs/{gid}", params={"since": held["version"]})
            held = apply(held, patch.json())
            assert without_events(held) == without_events(got)
    assert stale == 0


def test_a_follower_on_one_process_receives_the_changes_made_through_the_other(pair):
    a, b = pair
    state, auth = create(a, chain_spec(400))
    gid = state["id"]
    steps = 120
    received: list[dict] = []
    connected = threading.Event()

    def follow():
        url = f"{b}/api/graphs/{gid}/events"
        params = {"format": "patch", "max_events": steps + 1}
        with httpx.stream("GET", url, params=params, timeout=30) as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    received.append((event, data))
                    connected.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert connected.wait(10)
    sent: list[int] = []
    with httpx.Client(timeout=30) as http:
        for _ in range(steps):
            r = http.post(f"{a}/api/graphs/{gid}/forward", headers=auth)
            assert r.status_code == 200, r.text
            sent.append(r.json()["version"])
            time.sleep(0.005)
    thread.join(20)
    assert not thread.is_alive()
    assert sorted(sent) == list(range(2, steps + 2))
    assert [data["version"] for _, data in received] == list(range(1, steps + 2))
    held = received[0][1]
    for event, patch in received[1:]:  # every patch applies to the version before it
        assert event == "patch"
        held = apply(held, patch)
    final = httpx.get(f"{b}/api/graphs/{gid}").json()
    assert without_events(held) == without_events(final)
    # how long a patch takes to cross from A to B: bench/scaleout.py


def test_every_kind_of_event_reaches_followers_on_the_other_process(pair):
    a, b = pair
    state, auth = create(a, {"example": "two_layer"})
    gid = state["id"]
    events: list[str] = []
    connected = threading.Event()

    def follow():
        with httpx.stream("GET", f"{b}/api/graphs/{gid}/events", timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])
                    connected.set()
                    if line == "event: deleted":
                        return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert connected.wait(10)
    r = httpx.post(f"{a}/api/graphs/{gid}/train", json={"epochs": 3}, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    assert httpx.delete(f"{a}/api/graphs/{gid}", headers=auth).status_code == 204
    thread.join(20)
    assert events[0] == "state" and events[-2:] == ["state", "deleted"]
    assert "progress" in events  # training progress, published by the other process
    assert httpx.get(f"{b}/api/graphs/{gid}").status_code == 404


def test_the_class_quiz_and_the_focus_are_shared_by_the_processes(pair):
    """The teacher on one process, students answering through both: one question, one
    count, every answer in the reveal; a follower on the other process gets the quiz's
    events and the teacher's focus."""
    a, b = pair
    state, auth = create(a, {"example": "seed"})
    gid = state["id"]
    events: list[dict] = []
    connected = threading.Event()

    def follow():
        with httpx.stream("GET", f"{b}/api/graphs/{gid}/events", timeout=60) as r:
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                    connected.set()
                elif line.startswith("data: ") and name in ("quiz", "focus"):
                    events.append({"event": name, **json.loads(line[6:])})
                    if name == "quiz" and events[-1].get("status") == "revealed":
                        return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert connected.wait(10)
    r = httpx.post(
        f"{a}/api/graphs/{gid}/quiz", json={"node": "k", "quantity": "grad"}, headers=auth
    )
    assert r.status_code == 201, r.text
    quiz_id = r.json()["quiz_id"]
    answers = [-0.0343, -0.0344, 0.5, -0.0343677, 1.0, 0.0]
    for i, value in enumerate(answers):
        base = (a, b)[i % 2]
        body = {"quiz_id": quiz_id, "answer": value, "client": f"student-{i:04d}"}
        r = httpx.post(f"{base}/api/graphs/{gid}/quiz/answers", json=body)
        assert r.status_code == 201 and r.json()["answers"] == i + 1, r.text
    # one browser answering again through the other process replaces its answer
    body = {"quiz_id": quiz_id, "answer": -0.0344, "client": "student-0004"}
    assert httpx.post(f"{a}/api/graphs/{gid}/quiz/answers", json=body).json()["answers"] == 6
    for base in (a, b):
        seen = httpx.get(f"{base}/api/graphs/{gid}/quiz").json()
        assert seen["answers"] == 6 and seen["status"] == "open" and seen.get("truth") is None
    r = httpx.put(f"{a}/api/graphs/{gid}/focus", json={"node": "k"}, headers=auth)
    assert r.status_code == 200, r.text
    assert httpx.get(f"{b}/api/graphs/{gid}/focus").json()["node"] == "k"
    r = httpx.post(f"{b}/api/graphs/{gid}/quiz/reveal", headers=auth)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["truth"] == pytest.approx(-0.0343677, rel=1e-5)
    assert out["within_1pct"] == 4  # -0.0343, -0.0344 (twice), -0.0343677
    hist = out["histogram"]
    assert sum(hist["counts"]) + hist["below"] + hist["above"] == 6
    assert httpx.get(f"{a}/api/graphs/{gid}/quiz").json() == out
    # answering is closed on both processes
    body = {"quiz_id": quiz_id, "answer": 0.0, "client": "student-0099"}
    assert httpx.post(f"{a}/api/graphs/{gid}/quiz/answers", json=body).status_code == 409
    thread.join(10)
    quiz_events = [e for e in events if e["event"] == "quiz"]
    assert quiz_events[0]["status"] == "open" and quiz_events[-1]["status"] == "revealed"
    assert max(e["answers"] for e in quiz_events) == 6
    assert any(e["event"] == "focus" and e.get("node") == "k" for e in events)


def test_concurrent_steppers_through_both_processes_lose_no_update(pair):
    a, b = pair
    state, auth = create(a, chain_spec(500))
    gid = state["id"]
    ok = []
    lock = threading.Lock()

    def stepper(base: str):
        with httpx.Client(timeout=60) as http:
            for _ in range(25):
                r = http.post(f"{base}/api/graphs/{gid}/forward", headers=auth)
                assert r.status_code in (200, 409), r.text
                if r.status_code == 200:
                    with lock:
                        ok.append(r.json()["version"])

    threads = [threading.Thread(target=stepper, args=(base,)) for base in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) >= 90  # a 409 only when a change waited past lock_timeout_seconds
    assert sorted(ok) == list(range(2, len(ok) + 2))  # each 2xx made its own version
    for base in (a, b):
        got = httpx.get(f"{base}/api/graphs/{gid}").json()
        assert got["cursor"]["position"] == len(ok) and got["version"] == len(ok) + 1


def test_rate_limits_are_shared_by_the_processes(redis_db):
    with servers(redis_db, rate_create="3/minute") as (urls, _):
        codes = [
            httpx.post(f"{urls[i % 2]}/api/graphs", json=chain_spec(3)).status_code
            for i in range(5)
        ]
    assert codes == [201, 201, 201, 429, 429]


def test_a_process_killed_while_it_holds_a_lock_loses_no_acknowledged_change(redis_db):
    expiry = 2.0
    with servers(redis_db, lock_expiry_seconds=expiry, max_job_seconds=120) as (urls, procs):
        a, b = urls
        state, auth = create(a, {"example": "two_layer"})
        gid = state["id"]
        for _ in range(3):  # acknowledged changes through the process about to die
            assert httpx.post(f"{a}/api/graphs/{gid}/forward", headers=auth).status_code == 200
        started = threading.Event()

        def train():
            started.set()
            with contextlib.suppress(httpx.TransportError):
                httpx.post(f"{a}/api/graphs/{gid}/train", json={"epochs": 40_000},
                           headers=auth, timeout=60)  # fmt: skip

        thread = threading.Thread(target=train, daemon=True)
        thread.start()
        started.wait()
        import redis

        client = redis.Redis.from_url(redis_db)
        deadline = time.monotonic() + 10
        while not client.exists(f"stepgrad:lock:{gid}"):
            assert time.monotonic() < deadline, "the training never took the graph's lock"
            time.sleep(0.01)
        time.sleep(expiry)  # held past its first expiry: the holder renews it
        assert client.exists(f"stepgrad:lock:{gid}")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        # the lock lapses `expiry` after the kill; had it outlived its holder, this step
        # would have been refused (409) after lock_timeout_seconds (30 s)
        r = httpx.post(f"{b}/api/graphs/{gid}/forward", headers=auth, timeout=60)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["cursor"]["position"] == 4 and got["version"] == 5
        assert got["training"] is None  # the killed run was never acknowledged, nor saved
        thread.join(10)
        client.close()


def test_serve_workers_needs_a_shared_store(tmp_path, capsys):
    from stepgrad.app.cli.main import main

    assert main(["serve", "--workers", "2", "--db", str(tmp_path / "g.db")]) == 2
    assert "--store redis://" in capsys.readouterr().err


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
    return out


def cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()
    return b""


def test_serve_workers_runs_processes_that_share_the_graphs(redis_db, tmp_path):
    import subprocess
    import sys

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepgrad.app.cli", "serve", "--workers", "2", "--port", str(port),
         "--store", redis_db, "--db", str(tmp_path / "unused.db")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)
        workers = [p for p in children(proc.pid) if b"spawn_main" in cmdline(p)]
        assert len(workers) == 2  # uvicorn's supervisor spawned its worker processes
        state, auth = create(base, chain_spec(50))
        with httpx.Client(timeout=30) as http:  # new connections: any worker may answer
            for i in range(1, 30):
                r = http.post(f"{base}/api/graphs/{state['id']}/forward", headers=auth)
                assert r.status_code == 200
                with httpx.Client(timeout=30) as fresh:
                    got = fresh.get(f"{base}/api/graphs/{state['id']}").json()
                assert got["cursor"]["position"] == i and got["version"] == i + 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
