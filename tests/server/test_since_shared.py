"""`?since=V` across processes (contract v1.1, Catching up): two `stepgrad serve` processes
on one real redis-server. The store keeps the changes of each graph's last 64 versions
beside it, so a process that made none of them answers a patch, which applied to the state
at V gives the state now; past 64 versions, or across a change of structure, the whole
state with `"full": true`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import httpx
import pytest

from tests.helpers import RedisProcess, apply, chain_spec, redis_server_path, start_server
from tests.helpers import without_events as bare

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed"),
]

KEPT = 64


@contextlib.contextmanager
def two_processes():
    with RedisProcess() as redis, tempfile.TemporaryDirectory() as tmp:
        procs = []
        try:
            urls = []
            for i in range(2):
                proc, url = start_server(os.path.join(tmp, f"unused{i}.db"), store=redis.url)
                procs.append(proc)
                urls.append(url)
            yield urls
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except Exception:
                    proc.kill()
                    proc.wait()


def test_since_from_the_other_process_is_a_patch_for_the_last_64_versions():
    with two_processes() as (a, b), httpx.Client(timeout=30) as http:
        r = http.post(f"{a}/api/graphs", json=chain_spec(60))
        assert r.status_code == 201, r.text
        first = r.json()
        gid, auth = first["id"], {"Authorization": f"Bearer {first['edit_token']}"}
        states = {1: bare(first)}
        assert http.get(f"{b}/api/graphs/{gid}").status_code == 200  # B holds version 1
        # changes of several kinds through A: steps, a seek back, new values, a reset
        calls = [("forward", {"steps": 1})] * 40 + [
            ("seek", {"position": 7}), ("values", {"values": {"n0": 0.25}}),
            ("forward", {"all": True}), ("backward", {"steps": 3}), ("reset", None),
        ] + [("forward", {"steps": 2})] * 30  # fmt: skip
        for what, body in calls:
            method = http.put if what == "values" else http.post
            r = method(f"{a}/api/graphs/{gid}/{what}", json=body, headers=auth)
            assert r.status_code == 200, r.text
            states[r.json()["version"]] = bare(r.json())
        now = max(states)
        assert now == 1 + len(calls) > KEPT + 1
        current = bare(http.get(f"{b}/api/graphs/{gid}").json())
        assert current == states[now]
        patched = 0
        for back in (1, 2, 5, 31, 32, 33, 35, KEPT - 1, KEPT):
            base = now - back
            patch = http.get(f"{b}/api/graphs/{gid}", params={"since": base}).json()
            assert "full" not in patch, (back, patch.get("full"))
            assert patch["base_version"] == base and patch["version"] == now
            assert bare(apply(states[base], patch)) == current, back
            patched += 1
        assert patched == 9
        # a step's patch names only what the step changed
        one = http.get(f"{b}/api/graphs/{gid}", params={"since": now - 1}).json()
        assert 0 < len(one["nodes"]) <= 4
        # further back than the store keeps: the whole state
        for back in (KEPT + 1, now - 1):
            full = http.get(f"{b}/api/graphs/{gid}", params={"since": now - back}).json()
            assert full["full"] is True and bare(apply(states[now - back], full)) == current
        # and through the process that made the changes, the same patches
        patch = http.get(f"{a}/api/graphs/{gid}", params={"since": now - KEPT}).json()
        assert "full" not in patch and bare(apply(states[now - KEPT], patch)) == current


def test_since_across_a_change_of_structure_is_the_whole_state():
    with two_processes() as (a, b), httpx.Client(timeout=30) as http:
        r = http.post(f"{a}/api/graphs", json=chain_spec(10))
        first = r.json()
        gid, auth = first["id"], {"Authorization": f"Bearer {first['edit_token']}"}
        for _ in range(3):
            assert http.post(f"{a}/api/graphs/{gid}/forward", headers=auth).status_code == 200
        r = http.put(f"{a}/api/graphs/{gid}/spec", json=chain_spec(12), headers=auth)
        assert r.status_code == 200, r.text
        changed = r.json()["version"]
        r = http.post(f"{a}/api/graphs/{gid}/forward", headers=auth)
        now = r.json()["version"]
        current = bare(http.get(f"{b}/api/graphs/{gid}").json())
        full = http.get(f"{b}/api/graphs/{gid}", params={"since": changed - 1}).json()
        assert full["full"] is True and bare(full) == {**current, "base_version": changed - 1,
                                                       "full": True}  # fmt: skip
        patch = http.get(f"{b}/api/graphs/{gid}", params={"since": changed}).json()
        assert "full" not in patch and patch["version"] == now


def test_kept_changes_join_into_one_diff_and_any_gap_is_the_whole_state():
    from stepgrad.app.live import shared_patches
    from stepgrad.app.live.patches import Diff

    def diff(nodes=None, edges=None, top=()):
        return Diff(nodes=nodes or {}, edges=edges or {}, top=set(top))

    every = diff({i: {"value", "grad"} for i in range(10_000)})
    assert len(shared_patches.encode(every)) < 100  # one range per field, whatever the size
    kept = [
        (5, shared_patches.encode(diff({3: {"value"}, 4: {"value"}}, {1: {"grad"}}))),
        (6, shared_patches.encode(diff({7: {"grad"}}, top=["cursor", "training"]))),
        (7, shared_patches.encode(diff({3: {"grad"}}))),
    ]
    joined = shared_patches.since(kept, 4, 7, nodes=10, edges=4)
    assert joined is not None
    assert joined.nodes == {3: {"value", "grad"}, 4: {"value"}, 7: {"grad"}}
    assert joined.edges == {1: {"grad"}} and joined.top == {"cursor", "training"}
    assert shared_patches.since(kept, 5, 7, 10, 4).nodes == {7: {"grad"}, 3: {"grad"}}
    assert shared_patches.since(kept, 3, 7, 10, 4) is None  # version 4 is not kept
    assert shared_patches.since(kept, 4, 7, 5, 4) is None  # node 7 is not in a 5-node graph
    structure = [*kept, (8, shared_patches.encode(Diff(full=True)))]
    assert structure[-1][1] is None and shared_patches.since(structure, 6, 8, 10, 4) is None
    assert shared_patches.since(kept, 7, 7, 10, 4) == Diff()  # nothing since now
