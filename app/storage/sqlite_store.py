"""Graphs kept between requests and across restarts in one SQLite file.

`SQLiteStore` implements `storage.base.GraphStore` on one SQLite file in write-ahead-log
mode; nothing is pickled.

SQLite serves one server process: each keeps graphs computed in memory and fans events out
to its own followers, so a second process on the same file would answer stale reads and
lose writes. `SQLiteStore` therefore holds an exclusive lock on `<file>.lock` while open,
and a second process refuses to start with a sentence saying why (`claim`, before the
server says where it listens).

`SQLiteQuizStore` keeps the class quiz in the same file, beside the graphs: a question per
graph and its answers, one row per client, each answer one short transaction, so an
answer acknowledged has been committed and survives the process being killed.

Durability: write-ahead log with `synchronous=NORMAL`. A commit is written to the log
(write(2)) before the call returns, so it is in the operating system's page cache and
survives the server process dying however it dies (SIGKILL included); only a crash of the
machine itself (power loss, kernel panic) may undo the last commits, never corrupt the
file. `FULL` would also survive that, at the cost of an fsync per answer and per step.

A full disk: SQLite's "database or disk is full" (and an I/O error while the disk has no
room left) becomes `StoreDiskFull` (HTTP 507): the transaction is rolled back whole, reads
go on, and writes succeed again once there is space, with no restart. Recording a read
(`touch`) never fails a read: on a full disk it is skipped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import ClassVar

from stepgrad.app.classroom.quiz import CLOSED, Answer, Quiz, QuizClosed, QuizFull, QuizNotFound
from stepgrad.app.jsonio import dumps
from stepgrad.app.storage.base import (
    DuplicateId,
    GraphRecord,
    RoomRecord,
    StoreConflict,
    StoreDiskFull,
)

logger = logging.getLogger(__name__)

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
-- the class quiz (SQLiteQuizStore): a graph's question (id NULL once put away; replaced:
-- the ids of the last few it replaced, JSON), and one answer per client of a question
CREATE TABLE IF NOT EXISTS quizzes (
    graph_id TEXT PRIMARY KEY,
    id TEXT,
    meta TEXT,
    status TEXT,
    truth TEXT,
    replaced TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quiz_answers (
    quiz_id TEXT NOT NULL,
    client TEXT NOT NULL,
    value REAL NOT NULL,
    name TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (quiz_id, client)
) WITHOUT ROWID;
-- a graph deleted or expired takes its question and answers with it
CREATE TRIGGER IF NOT EXISTS graphs_quiz_gone AFTER DELETE ON graphs BEGIN
    DELETE FROM quiz_answers WHERE quiz_id = (SELECT id FROM quizzes WHERE graph_id = OLD.id);
    DELETE FROM quizzes WHERE graph_id = OLD.id;
END;
"""

SQLITE_IOERR, SQLITE_FULL = 10, 13
FULL_BELOW_BYTES = 1 << 20  # an I/O error with less room than this left is a full disk
REPLACED_KEPT = 8  # a late answer to one of these gets 409 (closed), not 404


def disk_full(exc: sqlite3.Error, path: str) -> bool:
    """Whether SQLite failed for want of disk space: SQLITE_FULL, or an I/O error (a failed
    write, fsync or growth of the shared-memory file) while the disk has no room left."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "database or disk is full" in str(exc)
    if code & 0xFF == SQLITE_FULL:
        return True
    if code & 0xFF != SQLITE_IOERR or path == ":memory:":
        return False
    try:
        fs = os.statvfs(Path(path).expanduser().parent)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < FULL_BELOW_BYTES


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


def claim(db_path: str) -> str | None:
    """Take the SQLite file's process lock for this process now (before the server says where
    it listens), or StoreInUse with the sentence to print; the lock's path, to `release`
    (None for ":memory:", which nothing else can open)."""
    if db_path == ":memory:":
        return None
    path = Path(db_path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return ProcessLock.acquire(str(path))


class SQLiteStore:
    """One SQLite connection shared by the server's threads behind a lock.

    The connection is opened on first use, so building the app touches no file. One
    process only (see ProcessLock), so a graph's lock is the session's own threading lock
    and `lock` here holds nothing. Every call runs in `_db`: one lock, a transaction rolled
    back whole on any failure, and a full disk reported as StoreDiskFull."""

    shared = False

    def __init__(self, path: str):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._process_lock: str | None = None
        self._warned_full = 0.0  # when a skipped touch was last logged

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                if self._process_lock is None:
                    self._process_lock = ProcessLock.acquire(str(Path(self.path).expanduser()))
            conn = sqlite3.connect(
                str(Path(self.path).expanduser()) if self.path != ":memory:" else self.path,
                check_same_thread=False,
                isolation_level=None,  # autocommit: one statement, or an explicit BEGIN
                timeout=30.0,
            )
            try:
                if self.path != ":memory:":
                    conn.execute("PRAGMA journal_mode=WAL")
                    # a commit is in the OS's hands before it returns: it survives the process
                    # being killed (not a power loss); see the module's docstring
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the store's lock. A failure inside rolls back an open
        transaction; a full disk becomes StoreDiskFull (nothing of the write was kept)."""
        with self._lock:
            conn = None
            try:
                conn = self._connect()
                yield conn
            except BaseException as exc:
                if conn is not None and conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        logger.warning("rolling back after %r failed too", exc, exc_info=True)
                if isinstance(exc, sqlite3.Error) and disk_full(exc, self.path):
                    raise StoreDiskFull() from exc
                raise

    def _execute(self, sql: str, args: tuple = ()) -> int:
        """Run one change; returns the number of rows changed."""
        with self._db() as conn:
            return conn.execute(sql, args).rowcount

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._db() as conn:
            return conn.execute(sql, args).fetchall()

    def _touch(self, sql: str, args: tuple) -> None:
        """Record a use; on a full disk skip it (a read never fails for want of space: the
        use is recorded by the next touch or sweep)."""
        try:
            self._execute(sql, args)
        except StoreDiskFull:
            now = time.monotonic()
            if now - self._warned_full > 60:
                self._warned_full = now
                logger.warning("the disk of %s is full: uses of graphs go unrecorded", self.path)

    def create(self, record: GraphRecord, cap: int | None = None) -> bool:
        row = (
            record.id, _text(record.name), dumps(record.spec), dumps(record.state),
            record.token_hash, record.version, record.created, record.accessed,
        )  # fmt: skip
        with self._db() as conn:
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
        with self._db() as conn:
            row = conn.execute(
                "SELECT id, name, spec, state, token_hash, version, created, accessed"
                " FROM graphs WHERE id = ?",
                (graph_id,),
            ).fetchone()
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
        with self._db() as conn:
            if conn.execute(sql, args).rowcount == 1:
                return
            row = conn.execute("SELECT version FROM graphs WHERE id = ?", (record.id,)).fetchone()
        if row is None:
            raise KeyError(record.id)
        raise StoreConflict(f"Graph {record.id!r} is at version {row[0]}, not {expected_version}.")

    def touch(self, graph_id: str, when: float) -> None:
        self._touch(
            "UPDATE graphs SET accessed = ? WHERE id = ? AND accessed < ?",
            (when, graph_id, when),
        )

    def delete(self, graph_id: str) -> bool:
        with self._db() as conn:
            return conn.execute("DELETE FROM graphs WHERE id = ?", (graph_id,)).rowcount == 1

    def ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM graphs ORDER BY accessed, id")]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM graphs")[0][0])

    def expire(self, idle_before: float, keep: int | None = None) -> list[str]:
        with self._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
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
            # a question opened on a graph as it was deleted (the trigger took the others)
            orphans = conn.execute(
                "SELECT graph_id, id FROM quizzes WHERE graph_id NOT IN (SELECT id FROM graphs)"
            ).fetchall()
            for graph_id, quiz_id in orphans:
                conn.execute("DELETE FROM quiz_answers WHERE quiz_id = ?", (quiz_id,))
                conn.execute("DELETE FROM quizzes WHERE graph_id = ?", (graph_id,))
            conn.execute("COMMIT")
        return gone

    def oldest_access(self) -> float | None:
        return self._query("SELECT MIN(accessed) FROM graphs")[0][0]

    # ---- rooms ---------------------------------------------------------------------------

    def create_room(self, record: RoomRecord, cap: int | None = None) -> bool:
        row = (
            record.id, record.lesson, dumps(record.shown), record.token_hash, record.version,
            record.created, record.accessed,
        )  # fmt: skip
        with self._db() as conn:
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
        with self._db() as conn:
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
        self._touch(
            "UPDATE rooms SET accessed = ? WHERE id = ? AND accessed < ?", (when, room_id, when)
        )

    def expire_rooms(self, idle_before: float) -> list[str]:
        with self._db() as conn:
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


# ---- the class quiz ----------------------------------------------------------------------


def _quiz(meta: str, status: str, truth: str | None = None) -> Quiz:
    m = json.loads(meta)
    value = None if truth is None else float(truth)
    return Quiz(m["id"], m["graph_id"], m["node"], m["quantity"], m["opened"], status, value)


class SQLiteQuizStore:
    """QuizStore (classroom.quiz) in the SQLite file of a SQLiteStore, beside the graphs.

    Each call is one transaction on the store's connection: an answer checks the question's
    id, its status and the cap on answers and keeps the answer in the same transaction, and
    is acknowledged only once committed. A graph deleted takes its question with it. `get`
    of an open question counts its answers rather than reading them (nobody sees them before
    the reveal; a follower connecting, and each quiz event, read the question)."""

    def __init__(self, store: SQLiteStore):
        self.store = store

    @staticmethod
    def _current(conn: sqlite3.Connection, graph_id: str) -> tuple | None:
        """(id, meta, status, truth, replaced) of the graph's row, or None."""
        return conn.execute(
            "SELECT id, meta, status, truth, replaced FROM quizzes WHERE graph_id = ?",
            (graph_id,),
        ).fetchone()

    @staticmethod
    def _put_away(conn: sqlite3.Connection, row: tuple) -> list[str]:
        """Forget the answers of the row's question; the replaced ids with it first."""
        conn.execute("DELETE FROM quiz_answers WHERE quiz_id = ?", (row[0],))
        return [row[0], *json.loads(row[4])][:REPLACED_KEPT]

    def open(self, quiz: Quiz) -> Quiz | None:
        meta = dumps(
            {
                "id": quiz.id,
                "graph_id": quiz.graph_id,
                "node": quiz.node,
                "quantity": quiz.quantity,
                "opened": quiz.opened,
            }
        )
        with self.store._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = self._current(conn, quiz.graph_id)
            old, replaced = None, []
            if row is not None:
                replaced = json.loads(row[4])
                if row[0] is not None:
                    old = _quiz(row[1], "closed")
                    replaced = self._put_away(conn, row)
            conn.execute(
                "INSERT OR REPLACE INTO quizzes (graph_id, id, meta, status, truth, replaced)"
                " VALUES (?, ?, ?, 'open', NULL, ?)",
                (quiz.graph_id, quiz.id, meta, dumps(replaced)),
            )
            conn.execute("COMMIT")
        return old

    def answer(
        self,
        graph_id: str,
        quiz_id: str,
        client: str,
        value: float,
        name: str | None,
        max_answers: int,
    ) -> int:
        with self.store._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = self._current(conn, graph_id)
            if row is None or row[0] is None or row[0] != quiz_id:
                # compared here, not in SQL: the id a client sent may be any text
                if row is not None and quiz_id in json.loads(row[4]):
                    raise QuizClosed(CLOSED)
                raise QuizNotFound(f"There is no question {quiz_id[:40]!r} on this graph.")
            if row[2] != "open":
                raise QuizClosed("That question is closed: its answer has been revealed.")
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM quiz_answers WHERE quiz_id = ?", (quiz_id,)
            ).fetchone()
            known = conn.execute(
                "SELECT 1 FROM quiz_answers WHERE quiz_id = ? AND client = ?", (quiz_id, client)
            ).fetchone()
            if known is None and n >= max_answers:
                raise QuizFull(
                    f"That question already has {max_answers} answers, as many as it keeps."
                )
            conn.execute(
                "INSERT OR REPLACE INTO quiz_answers (quiz_id, client, value, name, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (quiz_id, client, value, dumps(name), time.time()),
            )
            conn.execute("COMMIT")  # acknowledged only once this returns
        return n if known is not None else n + 1

    def count(self, graph_id: str) -> int:
        with self.store._db() as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM quiz_answers WHERE quiz_id ="
                " (SELECT id FROM quizzes WHERE graph_id = ?)",
                (graph_id,),
            ).fetchone()
        return int(n)

    def reveal(self, graph_id: str, truth: float) -> Quiz:
        with self.store._db() as conn:
            changed = conn.execute(
                "UPDATE quizzes SET status = 'revealed', truth = ?"
                " WHERE graph_id = ? AND id IS NOT NULL",
                (repr(float(truth)), graph_id),
            ).rowcount
            quiz = self._get(conn, graph_id) if changed else None
        if quiz is None:
            raise QuizNotFound("There is no question on this graph to reveal.")
        return quiz

    def _get(self, conn: sqlite3.Connection, graph_id: str) -> Quiz | None:
        row = self._current(conn, graph_id)
        if row is None or row[0] is None:
            return None
        quiz = _quiz(row[1], row[2], row[3])
        if quiz.status == "open":  # hidden until the reveal: their number is all one sees
            (quiz.counted,) = conn.execute(
                "SELECT COUNT(*) FROM quiz_answers WHERE quiz_id = ?", (row[0],)
            ).fetchone()
            return quiz
        for client, value, name, at in conn.execute(
            "SELECT client, value, name, at FROM quiz_answers WHERE quiz_id = ?", (row[0],)
        ):
            quiz.answers[client] = Answer(value, json.loads(name), at)
        return quiz

    def get(self, graph_id: str) -> Quiz | None:
        with self.store._db() as conn:
            conn.execute("BEGIN")  # the question and its answers as of one moment
            quiz = self._get(conn, graph_id)
            conn.execute("COMMIT")
        return quiz

    def close(self, graph_id: str) -> Quiz | None:
        with self.store._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = self._current(conn, graph_id)
            if row is None or row[0] is None:
                conn.execute("COMMIT")
                return None
            replaced = self._put_away(conn, row)
            conn.execute(
                "UPDATE quizzes SET id = NULL, meta = NULL, status = NULL, truth = NULL,"
                " replaced = ? WHERE graph_id = ?",
                (dumps(replaced), graph_id),
            )
            conn.execute("COMMIT")
        return _quiz(row[1], "closed")

    def drop(self, graph_id: str) -> None:
        with self.store._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM quiz_answers WHERE quiz_id ="
                " (SELECT id FROM quizzes WHERE graph_id = ?)",
                (graph_id,),
            )
            conn.execute("DELETE FROM quizzes WHERE graph_id = ?", (graph_id,))
            conn.execute("COMMIT")
