"""The in-memory registry of sessions: built once however many threads ask, pinned while
used, evicted least recently used first (never a pinned one), replaced by a newer load."""

from __future__ import annotations

import threading
import time

from stepgrad.app.live.registry import Registry
from stepgrad.app.live.session import session_from
from stepgrad.app.storage.base import GraphRecord
from stepgrad.engine.graph import Graph


def make_session(gid: str, version: int = 1):
    spec = {"name": gid, "nodes": [{"id": "x", "op": "param", "value": 2.0},
                                   {"id": "y", "op": "tanh", "inputs": ["x"]}]}  # fmt: skip
    record = GraphRecord(gid, gid, spec, {"position": 1}, "00", version=version)
    return session_from(record, Graph.from_spec(spec))


def test_concurrent_first_loads_build_once():
    registry = Registry(max_loaded=10, idle_seconds=60)
    built = []

    def build(gid):
        built.append(gid)
        time.sleep(0.05)
        return make_session(gid)

    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.load("a", build)))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["a"] and len({id(s) for s in got}) == 1 and got[0].pins == 8
    snap = got[0].snapshot  # replayed to the stored position: x computed, y not yet
    assert snap.position == 1 and float(snap.values[0]) == 2.0 and snap.values[1] is None


def test_eviction_drops_the_least_recently_used_unpinned_sessions():
    registry = Registry(max_loaded=2, idle_seconds=60)
    pinned = registry.load("a", make_session)
    for gid in "bcd":
        registry.unpin(registry.load(gid, make_session))
    assert list(registry.sessions) == ["a", "d"]  # a is pinned: kept, though oldest
    registry.unpin(pinned)
    registry.unpin(registry.load("e", make_session))
    assert list(registry.sessions) == ["d", "e"]


def test_replace_moves_the_pin_to_the_newer_session_once():
    registry = Registry(max_loaded=5, idle_seconds=60)
    old = registry.load("a", make_session)
    also_old = registry.load("a", make_session)
    assert also_old is old and old.pins == 2
    new = make_session("a", version=3)
    assert registry.replace(old, new) is new
    assert registry.get("a") is new and (old.pins, new.pins) == (1, 1)
    newer = make_session("a", version=4)
    registry.replace(old, newer)  # old was replaced already: the newer load is kept aside
    assert registry.get("a") is new and newer.pins == 1
    registry.forget(old)  # not the registered one: nothing happens
    assert registry.get("a") is new
    assert registry.drop("a") is new and new.deleted and registry.get("a") is None
    assert registry.expired(time.time() - 61, time.time())
