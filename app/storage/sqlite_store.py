"""Graphs kept between requests and across restarts in one SQLite file.

`SQLiteStore` implements `storage.base.GraphStore` on one SQLite file in write-ahead-log
mode; nothing is pickled.

SQLite serves one server process: each keeps graphs computed in memory and fans events out
to its own followers, so a second process on the same file would answer stale reads and
lose writes. `SQLiteStore` therefore holds an exclusive lock on `<file>.lock` while open,
and a second process refuses to start with a sentence saying why.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import ClassVar

from stepgrad.app.jsonio import dumps
from stepgrad.app.storage.base import DuplicateId, GraphRecord, RoomRecord, StoreConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS graphs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    accessed REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS graphs_accessed ON graphs (accessed);
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY,
    lesson TEXT NOT NULL,
    shown TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    accessed REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rooms_accessed ON rooms (accessed);
-- the per-graph side table of earlier versions held nothing any feature reads
DROP TABLE IF EXISTS side;
"""


class StoreInUse(RuntimeError):
    """Another server process holds the SQLite file."""


def _text(name: str) -> str:
    """The name column is for people reading the database; the spec JSON holds the real
    name (escaped). Lone surrogates cannot be stored as SQLite text: replace them."""
    return name.encode("utf-8", "replace").decode("utf-8")


class ProcessLock:
    """An exclusive lock on `<file>.lock` held by this process while any store in it has the
    file open.

    flock() locks belong to an open file, so two stores of one process (tests, a restart
    within a process) would block each other; they share one lock here, counted, and
    another process is refused. The OS drops the lock when the process ends, however it
    ends."""

    _held: ClassVar[dict[str, tuple[int, int]]] = {}  # lock path -> (fd, stores using it)
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, db_path: str) -> str:
        lock_path = os.path.realpath(db_path) + ".lock"
        with cls._guard:
            if lock_path in cls._held:
                fd, users = cls._held[lock_path]
                cls._held[lock_path] = (fd, users + 1)
                return lock_path
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise StoreInUse(
                    f"Another stepgrad server process is using the SQLite file {db_path} "
                    f"(it holds {lock_path}). SQLite serves one process: stop the other "
                    "server or give this one its own STEPGRAD_DB; to run several processes "
                    "on the same graphs, use a shared store (STEPGRAD_STORE=redis://host:port/0)."
                ) from None
            cls._held[lock_path] = (fd, 1)
            return lock_path

    @classmethod
    def release(cls, lock_path: str) -> None:
        with cls._guard:
            fd, users = cls._held[lock_path]
            if users > 1:
                cls._held[lock_path] = (fd, users - 1)
                return
            del cls._held[lock_path]
            os.close(fd)  # closing the last descriptor drops the flock


class SQLiteStore:
    """One SQLite connection shared by the server's threads behind a lock.

    The connection is opened on first use, so building the app touches no file. One
    process only (see ProcessLock), so a graph's lock is the session's own threading lock
    and `lock` here holds nothing."""

    shared = False

    def __init__(self, path: str):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._process_lock: str | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                if self._process_lock is None:
                    self._process_lock = ProcessLock.acquire(str(Path(self.path).expanduser()))
            conn = sqlite3.connect(
                str(Path(self.path).expanduser()) if self.path != ":memory:" else self.path,
                check_same_thread=False,
                isolation_level=None,  # autocommit; one statement per change
                timeout=30.0,
            )
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def _execute(self, sql: str, args: tuple = ()) -> int:
        """Run one change; returns the number of rows changed."""
        with self._lock:
            return self._connect().execute(sql, args).rowcount

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._connect().execute(sql, args).fetchall()

    def create(self, record: GraphRecord, cap: int | None = None) -> bool:
        row = (
            record.id, _text(record.name), dumps(record.spec), dumps(record.state),
            record.token_hash, record.version, record.created, record.accessed,
        )  # fmt: skip
        with self._lock:
            conn = self._connect()
            if cap is not None:
                (total,) = conn.execute("SELECT COUNT(*) FROM graphs").fetchone()
                if total >= cap:
                    return False
            try:
                conn.execute(
                    "INSERT INTO graphs (id, name, spec, state, token_hash, version, created,"
                    " accessed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise DuplicateId(record.id) from None
        return True

    def version(self, graph_id: str) -> int | None:
        rows = self._query("SELECT version FROM graphs WHERE id = ?", (graph_id,))
        return rows[0][0] if rows else None

    def lock(self, graph_id: str, wait: float) -> AbstractContextManager:
        return nullcontext()

    def get(self, graph_id: str) -> GraphRecord | None:
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "SELECT id, name, spec, state, token_hash, version, created, accessed"
                    " FROM graphs WHERE id = ?",
                    (graph_id,),
                )
                .fetchone()
            )
        if row is None:
            return None
        return GraphRecord(
            row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4], row[5], row[6], row[7]
        )

    def save(self, record: GraphRecord, expected_version: int, spec_changed: bool = True) -> None:
        if spec_changed:
            sql = (
                "UPDATE graphs SET name = ?, spec = ?, state = ?, version = ?, accessed = ?"
                " WHERE id = ? AND version = ?"
            )
            args: tuple = (_text(record.name), dumps(record.spec), dumps(record.state))
        else:
            sql = (
                "UPDATE graphs SET state = ?, version = ?, accessed = ?"
                " WHERE id = ? AND version = ?"
            )
            args = (dumps(record.state),)
        args += (record.version, record.accessed, record.id, expected_version)
        with self._lock:
            conn = self._connect()
            if conn.execute(sql, args).rowcount == 1:
                return
            row = conn.execute("SELECT version FROM graphs WHERE id = ?", (record.id,)).fetchone()
        if row is None:
            raise KeyError(record.id)
        raise StoreConflict(f"Graph {record.id!r} is at version {row[0]}, not {expected_version}.")

    def touch(self, graph_id: str, when: float) -> None:
        self._execute(
            "UPDATE graphs SET accessed = ? WHERE id = ? AND accessed < ?",
            (when, graph_id, when),
        )

    def delete(self, graph_id: str) -> bool:
        with self._lock:
            conn = self._connect()
            return conn.execute("DELETE FROM graphs WHERE id = ?", (graph_id,)).rowcount == 1

    def ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM graphs ORDER BY accessed, id")]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM graphs")[0][0])

    def expire(self, idle_before: float, keep: int | None = None) -> list[str]:
        with self._lock:
            conn = self._connect()
            gone = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM graphs WHERE accessed < ? ORDER BY accessed", (idle_before,)
                )
            ]
            (total,) = conn.execute("SELECT COUNT(*) FROM graphs").fetchone()
            excess = 0 if keep is None else total - len(gone) - keep
            if excess > 0:
                gone += [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM graphs WHERE accessed >= ? ORDER BY accessed, id LIMIT ?",
                        (idle_before, excess),
                    )
                ]
            conn.executemany("DELETE FROM graphs WHERE id = ?", [(g,) for g in gone])
        return gone

    def oldest_access(self) -> float | None:
        return self._query("SELECT MIN(accessed) FROM graphs")[0][0]

    # ---- rooms ---------------------------------------------------------------------------

    def create_room(self, record: RoomRecord, cap: int | None = None) -> bool:
        row = (
            record.id, record.lesson, dumps(record.shown), record.token_hash, record.version,
            record.created, record.accessed,
        )  # fmt: skip
        with self._lock:
            conn = self._connect()
            if cap is not None:
                (total,) = conn.execute("SELECT COUNT(*) FROM rooms").fetchone()
                if total >= cap:
                    return False
            try:
                conn.execute(
                    "INSERT INTO rooms (id, lesson, shown, token_hash, version, created, accessed)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise DuplicateId(record.id) from None
        return True

    def get_room(self, room_id: str) -> RoomRecord | None:
        rows = self._query(
            "SELECT id, lesson, shown, token_hash, version, created, accessed FROM rooms"
            " WHERE id = ?",
            (room_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return RoomRecord(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6])

    def save_room(self, record: RoomRecord, expected_version: int) -> None:
        with self._lock:
            conn = self._connect()
            done = conn.execute(
                "UPDATE rooms SET shown = ?, version = ?, accessed = ?"
                " WHERE id = ? AND version = ?",
                (dumps(record.shown), record.version, record.accessed, record.id, expected_version),
            ).rowcount
            if done == 1:
                return
            row = conn.execute("SELECT version FROM rooms WHERE id = ?", (record.id,)).fetchone()
        if row is None:
            raise KeyError(record.id)
        raise StoreConflict(f"Room {record.id!r} is at version {row[0]}, not {expected_version}.")

    def touch_room(self, room_id: str, when: float) -> None:
        self._execute(
            "UPDATE rooms SET accessed = ? WHERE id = ? AND accessed < ?", (when, room_id, when)
        )

    def expire_rooms(self, idle_before: float) -> list[str]:
        with self._lock:
            conn = self._connect()
            found = conn.execute("SELECT id FROM rooms WHERE accessed < ?", (idle_before,))
            gone = [r[0] for r in found]
            conn.executemany("DELETE FROM rooms WHERE id = ?", [(g,) for g in gone])
        return gone

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._process_lock is not None:
                ProcessLock.release(self._process_lock)
                self._process_lock = None
