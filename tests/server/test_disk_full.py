"""A full disk under the SQLite store (contract v1.2): every write answers 507 with a
sentence and Retry-After and keeps nothing of itself, reads go on, and writes succeed again
once there is room, with no restart. The disk is a real one: a 4 MiB tmpfs (mounted as
root), filled by a file; the server is a real `stepgrad serve` process on it. Redis out of
memory (or unable to persist) is refused the same way."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from stepgrad.app.main import create_app
from stepgrad.app.settings import Settings
from stepgrad.app.storage.sqlite_store import disk_full
from tests.helpers import (
    IN_CI,
    ServerProcess,
    TestClient,
    auth,
    fill_disk,
    redis_server,
    redis_server_path,
    small_disk,
)

STATUSES: list[int] = []  # every answer the server gave in the test


def call(method: str, url: str, token: str | None = None, body: dict | None = None):
    r = httpx.request(method, url, json=body, headers=auth(token) if token else {}, timeout=30)
    STATUSES.append(r.status_code)
    return r


def refused_for_the_disk(r: httpx.Response) -> None:
    assert r.status_code == 507, r.text
    assert int(r.headers["Retry-After"]) > 0
    detail = r.json()["detail"]
    assert "disk is full" in detail and "not saved" in detail and detail.endswith(".")


def test_a_full_disk_refuses_writes_with_507_keeps_reading_and_recovers(tmp_path):
    STATUSES.clear()
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "graphs.db"
        # max_loaded_graphs 1: reading the other graph reloads it from the full disk's file;
        # idle_expiry 30 s: a graph read 3 s after its last recorded use is touched (a write)
        settings = {"max_loaded_graphs": 1, "idle_expiry_seconds": 30, "log_level": "info"}
        with ServerProcess(str(db), **settings) as server:
            base = server.base
            made = []
            for _ in range(2):
                r = call("POST", f"{base}/api/graphs", body={"example": "seed"})
                assert r.status_code == 201, r.text
                made.append((r.json()["id"], r.json()["edit_token"]))
            (a, token), (b, token_b) = made
            r = call("POST", f"{base}/api/graphs/{a}/forward", token, {"steps": 2})
            assert r.status_code == 200
            room = call("POST", f"{base}/api/rooms", body={"lesson": "day1"}).json()
            room_before = call("GET", f"{base}/api/rooms/{room['id']}").json()
            quiz = call(
                "POST",
                f"{base}/api/graphs/{a}/quiz",
                token,
                {"node": "sigmoid", "quantity": "value"},
            )
            assert quiz.status_code == 201
            quiz_id = quiz.json()["quiz_id"]
            answer = {"quiz_id": quiz_id, "answer": 0.5, "client": "student-0001"}
            assert (
                call("POST", f"{base}/api/graphs/{a}/quiz/answers", body=answer).status_code == 201
            )
            before = {g: call("GET", f"{base}/api/graphs/{g}").json() for g in (a, b)}
            assert before[a]["version"] == 2 and before[a]["cursor"]["position"] == 2

            filler = disk / "filler"
            assert fill_disk(filler) > 0

            # every kind of write: nothing kept, a sentence, Retry-After
            refused_for_the_disk(call("POST", f"{base}/api/graphs", body={"example": "seed"}))
            refused_for_the_disk(
                call("POST", f"{base}/api/graphs/{a}/forward", token, {"steps": 1})
            )
            refused_for_the_disk(call("POST", f"{base}/api/graphs/{a}/reset", token))
            refused_for_the_disk(
                call("POST", f"{base}/api/graphs/{b}/forward", token_b, {"all": True})
            )
            question = {"node": "sigmoid", "quantity": "grad"}
            refused_for_the_disk(call("POST", f"{base}/api/graphs/{a}/quiz", token, question))
            again = {**answer, "client": "student-0002"}
            refused_for_the_disk(call("POST", f"{base}/api/graphs/{a}/quiz/answers", body=again))
            refused_for_the_disk(call("DELETE", f"{base}/api/graphs/{a}", token))
            refused_for_the_disk(call("POST", f"{base}/api/rooms", body={"lesson": "day1"}))
            to_step = {"step": room_before["step"] + 1}
            room_url = f"{base}/api/rooms/{room['id']}"
            refused_for_the_disk(call("PUT", room_url, room["edit_token"], to_step))
            assert call("GET", room_url).json() == room_before

            # reads go on, from memory and from the file, and show nothing half-written;
            # until a read has been recorded (touched) while the disk was full
            deadline = time.monotonic() + 60
            while True:
                for g in (a, b):  # one graph held in memory: each read reloads the other
                    r = call("GET", f"{base}/api/graphs/{g}")
                    assert r.status_code == 200, r.text
                    assert r.json() == before[g]
                q = call("GET", f"{base}/api/graphs/{a}/quiz")
                assert q.status_code == 200 and q.json()["answers"] == 1
                if "uses of graphs go unrecorded" in server.output():
                    break
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.2)

            # room again: the same calls succeed, with no restart
            filler.unlink()
            r = call("POST", f"{base}/api/graphs/{a}/forward", token, {"steps": 1})
            assert r.status_code == 200, r.text
            assert r.json()["version"] == 3 and r.json()["cursor"]["position"] == 3
            r = call("POST", f"{base}/api/graphs/{a}/quiz/answers", body=again)
            assert r.status_code == 201 and r.json()["answers"] == 2
            r = call("POST", f"{base}/api/graphs", body={"example": "seed"})
            assert r.status_code == 201, r.text
            c = r.json()["id"]
            r = call("PUT", room_url, room["edit_token"], to_step)
            assert r.status_code == 200 and r.json()["step"] == to_step["step"], r.text
            assert call("DELETE", f"{base}/api/graphs/{b}", token_b).status_code == 204
            output = server.output()
            assert server.stop(limit=15) is not None
        assert "Traceback" not in output and " 500" not in output, output
        assert 500 not in STATUSES and STATUSES.count(507) == 9
        # the file is whole, and holds exactly what was acknowledged
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = dict(conn.execute("SELECT id, version FROM graphs").fetchall())
            answers = conn.execute("SELECT COUNT(*) FROM quiz_answers").fetchone()[0]
        conn.close()
        assert rows == {a: 3, c: 1} and answers == 2


def test_sqlite_errors_are_a_full_disk_only_when_the_disk_is_full(tmp_path):
    def error(text: str, code: int) -> sqlite3.OperationalError:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        return exc

    full, write_failed = error("database or disk is full", 13), error("disk I/O error", 778)
    locked = error("database is locked", 5)
    roomy = str(tmp_path / "graphs.db")
    assert disk_full(full, roomy) and not disk_full(write_failed, roomy)
    assert not disk_full(locked, roomy) and not disk_full(write_failed, ":memory:")
    with small_disk(tmp_path / "disk", size="1m") as disk:
        fill_disk(disk / "filler")
        packed = str(disk / "graphs.db")
        assert disk_full(write_failed, packed) and not disk_full(locked, packed)


def test_redis_out_of_memory_refuses_a_step_with_507_reads_go_on_and_it_recovers():
    redis = pytest.importorskip("redis")
    if redis_server_path() is None:
        if IN_CI:
            pytest.fail("redis-server is required under CI=true (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_server() as url, TestClient(create_app(Settings(db=":memory:", store=url))) as c:
        r = c.post("/api/graphs", json={"example": "seed"})
        gid, h = r.json()["id"], auth(r.json()["edit_token"])
        before = c.get(f"/api/graphs/{gid}").json()
        admin = redis.Redis.from_url(url)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)  # every write is over the limit: OOM
        try:
            refused_for_the_store(
                c.post(f"/api/graphs/{gid}/forward", json={"steps": 1}, headers=h)
            )
            refused_for_the_store(c.delete(f"/api/graphs/{gid}", headers=h))
            r = c.get(f"/api/graphs/{gid}")
            assert r.status_code == 200 and r.json() == before
        finally:
            admin.config_set("maxmemory", 0)
            admin.close()
        r = c.post(f"/api/graphs/{gid}/forward", json={"steps": 1}, headers=h)
        assert r.status_code == 200 and r.json()["version"] == before["version"] + 1


def refused_for_the_store(r) -> None:
    assert r.status_code == 507, r.text
    assert int(r.headers["Retry-After"]) > 0
    detail = r.json()["detail"]
    assert "(Redis) is full or cannot save to its disk" in detail and "not saved" in detail
