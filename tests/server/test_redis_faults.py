"""Redis faults, with real redis-server processes of the tests' own: stalled (SIGSTOP: it
accepts connections and answers nothing), killed (connections refused) and started again.

While Redis is stalled, and other clients keep calling what needs it, the server still
answers its health and reads of graphs it holds in memory, and refuses the rest quickly
with the store's 503 sentence; a follower that connects while Redis is down, and every later
one, gets the graph's events once Redis is back, and no stream slot is left behind.
`stepgrad serve` says at start what Redis's persistence and eviction settings risk.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.helpers import RedisProcess, ServerProcess, SSEReader, chain_spec, redis_server_path

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed"),
]

STORE_DOWN = "The graph store (Redis) cannot be reached just now; try again shortly."


def create(base: str, spec: dict) -> tuple[dict, dict]:
    r = httpx.post(f"{base}/api/graphs", json=spec, timeout=30)
    assert r.status_code == 201, r.text
    state = r.json()
    return state, {"Authorization": f"Bearer {state['edit_token']}"}


def step_until_ok(base: str, gid: str, auth: dict, attempts: int = 60) -> dict:
    """A forward step, tried again while the server answers 503 (Redis coming back)."""
    for _ in range(attempts):
        r = httpx.post(f"{base}/api/graphs/{gid}/forward", headers=auth, timeout=30)
        if r.status_code != 503:
            assert r.status_code == 200, r.text
            return r.json()
        retry = float(r.headers.get("retry-after", "1"))
        threading.Event().wait(min(retry, 0.5))
    raise AssertionError("the step was refused with 503 every time")


def test_health_and_reads_in_memory_answer_while_redis_is_stalled():
    with (
        RedisProcess() as redis,
        ServerProcess(store=redis.url, rate_create="100000/minute") as server,
    ):
        base = server.base
        state, auth = create(base, chain_spec(20))
        gid = state["id"]
        held = httpx.get(f"{base}/api/graphs/{gid}", timeout=30).json()  # now in memory
        redis.stall()
        stop = threading.Event()
        seen: list[int] = []

        def pester(kind: str) -> None:
            # what needs Redis, over and over: creations (the rate limiter and the store) and
            # stream connects, each of which used to hold the event loop until Redis answered
            with httpx.Client(timeout=60) as http:
                while not stop.is_set():
                    try:
                        if kind == "create":
                            r = http.post(f"{base}/api/graphs", json=chain_spec(3))
                        else:
                            r = http.get(f"{base}/api/graphs/{gid}/events?max_events=1")
                        seen.append(r.status_code)
                    except httpx.HTTPError:
                        pass

        threads = [threading.Thread(target=pester, args=(k,)) for k in ("create", "stream") * 2]
        for t in threads:
            t.start()
        try:
            # behaviour, not speed: these are asked while Redis answers nothing and others
            # keep calling it; Redis is resumed only after they answered (or timed out)
            health = httpx.get(f"{base}/api/health", timeout=30)
            read = httpx.get(f"{base}/api/graphs/{gid}", timeout=30)
            step = httpx.post(f"{base}/api/graphs/{gid}/forward", headers=auth, timeout=30)
            made = httpx.post(f"{base}/api/graphs", json=chain_spec(3), timeout=30)
            follower = SSEReader(f"{base}/api/graphs/{gid}/events", {"format": "patch"})
            connected = follower.wait_for(lambda ev: len(ev) >= 1)
            still_stalled = redis.stalled and redis.proc.poll() is None
        finally:
            stop.set()
            redis.resume()
            for t in threads:
                t.join(60)
        assert still_stalled
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert read.status_code == 200 and read.json() == held  # the graph held in memory
        for refused in (step, made):
            assert refused.status_code == 503, refused.text
            assert refused.json()["detail"] == STORE_DOWN and refused.headers["retry-after"]
        assert 503 in seen  # the others were refused too, not held
        # Redis back: the step goes through, and reads see it
        stepped = step_until_ok(base, gid, auth)
        assert stepped["version"] == held["version"] + 1
        now = httpx.get(f"{base}/api/graphs/{gid}", timeout=30).json()
        assert now["version"] == stepped["version"]
        # the follower that connected during the stall was served the graph in memory, and
        # gets the step made once Redis answered again
        try:
            assert connected and follower.events[0] == ("state", held)
            assert follower.wait_for(lambda ev: stepped["version"] in _versions(ev))
        finally:
            follower.close()


def test_followers_connecting_while_redis_is_down_get_events_once_it_is_back(live_server):
    from stepgrad.app.main import create_app
    from stepgrad.app.services import services_of
    from stepgrad.app.settings import Settings

    with RedisProcess("--appendonly", "yes", "--appendfsync", "always") as redis:
        app = create_app(Settings(db=":memory:", store=redis.url))
        services = services_of(app)
        base = live_server(app)
        state, auth = create(base, chain_spec(30))
        gid = state["id"]
        url = f"{base}/api/graphs/{gid}/events"
        readers = []
        try:
            before = SSEReader(url, {"format": "patch"})  # connected before the outage
            readers.append(before)
            assert before.wait_for(lambda ev: len(ev) >= 1)
            stepped = step_until_ok(base, gid, auth)
            assert before.wait_for(lambda ev: stepped["version"] in _versions(ev))
            redis.kill()
            # a follower connecting during the outage is served the graph held in memory
            during = [SSEReader(url, {"format": fmt}) for fmt in ("patch", "state", "patch")]
            readers += during
            for reader in during:
                assert reader.wait_status() == 200
                assert reader.wait_for(lambda ev: len(ev) >= 1)
                assert reader.events[0][0] == "state"
            # one that needs the store (a graph not in memory) is refused, its slot given back
            gone = httpx.get(f"{base}/api/graphs/not-in-memory/events", timeout=30)
            assert gone.status_code == 503 and gone.json()["detail"] == STORE_DOWN
            assert services.streams.count() == 4
            redis.start()  # the same port and directory: the graph survived
            stepped = step_until_ok(base, gid, auth)
            after = SSEReader(url, {"format": "patch"})  # connected once Redis is back
            readers.append(after)
            assert after.wait_for(lambda ev: len(ev) >= 1)
            for reader in (before, *during):
                assert reader.wait_for(lambda ev: stepped["version"] in _versions(ev)), (
                    reader.events
                )
            again = step_until_ok(base, gid, auth)
            for reader in readers:  # and the next step, as it happens
                assert reader.wait_for(lambda ev: again["version"] in _versions(ev)), reader.events
            final = httpx.get(f"{base}/api/graphs/{gid}", timeout=30).json()
            assert final["version"] == again["version"]
        finally:
            for reader in readers:
                reader.close()
        # every stream's slot and subscription is given back
        assert _eventually(lambda: services.streams.count() == 0)
        assert _eventually(lambda: services.bus.count() == 0)


def test_a_server_started_while_redis_is_down_serves_once_it_is_up():
    redis = RedisProcess("--appendonly", "yes")  # not started yet
    try:
        with ServerProcess(store=redis.url) as server:
            base = server.base
            assert httpx.get(f"{base}/api/health", timeout=30).status_code == 200
            r = httpx.post(f"{base}/api/graphs", json=chain_spec(3), timeout=30)
            assert r.status_code == 503 and r.json()["detail"] == STORE_DOWN
            assert "cannot be reached now" in server.output()
            redis.start()
            for _ in range(60):
                r = httpx.post(f"{base}/api/graphs", json=chain_spec(3), timeout=30)
                if r.status_code != 503:
                    break
                threading.Event().wait(0.5)
            assert r.status_code == 201, r.text
    finally:
        redis.__exit__(None, None, None)


def _versions(events) -> list[int]:
    return [d["version"] for _, d in events if isinstance(d, dict) and "version" in d]


def _eventually(check, timeout: float = 30.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.1)):
        if check():
            return True
        done.wait(0.1)
    return check()


# ---- what serve says at start --------------------------------------------------------------


def test_the_start_up_check_names_what_redis_without_persistence_risks():
    from stepgrad.app.storage.redis_store import check_redis_config

    with RedisProcess("--appendonly", "no", "--save", "") as redis:
        (warning,) = check_redis_config(redis.url)
    assert "loses every graph" in warning and '"may have expired"' in warning
    assert "appendonly yes" in warning
    with RedisProcess("--appendonly", "no", "--save", "60 1") as redis:
        (warning,) = check_redis_config(redis.url)
    assert "snapshots" in warning and "appendonly yes" in warning
    with RedisProcess("--appendonly", "yes") as redis:
        assert check_redis_config(redis.url) == []


def test_the_start_up_check_names_an_evicting_policy():
    from stepgrad.app.storage.redis_store import check_redis_config

    with RedisProcess(
        "--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"
    ) as redis:
        (warning,) = check_redis_config(redis.url)
    assert "maxmemory-policy allkeys-lru" in warning and "noeviction" in warning
    assert "67108864 bytes" in warning


def test_the_start_up_check_says_when_it_could_not_check():
    from stepgrad.app.storage.redis_store import check_redis_config

    # a managed Redis often refuses CONFIG
    with RedisProcess("--rename-command", "CONFIG", '""') as redis:
        (warning,) = check_redis_config(redis.url)
    assert warning.startswith("could not check") and "appendonly yes" in warning


def test_serve_prints_the_warning_and_starts_anyway():
    with (
        RedisProcess("--appendonly", "no", "--save", "") as redis,
        ServerProcess(store=redis.url) as server,
    ):
        assert httpx.get(f"{server.base}/api/health", timeout=30).status_code == 200
        out = server.output()
    assert "stepgrad: warning: Redis at redis://127.0.0.1:" in out
    assert "loses every graph" in out
