"""The sessions a server process keeps computed in memory: found, loaded once, pinned
while in use, evicted (least recently used first, never a pinned or busy one) past any of
three bounds, and seen as expired after `idle_expiry_seconds` without use.

The bounds are the graphs' count (`max_loaded_graphs`) and their size: the nodes
(`max_loaded_nodes`) and tensor elements (`max_loaded_elements`) summed over the sessions
kept, since a 10,000-node graph costs a thousand times the memory of a 10-node one. The
session just added, loaded or changed is never evicted for its own sake: a graph larger
than a bound on its own is still served, alone.

The registry never reads the store itself: `load` takes the function that builds a session,
so that concurrent first reads of one graph build it once (the others wait for it).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

from stepgrad.app.live.session import Session
from stepgrad.engine.graph import Graph

UNBOUNDED = 10**18


def graph_size(graph: Graph) -> tuple[int, int]:
    """The graph's nodes and the tensor elements its values hold, summed over its nodes."""
    elements = sum(math.prod(shape) for shape in graph.shapes.values())
    return len(graph), elements


class Registry:
    def __init__(
        self,
        max_loaded: int,
        idle_seconds: float,
        max_nodes: int = UNBOUNDED,
        max_elements: int = UNBOUNDED,
    ):
        self.max_loaded = max_loaded
        self.max_nodes = max_nodes
        self.max_elements = max_elements
        self.idle_seconds = idle_seconds
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        # per graph id: the graph whose size was measured (weakly) and its nodes, elements
        self._sizes: dict[str, tuple[weakref.ref, int, int]] = {}
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
                self._evict(session)
            return session

    def add(self, session: Session) -> None:
        """A new session (a graph just created), not pinned."""
        with self._lock:
            self.sessions[session.id] = session
            self._evict(session)

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
                self._evict(new)
            return new

    def resized(self, session: Session) -> None:
        """The session's graph changed (a replaced spec, a training run): its size is
        measured again and others are evicted if the bounds are now passed."""
        with self._lock:
            if self.sessions.get(session.id) is session:
                self._evict(session)

    def unpin(self, session: Session) -> None:
        with self._lock:
            session.pins -= 1

    def forget(self, session: Session) -> None:
        """Drop the session from memory if it is the one registered for its graph."""
        with self._lock:
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
                self._sizes.pop(session.id, None)

    def drop(self, graph_id: str) -> Session | None:
        """Remove the graph's session (it was deleted): marked deleted, returned."""
        with self._lock:
            session = self.sessions.pop(graph_id, None)
            self._sizes.pop(graph_id, None)
        if session is not None:
            session.deleted = True
        return session

    def values(self) -> list[Session]:
        with self._lock:
            return list(self.sessions.values())

    def totals(self) -> tuple[int, int, int]:
        """The graphs kept, and their nodes and elements summed."""
        with self._lock:
            sizes = [self._size(s) for s in self.sessions.values()]
        return len(sizes), sum(n for n, _ in sizes), sum(e for _, e in sizes)

    def _size(self, session: Session) -> tuple[int, int]:
        """Under self._lock: the nodes and elements of the session's graph (measured once
        per graph object)."""
        graph = session.run.graph
        known = self._sizes.get(session.id)
        if known is not None and known[0]() is graph:
            return known[1], known[2]
        nodes, elements = graph_size(graph)
        self._sizes[session.id] = (weakref.ref(graph), nodes, elements)
        return nodes, elements

    def _evict(self, keep: Session | None = None) -> None:
        """Under self._lock: drop unused sessions (oldest first, never `keep`) until the
        count, the nodes and the elements kept are all within their bounds."""
        sizes = {gid: self._size(s) for gid, s in self.sessions.items()}
        count = len(sizes)
        nodes = sum(n for n, _ in sizes.values())
        elements = sum(e for _, e in sizes.values())
        for gid in list(self.sessions):
            if (
                count <= self.max_loaded
                and nodes <= self.max_nodes
                and elements <= self.max_elements
            ):
                break
            s = self.sessions[gid]
            if s is keep or s.pins > 0 or s.lock.locked():
                continue
            del self.sessions[gid]
            self._sizes.pop(gid, None)
            count -= 1
            nodes -= sizes[gid][0]
            elements -= sizes[gid][1]
