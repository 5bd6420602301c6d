"""GET /api/graphs/{id}/events: a server-sent event stream for follow mode.

Two formats. `state` (the default, v1): `event: state` with the current state on connect,
then after every change the new state with the events of the change (states carry
`version`, so a client can skip one it has seen). `format=patch` (v1.1): `event: state` on
connect, then `event: patch` after every change, each applying to the version before it;
when a follower falls behind (or the graph's structure changes) it is sent `event: state`
again and patches carry on from there. Both: during training `event: progress` (one per
epoch, at most every `progress_interval_seconds`), `event: deleted` before the stream ends
when the graph is deleted, and a `: ping` comment every `sse_ping_seconds` of silence.

Each event is encoded once for all the followers of its format (live.event_bus).

Streams are capped per address and in all (protection.rates.StreamLimiter: 429 / 503). A
followed graph counts as used while its stream is open, so it never expires under a class.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from stepgrad.app.classroom.broadcast import on_connect_frames
from stepgrad.app.http.deps import GraphId, Graphs, SettingsDep, get_bus
from stepgrad.app.http.streams import EventStreamResponse
from stepgrad.app.live.event_bus import EventBus, Subscriber, sse
from stepgrad.app.live.follow import follow
from stepgrad.app.schemas import NOT_FOUND
from stepgrad.app.services import services_of
from stepgrad.app.storage.backends import STORE_ERRORS

router = APIRouter(prefix="/api/graphs", tags=["events"])
logger = logging.getLogger(__name__)

STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: `event: state` (data: GraphState JSON), with "
        "`format=patch` also `event: patch` (data: GraphPatch JSON), `event: progress` (data: "
        "Progress JSON), `event: deleted`, and `: ping` comments.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **NOT_FOUND,
}


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
    services = services_of(request.app)
    streams = services.streams
    address = streams.open(request)
    # subscribe before reading the state, so that no change falls in between (counted in
    # memory: never waits for a shared bus's broker, and always undone by close)
    sub: Subscriber = bus.subscribe(graph_id, fmt)
    closed = False

    def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            bus.unsubscribe(sub)
            streams.close(address)

    async def extra_frames() -> list[bytes]:
        return await run_in_threadpool(_extra_frames, services, graph_id)

    try:
        await bus.ready(sub)
        snapshot = await run_in_threadpool(graphs.snapshot, graph_id)
        first = await run_in_threadpool(graphs.state_frame, snapshot)
        extra = await extra_frames()
    except BaseException:
        close()
        raise
    stream = follow(
        graphs,
        sub,
        snapshot.version,
        first=[first, *extra],
        patches=fmt == "patch",
        ping_seconds=settings.sse_ping_seconds,
        max_events=max_events,
        on_resync=extra_frames,
    )
    return EventStreamResponse(stream, on_close=close)


def _extra_frames(services, graph_id: str) -> list[bytes]:
    """What a follower hears on connecting besides the state (the question, the focus), in
    a worker thread: a shared store is asked. While it does not answer, nothing: the
    follower hears them once the bus is back (follow's on_resync) or when they change."""
    try:
        return [sse(name, data) for name, data in on_connect_frames(services, graph_id)]
    except STORE_ERRORS:
        logger.info("a follower's question and focus could not be read: the store is away")
        return []
