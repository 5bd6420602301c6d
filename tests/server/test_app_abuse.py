"""A hostile student against a real server on loopback (issue 11), each attack bounded in
count and time: the server holds.

The server runs in this process (uvicorn in a thread, with `stepgrad serve`'s options from
app.serving), except where a test needs a process of its own (SIGTERM, a second process on
one SQLite file). Per-address limits are exercised from several loopback addresses
(127.0.0.x), as a class would come from several laptops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import ROOT, ServerProcess, auth, chain_spec, read_event, serve, wide_spec


def settings(**overrides):
    from stepgrad.app.settings import Settings

    return Settings(**{"db": ":memory:", **overrides})


@contextlib.contextmanager
def server(**overrides):
    """(base URL, app) of a real server with `stepgrad serve`'s connection options."""
    from stepgrad.app.cli.serve import uvicorn_options
    from stepgrad.app.main import create_app

    s = settings(**overrides)
    app = create_app(s)
    with serve(app, lifespan="on", **uvicorn_options(s)) as base:
        yield base, app


def client(address: str = "127.0.0.1", timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def security_headers_present(response: httpx.Response) -> bool:
    h = response.headers
    return (
        "default-src 'self'" in h.get("content-security-policy", "")
        and "frame-ancestors 'none'" in h.get("content-security-policy", "")
        and "unsafe-inline" not in h.get("content-security-policy", "")
        and h.get("x-content-type-options") == "nosniff"
        and h.get("referrer-policy") == "no-referrer"
    )


# ---- the store: a creation flood ---------------------------------------------------------


def test_a_followed_graph_survives_a_creation_flood_and_the_full_store_says_503():
    with (
        server(max_graphs=40, rate_create="1000/minute", sse_ping_seconds=0.2) as (base, app),
        client() as c,
    ):
        teacher = c.post(f"{base}/api/graphs", json={"example": "seed"}).json()
        gid, h = teacher["id"], auth(teacher["edit_token"])
        for _ in range(3):
            assert c.post(f"{base}/api/graphs/{gid}/forward", headers=h).status_code == 200
        events: list[str] = []
        stop = threading.Event()

        def follow() -> None:
            with (
                client(timeout=None) as f,
                f.stream("GET", f"{base}/api/graphs/{gid}/events") as r,
            ):
                for line in r.iter_lines():  # a ping every 0.2 s: `stop` is seen at once
                    if line.startswith("event:"):
                        events.append(line[7:])
                    if stop.is_set() or line == "event: deleted":
                        return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.02)

        def flood(i: int) -> list[httpx.Response]:
            with client(f"127.0.0.{2 + i}") as a:
                return [a.post(f"{base}/api/graphs", json={"example": "seed"}) for _ in range(20)]

        with ThreadPoolExecutor(4) as pool:
            answers = [r for rs in pool.map(flood, range(4)) for r in rs]
        statuses = [r.status_code for r in answers]
        assert statuses.count(201) == 39 and statuses.count(503) == 41
        full = next(r for r in answers if r.status_code == 503)
        assert "at most 40 graphs" in full.json()["detail"]
        assert int(full.headers["retry-after"]) >= 1 and security_headers_present(full)
        # the teacher's graph is still there, at its position, and its follower never saw it go
        assert c.get(f"{base}/api/graphs/{gid}").json()["cursor"]["position"] == 3
        assert c.post(f"{base}/api/graphs/{gid}/forward", headers=h).status_code == 200
        time.sleep(0.3)
        stop.set()
        follower.join(5)
        assert "deleted" not in events and events.count("state") >= 2
        assert app.state.services.store.count() == 40


def test_a_followed_graph_outlives_the_idle_window_and_an_unused_one_does_not():
    with (
        server(idle_expiry_seconds=1.0, sse_ping_seconds=0.2) as (base, _),
        client() as c,
    ):
        followed = c.post(f"{base}/api/graphs", json={"example": "seed"}).json()["id"]
        unused = c.post(f"{base}/api/graphs", json={"example": "seed"}).json()["id"]
        stop = threading.Event()

        def follow() -> None:
            with (
                client(timeout=10) as f,
                f.stream("GET", f"{base}/api/graphs/{followed}/events") as r,
            ):
                for _ in r.iter_lines():
                    if stop.is_set():
                        return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        time.sleep(1.5)  # nobody reads or changes either graph meanwhile
        assert c.post(f"{base}/api/graphs", json={"example": "seed"}).status_code == 201
        stop.set()
        follower.join(5)
        assert c.get(f"{base}/api/graphs/{followed}").status_code == 200
        assert c.get(f"{base}/api/graphs/{unused}").status_code == 404


def test_creation_and_forks_are_rate_limited_per_address():
    with (
        server(rate_create="4/minute", rate_heavy="3/minute") as (base, _),
        client("127.0.0.2") as a,
        client("127.0.0.3") as b,
    ):
        first = a.post(f"{base}/api/graphs", json={"example": "seed"}).json()
        assert [
            a.post(f"{base}/api/graphs", json={"example": "seed"}).status_code for _ in range(2)
        ] == [201, 201]
        assert a.post(f"{base}/api/graphs/{first['id']}/fork").status_code == 201
        refused = a.post(f"{base}/api/graphs/{first['id']}/fork")
        assert refused.status_code == 429
        assert "the limit is 4 per minute" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert security_headers_present(refused)
        # another address has its own allowance; reads are never limited
        assert b.post(f"{base}/api/graphs/{first['id']}/fork").status_code == 201
        assert all(a.get(f"{base}/api/graphs/{first['id']}").status_code == 200 for _ in range(10))
        gradcheck = f"{base}/api/graphs/{first['id']}/gradcheck"
        assert [a.get(gradcheck).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert b.post(f"{base}/api/race", json={"epochs": 1}).status_code == 200


# ---- work limits: refused with the numbers, or stopped at the budget ---------------------


def test_the_expensive_gradient_check_is_refused_with_the_numbers():
    with server() as (base, _), client() as c:
        gid = c.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]
        r = c.get(f"{base}/api/graphs/{gid}/gradcheck?max_elements=2000")
        # refused from the estimate, with its numbers: before any of the work ran
        assert r.status_code == 413
        detail = r.json()["detail"]
        assert "element operations" in detail and "1,000,000,000" in detail


def test_training_a_long_chain_for_200000_epochs_is_refused_with_the_numbers():
    with server() as (base, _), client() as c:
        state = c.post(f"{base}/api/graphs", json=chain_spec(2000)).json()
        r = c.post(
            f"{base}/api/graphs/{state['id']}/train",
            json={"epochs": 200_000},
            headers=auth(state["edit_token"]),
        )
        assert r.status_code == 413 and "max_train_work" in r.json()["detail"]
        assert c.get(f"{base}/api/graphs/{state['id']}").json()["version"] == 1


def test_a_race_and_a_sort_over_their_limits_are_refused():
    with server() as (base, _), client() as c:
        r = c.post(f"{base}/api/race", json={"hidden": 256, "batch_size": 1, "epochs": 49})
        assert r.status_code == 413 and "max_race_work" in r.json()["detail"]
        nodes = [f"n{i}" for i in range(5000)]
        r = c.post(f"{base}/api/toposort", json={"nodes": nodes, "edges": []})
        assert r.status_code == 413 and len(r.content) < 1000
        assert "12,507,500 node names" in r.json()["detail"]
        chain = [[f"n{i}", f"n{i + 1}"] for i in range(4999)]
        r = c.post(f"{base}/api/toposort", json={"nodes": nodes, "edges": chain})
        assert r.status_code == 200 and r.json()["complete"]


def test_heavy_calls_past_their_time_budget_stop_and_change_nothing():
    with (
        server(max_job_seconds=1.0, max_gradcheck_work=10**15, max_train_work=10**15) as (
            base,
            app,
        ),
        client() as c,
    ):
        wide = c.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]
        # each answer names the budget that stopped its call (the client's 30 s timeout
        # only ends a call that nothing stopped)
        r = c.get(f"{base}/api/graphs/{wide}/gradcheck?max_elements=2000")
        assert r.status_code == 413
        assert "time budget" in r.json()["detail"] and "max_job_seconds" in r.json()["detail"]
        state = c.post(f"{base}/api/graphs", json=chain_spec(2000)).json()
        r = c.post(
            f"{base}/api/graphs/{state['id']}/train",
            json={"epochs": 200_000},
            headers=auth(state["edit_token"]),
        )
        assert r.status_code == 413
        after = c.get(f"{base}/api/graphs/{state['id']}").json()
        assert after["version"] == 1 and after["training"] is None
        assert app.state.services.jobs.busy() == 0


def test_a_heavy_call_stops_when_its_client_goes_away():
    with (
        server(max_job_seconds=120, max_gradcheck_work=10**15) as (base, app),
        client() as c,
    ):
        gid = c.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]
        with pytest.raises(httpx.ReadTimeout):
            c.get(f"{base}/api/graphs/{gid}/gradcheck?max_elements=2000", timeout=1.0)
        deadline = time.monotonic() + 10
        while app.state.services.jobs.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.services.jobs.busy() == 0


def test_the_pool_of_heavy_calls_is_bounded():
    with (
        server(job_workers=1, job_queue=1, max_job_seconds=2.0, max_gradcheck_work=10**15) as (
            base,
            _,
        ),
        client() as c,
    ):
        gid = c.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]
        url = f"{base}/api/graphs/{gid}/gradcheck?max_elements=2000"

        def check(_: int) -> httpx.Response:
            with client() as k:
                return k.get(url)

        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(check, range(3)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [413, 413, 503]
        busy = next(r for r in answers if r.status_code == 503)
        assert "heavy calls" in busy.json()["detail"] and busy.headers["retry-after"]


# ---- fairness: one graph's work does not stall the others -------------------------------


def test_reads_of_another_graph_complete_while_heavy_work_holds_one_and_45_steps_wait(tmp_path):
    # the server in its own process, as deployed: the 46 clients of this test must not
    # compete with it for this process's interpreter lock. Budgets of 60 s: the training
    # holds its graph until this test lets it go. How long the reads take meanwhile is
    # bench/abuse.py's `stall` figure.
    with ServerProcess(
        str(tmp_path / "g.db"),
        max_job_seconds=60.0,
        max_gradcheck_work=10**15,
        max_train_work=10**15,
        lock_timeout_seconds=120.0,
        log_level="warning",
    ) as server:
        reads_complete_during_heavy_work(server.base)


def held_call(base: str, method: str, path: str, headers: dict, body: bytes = b"") -> socket.socket:
    """Send a call on a connection of its own and leave its answer unread: a heavy call runs
    until its budget, or until the connection closes (the server stops a call whose client
    has gone)."""
    host, port = base.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def reads_complete_during_heavy_work(base: str) -> None:
    with client() as c:
        # a training that holds its graph, a gradient check on another: both job workers busy
        busy = c.post(f"{base}/api/graphs", json=chain_spec(2000)).json()
        wide = c.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]
        other = c.post(f"{base}/api/graphs", json={"example": "seed"}).json()["id"]
        hb = auth(busy["edit_token"])
        with c.stream("GET", f"{base}/api/graphs/{busy['id']}/events") as events:
            lines = events.iter_lines()
            training = held_call(
                base, "POST", f"/api/graphs/{busy['id']}/train",
                {**hb, "Content-Type": "application/json"},
                json.dumps({"epochs": 1_000_000}).encode(),
            )  # fmt: skip
            while read_event(lines)[0] != "progress":  # its first epoch: it holds the graph
                pass
        checking = held_call(base, "GET", f"/api/graphs/{wide}/gradcheck?max_elements=2000", {})

        def step(_: int) -> int:
            with client(timeout=150) as k:
                return k.post(f"{base}/api/graphs/{busy['id']}/forward", headers=hb).status_code

        with ThreadPoolExecutor(45) as pool:
            steps = [pool.submit(step, i) for i in range(45)]
            time.sleep(0.3)  # the steps queue behind the training
            for _ in range(20):
                assert c.get(f"{base}/api/graphs/{other}").status_code == 200
            # the reads came back while the training still held its graph: it has not
            # answered, and no step has had its turn
            assert not select.select([training], [], [], 0)[0]
            assert not any(f.done() for f in steps)
            training.close()  # its client gone, the server stops the training
            checking.close()
            results = [f.result() for f in steps]
        assert results == [200] * 45  # then the steps had the graph, each in turn
        final = c.get(f"{base}/api/graphs/{busy['id']}").json()
        assert final["cursor"]["position"] == 45 and final["version"] == 46  # nothing trained


def test_a_change_waiting_too_long_for_a_busy_graph_gets_409_with_retry_after():
    with (
        server(lock_timeout_seconds=0.5, max_train_work=10**15, max_job_seconds=5.0) as (
            base,
            _,
        ),
        client() as c,
    ):
        busy = c.post(f"{base}/api/graphs", json=chain_spec(2000)).json()
        hb = auth(busy["edit_token"])

        def training() -> None:
            with client(timeout=60) as k:
                k.post(f"{base}/api/graphs/{busy['id']}/train", json={"epochs": 300}, headers=hb)

        t = threading.Thread(target=training, daemon=True)
        t.start()
        time.sleep(0.5)
        r = c.post(f"{base}/api/graphs/{busy['id']}/forward", headers=hb)
        assert r.status_code == 409 and r.headers["retry-after"]
        assert "busy" in r.json()["detail"]
        t.join(30)


# ---- connections and bodies --------------------------------------------------------------


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it stayed open."""
    got = b""
    try:
        async with asyncio.timeout(seconds):
            while chunk := await reader.read(65536):
                got += chunk
        return got
    except TimeoutError:
        return None
    except OSError:
        return got


def test_a_slow_body_slow_headers_and_an_idle_connection_are_cut_off():
    with server(body_timeout_seconds=1.0, header_timeout_seconds=1.0) as (base, _):
        port = int(base.rsplit(":", 1)[1])

        async def attack():
            async def connection(send: bytes, trickle: bytes | None) -> bytes | None:
                """Send `send`, then `trickle` every 0.4 s: what the server answered before
                closing, or None if it was still open after 30 s (each is cut after 1 s)."""
                r, w = await asyncio.open_connection("127.0.0.1", port)
                try:
                    w.write(send)
                    for _ in range(75):
                        if trickle:
                            with contextlib.suppress(OSError):
                                w.write(trickle)
                                await w.drain()
                        got = await _closed_within(r, 0.4)
                        if got is not None:
                            return got
                    return None
                finally:
                    w.close()

            return await asyncio.gather(
                connection(
                    b"POST /api/graphs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    b"\r\nContent-Length: 100\r\n\r\n",
                    b" ",
                ),
                connection(b"GET /api/health HTTP/1.1\r\nHost: x\r\n", b"X"),
                connection(b"", None),
            )

        body, headers, idle = asyncio.run(attack())
        assert body is not None and body.startswith(b"HTTP/1.1 408")
        assert b"did not arrive within 1 s" in body and b"content-security-policy" in body
        assert headers is not None and idle is not None
        assert httpx.get(f"{base}/api/health").status_code == 200


def test_a_body_over_the_limit_gets_its_413_sentence_not_a_reset():
    # the rest of the body arrives after the server has decided: a server that answered
    # and closed with it unread would make the kernel reset the connection, and the
    # client would lose the sentence
    with server(max_body_bytes=1000) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        for declared in (3000, None):
            body = b'{"name": "' + b"x" * 2988 + b'"}'
            head = b"POST /api/graphs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            head += (
                b"Content-Length: %d\r\n\r\n" % declared
                if declared
                else b"Transfer-Encoding: chunked\r\n\r\n"
            )
            parts = [body[:1500], body[1500:]]
            if not declared:
                parts = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(head + parts[0])
                time.sleep(0.3)  # the server has seen enough to refuse
                for part in parts[1:]:
                    sock.sendall(part)
                    time.sleep(0.1)
                answer = b""
                while b"}" not in answer:
                    chunk = sock.recv(65536)
                    assert chunk, answer
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert b"larger than the limit of 1000 bytes" in answer


def test_a_flood_of_half_sent_bodies_is_bounded_and_its_memory_released():
    with server(max_buffered_body_bytes=3_000_000, body_timeout_seconds=2.0) as (base, app):
        port = int(base.rsplit(":", 1)[1])

        async def answer(reader: asyncio.StreamReader) -> bytes | None:
            """What the server sent before closing the connection (nothing after a reset:
            refused while still sending), or None if it was still open after 30 s."""
            got = b""
            try:
                async with asyncio.timeout(30):
                    while chunk := await reader.read(65536):
                        got += chunk
            except TimeoutError:
                return None
            except OSError:
                pass
            return got

        async def attack():
            head = (
                b"POST /api/graphs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000\r\n\r\n"
            )
            readers = []
            for i in range(6):
                r, w = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(f"127.0.0.{2 + i}", 0)
                )
                w.write(head + b" " * 500_000)  # half of what each declares, then nothing
                await w.drain()
                readers.append((r, w))
                await asyncio.sleep(0.05)
            answers = await asyncio.gather(*(answer(r) for r, _ in readers))
            for _, w in readers:
                w.close()
            return answers

        answers = asyncio.run(attack())
        # three fit in the budget and are cut off at the body deadline; the others are
        # refused, never buffered (503, or a reset when the refusal lands while they still
        # send): one held until the deadline would get a 408 too
        assert None not in answers, answers
        timed_out = [got for got in answers if got.startswith(b"HTTP/1.1 408")]
        assert len(timed_out) == 3, answers
        refused = [got for got in answers if not got.startswith(b"HTTP/1.1 408")]
        assert all(got.startswith(b"HTTP/1.1 503") or not got for got in refused), answers
        body_mw = app.middleware_stack
        while not hasattr(body_mw, "buffered"):
            body_mw = body_mw.app
        assert body_mw.buffered == 0  # every reservation given back
        r = httpx.post(f"{base}/api/graphs", json={"example": "seed"})
        assert r.status_code == 201


def test_event_streams_are_capped_per_address_and_in_all():
    with (
        # one address may hold at most 40 % of the streams: 2 of 5
        server(max_streams_per_address=2, max_streams=5, sse_ping_seconds=0.5) as (base, app),
        client() as c,
    ):
        gid = c.post(f"{base}/api/graphs", json={"example": "seed"}).json()["id"]
        url = f"{base}/api/graphs/{gid}/events"
        stack = contextlib.ExitStack()
        with stack:

            def open_stream(address: str) -> httpx.Response:
                k = stack.enter_context(client(address, timeout=10))
                return stack.enter_context(k.stream("GET", url))

            a1, a2, a3 = (open_stream("127.0.0.2") for _ in range(3))
            assert (a1.status_code, a2.status_code, a3.status_code) == (200, 200, 429)
            assert "max_streams_per_address" in a3.read().decode() and a3.headers["retry-after"]
            b1, b2 = open_stream("127.0.0.3"), open_stream("127.0.0.3")
            c1 = open_stream("127.0.0.4")
            assert (b1.status_code, b2.status_code, c1.status_code) == (200, 200, 200)
            d1 = open_stream("127.0.0.5")
            assert d1.status_code == 503
            assert "max_streams" in d1.read().decode()
            a1.close()
            deadline = time.monotonic() + 5
            while app.state.services.streams.count() > 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert open_stream("127.0.0.5").status_code == 200


# ---- headers ---------------------------------------------------------------------------


def test_every_response_carries_the_security_headers():
    with (
        server(rate_create="4/minute", max_body_bytes=1000) as (base, _),
        client() as c,
    ):
        g = c.post(
            f"{base}/api/graphs",
            json={
                "name": "<script>alert(1)</script>",
                "nodes": [{"id": "x", "op": "param", "value": 1.0}],
            },
        ).json()
        answers = [
            c.get(f"{base}/"),
            c.get(f"{base}/g/{g['id']}"),
            c.get(f"{base}/lessons/day1"),
            c.get(f"{base}/api/health"),
            c.get(f"{base}/api/graphs/nope"),
            c.get(f"{base}/static/js/api.js"),
            c.get(f"{base}/static/js/lang.js"),
            c.get(f"{base}/api/graphs/{g['id']}/export?format=dot"),
            c.post(f"{base}/api/graphs", content=b"x" * 2000),  # 413 from the body check
            c.post(f"{base}/api/graphs", json={"nodes": []}),  # 422
            c.post(f"{base}/api/graphs", json={"example": "seed"}),
            c.post(f"{base}/api/graphs", json={"example": "seed"}),  # 429
        ]
        assert [r.status_code for r in answers] == [
            200, 200, 200, 200, 404, 200, 200, 200, 413, 422, 201, 429,
        ]  # fmt: skip
        for r in answers:
            assert security_headers_present(r), (r.url, r.headers)
        dot = answers[7]
        assert dot.headers["content-type"].startswith("text/vnd.graphviz")
        assert "<script>" in dot.text  # echoed as text, never sniffed as HTML
        with c.stream("GET", f"{base}/api/graphs/{g['id']}/events") as r:
            assert security_headers_present(r)
        page = answers[0].text
        assert "<script>" not in page and " style=" not in page  # no inline script or style
        docs = c.get(f"{base}/docs")
        assert docs.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


# ---- processes ---------------------------------------------------------------------------


def test_sigterm_ends_the_server_within_seconds_during_heavy_work(tmp_path):
    with ServerProcess(
        str(tmp_path / "g.db"),
        max_gradcheck_work=10**15,
        max_job_seconds=300,
        shutdown_grace_seconds=1,
    ) as server:
        base = server.base
        gid = httpx.post(f"{base}/api/graphs", json=wide_spec()).json()["id"]

        def check() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{base}/api/graphs/{gid}/gradcheck?max_elements=2000", timeout=60)

        threading.Thread(target=check, daemon=True).start()
        time.sleep(1.0)
        # None: it had to be killed; a server that waited for its work would take 300 s
        assert server.stop(limit=30) is not None


def test_a_second_process_on_the_same_sqlite_file_refuses_to_start(tmp_path):
    db = str(tmp_path / "g.db")
    with ServerProcess(db) as first:
        with contextlib.closing(ServerProcess(db)) as second:
            assert second.proc.wait(timeout=20) != 0
            text = second.output()
        assert f"the SQLite file {db}" in text and "STEPGRAD_STORE=redis://" in text
        # refused before it says where it listens: no link to open, no traceback, one line
        assert "http://" not in text and "Traceback" not in text
        assert text.strip().count("\n") == 0, text
        assert httpx.get(f"{first.base}/api/health").status_code == 200  # the first goes on
        assert first.stop(limit=15) is not None
    # once the first has gone, the file is free again
    with ServerProcess(db) as again:
        assert httpx.get(f"{again.base}/api/health").status_code == 200


def test_stores_of_one_process_share_the_file_and_another_process_is_refused(tmp_path):
    from stepgrad.app.storage.sqlite_store import SQLiteStore

    path = str(tmp_path / "g.db")
    one, two = SQLiteStore(path), SQLiteStore(path)
    one.count(), two.count()  # both open in this process (tests, a restart)
    probe = (
        "import sys\nfrom stepgrad.app.storage.sqlite_store import SQLiteStore\n"
        "try:\n    SQLiteStore(sys.argv[1]).count()\nexcept Exception as e:\n    print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, path, str(ROOT)], capture_output=True, text=True, timeout=30
    ).stdout
    assert "Another stepgrad server process is using the SQLite file" in out
    one.close()
    two.close()
    out = subprocess.run(
        [sys.executable, "-c", probe, path, str(ROOT)], capture_output=True, text=True, timeout=30
    ).stdout
    assert out == ""
    memory = [SQLiteStore(":memory:") for _ in range(2)]
    assert [m.count() for m in memory] == [0, 0]  # in memory: nothing to share, no lock
    for m in memory:
        m.close()
