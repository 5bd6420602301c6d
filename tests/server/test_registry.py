"""The in-memory registry of sessions: built once however many threads ask, pinned while
used, evicted least recently used first (never a pinned or busy one) past the count, the
nodes or the elements it may keep, replaced by a newer load."""

from __future__ import annotations

import threading
import time

from stepgrad.app.live.registry import Registry, graph_size
from stepgrad.app.live.session import run_for, session_from
from stepgrad.app.storage.base import GraphRecord
from stepgrad.engine.graph import Graph
from tests.helpers import chain_spec


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


def sized_session(gid: str, nodes: int, width: int = 1):
    """A chain of `nodes` nodes whose param holds `width` elements (so does every node)."""
    spec = chain_spec(nodes)
    spec["nodes"][0]["value"] = [0.1] * width if width > 1 else 0.1
    record = GraphRecord(gid, gid, spec, {"position": 0}, "00")
    return session_from(record, Graph.from_spec(spec))


def load(registry: Registry, session, keep_pinned: bool = False):
    got = registry.load(session.id, lambda gid: session)
    if not keep_pinned:
        registry.unpin(got)
    return got


def test_graph_size_counts_nodes_and_every_nodes_elements():
    assert graph_size(sized_session("a", 10).run.graph) == (10, 10)
    assert graph_size(sized_session("b", 3, width=500).run.graph) == (3, 1500)


def test_eviction_keeps_the_nodes_within_max_loaded_nodes():
    registry = Registry(max_loaded=100, idle_seconds=60, max_nodes=25)
    for gid in "abc":
        load(registry, sized_session(gid, 10))
    assert list(registry.sessions) == ["b", "c"] and registry.totals() == (2, 20, 20)
    load(registry, sized_session("d", 5))  # 25 nodes: exactly the bound, nothing goes
    assert list(registry.sessions) == ["b", "c", "d"] and registry.totals() == (3, 25, 25)
    pinned = registry.load("b", lambda gid: None)  # cached: now the most recent, pinned
    load(registry, sized_session("e", 12))  # 37 nodes: c (10) and d (5) go, b is in use
    assert list(registry.sessions) == ["b", "e"] and registry.totals() == (2, 22, 22)
    registry.unpin(pinned)
    big = sized_session("big", 40)  # larger than the bound on its own: kept, alone
    registry.add(big)
    assert list(registry.sessions) == ["big"] and registry.totals() == (1, 40, 40)
    load(registry, sized_session("f", 1))  # the big one is the oldest unused: it goes
    assert list(registry.sessions) == ["f"] and registry.totals() == (1, 1, 1)


def test_eviction_keeps_the_elements_within_max_loaded_elements():
    registry = Registry(max_loaded=100, idle_seconds=60, max_elements=5_000)
    for gid in "abc":  # 2 nodes of 1,000 elements each: 2,000 a graph
        load(registry, sized_session(gid, 2, width=1_000))
    assert list(registry.sessions) == ["b", "c"] and registry.totals() == (2, 4, 4_000)
    load(registry, sized_session("d", 50))  # 50 scalars: 4,050 elements, all kept
    assert list(registry.sessions) == ["b", "c", "d"] and registry.totals() == (3, 54, 4_050)
    load(registry, sized_session("e", 1, width=2_000))  # 6,050: b goes
    assert list(registry.sessions) == ["c", "d", "e"] and registry.totals() == (3, 53, 4_050)


def test_a_busy_session_is_never_evicted_and_max_loaded_graphs_still_counts():
    registry = Registry(max_loaded=2, idle_seconds=60, max_nodes=1_000)
    busy = load(registry, sized_session("a", 3))
    busy.lock.acquire()  # a change is running on it
    try:
        for gid in "bc":
            load(registry, sized_session(gid, 3))
        assert list(registry.sessions) == ["a", "c"]  # 3 graphs: b went, not the busy a
    finally:
        busy.lock.release()
    load(registry, sized_session("d", 3))
    assert list(registry.sessions) == ["c", "d"] and registry.totals() == (2, 6, 6)


def test_a_graph_grown_by_a_change_evicts_others_when_resized():
    registry = Registry(max_loaded=100, idle_seconds=60, max_nodes=30)
    for gid in "abc":
        load(registry, sized_session(gid, 5))
    assert registry.totals() == (3, 15, 15)
    grown = load(registry, sized_session("d", 5), keep_pinned=True)
    grown.run = run_for(Graph.from_spec(chain_spec(24)), {})  # PUT .../spec: 5 -> 24 nodes
    registry.resized(grown)  # 39 nodes: a and b go, d is in use
    assert list(registry.sessions) == ["c", "d"] and registry.totals() == (2, 29, 29)
    registry.unpin(grown)
    registry.resized(grown)  # measured once per graph: nothing more to drop
    assert registry.totals() == (2, 29, 29)
