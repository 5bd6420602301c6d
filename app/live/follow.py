"""One follower's stream of a graph's events: what it is sent, in which order, and when it
must be sent the whole state again (it fell behind, or a patch would not apply to what it
holds). The route (routes.events) opens the subscription and the stream; this is the loop.
A room's follower (routes.rooms) is simpler: `follow_room`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.concurrency import run_in_threadpool

from stepgrad.app.jsonio import dumps
from stepgrad.app.live.event_bus import RESYNC, Item, Subscriber, sse
from stepgrad.app.live.manager import GraphManager, GraphNotFound
from stepgrad.app.redact import fingerprint

logger = logging.getLogger(__name__)


async def current_state(graphs: GraphManager, graph_id: str) -> tuple[bytes, int] | None:
    """`event: state` with the graph now, and its version; None once it is gone."""
    try:
        current = await run_in_threadpool(graphs.snapshot, graph_id)
        text = await run_in_threadpool(graphs.state_text, current)
        return sse("state", text), current.version
    except GraphNotFound:
        return None  # deleted meanwhile: the stream simply ends
    except Exception:
        logger.exception("resyncing a follower of graph %s failed", fingerprint(graph_id))
        return None


async def next_entry(queue: asyncio.Queue, seconds: float) -> Item | None:
    """The queue's next event, or None after `seconds` without one. A step reaches every
    follower's queue at once: one already queued is taken with no timer, and a wait is a
    timeout scope rather than `wait_for`'s task, so a step costs each of a lecture hall's
    followers no task of its own."""
    if not queue.empty():
        return queue.get_nowait()
    try:
        async with asyncio.timeout(seconds):
            return await queue.get()
    except TimeoutError:
        return None


async def follow(
    graphs: GraphManager,
    sub: Subscriber,
    version: int,
    first: list[bytes],
    patches: bool,
    ping_seconds: float,
    max_events: int | None = None,
    on_resync: Callable[[], Awaitable[list[bytes]]] | None = None,
) -> AsyncIterator[bytes]:
    """The frames of one follower: `first` (the state it starts from, at `version`, and
    what it must hear on connecting), then every event of the graph. With `patches`, a
    patch is sent only when it applies to the version the follower holds. After RESYNC
    (events may have been lost) the follower is sent the state if it moved on, and what
    `on_resync` gives (what it must hear on connecting)."""
    graph_id = sub.graph_id
    sent = 0
    for frame in first:
        if max_events is not None and sent >= max_events:
            return
        yield frame
        sent += 1
    while max_events is None or sent < max_events:
        entry = await next_entry(sub.queue, ping_seconds)
        if entry is None:
            graphs.followed(graph_id)
            yield b": ping\n\n"
            continue
        if entry.event == "close":
            yield sse("deleted", dumps({"id": graph_id}))
            return
        resync = False
        if sub.lagging:  # the client fell behind: skip to the current state
            sub.lagging = False
            while not sub.queue.empty():
                if sub.queue.get_nowait().event == "close":
                    yield sse("deleted", dumps({"id": graph_id}))
                    return
            resync = True
        elif entry is RESYNC:  # events may have been lost (the bus's broker was away)
            found = await current_state(graphs, graph_id)
            if found is None:
                return
            if found[1] != version:
                frame, version = found
                yield frame
                sent += 1
            if on_resync is not None and (max_events is None or sent < max_events):
                for frame in await on_resync():
                    if max_events is not None and sent >= max_events:
                        return
                    yield frame
                    sent += 1
            continue
        elif entry.version is not None and (
            entry.version < version or (patches and entry.version == version)
        ):
            continue  # already in what the follower holds (an older state is never sent)
        elif patches and entry.version is not None:
            # a patch must apply to what the follower holds; else it gets the state
            resync = entry.event == "patch" and entry.base_version != version
        if resync:
            found = await current_state(graphs, graph_id)
            if found is None:
                return
            frame, version = found
        else:
            frame = entry.frame
            if entry.version is not None:
                version = entry.version
        yield frame
        sent += 1


async def follow_room(
    sub: Subscriber,
    first: bytes,
    current: Callable[[], Awaitable[bytes | None]],
    on_ping: Callable[[], Awaitable[None]],
    ping_seconds: float,
    max_events: int | None = None,
) -> AsyncIterator[bytes]:
    """The frames of one follower of a room: `first` (`event: room` now), then every
    `event: room` of a change; one that fell behind is sent the room as it is now
    (`current()`, None once the room is gone: the stream ends)."""
    yield first
    sent = 1
    while max_events is None or sent < max_events:
        entry = await next_entry(sub.queue, ping_seconds)
        if entry is None:
            await on_ping()
            yield b": ping\n\n"
            continue
        if entry.event == "close":
            return
        frame = entry.frame
        if sub.lagging or entry is RESYNC:  # skip what is queued: the room now says it all
            sub.lagging = False
            while not sub.queue.empty():
                sub.queue.get_nowait()
            now = await current()
            if now is None:
                return
            frame = now
        yield frame
        sent += 1
