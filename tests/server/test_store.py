"""The SQLite store: records round trip as JSON, versions guard against lost updates,
expiry and the cap delete the right graphs."""

from __future__ import annotations

import pytest

from stepgrad.app.storage.base import DuplicateId, GraphRecord, StoreConflict
from stepgrad.app.storage.sqlite_store import SQLiteStore


def record(gid: str, accessed: float = 100.0, **kw) -> GraphRecord:
    return GraphRecord(
        id=gid, name=f"graph {gid}", spec={"name": "g", "nodes": [{"id": "x", "op": "input",
        "value": [1.0, 2.5]}]}, state={"position": 3, "optimizer": None}, token_hash="ab" * 32,
        created=50.0, accessed=accessed, **kw,
    )  # fmt: skip


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    s = SQLiteStore(":memory:" if request.param == "memory" else str(tmp_path / "sub" / "g.db"))
    yield s
    s.close()


def test_round_trip(store):
    store.create(record("a"))
    got = store.get("a")
    assert got == record("a")
    assert store.get("nope") is None
    with pytest.raises(DuplicateId):
        store.create(record("a"))


def test_save_checks_the_version(store):
    store.create(record("a"))
    changed = record("a", accessed=120.0)
    changed.version = 2
    changed.state = {"position": 4}
    store.save(changed, expected_version=1, spec_changed=False)
    got = store.get("a")
    assert got.version == 2 and got.state == {"position": 4} and got.accessed == 120.0
    assert got.spec == record("a").spec
    stale = record("a")
    stale.version = 2
    with pytest.raises(StoreConflict):
        store.save(stale, expected_version=1)
    with pytest.raises(KeyError):
        store.save(record("gone"), expected_version=1)


def test_delete_touch_and_ids(store):
    for i, gid in enumerate("abc"):
        store.create(record(gid, accessed=100.0 + i))
    store.touch("a", 200.0)
    store.touch("b", 50.0)  # never moves back
    assert store.ids() == ["b", "c", "a"]
    assert store.delete("b") and not store.delete("b")
    assert store.count() == 2


def test_expire_idle_then_least_recently_used(store):
    for i in range(6):
        store.create(record(f"g{i}", accessed=100.0 + i))
    gone = store.expire(idle_before=102.0, keep=3)
    assert gone == ["g0", "g1", "g2"]
    gone = store.expire(idle_before=0.0, keep=1)
    assert gone == ["g3", "g4"]
    assert store.ids() == ["g5"]


def test_file_store_uses_wal_and_survives_reopening(tmp_path):
    path = str(tmp_path / "g.db")
    store = SQLiteStore(path)
    store.create(record("a"))
    mode = store._connect().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()
    again = SQLiteStore(path)
    assert again.get("a") == record("a")
    again.close()


def test_nothing_is_pickled_and_nan_is_refused(store):
    bad = record("a")
    bad.state = {"loss": float("nan")}
    with pytest.raises(ValueError):
        store.create(bad)
    store.create(record("b"))
    row = store._connect().execute("SELECT spec, state FROM graphs").fetchone()
    assert row[0].startswith("{") and row[1].startswith("{")
