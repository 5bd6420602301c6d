"""The sessions a server process keeps computed in memory: found, loaded once, pinned
while in use, evicted past `max_loaded_graphs` (least recently used first, never a pinned
or busy one) and seen as expired after `idle_expiry_seconds` without use.

The registry never reads the store itself: `load` takes the function that builds a session,
so that concurrent first reads of one graph build it once (the others wait for it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from stepgrad.app.live.session import Session


class Registry:
    def __init__(self, max_loaded: int, idle_seconds: float):
        self.max_loaded = max_loaded
        self.idle_seconds = idle_seconds
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def expired(self, accessed: float, now: float) -> bool:
        return accessed < now - self.idle_seconds

    def __len__(self) -> int:
        return len(self.sessions)

    def get(self, graph_id: str) -> Session | None:
        """The cached session, not pinned (for a quick look)."""
        with self._lock:
            return self.sessions.get(graph_id)

    def pin_cached(self, graph_id: str, check: Callable[[Session], bool] | None = None):
        """The cached session, pinned, or None (also when `check(session)` is false)."""
        with self._lock:
            return self._pin(graph_id, check)

    def _pin(self, graph_id: str, check=None) -> Session | None:
        session = self.sessions.get(graph_id)
        if session is None or session.deleted or (check is not None and not check(session)):
            return None
        session.pins += 1
        self.sessions.move_to_end(graph_id)
        return session

    def load(self, graph_id: str, build: Callable[[str], Session]) -> Session:
        """The session, pinned: the cached one, or `build(graph_id)`'s, built once however
        many threads ask at the same time."""
        with self._lock:
            session = self._pin(graph_id)
            if session is not None:
                return session
            load_lock = self._loading.setdefault(graph_id, threading.Lock())
        with load_lock:
            with self._lock:
                session = self._pin(graph_id)
            if session is not None:
                return session
            try:
                session = build(graph_id)
            except BaseException:
                with self._lock:
                    self._loading.pop(graph_id, None)
                raise
            with self._lock:  # registered before the loading lock goes
                session.pins += 1
                self.sessions[graph_id] = session
                self._loading.pop(graph_id, None)
                self._evict()
            return session

    def add(self, session: Session) -> None:
        """A new session (a graph just created), not pinned."""
        with self._lock:
            self.sessions[session.id] = session
            self._evict()

    def replace(self, old: Session, new: Session) -> Session:
        """Put `new` (pinned by the caller) in place of `old` (unpinned here), unless another
        thread already replaced `old`: returns the session the caller now holds pinned."""
        with self._lock:
            old.pins -= 1
            new.pins += 1
            current = self.sessions.get(old.id)
            if current is old or current is None:
                self.sessions[old.id] = new
                self.sessions.move_to_end(old.id)
                self._evict()
            return new

    def unpin(self, session: Session) -> None:
        with self._lock:
            session.pins -= 1

    def forget(self, session: Session) -> None:
        """Drop the session from memory if it is the one registered for its graph."""
        with self._lock:
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]

    def drop(self, graph_id: str) -> Session | None:
        """Remove the graph's session (it was deleted): marked deleted, returned."""
        with self._lock:
            session = self.sessions.pop(graph_id, None)
        if session is not None:
            session.deleted = True
        return session

    def values(self) -> list[Session]:
        with self._lock:
            return list(self.sessions.values())

    def _evict(self) -> None:
        """Under self._lock: drop unused sessions past `max_loaded` (oldest first)."""
        excess = len(self.sessions) - self.max_loaded
        if excess <= 0:
            return
        for gid in list(self.sessions):
            if excess <= 0:
                break
            s = self.sessions[gid]
            if s.pins == 0 and not s.lock.locked():
                del self.sessions[gid]
                excess -= 1
