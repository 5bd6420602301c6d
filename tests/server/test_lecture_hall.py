"""A lecture hall behind one address (issue 21), with the default limits: a real
`stepgrad serve --proxy-headers --forwarded-allow-ips 127.0.0.1` behind a real nginx
(docs/DEPLOY.md's configuration), 1,000 students at one address (127.0.0.3) following one
graph and answering its quiz, and a follower that stops reading.

The students are raw asyncio connections (tests.helpers.RawEventStream), so that one test
process can hold a thousand; it lifts its own limit on open files to do so.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from tests.helpers import (
    ROOT,
    CommandServer,
    RawEventStream,
    ServerProcess,
    auth,
    layered_graph,
    nginx_proxy,
    raise_open_files,
    raw_request,
    require_nginx,
)

pytestmark = pytest.mark.timeout(600)

STUDENTS = 1000
HALL = "127.0.0.3"  # the school network's one address, as nginx sees it
TEACHER = "127.0.0.5"
STEPS = 3  # small: the test must pass on two loaded cores


async def read_until(stream: RawEventStream, versions: set[int]) -> dict[int, str]:
    """Read `stream` until it has brought each of `versions`: {version: event name} of every
    state or patch it sent (quiz events between them are skipped)."""
    got: dict[int, str] = {}
    while not versions <= got.keys():
        name, data = await stream.event()
        if name in ("state", "patch"):
            got[json.loads(data)["version"]] = name
    return got


def test_a_lecture_hall_behind_one_address_follows_every_step_and_answers(tmp_path):
    require_nginx()
    # 1,000 streams and 1,000 answers at once, each a socket of this process
    assert raise_open_files(2 * STUDENTS + 100) >= 2 * STUDENTS + 100, "too few open files"
    args = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    with CommandServer(*args, log_level="warning") as server:
        try:
            with nginx_proxy(server.base, tmp_path / "nginx", 2 * STUDENTS + 50) as front:
                asyncio.run(lecture(front))
        finally:
            server.stop()


async def lecture(front: str) -> None:
    status, body = await raw_request(
        f"{front}/api/graphs", "POST", {"example": "seed"}, address=TEACHER
    )
    assert status == 201, body
    graph = json.loads(body)
    gid, teacher = graph["id"], auth(graph["edit_token"])
    url = f"{front}/api/graphs/{gid}"

    students = [RawEventStream(f"{url}/events?format=patch", HALL) for _ in range(STUDENTS)]
    try:
        await asyncio.gather(*(s.connect() for s in students))
        refused = [(s.status, s.body[:200]) for s in students if s.status != 200]
        assert not refused, f"{len(refused)} of {STUDENTS} refused, e.g. {refused[:3]}"
        first = await asyncio.gather(*(read_until(s, {graph["version"]}) for s in students))
        assert all(got == {graph["version"]: "state"} for got in first)

        # the teacher asks; the whole hall answers at once, each browser its own `client`
        status, body = await raw_request(
            f"{url}/quiz", "POST", {"node": "loss", "quantity": "value"}, teacher, TEACHER
        )
        assert status == 201, body
        quiz_id = json.loads(body)["quiz_id"]
        answers = await asyncio.gather(
            *(
                raw_request(
                    f"{url}/quiz/answers",
                    "POST",
                    {"quiz_id": quiz_id, "answer": 0.001 * i, "client": f"student-{i:05d}"},
                    address=HALL,
                )
                for i in range(STUDENTS)
            )
        )
        statuses = [status for status, _ in answers]
        assert statuses.count(201) == STUDENTS, {s: statuses.count(s) for s in set(statuses)}
        status, body = await raw_request(f"{url}/quiz", address=TEACHER)
        assert json.loads(body)["answers"] == STUDENTS

        # the teacher steps; every student receives every step
        versions = set()
        for _ in range(STEPS):
            status, body = await raw_request(
                f"{url}/forward", "POST", {"steps": 1}, teacher, TEACHER
            )
            assert status == 200, body
            versions.add(json.loads(body)["version"])
        got = await asyncio.wait_for(
            asyncio.gather(*(read_until(s, versions) for s in students)), timeout=300
        )
        assert all(set(g) >= versions for g in got)
        # in order, as patches: none fell behind far enough to be resynced
        assert all(all(g[v] == "patch" for v in versions) for g in got)
    finally:
        for s in students:
            await s.aclose()


def test_a_follower_that_stops_reading_is_resynced_not_buffered():
    """One follower stops reading a 2,000-node graph's state events while the teacher steps
    on: the server stops writing to it (its buffers full) and keeps at most sse_queue_size
    events for it, so its memory stops growing; another follower gets every step; when the
    stalled one reads again it gets what was already sent, then the current state."""
    with ServerProcess(log_level="warning") as server:
        spec = layered_graph(2000)
        asyncio.run(stalled(server, spec))


async def stalled(server: ServerProcess, spec: dict) -> None:
    status, body = await raw_request(f"{server.base}/api/graphs", "POST", spec)
    assert status == 201, body[:300]
    graph = json.loads(body)
    state_bytes = len(body)
    gid, teacher = graph["id"], auth(graph["edit_token"])
    url = f"{server.base}/api/graphs/{gid}"

    # the stalled follower's reader stops taking bytes from its socket past 8 KiB
    stalled = RawEventStream(f"{url}/events", "127.0.0.2")
    reading = RawEventStream(f"{url}/events", "127.0.0.4")
    assert await stalled.connect(read_limit=4096) == 200
    assert await reading.connect() == 200
    seen: list[int] = []

    async def keep_reading() -> None:
        while True:
            name, data = await reading.event()
            if name == "state":
                seen.append(json.loads(data)["version"])

    reader = asyncio.create_task(keep_reading())
    version = graph["version"]

    async def steps(count: int) -> None:
        nonlocal version
        for _ in range(count):
            status, body = await raw_request(f"{url}/forward", "POST", {"steps": 1}, teacher)
            assert status == 200, body[:300]
            version = json.loads(body)["version"]

    try:
        # enough steps to fill the kernel's buffers (a few states), uvicorn's and the
        # follower's queue (sse_queue_size, 64)
        await steps(80)
        before = server.rss_mib()
        await steps(100)
        after = server.rss_mib()
        # buffered, 100 states would have cost 100 x state_bytes (about 65 MiB)
        assert after - before < 0.2 * 100 * state_bytes / 2**20, (before, after, state_bytes)
        while not seen or seen[-1] != version:  # the reading follower is there at once
            await asyncio.sleep(0.1)
        assert seen == sorted(seen)

        # reading again: what was sent before the stall, then the state now
        got: list[int] = []
        while not got or got[-1] != version:
            name, data = await asyncio.wait_for(stalled.event(), timeout=60)
            assert name == "state"
            got.append(json.loads(data)["version"])
        assert got == sorted(got)
        # not the 180 states the teacher's steps made: those sent before the stall, then
        # the current one
        assert len(got) < 60 and got[-2] < version - 60, got
    finally:
        reader.cancel()
        await stalled.aclose()
        await reading.aclose()


def test_serve_raises_its_open_file_limit_and_says_when_it_is_too_low():
    """`stepgrad serve` lifts its soft limit on open files to the hard one (the usual soft
    1,024 is below max_connections); it warns when even the hard one is too low."""
    code = (
        "import resource\n"
        "from stepgrad.app.cli.serve import open_files_warning, raise_open_files\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))\n"
        "print(raise_open_files() == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(open_files_warning(hard, 4000) is None or hard < 4100)\n"
        "print(open_files_warning(1024, 4000))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[:2] == ["True", "True"]
    assert "may open 1024 files" in out[2] and "max_connections (4000)" in out[2]
