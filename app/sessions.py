"""Live graphs: each a Session (engine Graph + Run + optimizer + lock) kept in memory, backed
by the store.

Every change goes through `GraphManager.mutate`: take the graph's lock, change the run,
bump the version, save to the store, publish a snapshot. Reads use the last snapshot
(immutable) without the lock, so a long training call does not block a viewer. A failed
change leaves the graph as it was.

Memory stays bounded: at most `max_loaded_graphs` sessions are kept computed (the least
recently used are dropped and reload from the store on demand), and the store keeps at
most `max_graphs` graphs, deleting idle ones after `idle_expiry_seconds`. A graph used
within that window (read, followed or changed) is never deleted to make room: a full
store refuses new graphs instead (StoreFull, 503).

Changes to one graph queue on its `gate`, an asyncio lock, so a change waiting for a long
training run holds no thread; the threading `lock` inside `mutate` then guards the run
itself (and callers outside the event loop).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from engine.errors import StepgradError
from engine.graph import Graph, Limits
from engine.optim import make_optimizer, optimizer_from
from engine.run import Run

from . import jsonio, patches, render
from .events import EventBus, sse
from .layout import Layout, graph_layout
from .settings import Settings
from .store import GraphRecord, GraphStore, StoreConflict

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


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One version of a graph, as readers see it. Nothing here is changed in place."""

    id: str
    version: int
    created: float
    graph: Graph
    position: int
    values: tuple
    grads: tuple
    edge_grads: dict
    edge_locals: dict
    state: dict  # the stored run state (position, optimizer, training, ...)
    static_nodes: list
    static_edges: list
    edge_index: dict  # (consumer index, slot) -> the edge's place in static_edges
    stamps: patches.Stamps  # shared by the versions of one structure, for ?since=V
    cache: dict = field(default_factory=dict)  # rendered JSON of this version


@dataclass(eq=False)
class Session:
    id: str
    token_hash: str
    created: float
    run: Run
    layout: Layout
    optimizer: object | None = None
    training: dict | None = None  # the last training result (JSON data)
    forked_from: str | None = None
    version: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)
    snapshot: Snapshot | None = None
    accessed: float = field(default_factory=time.time)
    touched: float = field(default_factory=time.time)
    pins: int = 0
    deleted: bool = False
    stamps: patches.Stamps | None = None
    # run_state's parts that cost O(graph) to build, kept while what they come from stays
    _order_of: object = None
    _order: list | None = None
    _optimizer_of: object = None
    _optimizer: tuple = (None, None)

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(hash_token(token), self.token_hash)

    def run_state(self) -> dict:
        run = self.run
        if self._order_of is not run.sequence:  # the run sets a new list for a new order
            self._order_of, self._order = run.sequence, run.custom_order
        opt = self.optimizer
        if self._optimizer_of is not opt:  # never changed once set: update steps a copy
            self._optimizer_of = opt
            self._optimizer = (None, None)
            if opt is not None:
                self._optimizer = (opt.config(), jsonio.json_safe(opt.state_dict()))
        return {
            "position": run.position,
            "order": self._order,
            "fanout_bug": run.fanout_bug,
            "optimizer": self._optimizer[0],
            "optimizer_state": self._optimizer[1],
            "training": self.training,
            "forked_from": self.forked_from,
            "target": run.target,
        }


@dataclass(eq=False)
class Change:
    snapshot: Snapshot
    events: list
    base_version: int
    diff: patches.Diff
    manager: GraphManager
    result: object = None  # whatever the change function returned besides its events

    @cached_property
    def state(self) -> dict:
        """The whole state, with the change's events (rendered when first asked for)."""
        return self.manager.render(self.snapshot, self.events)

    @cached_property
    def patch(self) -> dict:
        """The patch from `base_version`, with the change's events."""
        return patches.render_patch(
            self.snapshot,
            self.base_version,
            self.diff,
            self.manager.settings.summary_threshold,
            self.events,
        )


def run_for(graph: Graph, state: dict) -> Run:
    """A run of the graph with the stored options (evaluation order, fan-out bug, target)."""
    return Run(
        graph,
        order=state.get("order"),
        fanout_bug=bool(state.get("fanout_bug")),
        target=state.get("target"),
    )


def restore_optimizer(state: dict):
    config = state.get("optimizer")
    if not config:
        return None
    config = dict(config)
    opt = make_optimizer(config.pop("name"), **config)
    opt.load_state_dict(state.get("optimizer_state") or {})
    return opt


class GraphManager:
    def __init__(self, store: GraphStore, settings: Settings, bus: EventBus):
        self.store = store
        self.settings = settings
        self.bus = bus
        self.limits = Limits(
            max_nodes=settings.max_nodes,
            max_elements=settings.max_elements,
            max_total_elements=settings.max_total_elements,
        )
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._creating = threading.Lock()  # the count of graphs and the new one, together
        # a read is written to the store at most this often; far less than the idle window,
        # so that a graph read within the window is never seen as idle by the sweep
        self.touch_interval = min(TOUCH_INTERVAL, settings.idle_expiry_seconds / 10)

    # ---- building sessions -------------------------------------------------------------

    def build_graph(self, spec: dict) -> Graph:
        return Graph.from_spec(spec, self.limits)

    def _snapshot(self, session: Session, previous: Snapshot | None) -> Snapshot:
        run = session.run
        graph = run.graph
        if previous is not None and previous.graph is graph:
            static_nodes, static_edges = previous.static_nodes, previous.static_edges
            edge_index = previous.edge_index
        else:
            static_nodes = render.static_nodes(graph, session.layout)
            static_edges = render.static_edges(graph, session.layout)
            edge_index = {(c, slot): e for e, (c, slot, _) in enumerate(static_edges)}
        if session.stamps is None:
            session.stamps = patches.Stamps(session.version, len(static_nodes), len(static_edges))
        return Snapshot(
            id=session.id,
            version=session.version,
            created=session.created,
            graph=graph,
            position=run.position,
            values=tuple(run.values),
            grads=tuple(run.grads),
            edge_grads=dict(run.edge_grads),
            edge_locals=dict(run.edge_locals),
            state=session.run_state(),
            static_nodes=static_nodes,
            static_edges=static_edges,
            edge_index=edge_index,
            stamps=session.stamps,
        )

    def _session(self, record: GraphRecord, graph: Graph) -> Session:
        state = record.state
        run = run_for(graph, state)
        run.seek(min(int(state.get("position", 0)), run.total))
        session = Session(
            id=record.id,
            token_hash=record.token_hash,
            created=record.created,
            run=run,
            layout=graph_layout(graph),
            optimizer=restore_optimizer(state),
            training=state.get("training"),
            forked_from=state.get("forked_from"),
            version=record.version,
            accessed=record.accessed,
            touched=record.accessed,
        )
        session.snapshot = self._snapshot(session, None)
        return session

    def _load(self, record: GraphRecord) -> Session:
        try:
            graph = Graph.from_spec(record.spec, self.limits)
        except StepgradError:
            # stored under other (larger) limits: it was valid then, keep it usable
            graph = Graph.from_spec(record.spec, UNLIMITED)
        return self._session(record, graph)

    # ---- finding sessions --------------------------------------------------------------

    def _expired(self, accessed: float, now: float) -> bool:
        return accessed < now - self.settings.idle_expiry_seconds

    def _pin_cached(self, graph_id: str, now: float) -> Session | None:
        """Under self._lock: the cached session, pinned, or None."""
        session = self._sessions.get(graph_id)
        if session is None or session.deleted:
            return None
        session.pins += 1
        self._sessions.move_to_end(graph_id)
        return session

    def _acquire(self, graph_id: str) -> Session:
        now = time.time()
        with self._lock:
            session = self._pin_cached(graph_id, now)
            if session is None:
                load_lock = self._loading.setdefault(graph_id, threading.Lock())
        if session is None:
            with load_lock:
                with self._lock:
                    session = self._pin_cached(graph_id, now)
                if session is None:
                    try:
                        record = self.store.get(graph_id)
                        if record is None:
                            raise GraphNotFound(graph_id)
                        if self._expired(record.accessed, now):
                            self.store.delete(graph_id)
                            raise GraphNotFound(graph_id)
                        session = self._load(record)
                    except BaseException:
                        with self._lock:
                            self._loading.pop(graph_id, None)
                        raise
                    with self._lock:  # registered before the loading lock goes
                        session.pins += 1
                        self._sessions[graph_id] = session
                        self._loading.pop(graph_id, None)
                        self._evict_memory()
        if self._expired(session.accessed, now):
            self._release(session)
            self._drop(graph_id, delete=True)
            raise GraphNotFound(graph_id)
        session.accessed = now
        if now - session.touched > self.touch_interval:
            session.touched = now
            self.store.touch(graph_id, now)
        return session

    def acquire_cached(self, graph_id: str) -> Session | None:
        """The session, pinned, if it is in memory and needs no store access; else None
        (then call `acquire`). Never blocks on I/O: safe on the event loop."""
        now = time.time()
        with self._lock:
            session = self._sessions.get(graph_id)
            if (
                session is None
                or session.deleted
                or self._expired(session.accessed, now)
                or now - session.touched > self.touch_interval
            ):
                return None
            session.pins += 1
            self._sessions.move_to_end(graph_id)
        session.accessed = now
        return session

    def acquire(self, graph_id: str) -> Session:
        """The session, pinned (loaded from the store if need be); GraphNotFound if none.
        Give it back with `release`."""
        return self._acquire(graph_id)

    def release(self, session: Session) -> None:
        self._release(session)

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
        with self._lock:
            session = self._sessions.get(graph_id)
        if session is not None:
            session.accessed = time.time()

    def _release(self, session: Session) -> None:
        with self._lock:
            session.pins -= 1

    @contextmanager
    def open(self, graph_id: str) -> Iterator[Session]:
        """The session of a graph, kept in memory while in use; GraphNotFound if none."""
        session = self._acquire(graph_id)
        try:
            yield session
        finally:
            self._release(session)

    def snapshot(self, graph_id: str) -> Snapshot:
        with self.open(graph_id) as session:
            if session.deleted:
                raise GraphNotFound(graph_id)
            return session.snapshot

    def _evict_memory(self) -> None:
        """Under self._lock: drop unused sessions past `max_loaded_graphs` (oldest first)."""
        excess = len(self._sessions) - self.settings.max_loaded_graphs
        if excess <= 0:
            return
        for gid in list(self._sessions):
            if excess <= 0:
                break
            s = self._sessions[gid]
            if s.pins == 0 and not s.lock.locked():
                del self._sessions[gid]
                excess -= 1

    def loaded(self) -> int:
        return len(self._sessions)

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

    def _restore(self, session: Session, snapshot: Snapshot, optimizer, training) -> None:
        """Put a session back as it was at `snapshot` after a failed change."""
        run = run_for(snapshot.graph, snapshot.state)
        run.values = list(snapshot.values)
        run.grads = list(snapshot.grads)
        run.edge_grads = dict(snapshot.edge_grads)
        run.edge_locals = dict(snapshot.edge_locals)
        run.position = snapshot.position
        session.run = run
        session.optimizer = optimizer
        session.training = training

    def mutate(self, session: Session, change: Callable[[Session], object]) -> Change:
        """Apply `change(session)` under the graph's lock, then save and publish.

        `change` returns a list of engine events, or (events, result)."""
        if not session.lock.acquire(timeout=self.settings.lock_timeout_seconds):
            raise GraphBusy(
                "The graph is busy with another change (a training run?); try again shortly."
            )
        try:
            if session.deleted:
                raise GraphNotFound(session.id)
            before = session.snapshot
            optimizer, training = session.optimizer, session.training
            try:
                out = change(session)
            except BaseException:
                self._restore(session, before, optimizer, training)
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
            try:
                self.store.save(record, session.version, graph is not before.graph)
            except BaseException as exc:
                self._restore(session, before, optimizer, training)
                if isinstance(exc, KeyError):  # deleted meanwhile (expired)
                    session.deleted = True
                    raise GraphNotFound(session.id) from None
                if isinstance(exc, StoreConflict):  # changed by another process
                    with self._lock:
                        if self._sessions.get(session.id) is session:
                            del self._sessions[session.id]
                    raise GraphBusy(
                        "The graph was changed by another server process; reload it and try again."
                    ) from None
                raise
            session.version = record.version
            session.touched = record.accessed
            if not patches.same_structure(before.graph, graph):
                session.stamps = None  # a new structure: ?since=V from here on only
            snapshot = session.snapshot = self._snapshot(session, before)
            diff = patches.diff(before, snapshot, events)
            if not diff.full:
                snapshot.stamps.record(diff, snapshot.version)
            done = Change(snapshot, events, before.version, diff, self, result)
            self._publish(done)
            return done
        finally:
            session.lock.release()

    def replace(self, session: Session, change: Callable[[Session], object]) -> Change:
        """`mutate` for a change that puts a new graph in the run (PUT .../spec, hand
        positions): the layout follows the new graph, and is put back if the change fails."""
        layout = session.layout

        def apply(s: Session) -> object:
            out = change(s)
            s.layout = graph_layout(s.run.graph)
            return out

        try:
            return self.mutate(session, apply)
        except BaseException:
            session.layout = layout
            raise

    def _publish(self, change: Change) -> None:
        """Hand the change to its followers: each format rendered and encoded once, for all."""
        snapshot = change.snapshot
        if not self.bus.has_subscribers(snapshot.id):
            return
        formats = self.bus.formats(snapshot.id)
        version = snapshot.version
        if "state" in formats:
            self.bus.publish(
                snapshot.id, "state", jsonio.dumps(change.state), format="state", version=version
            )
        if "patch" in formats:
            if change.diff.full:  # no field-level patch: the whole state, as on a resync
                text, event, base = jsonio.dumps(change.state), "state", None
            else:
                text, event, base = jsonio.dumps(change.patch), "patch", change.base_version
            self.bus.publish(snapshot.id, event, text, "patch", version, base)

    def since(self, snapshot: Snapshot, version: int, full: bool = False) -> dict:
        """The patch from `version` to `snapshot`, or its whole state with `"full": true`
        when the changes since `version` are no longer known (see app.patches)."""
        stamps = snapshot.stamps
        if version < stamps.since:
            d = patches.Diff(full=True)
        else:
            d = stamps.since_diff(snapshot, version)
        threshold = self.settings.summary_threshold
        return patches.render_patch(snapshot, version, d, threshold, (), full)

    # ---- create, fork, delete, expire ----------------------------------------------------

    def create(
        self, graph: Graph, state: dict | None = None, forked_from: str | None = None
    ) -> tuple[Session, str]:
        """A new graph; returns its session and its edit token (never stored in clear).

        StoreFull when `max_graphs` graphs are kept and none has been idle long enough to
        expire: a graph in use is never deleted to make room."""
        with self._creating:
            self.sweep()
            if self.store.count() >= self.settings.max_graphs:
                raise self._full()
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
            session = self._session(record, graph)
            record.state = session.run_state()
            try:
                self.store.create(record)
                break
            except sqlite3.IntegrityError:  # pragma: no cover - a 96-bit id collided
                continue
        with self._lock:  # the snapshot _session made holds this state already
            self._sessions[session.id] = session
            self._evict_memory()
        return session, token

    def fork(self, snapshot: Snapshot) -> tuple[Session, str]:
        state = {k: v for k, v in snapshot.state.items() if k != "forked_from"}
        return self.create(snapshot.graph, state, forked_from=snapshot.id)

    def delete(self, session: Session) -> None:
        if not session.lock.acquire(timeout=self.settings.lock_timeout_seconds):
            raise GraphBusy("The graph is busy with another change; try again shortly.")
        try:
            if session.deleted:
                raise GraphNotFound(session.id)
            self._drop(session.id, delete=True)
        finally:
            session.lock.release()

    def _drop(self, graph_id: str, delete: bool) -> None:
        with self._lock:
            session = self._sessions.pop(graph_id, None)
        if session is not None:
            session.deleted = True
        if delete:
            self.store.delete(graph_id)
        self.bus.close_graph(graph_id)

    def sweep(self) -> list[str]:
        """Delete the graphs nobody has used for `idle_expiry_seconds`.

        Uses the store has not seen yet count: reads held back by the touch interval, and
        graphs that followers are watching."""
        now = time.time()
        with self._lock:
            unsaved = [s for s in self._sessions.values() if s.accessed > s.touched]
        for session in unsaved:
            session.touched = session.accessed
            self.store.touch(session.id, session.accessed)
        for gid in self.bus.graph_ids():
            self.store.touch(gid, now)
        gone = self.store.expire(now - self.settings.idle_expiry_seconds)
        for gid in gone:
            self._drop(gid, delete=False)
        return gone


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def next_optimizer(current, name: str | None, learning_rate: float | None, options: dict | None):
    """The optimizer for an update: a copy of the current one (its momentum or Adam state
    carries over) while the name and options stay the same, else a new one."""
    name = name or (current.name if current is not None else "sgd")
    if current is not None and current.name == name:
        config = current.config()
        kept = {k: v for k, v in config.items() if k not in ("name", "learning_rate")}
        if options is None or options == kept:
            opt = copy.deepcopy(current)
            if learning_rate is not None:
                opt.learning_rate = float(learning_rate)
            return opt
        if learning_rate is None:
            learning_rate = current.learning_rate
    return optimizer_from(name, learning_rate, options)
