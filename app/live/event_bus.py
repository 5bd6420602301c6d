"""Subscribers to each graph's live events, fed from the worker threads that change graphs.

Routes that change a graph run in threads; each subscriber is an asyncio queue on the
server's event loop. A subscriber reads one format: `state` (the whole state after each
change, v1) or `patch` (contract v1.1). `publish` encodes an event as server-sent-event
bytes once and hands the same bytes to every subscriber of that format, with one
`loop.call_soon_threadsafe` per event loop rather than one per subscriber: the cost of a
change to the server grows with its followers only by a queue append each.

A subscriber whose queue is full (a stalled client) is marked `lagging`: its stream drops
what is queued and sends the current state instead. A shared bus that may have lost events
(its broker was unreachable) queues RESYNC: the stream sends the current state if it moved
on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

FORMATS = ("state", "patch")


class Item(NamedTuple):
    """One queued event: its name, its data (JSON text), the bytes sent, and for states
    and patches the version they bring the graph to and the version a patch applies to."""

    event: str
    data: str
    frame: bytes
    version: int | None = None
    base_version: int | None = None


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def item(event: str, data: str, version: int | None = None, base: int | None = None) -> Item:
    return Item(event, data, sse(event, data), version, base)


CLOSE = item("close", "")
# not sent as it is: the follower may have missed events (its shared bus lost its broker and
# got it back): it is sent the current state if that moved on (live.follow)
RESYNC = item("resync", "")


@dataclass(eq=False)
class Subscriber:
    graph_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    format: str = "state"
    lagging: bool = False
    closed: bool = False
    extra: dict = field(default_factory=dict)

    def _put(self, entry: Item) -> None:
        # runs on the event loop
        if self.closed:
            return
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.lagging = True


def _deliver(subs: Iterable[Subscriber], entry: Item) -> None:
    for sub in subs:
        sub._put(entry)


class EventBus:
    def __init__(self, queue_size: int = 64):
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._lock = threading.Lock()

    def subscribe(self, graph_id: str, format: str = "state") -> Subscriber:
        """Call on the event loop that will read the subscriber's queue."""
        if format not in FORMATS:
            raise ValueError(f"unknown event format {format!r}")
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        sub = Subscriber(graph_id, asyncio.get_running_loop(), queue, format)
        with self._lock:
            self._subscribers.setdefault(graph_id, set()).add(sub)
        return sub

    async def ready(self, sub: Subscriber) -> None:
        """Return once the subscriber receives every event published from now on (at once in
        memory; a shared bus may wait for its broker to confirm)."""

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        with self._lock:
            subs = self._subscribers.get(sub.graph_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.graph_id]

    def has_subscribers(self, graph_id: str) -> bool:
        return graph_id in self._subscribers

    def formats(self, graph_id: str) -> set[str]:
        """The formats the graph's subscribers read now (empty: nobody follows it)."""
        with self._lock:
            return {s.format for s in self._subscribers.get(graph_id, ())}

    def graph_ids(self) -> list[str]:
        """The graphs someone follows now."""
        with self._lock:
            return list(self._subscribers)

    def count(self, graph_id: str | None = None) -> int:
        with self._lock:
            if graph_id is not None:
                return len(self._subscribers.get(graph_id, ()))
            return sum(len(s) for s in self._subscribers.values())

    def publish(
        self,
        graph_id: str,
        event: str,
        data: str | Item,
        format: str | None = None,
        version: int | None = None,
        base_version: int | None = None,
    ) -> None:
        """Send `data` (JSON text, encoded here once, or an Item) as an `event` to every
        subscriber of the graph, or only to those reading `format`.

        Safe to call from any thread."""
        entry = data if isinstance(data, Item) else item(event, data, version, base_version)
        with self._lock:
            subs = [
                s
                for s in self._subscribers.get(graph_id, ())
                if format is None or s.format == format
            ]
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
        for sub in subs:
            by_loop.setdefault(sub.loop, []).append(sub)
        for loop, group in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, group, entry)
            except RuntimeError:  # the subscribers' loop has closed
                for sub in group:
                    self.unsubscribe(sub)

    def close_graph(self, graph_id: str) -> None:
        """End every stream of a graph (it was deleted)."""
        self.publish(graph_id, CLOSE.event, CLOSE)

    def close(self) -> None:
        """Stop delivering (the server stops); a bus in memory holds nothing to close."""
