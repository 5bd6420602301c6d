"""Subscribers to each graph's live events, fed from the worker threads that change graphs.

Routes that change a graph run in threads; each subscriber is an asyncio queue on the
server's event loop. `publish` hands an event to every subscriber of a graph with
`loop.call_soon_threadsafe`. A subscriber whose queue is full (a stalled client) is marked
`lagging`: its stream drops what is queued and sends the current state instead.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass(eq=False)
class Subscriber:
    graph_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    lagging: bool = False
    closed: bool = False
    extra: dict = field(default_factory=dict)

    def _put(self, item: tuple[str, str]) -> None:
        # runs on the event loop
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.lagging = True


CLOSE = ("close", "")


class EventBus:
    def __init__(self, queue_size: int = 64):
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._lock = threading.Lock()

    def subscribe(self, graph_id: str) -> Subscriber:
        """Call on the event loop that will read the subscriber's queue."""
        sub = Subscriber(graph_id, asyncio.get_running_loop(), asyncio.Queue(self.queue_size))
        with self._lock:
            self._subscribers.setdefault(graph_id, set()).add(sub)
        return sub

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

    def graph_ids(self) -> list[str]:
        """The graphs someone follows now."""
        with self._lock:
            return list(self._subscribers)

    def count(self, graph_id: str | None = None) -> int:
        with self._lock:
            if graph_id is not None:
                return len(self._subscribers.get(graph_id, ()))
            return sum(len(s) for s in self._subscribers.values())

    def publish(self, graph_id: str, event: str, data: str) -> None:
        """Send `data` (already JSON text) as an `event` to every subscriber of the graph.

        Safe to call from any thread."""
        with self._lock:
            subs = list(self._subscribers.get(graph_id, ()))
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub._put, (event, data))
            except RuntimeError:  # the subscriber's loop has closed
                self.unsubscribe(sub)

    def close_graph(self, graph_id: str) -> None:
        """End every stream of a graph (it was deleted)."""
        self.publish(graph_id, *CLOSE)
