"""GET /api/graphs/{id}/events: a server-sent event stream for follow mode.

Two formats. `state` (the default, v1): `event: state` with the current state on connect,
then after every change the new state with the events of the change (states carry
`version`, so a client can skip one it has seen). `format=patch` (v1.1): `event: state` on
connect, then `event: patch` after every change, each applying to the version before it;
when a follower falls behind (or the graph's structure changes) it is sent `event: state`
again and patches carry on from there. Both: during training `event: progress` (one per
epoch, at most every `progress_interval_seconds`), `event: deleted` before the stream ends
when the graph is deleted, and a `: ping` comment every `sse_ping_seconds` of silence.

Each event is encoded once for all the followers of its format (app.events).

Streams are capped per address and in all (app.ratelimit.StreamLimiter: 429 / 503). A
followed graph counts as used while its stream is open, so it never expires under a class.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from stepgrad.app.http.deps import GraphId, Graphs, SettingsDep, get_bus
from stepgrad.app.jsonio import dumps
from stepgrad.app.live.event_bus import EventBus, Subscriber, sse
from stepgrad.app.live.manager import GraphNotFound
from stepgrad.app.routes.quiz import on_connect_frames
from stepgrad.app.schemas import NOT_FOUND

router = APIRouter(prefix="/api/graphs", tags=["events"])
logger = logging.getLogger(__name__)

STREAM_DOC = {
    200: {
        "description": "text/event-stream: `event: state` (data: GraphState JSON), with "
        "`format=patch` also `event: patch` (data: GraphPatch JSON), `event: progress` (data: "
        "Progress JSON), `event: deleted`, and `: ping` comments.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **NOT_FOUND,
}


class EventStreamResponse(StreamingResponse):
    """A streaming response that runs `on_close` however the stream ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None]):
        super().__init__(
            content,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()
            aclose: Callable[[], Awaitable[None]] | None = getattr(
                self.body_iterator, "aclose", None
            )
            if aclose is not None:
                await aclose()


@router.get(
    "/{graph_id}/events",
    status_code=200,
    response_class=EventStreamResponse,
    responses=STREAM_DOC,
    summary="Live events of the graph (server-sent events)",
)
async def graph_events(
    graph_id: GraphId,
    request: Request,
    graphs: Graphs,
    settings: SettingsDep,
    bus: Annotated[EventBus, Depends(get_bus)],
    max_events: Annotated[
        int | None,
        Query(ge=1, description="End the stream after this many events (for tests and scripts)."),
    ] = None,
    format: Annotated[
        str | None,
        Query(
            description="`state` (the default): the whole state after every change; `patch`: "
            "the state on connect, then a patch after every change (contract v1.1)."
        ),
    ] = None,
) -> EventStreamResponse:
    fmt = format or "state"
    if fmt not in ("state", "patch"):
        raise HTTPException(
            422,
            f"format={fmt[:40]!r} is not an event format: use format=patch for patches, or "
            "format=state (or nothing) for whole states.",
        )
    streams = request.app.state.streams
    address = streams.open(request)
    # subscribe before reading the state, so that no change falls in between
    sub: Subscriber = bus.subscribe(graph_id, fmt)

    def close() -> None:
        bus.unsubscribe(sub)
        streams.close(address)

    try:
        await bus.ready(sub)
        snapshot = await run_in_threadpool(graphs.snapshot, graph_id)
        first = await run_in_threadpool(graphs.state_frame, snapshot)
    except BaseException:
        close()
        raise
    ping = settings.sse_ping_seconds
    patches = fmt == "patch"

    async def current_state() -> tuple[bytes, int] | None:
        try:
            current = await run_in_threadpool(graphs.snapshot, graph_id)
            return sse(
                "state", await run_in_threadpool(graphs.state_text, current)
            ), current.version
        except GraphNotFound:
            return None  # deleted meanwhile: the stream simply ends
        except Exception:
            logger.exception("resyncing a follower of graph %s failed", graph_id)
            return None

    extra = on_connect_frames(request, graph_id)

    async def stream() -> AsyncIterator[bytes]:
        yield first
        sent = 1
        for name, data in extra:
            if max_events is not None and sent >= max_events:
                return
            yield sse(name, data)
            sent += 1
        version = snapshot.version  # what the follower holds (patch format)
        while max_events is None or sent < max_events:
            try:
                entry = await asyncio.wait_for(sub.queue.get(), timeout=ping)
            except TimeoutError:
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
            elif patches and entry.version is not None:
                if entry.version <= version:
                    continue  # already in what the follower holds
                # a patch must apply to what the follower holds; else it gets the state
                resync = entry.event == "patch" and entry.base_version != version
            if resync:
                found = await current_state()
                if found is None:
                    return
                frame, version = found
            else:
                frame = entry.frame
                if entry.version is not None:
                    version = entry.version
            yield frame
            sent += 1

    return EventStreamResponse(stream(), on_close=close)
