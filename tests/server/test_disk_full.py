"""A full disk under the SQLite store (contract v1.2): every write answers 507 with a
sentence and Retry-After and keeps nothing of itself, reads go on, and writes succeed again
once there is room, with no restart. The disk is a real one: a 4 MiB tmpfs (mounted as
root), filled by a file; the server is a real `stepgrad serve` process on it."""

from __future__ import annotations

import sqlite3
import time

import httpx

from tests.helpers import ServerProcess, auth, fill_disk, small_disk

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
            assert call("DELETE", f"{base}/api/graphs/{b}", token_b).status_code == 204
            output = server.output()
            assert server.stop(limit=15) is not None
        assert "Traceback" not in output and " 500" not in output, output
        assert 500 not in STATUSES and STATUSES.count(507) == 7
        # the file is whole, and holds exactly what was acknowledged
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = dict(conn.execute("SELECT id, version FROM graphs").fetchall())
            answers = conn.execute("SELECT COUNT(*) FROM quiz_answers").fetchone()[0]
        conn.close()
        assert rows == {a: 3, c: 1} and answers == 2
