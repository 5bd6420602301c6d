"""Builds the FastAPI app: settings, store, live graphs, event bus, routers, error handlers.

`app` (this module's) is what `uvicorn stepgrad.app.main:app` and `stepgrad serve` run, configured
from the STEPGRAD_* environment variables; tests build their own with `create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from stepgrad.app import __version__
from stepgrad.app.classroom.broadcast import ROOM_PREFIX
from stepgrad.app.http import errors, openapi_doc, static_assets
from stepgrad.app.http.request_log import RequestLogMiddleware
from stepgrad.app.jsonio import StrictJSONResponse
from stepgrad.app.protection import guards
from stepgrad.app.protection.bodies import StrictJSONBodyMiddleware
from stepgrad.app.routes import (
    apidocs,
    datasets,
    events,
    examples,
    graphs,
    health,
    lessons,
    ops,
    pages,
    quiz,
    race,
    rooms,
    server,
    spec,
    toposort,
)
from stepgrad.app.services import Services, services_of
from stepgrad.app.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = """
Build computation graphs and step through backpropagation node by node.

Changes to a graph need its edit token (`Authorization: Bearer <edit_token>`), returned
only when the graph is created or forked. Errors are `{"detail": "<sentence>"}`.
"""


def followed_rooms(services: Services) -> list[str]:
    """The rooms this process's followers watch now (they count as used)."""
    return [
        key.removeprefix(ROOM_PREFIX)
        for key in services.bus.graph_ids()
        if key.startswith(ROOM_PREFIX)
    ]


async def _sweeper(app: FastAPI) -> None:
    """Delete expired graphs and rooms every `sweep_interval_seconds` (with Redis, whose keys
    expire by themselves: mark the graphs and rooms this process's followers watch as used,
    and free the memory of expired ones)."""
    services = services_of(app)
    interval = services.settings.sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(services.graphs.sweep)
            await run_in_threadpool(services.rooms.sweep, followed_rooms(services))
        except Exception:
            # a failed sweep (a locked or full disk) must not stop the next one
            logger.exception("deleting expired graphs failed; trying again in %s s", interval)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = services_of(app)
    await run_in_threadpool(services.graphs.sweep)
    await run_in_threadpool(services.rooms.sweep, [])
    task = asyncio.create_task(_sweeper(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        services.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="stepgrad",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
        docs_url=None,  # /docs and /redoc come from routes.apidocs, without a CDN
        redoc_url=None,
    )
    app.state.services = Services.start(settings)
    app.add_middleware(
        StrictJSONBodyMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        max_buffered_bytes=settings.max_buffered_body_bytes,
    )
    # inside the request log and the security headers: a 500 is logged and carries them
    errors.install(app)
    app.add_middleware(RequestLogMiddleware)  # outside the body checks: logs their 413/415
    guards.install(app, settings)
    for module in (
        health,
        ops,
        examples,
        lessons,
        graphs,
        spec,
        events,
        quiz,
        toposort,
        datasets,
        race,
        rooms,
    ):
        app.include_router(module.router)
    app.include_router(server.router)
    app.include_router(pages.router)
    apidocs.install(app)
    openapi_doc.install(app)
    static_assets.install(app)
    return app


app = create_app()
