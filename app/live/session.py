"""One live graph: a Session (engine Graph + Run + optimizer + locks) and the immutable
Snapshot readers see of one of its versions.

A session is built from a stored record (`session_from`), gives a new snapshot after each
change (`make_snapshot`, which reuses the static parts of the previous one while the graph
object stays the same) and can be put back as it was at a snapshot after a failed change
(`restore`). Nothing here touches the store or the event bus: live.manager does that.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from functools import cached_property

from stepgrad.app import jsonio
from stepgrad.app.live import patches
from stepgrad.app.live import state_json as render
from stepgrad.app.live.layout import Layout, graph_layout
from stepgrad.app.storage.base import GraphRecord
from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import SGD, make_optimizer, optimizer_from
from stepgrad.engine.run import Run


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
    optimizer: SGD | None = None
    training: dict | None = None  # the last training result (JSON data)
    forked_from: str | None = None
    version: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)
    # set by session_from as soon as the session exists (a snapshot is made of a session)
    snapshot: Snapshot = field(init=False)
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

    def catch_up(self, fresh: Session) -> None:
        """Take over the graph, run and version of `fresh` (the same graph, loaded again
        from the store after another process changed it), keeping this session's locks,
        pins and access times: whoever holds this session sees the stored version."""
        for f in fields(self):
            if f.name not in KEPT_ON_CATCH_UP:
                setattr(self, f.name, getattr(fresh, f.name))


KEPT_ON_CATCH_UP = frozenset({"lock", "gate", "pins", "accessed", "touched", "deleted"})


@dataclass(eq=False)
class Change:
    """A done change: its snapshot and events, rendered as a state or a patch on demand."""

    snapshot: Snapshot
    events: list
    base_version: int
    diff: patches.Diff
    summary_threshold: int
    result: object = None  # whatever the change function returned besides its events

    @cached_property
    def state(self) -> dict:
        """The whole state, with the change's events (rendered when first asked for)."""
        return render.render_state(self.snapshot, self.summary_threshold, False, self.events)

    @cached_property
    def patch(self) -> dict:
        """The patch from `base_version`, with the change's events."""
        return patches.render_patch(
            self.snapshot, self.base_version, self.diff, self.summary_threshold, self.events
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


def make_snapshot(session: Session, previous: Snapshot | None) -> Snapshot:
    """The session's current version as a snapshot; the static nodes and edges of
    `previous` are reused while the graph object is the same one."""
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


def session_from(record: GraphRecord, graph: Graph) -> Session:
    """A session of a stored graph, its run moved to the stored position."""
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
    session.snapshot = make_snapshot(session, None)
    return session


def restore(session: Session, snapshot: Snapshot, optimizer, training, layout: Layout) -> None:
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
    session.layout = layout


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
