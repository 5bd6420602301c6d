"""The store interface's contract, run against each implementation: SQLite (the embedded
default) and Redis (several processes). Redis-only parts (its lock across clients and its
lapse, keys expiring by themselves) are at the end."""

from __future__ import annotations

import threading
import time

import pytest

from stepgrad.app.storage.base import DuplicateId, GraphRecord, LockTimeout, StoreConflict
from stepgrad.app.storage.sqlite_store import SQLiteStore

IDLE = 3600.0


def record(gid: str, accessed: float, **kw) -> GraphRecord:
    return GraphRecord(
        id=gid, name=f"graph {gid} é", spec={"name": "g", "nodes": [{"id": "x",
        "op": "input", "value": [1.0, 2.5]}]}, state={"position": 3, "optimizer": None},
        token_hash="ab" * 32, created=accessed - 5, accessed=accessed, **kw,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(str(tmp_path / "g.db"))
    else:
        from stepgrad.app.storage.redis_store import RedisStore

        s = RedisStore(request.getfixturevalue("redis_db"), idle_seconds=IDLE, lock_expiry=1.0)
    yield s
    s.close()


def test_round_trip_version_and_duplicates(store):
    now = time.time()
    assert store.create(record("a", now))
    got = store.get("a")
    assert got == record("a", now)
    assert store.version("a") == 1
    assert store.get("nope") is None and store.version("nope") is None
    with pytest.raises(DuplicateId):
        store.create(record("a", now))


def test_save_is_a_compare_and_set_on_the_version(store):
    now = time.time()
    store.create(record("a", now))
    changed = record("a", now + 1, version=2)
    changed.state = {"position": 4}
    store.save(changed, expected_version=1, spec_changed=False)
    got = store.get("a")
    assert (got.version, got.state, got.accessed) == (2, {"position": 4}, now + 1)
    assert got.spec == record("a", now).spec and store.version("a") == 2
    stale = record("a", now + 2, version=2)
    with pytest.raises(StoreConflict):
        store.save(stale, expected_version=1)
    assert store.get("a").state == {"position": 4}
    respec = record("a", now + 3, version=3)
    respec.spec = {"name": "h", "nodes": []}
    store.save(respec, expected_version=2, spec_changed=True)
    assert store.get("a").spec == {"name": "h", "nodes": []}
    with pytest.raises(KeyError):
        store.save(record("gone", now, version=2), expected_version=1)


def test_touch_delete_ids_and_count(store):
    now = time.time()
    for i, gid in enumerate("abc"):
        store.create(record(gid, now + i))
    store.touch("a", now + 10)
    store.touch("b", now - 10)  # never moves back
    store.touch("nope", now)  # nothing to touch: no record appears
    assert store.ids() == ["b", "c", "a"]
    assert store.get("a").accessed == now + 10 and store.get("nope") is None
    assert store.delete("b") and not store.delete("b")
    assert store.count() == 2 and store.oldest_access() == now + 2


def test_expire_idle_then_least_recently_used(store):
    now = time.time()
    for i in range(6):
        store.create(record(f"g{i}", now + i))
    gone = store.expire(idle_before=now + 2, keep=3)
    assert gone == ["g0", "g1", "g2"]  # two idle, then one least recently used
    assert store.get("g0") is None and store.get("g3") is not None
    gone = store.expire(idle_before=0.0, keep=1)
    assert gone == ["g3", "g4"]
    assert store.ids() == ["g5"]


def test_create_refuses_past_the_cap_counting_only_graphs_in_use(store):
    now = time.time()
    assert store.create(record("a", now), cap=2)
    assert store.create(record("b", now + 1), cap=2)
    assert not store.create(record("c", now + 2), cap=2)
    assert store.get("c") is None and store.count() == 2
    store.delete("a")
    assert store.create(record("c", now + 2), cap=2)


# ---- Redis only -------------------------------------------------------------------------


@pytest.fixture
def redis_store(redis_db):
    from stepgrad.app.storage.redis_store import RedisStore

    stores = []

    def make(**kw):
        s = RedisStore(redis_db, **{"idle_seconds": IDLE, "lock_expiry": 1.0, **kw})
        stores.append(s)
        return s

    yield make
    for s in stores:
        s.close()


def test_the_redis_lock_excludes_other_clients_and_is_renewed_while_held(redis_store):
    one, two = redis_store(lock_expiry=0.6), redis_store(lock_expiry=0.6)
    with one.lock("a", wait=1.0):
        start = time.monotonic()
        # waits longer than the expiry: the holder's renewal keeps the lock
        with pytest.raises(LockTimeout), two.lock("a", wait=1.5):
            pass
        assert time.monotonic() - start >= 1.4
        with two.lock("b", wait=0.1):  # other graphs are free
            pass
    with two.lock("a", wait=0.1):
        pass


def test_the_redis_lock_of_a_dead_holder_lapses_after_its_expiry(redis_store):
    dead, alive = redis_store(lock_expiry=0.5), redis_store(lock_expiry=0.5)
    start = time.monotonic()
    held = dead.redis.lock("stepgrad:lock:a", timeout=0.5)  # held, never renewed nor released
    assert held.acquire(blocking=False)
    # taken once it lapsed (a lock that outlived its dead holder would raise LockTimeout)
    with alive.lock("a", wait=30.0):
        assert time.monotonic() - start >= 0.4


def test_redis_keys_expire_by_themselves_after_the_idle_window(redis_store):
    store = redis_store(idle_seconds=1.5)
    store.create(record("a", time.time()))
    # a use pushes the expiry back to idle_seconds after it: dated 30 s ahead, no pause of
    # this machine reaches it, while the window of the creation has passed
    store.touch("a", time.time() + 30)
    time.sleep(2.0)
    assert store.version("a") == 1
    store.touch("a", time.time())  # the last use: gone 1.5 s later, by itself
    deadline = time.monotonic() + 30
    while (store.get("a") is not None or store.count()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.get("a") is None
    assert store.count() == 0 and store.ids() == []
    assert store.create(record("b", time.time()), cap=1)


def test_concurrent_compare_and_set_lets_exactly_one_writer_win(redis_store):
    stores = [redis_store() for _ in range(4)]
    now = time.time()
    stores[0].create(record("a", now))
    wins, barrier = [], threading.Barrier(len(stores))

    def write(s, i):
        barrier.wait()
        try:
            s.save(record("a", now + i, version=2), expected_version=1)
            wins.append(i)
        except StoreConflict:
            pass

    threads = [threading.Thread(target=write, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and stores[1].get("a").accessed == now + wins[0]
