"""GET /api/graphs/{id}/events: a server-sent event stream for follow mode.

On connect: `event: state` with the current state. Then after every change `event: state`
(the new state with the events of the change; states carry `version`, so a client can
skip one it has seen), during training `event: progress` (one per epoch, at most every
`progress_interval_seconds`), and `event: deleted` before the stream ends when the graph
is deleted. A `: ping` comment is sent every `sse_ping_seconds` of silence.

Streams are capped per address and in all (app.ratelimit.StreamLimiter: 429 / 503). A
followed graph counts as used while its stream is open, so it never expires under a class.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..deps import GraphId, Graphs, SettingsDep, get_bus
from ..events import CLOSE, EventBus, Subscriber
from ..jsonio import dumps
from ..schemas import NOT_FOUND
from ..sessions import GraphNotFound

router = APIRouter(prefix="/api/graphs", tags=["events"])
logger = logging.getLogger(__name__)

STREAM_DOC = {
    200: {
        "description": "text/event-stream: `event: state` (data: GraphState JSON), "
        "`event: progress` (data: Progress JSON), `event: deleted`, and `: ping` comments.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **NOT_FOUND,
}


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


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
) -> EventStreamResponse:
    streams = request.app.state.streams
    address = streams.open(request)
    # subscribe before reading the state, so that no change falls in between
    sub: Subscriber = bus.subscribe(graph_id)

    def close() -> None:
        bus.unsubscribe(sub)
        streams.close(address)

    try:
        snapshot = await run_in_threadpool(graphs.snapshot, graph_id)
        first = await run_in_threadpool(graphs.state_text, snapshot)
    except BaseException:
        close()
        raise
    ping = settings.sse_ping_seconds

    async def stream() -> AsyncIterator[bytes]:
        yield sse("state", first)
        sent = 1
        while max_events is None or sent < max_events:
            try:
                event, data = await asyncio.wait_for(sub.queue.get(), timeout=ping)
            except TimeoutError:
                graphs.followed(graph_id)
                yield b": ping\n\n"
                continue
            if (event, data) == CLOSE:
                yield sse("deleted", dumps({"id": graph_id}))
                return
            if sub.lagging:  # the client fell behind: skip to the current state
                sub.lagging = False
                while not sub.queue.empty():
                    if sub.queue.get_nowait() == CLOSE:
                        yield sse("deleted", dumps({"id": graph_id}))
                        return
                try:
                    current = await run_in_threadpool(graphs.snapshot, graph_id)
                except GraphNotFound:
                    return  # deleted meanwhile: the stream simply ends
                except Exception:
                    logger.exception("resyncing a follower of graph %s failed", graph_id)
                    return
                event, data = "state", await run_in_threadpool(graphs.state_text, current)
            yield sse(event, data)
            sent += 1

    return EventStreamResponse(stream(), on_close=close)
