"""What every graph store offers: one record per graph (its spec, its run state as plain
JSON, the hash of its edit token, a version and timestamps) and a lock per graph; and one
record per room (a lesson's follow link: what the teacher shows, the hash of its edit token,
a version and timestamps), which expires like a graph.

`storage.sqlite_store.SQLiteStore` keeps them in one SQLite file for one server process;
`storage.redis_store.RedisStore` on Redis for several processes (`shared = True`: another
process may change a graph at any time). `storage.backends` picks one from the settings.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class StoreConflict(Exception):
    """The stored version moved on since the record was read (another writer)."""


class DuplicateId(Exception):
    """A graph with that id exists already."""


class LockTimeout(Exception):
    """The graph's lock stayed taken (by another process) longer than the wait allowed."""


class StoreUnreachable(Exception):
    """A shared store did not answer (down, or stalled past its short read timeout)."""


# ---- a full disk -------------------------------------------------------------------------

DISK_FULL = (
    "The server's disk is full, so this change was not saved and nothing of it was kept; "
    "reading goes on. Try again in a minute, once the server's operator has freed space."
)


class StoreDiskFull(Exception):
    """The store could not write: its disk (or, for Redis, its memory or its persistence) is
    full. Nothing of the write was kept; reads go on. HTTP: 507 with Retry-After."""

    retry_after = 60

    def __init__(self, message: str = DISK_FULL):
        super().__init__(message)


@dataclass
class GraphRecord:
    id: str
    name: str
    spec: dict
    state: dict  # position, optimizer config and state, last training result, ...
    token_hash: str
    version: int = 1
    created: float = field(default_factory=time.time)
    accessed: float = field(default_factory=time.time)


@dataclass
class RoomRecord:
    id: str
    lesson: str
    shown: dict  # {"step", "graph", "view", "panel"}: what the teacher shows now
    token_hash: str
    version: int = 1
    created: float = field(default_factory=time.time)
    accessed: float = field(default_factory=time.time)


class GraphStore(Protocol):
    # True when other server processes change the same graphs (then every read checks the
    # stored version, and changes take the store's lock)
    shared: bool

    def create(self, record: GraphRecord, cap: int | None = None) -> bool:
        """Add a new graph, unless `cap` graphs are kept already (then False). DuplicateId
        when its id is taken."""

    def get(self, graph_id: str) -> GraphRecord | None:
        """The graph, or None."""

    def version(self, graph_id: str) -> int | None:
        """The graph's stored version (a cheap read), or None when there is no such graph."""

    def lock(self, graph_id: str, wait: float) -> AbstractContextManager:
        """Hold the graph's lock for a change, across every process sharing the store; it
        expires if its holder dies. LockTimeout after `wait` seconds."""

    def save(self, record: GraphRecord, expected_version: int, spec_changed: bool = True) -> None:
        """Write a changed graph whose stored version is `expected_version`.

        Raises StoreConflict when the stored version differs, KeyError when it is gone."""

    def touch(self, graph_id: str, when: float) -> None:
        """Record a read (for expiry)."""

    def delete(self, graph_id: str) -> bool:
        """Remove a graph; False if there was none."""

    def ids(self) -> list[str]:
        """Every stored id, least recently used first."""

    def count(self) -> int: ...

    def expire(self, idle_before: float, keep: int | None = None) -> list[str]:
        """Delete graphs last used before `idle_before`, then (if `keep` is given) the least
        recently used until at most `keep` remain; returns the ids deleted."""

    def oldest_access(self) -> float | None:
        """The earliest last-use time of any graph, or None when there is none."""

    # ---- rooms (classroom.rooms) -------------------------------------------------------

    def create_room(self, record: RoomRecord, cap: int | None = None) -> bool:
        """Add a new room, unless `cap` rooms are kept already (then False). DuplicateId
        when its id is taken."""

    def get_room(self, room_id: str) -> RoomRecord | None:
        """The room, or None."""

    def save_room(self, record: RoomRecord, expected_version: int) -> None:
        """Write a changed room whose stored version is `expected_version`. StoreConflict
        when the stored version differs, KeyError when it is gone."""

    def touch_room(self, room_id: str, when: float) -> None:
        """Record a use of the room (a follower reading it), for expiry."""

    def expire_rooms(self, idle_before: float) -> list[str]:
        """Delete rooms last used before `idle_before`; returns their ids."""

    def close(self) -> None: ...


@runtime_checkable
class PatchLog(Protocol):
    """A shared store that keeps, beside each graph, what changed in its last versions (for
    `?since=V` on a process that did not make those changes). `patch` is the change's
    encoded diff (live.shared_patches), written in the same step as the save; None when
    no field-level patch exists (the structure changed)."""

    def save_with_patch(
        self,
        record: GraphRecord,
        expected_version: int,
        spec_changed: bool,
        patch: str | None,
    ) -> None:
        """`GraphStore.save`, keeping `patch` as the change to `record.version`."""

    def patches(self, graph_id: str) -> list[tuple[int, str | None]]:
        """The kept changes of the graph's last versions, oldest first: (version, patch).
        StoreUnreachable when the store does not answer."""
