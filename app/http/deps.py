"""FastAPI dependencies: the settings, the store, the live graphs, the event bus, and the
edit-token check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stepgrad.app.live.event_bus import EventBus
from stepgrad.app.live.manager import GraphManager, Session
from stepgrad.app.protection.jobs import JobPool
from stepgrad.app.services import services_of
from stepgrad.app.settings import Settings

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="EditToken",
    description="The `edit_token` returned when the graph was created or forked.",
)


# async: FastAPI runs a plain `def` dependency in the threadpool, a round trip each


async def get_settings(request: Request) -> Settings:
    return services_of(request.app).settings


async def get_graphs(request: Request) -> GraphManager:
    return services_of(request.app).graphs


async def get_bus(request: Request) -> EventBus:
    return services_of(request.app).bus


async def get_jobs(request: Request) -> JobPool:
    return services_of(request.app).jobs


GraphId = Annotated[str, Path(description="The graph's id (random, unguessable).", max_length=64)]
Graphs = Annotated[GraphManager, Depends(get_graphs)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Jobs = Annotated[JobPool, Depends(get_jobs)]


async def pinned_session(graphs: GraphManager, graph_id: str) -> Session:
    """The graph's session, pinned in memory until `graphs.release`: one held in memory is
    found without leaving the event loop, one that must be loaded from the store is loaded
    in the threadpool."""
    session = graphs.acquire_cached(graph_id)
    if session is None:
        session = await run_in_threadpool(graphs.acquire, graph_id)
    return session


def check_edit_token(
    session: Session, credentials: HTTPAuthorizationCredentials | None, what: str
) -> None:
    """401 without the graph's edit token (`what` says whose the call is), 403 wrong."""
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail=f"{what}: send the graph's edit token as `Authorization: Bearer <edit_token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not session.check_token(credentials.credentials):
        raise HTTPException(status_code=403, detail="The edit token does not match this graph.")


async def editable_session(
    graph_id: GraphId,
    graphs: Graphs,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AsyncIterator[Session]:
    """The graph's session, if the request carries its edit token (401 without, 403 wrong),
    once it is this request's turn to change the graph (409 after `lock_timeout_seconds`).

    A graph held in memory is found without leaving the event loop; one that must be
    loaded from the store is loaded in the threadpool. The turn is awaited on the event
    loop, so requests queued behind a long change hold no thread."""
    session = await pinned_session(graphs, graph_id)
    try:
        check_edit_token(session, credentials, "This call changes the graph")
        await graphs.wait_turn(session)
        try:
            yield session
        finally:
            session.gate.release()
    finally:
        graphs.release(session)


EditableSession = Annotated[Session, Depends(editable_session)]
