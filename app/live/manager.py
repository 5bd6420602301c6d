"""Live graphs: the GraphManager routes call to create, read, change, fork and delete them.

It joins three parts, each with one job: the Registry (live.registry) of sessions kept
computed in this process (loaded once, pinned while used, evicted, seen as expired); the
Session and its Snapshot (live.session); the Publisher (live.publisher) handing each change
to followers through the event bus. The store (storage) keeps graphs between requests
and processes.

Every change goes through `GraphManager.mutate`: take the graph's lock (the session's own
and, with a shared store, the store's lock across processes), catch up with the stored
version if another process changed the graph, change the run, bump the version, save
(a compare-and-set on the version), publish. Reads use the last snapshot (immutable)
without the lock, so a long training call does not block a viewer; with a shared store a
read first compares the stored version (one cheap read) and reloads the graph when another
process changed it, so no read is stale. A failed change leaves the graph as it was.

Memory stays bounded: at most `max_loaded_graphs` sessions, holding at most
`max_loaded_nodes` nodes and `max_loaded_elements` tensor elements together, are kept
computed (the least recently used are dropped and reload from the store on demand), and
the store keeps at most `max_graphs` graphs, deleting idle ones after
`idle_expiry_seconds`. A graph used within that window (read, followed or changed) is never
deleted to make room: a full store refuses new graphs instead (StoreFull, 503).

Changes to one graph queue on its `gate`, an asyncio lock, so a change waiting for a long
training run holds no thread; the threading `lock` inside `mutate` then guards the run
itself (and callers outside the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from stepgrad.app import jsonio
from stepgrad.app.live import patches, shared_patches
from stepgrad.app.live import state_json as render
from stepgrad.app.live.event_bus import EventBus, sse
from stepgrad.app.live.layout import graph_layout
from stepgrad.app.live.publisher import Publisher
from stepgrad.app.live.registry import Registry
from stepgrad.app.live.session import (
    Change,
    Session,
    Snapshot,
    hash_token,
    make_snapshot,
    new_token,
    next_optimizer,
    restore,
    restore_optimizer,
    run_for,
    session_from,
)
from stepgrad.app.settings import Settings
from stepgrad.app.storage.base import (
    DuplicateId,
    GraphRecord,
    GraphStore,
    LockTimeout,
    PatchLog,
    StoreConflict,
    StoreUnreachable,
)
from stepgrad.engine.errors import StepgradError
from stepgrad.engine.graph import Graph, Limits

__all__ = [
    "Change", "GraphBusy", "GraphManager", "GraphNotFound", "Session", "Snapshot",
    "StoreFull", "hash_token", "new_token", "next_optimizer", "restore_optimizer", "run_for",
]  # fmt: skip

logger = logging.getLogger(__name__)

TOUCH_INTERVAL = 60.0  # at most, seconds between two writes of a read graph's access time
UNLIMITED = Limits(max_nodes=10**9, max_elements=10**12, max_total_elements=10**12)


class GraphNotFound(Exception):
    def __init__(self, graph_id: str):
        super().__init__(f"There is no graph {graph_id!r} (it may have expired).")


class GraphBusy(Exception):
    """Another change to the graph (a training run) takes too long."""


class StoreFull(Exception):
    """Every graph the store may keep is in use; `retry_after` is when one may expire."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


BUSY = "The graph is busy with another change (a training run?); try again shortly."


class GraphManager:
    def __init__(self, store: GraphStore, settings: Settings, bus: EventBus):
        self.store = store
        self.settings = settings
        self.bus = bus
        self.publisher = Publisher(bus)
        self.registry = Registry(
            settings.max_loaded_graphs,
            settings.idle_expiry_seconds,
            max_nodes=settings.max_loaded_nodes,
            max_elements=settings.max_loaded_elements,
        )
        self.shared = bool(getattr(store, "shared", False))
        # a shared store that keeps each graph's last changes (?since=V on every process)
        self.patch_log = store if isinstance(store, PatchLog) else None
        self.limits = Limits(
            max_nodes=settings.max_nodes,
            max_elements=settings.max_elements,
            max_total_elements=settings.max_total_elements,
        )
        self._creating = threading.Lock()  # the count of graphs and the new one, together
        # a read is written to the store at most this often; far less than the idle window,
        # so that a graph read within the window is never seen as idle by the sweep
        self.touch_interval = min(TOUCH_INTERVAL, settings.idle_expiry_seconds / 10)

    @property
    def _sessions(self):
        """The sessions in memory, by graph id (for tests and tools)."""
        return self.registry.sessions

    # ---- building sessions -------------------------------------------------------------

    def build_graph(self, spec: dict) -> Graph:
        return Graph.from_spec(spec, self.limits)

    def _load(self, record: GraphRecord) -> Session:
        try:
            graph = Graph.from_spec(record.spec, self.limits)
        except StepgradError:
            # stored under other (larger) limits: it was valid then, keep it usable
            graph = Graph.from_spec(record.spec, UNLIMITED)
        return session_from(record, graph)

    def _fetch(self, graph_id: str, now: float) -> Session:
        """A new session of the stored graph; GraphNotFound (and deleted) when expired."""
        record = self.store.get(graph_id)
        if record is None:
            raise GraphNotFound(graph_id)
        if self.registry.expired(record.accessed, now):
            self.store.delete(graph_id)
            raise GraphNotFound(graph_id)
        return self._load(record)

    # ---- finding sessions --------------------------------------------------------------

    def _acquire(self, graph_id: str) -> Session:
        now = time.time()
        built: list[Session] = []

        def fetch(gid: str) -> Session:
            built.append(self._fetch(gid, now))
            return built[0]

        session = self.registry.load(graph_id, fetch)
        if self.registry.expired(session.accessed, now):
            self.registry.unpin(session)
            self._drop(graph_id, delete=True)
            raise GraphNotFound(graph_id)
        if self.shared and session not in built:  # one just loaded is the stored version
            session = self._current(session, now)
        session.accessed = now
        if now - session.touched > self.touch_interval:
            session.touched = now
            self.store.touch(graph_id, now)
        return session

    def _current(self, session: Session, now: float) -> Session:
        """The pinned session, or (when another process changed or deleted the graph) a
        pinned session of the stored version in its place. When the store does not answer
        the version's short check (Redis down or stalled), the session as this process holds
        it: a read of a graph in memory never waits on the store (no process can change the
        graph while the store is away)."""
        try:
            stored = self.store.version(session.id)
        except StoreUnreachable:
            _log_unchecked()
            return session
        if stored == session.version:
            return session
        if stored is None:
            self.registry.unpin(session)
            self._drop(session.id, delete=False)
            raise GraphNotFound(session.id)
        try:
            fresh = self._fetch(session.id, now)
        except BaseException:
            self.registry.unpin(session)
            raise
        fresh.touched = session.touched
        return self.registry.replace(session, fresh)

    def acquire_cached(self, graph_id: str) -> Session | None:
        """The session, pinned, if it is in memory and needs no store access; else None
        (then call `acquire`). Never blocks on I/O: safe on the event loop. With a shared
        store every access checks the stored version: always None."""
        if self.shared:
            return None
        now = time.time()
        session = self.registry.pin_cached(
            graph_id,
            lambda s: (
                not self.registry.expired(s.accessed, now)
                and now - s.touched <= self.touch_interval
            ),
        )
        if session is not None:
            session.accessed = now
        return session

    def acquire(self, graph_id: str) -> Session:
        """The session, pinned (loaded from the store if need be); GraphNotFound if none.
        Give it back with `release`."""
        return self._acquire(graph_id)

    def release(self, session: Session) -> None:
        self.registry.unpin(session)

    async def wait_turn(self, session: Session) -> None:
        """Wait on the event loop (no thread) until no other change of the graph runs;
        GraphBusy after `lock_timeout_seconds`. Give the turn back with `session.gate`."""
        timeout = self.settings.lock_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await session.gate.acquire()
        except TimeoutError:
            raise GraphBusy(
                f"The graph has been busy with another change (a training run?) for "
                f"{timeout:g} s; try again shortly."
            ) from None

    def followed(self, graph_id: str) -> None:
        """A follower is still watching: the graph counts as used (never on the event loop's
        critical path: no store access)."""
        session = self.registry.get(graph_id)
        if session is not None:
            session.accessed = time.time()

    @contextmanager
    def open(self, graph_id: str) -> Iterator[Session]:
        """The session of a graph, kept in memory while in use; GraphNotFound if none."""
        session = self._acquire(graph_id)
        try:
            yield session
        finally:
            self.registry.unpin(session)

    def snapshot(self, graph_id: str) -> Snapshot:
        with self.open(graph_id) as session:
            if session.deleted:
                raise GraphNotFound(graph_id)
            return session.snapshot

    def loaded(self) -> int:
        return len(self.registry)

    # ---- changes -----------------------------------------------------------------------

    def render(self, snapshot: Snapshot, events=(), full: bool = False) -> dict:
        return render.render_state(snapshot, self.settings.summary_threshold, full, events)

    def state_text(self, snapshot: Snapshot) -> str:
        """The rendered state (no events) of a snapshot as JSON text, cached."""
        text = snapshot.cache.get("text")
        if text is None:
            text = snapshot.cache["text"] = jsonio.dumps(self.render(snapshot))
        return text

    def state_frame(self, snapshot: Snapshot) -> bytes:
        """The state as an `event: state` of the event stream, encoded once per version: a
        class connecting at once shares one copy rather than holding one each."""
        frame = snapshot.cache.get("frame")
        if frame is None:
            frame = snapshot.cache["frame"] = sse("state", self.state_text(snapshot))
        return frame

    @contextmanager
    def _locked(self, session: Session) -> Iterator[None]:
        """The graph's lock: the session's, then the store's (across processes)."""
        wait = self.settings.lock_timeout_seconds
        started = time.monotonic()
        if not session.lock.acquire(timeout=wait):
            raise GraphBusy(BUSY)
        try:
            try:
                held = self.store.lock(session.id, max(0.0, wait - (time.monotonic() - started)))
                held.__enter__()
            except LockTimeout:
                raise GraphBusy(BUSY) from None
            try:
                yield
            finally:
                held.__exit__(None, None, None)
        finally:
            session.lock.release()

    def _catch_up(self, session: Session) -> None:
        """Under the graph's lock, with a shared store: bring the session to the stored
        version if another process changed the graph (GraphNotFound if it deleted it)."""
        try:
            stored: int | None = self.store.version(session.id)
        except StoreUnreachable:  # no answer to the short check: read the record, waiting longer
            stored = -1
        if stored == session.version:
            return
        record = self.store.get(session.id) if stored is not None else None
        if record is None:
            self.registry.forget(session)
            session.deleted = True
            raise GraphNotFound(session.id)
        if record.version != session.version:
            session.catch_up(self._load(record))

    def mutate(self, session: Session, change: Callable[[Session], object]) -> Change:
        """Apply `change(session)` under the graph's lock, then save and publish.

        `change` returns a list of engine events, or (events, result). It may replace
        `session.run` (and `session.layout`) with a run of another graph: the snapshot's
        static parts are rebuilt when the graph object changes."""
        with self._locked(session):
            if session.deleted:
                raise GraphNotFound(session.id)
            if self.shared:
                self._catch_up(session)
            before = session.snapshot
            optimizer, training, layout = session.optimizer, session.training, session.layout
            try:
                out = change(session)
            except BaseException:
                restore(session, before, optimizer, training, layout)
                raise
            events, result = out if isinstance(out, tuple) else (out, None)
            graph = session.run.graph
            record = GraphRecord(
                id=session.id,
                name=graph.name,
                spec=graph.to_spec() if graph is not before.graph else {},
                state=session.run_state(),
                token_hash=session.token_hash,
                version=session.version + 1,
                created=session.created,
                accessed=time.time(),
            )
            # the new version's snapshot and diff before the save: a shared store keeps the
            # diff beside the graph in the same step (for ?since=V on every process)
            version, stamps = session.version, session.stamps
            session.version = record.version
            if not patches.same_structure(before.graph, graph):
                session.stamps = None  # a new structure: ?since=V from here on only
            snapshot = make_snapshot(session, before)
            diff = patches.diff(before, snapshot, events)
            try:
                if self.patch_log is not None:
                    self.patch_log.save_with_patch(
                        record, version, graph is not before.graph, shared_patches.encode(diff)
                    )
                else:
                    self.store.save(record, version, graph is not before.graph)
            except BaseException as exc:
                session.version, session.stamps = version, stamps
                restore(session, before, optimizer, training, layout)
                if isinstance(exc, KeyError):  # deleted meanwhile (expired)
                    session.deleted = True
                    raise GraphNotFound(session.id) from None
                if isinstance(exc, StoreConflict):  # changed by another process
                    self.registry.forget(session)
                    raise GraphBusy(
                        "The graph was changed by another server process; reload it and try again."
                    ) from None
                raise
            session.touched = record.accessed
            session.snapshot = snapshot
            if not diff.full:
                snapshot.stamps.record(diff, snapshot.version)
            done = Change(
                snapshot, events, before.version, diff, self.settings.summary_threshold, result
            )
            # under the lock: followers on every process get the versions in order
            self.publisher.publish(done)
            if graph is not before.graph:  # a new graph may be larger: the memory bounds
                self.registry.resized(session)
            return done

    def replace(self, session: Session, change: Callable[[Session], object]) -> Change:
        """`mutate` for a change that puts a new graph in the run (PUT .../spec, hand
        positions): the layout follows the new graph (`mutate` puts it back on failure)."""

        def apply(s: Session) -> object:
            out = change(s)
            s.layout = graph_layout(s.run.graph)
            return out

        return self.mutate(session, apply)

    def since(self, snapshot: Snapshot, version: int, full: bool = False) -> dict:
        """The patch from `version` to `snapshot`, or its whole state with `"full": true`
        when the changes since `version` are no longer known (see live.patches)."""
        stamps = snapshot.stamps
        if version >= stamps.since:
            d = stamps.since_diff(snapshot, version)
        else:
            d = self._shared_since(snapshot, version) or patches.Diff(full=True)
        threshold = self.settings.summary_threshold
        return patches.render_patch(snapshot, version, d, threshold, (), full)

    def _shared_since(self, snapshot: Snapshot, version: int) -> patches.Diff | None:
        """The changes since `version` from those a shared store keeps beside the graph (its
        last versions, made by any process), or None."""
        if self.patch_log is None or snapshot.version - version > shared_patches.KEPT:
            return None
        try:
            kept = self.patch_log.patches(snapshot.id)
        except StoreUnreachable:
            return None
        return shared_patches.since(
            kept, version, snapshot.version, len(snapshot.static_nodes), len(snapshot.static_edges)
        )

    # ---- create, fork, delete, expire ----------------------------------------------------

    def create(
        self, graph: Graph, state: dict | None = None, forked_from: str | None = None
    ) -> tuple[Session, str]:
        """A new graph; returns its session and its edit token (never stored in clear).

        StoreFull when `max_graphs` graphs are kept and none has been idle long enough to
        expire: a graph in use is never deleted to make room. (A shared store counts and
        adds in one atomic step, and expires idle graphs by itself.)"""
        with self._creating:
            if not self.shared:
                self.sweep()
            return self._create(graph, state, forked_from)

    def _full(self) -> StoreFull:
        idle = self.settings.idle_expiry_seconds
        oldest = self.store.oldest_access()
        wait = idle if oldest is None else oldest + idle - time.time()
        retry = max(1, min(int(wait) + 1, 3600))
        return StoreFull(
            f"The server keeps at most {self.settings.max_graphs} graphs and every one was "
            f"used within the last {_duration(idle)}; none is deleted to make room. The "
            f"least recently used expires in {_duration(max(wait, 0))}: try again then, "
            "delete a graph you no longer need, or ask for a larger max_graphs.",
            retry,
        )

    def _create(
        self, graph: Graph, state: dict | None, forked_from: str | None
    ) -> tuple[Session, str]:
        token, token_hash = new_token()
        now = time.time()
        state = dict(state or {})
        state["forked_from"] = forked_from
        for _ in range(5):
            record = GraphRecord(
                id=secrets.token_urlsafe(12),
                name=graph.name,
                spec=graph.to_spec(),
                state=state,
                token_hash=token_hash,
                version=1,
                created=now,
                accessed=now,
            )
            session = session_from(record, graph)
            record.state = session.run_state()
            try:
                if not self.store.create(record, cap=self.settings.max_graphs):
                    raise self._full()
                break
            except DuplicateId:  # pragma: no cover - a 96-bit id collided
                continue
        self.registry.add(session)  # the snapshot session_from made holds this state already
        return session, token

    def fork(self, snapshot: Snapshot) -> tuple[Session, str]:
        state = {k: v for k, v in snapshot.state.items() if k != "forked_from"}
        return self.create(snapshot.graph, state, forked_from=snapshot.id)

    def delete(self, session: Session) -> None:
        try:
            with self._locked(session):
                if session.deleted:
                    raise GraphNotFound(session.id)
                self._drop(session.id, delete=True)
        except GraphBusy:
            raise GraphBusy("The graph is busy with another change; try again shortly.") from None

    def _drop(self, graph_id: str, delete: bool) -> None:
        self.registry.drop(graph_id)
        if delete:
            self.store.delete(graph_id)
        self.publisher.deleted(graph_id)

    def sweep(self) -> list[str]:
        """Delete the graphs nobody has used for `idle_expiry_seconds`.

        Uses the store has not seen yet count: reads held back by the touch interval, and
        graphs that followers are watching."""
        now = time.time()
        unsaved = [s for s in self.registry.values() if s.accessed > s.touched]
        for session in unsaved:
            session.touched = session.accessed
            self.store.touch(session.id, session.accessed)
        for gid in self.bus.graph_ids():
            self.store.touch(gid, now)
        gone = self.store.expire(now - self.settings.idle_expiry_seconds)
        for gid in gone:
            self._drop(gid, delete=False)
        return gone


_unchecked_logged = [0.0]


def _log_unchecked() -> None:
    """A read answered from memory without the store's version check: logged at most once
    a minute (without the graph's id: it is a read capability)."""
    now = time.monotonic()
    if now - _unchecked_logged[0] >= 60:
        _unchecked_logged[0] = now
        logger.warning(
            "the store did not answer a read's version check: reads of graphs held in "
            "memory are answered from memory until it does"
        )


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"
