"""/api/rooms (contract v1.2): one follow link for a whole lesson.

The teacher's lesson page creates a room (201 with an edit token) and says what it shows at
every step change (PUT, with the token); followers read the room (GET) and hear its changes
(`event: room` on `GET /api/rooms/{id}/events`), then follow the room's current graph on
that graph's own stream. Leaving a step closes the question asked on its graph
(classroom.broadcast.room_changed). The logic is in classroom.rooms.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stepgrad.app.classroom.broadcast import room_changed, room_channel
from stepgrad.app.classroom.rooms import RoomNotFound, RoomRefused, Rooms, RoomsFull, room_view
from stepgrad.app.http.deps import SettingsDep
from stepgrad.app.http.streams import EventStreamResponse
from stepgrad.app.jsonio import dumps
from stepgrad.app.live.event_bus import sse
from stepgrad.app.live.follow import follow_room
from stepgrad.app.schemas import (
    ERROR_RESPONSES,
    CreatedRoom,
    ErrorResponse,
    RoomCreate,
    RoomState,
    RoomUpdate,
)
from stepgrad.app.services import services_of

router = APIRouter(prefix="/api/rooms", tags=["rooms"])

RoomId = Annotated[str, Path(description="The room's id (random, unguessable).", max_length=64)]

room_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="RoomToken",
    description="The `edit_token` returned when the room was created.",
)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such room (or it expired)"}
}
READ: dict[int | str, dict[str, Any]] = {**NOT_FOUND, **ERROR_RESPONSES}
CHANGE: dict[int | str, dict[str, Any]] = {
    **READ,
    401: {"model": ErrorResponse, "description": "No edit token"},
    403: {"model": ErrorResponse, "description": "Not the room's edit token"},
}
CREATE: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    429: {"model": ErrorResponse, "description": "Too many creations from this address"},
    503: {"model": ErrorResponse, "description": "Every room the server keeps is in use"},
}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: `event: room` (data: RoomState JSON) on connect "
        "and after every change, and `: ping` comments.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **NOT_FOUND,
}


def get_rooms(request: Request) -> Rooms:
    return services_of(request.app).rooms


RoomsDep = Annotated[Rooms, Depends(get_rooms)]


def _json(body: dict, status: int = 200) -> Response:
    return Response(dumps(body), status, media_type="application/json")


async def _room(rooms: Rooms, room_id: str):
    try:
        return await run_in_threadpool(rooms.get, room_id)
    except RoomNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post(
    "",
    status_code=201,
    response_model=CreatedRoom,
    responses=CREATE,
    summary="Create a room for a lesson: one follow link for all its steps and graphs",
)
async def create_room(body: RoomCreate, rooms: RoomsDep) -> Response:
    try:
        record, token = await run_in_threadpool(rooms.create, body.lesson, body.playground)
    except RoomRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except RoomsFull as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "60"}) from None
    return _json({**room_view(record), "edit_token": token}, 201)


@router.get(
    "/{room_id}",
    response_model=RoomState,
    responses=READ,
    summary="What the room's teacher shows now: step, graph, view and panel",
)
async def get_room(room_id: RoomId, rooms: RoomsDep) -> Response:
    return _json(room_view(await _room(rooms, room_id)))


@router.put(
    "/{room_id}",
    response_model=RoomState,
    responses=CHANGE,
    summary="Say what the teacher shows (edit token); leaving a step closes its question",
)
async def put_room(
    room_id: RoomId,
    body: RoomUpdate,
    rooms: RoomsDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(room_bearer)],
) -> Response:
    record = await _room(rooms, room_id)
    if credentials is None:
        raise HTTPException(
            401,
            "This call changes the room: send the room's edit token as "
            "`Authorization: Bearer <edit_token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not rooms.token_matches(record, credentials.credentials):
        raise HTTPException(403, "The edit token does not match this room.")
    services = services_of(request.app)

    def graph_exists(graph_id: str) -> bool:
        return services.store.version(graph_id) is not None

    try:
        old, new = await run_in_threadpool(
            rooms.change, room_id, body.model_dump(exclude_unset=True), graph_exists
        )
    except RoomRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except RoomNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    await run_in_threadpool(room_changed, services, old, new)
    return _json(room_view(new))


@router.get(
    "/{room_id}/events",
    status_code=200,
    response_class=EventStreamResponse,
    responses=STREAM_DOC,
    summary="Live changes of the room (server-sent events)",
)
async def room_events(
    room_id: RoomId,
    request: Request,
    rooms: RoomsDep,
    settings: SettingsDep,
    max_events: Annotated[
        int | None,
        Query(ge=1, description="End the stream after this many events (for tests and scripts)."),
    ] = None,
) -> EventStreamResponse:
    services = services_of(request.app)
    bus, streams = services.bus, services.streams
    address = streams.open(request)
    # subscribe before reading the room, so that no change falls in between (counted in
    # memory: never waits for a shared bus's broker, and always undone by close)
    sub = bus.subscribe(room_channel(room_id))
    closed = False

    def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            bus.unsubscribe(sub)
            streams.close(address)

    try:
        await bus.ready(sub)
        record = await _room(rooms, room_id)
    except BaseException:
        close()
        raise

    async def current() -> bytes | None:
        try:
            return sse("room", dumps(room_view(await run_in_threadpool(rooms.get, room_id))))
        except RoomNotFound:
            return None

    async def on_ping() -> None:
        await run_in_threadpool(rooms.touch, room_id)

    stream = follow_room(
        sub,
        sse("room", dumps(room_view(record))),
        current,
        on_ping,
        ping_seconds=settings.sse_ping_seconds,
        max_events=max_events,
    )
    return EventStreamResponse(stream, on_close=close)
