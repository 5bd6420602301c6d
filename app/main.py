"""Builds the FastAPI app: settings, store, live graphs, event bus, routers, error handlers.

`app` (this module's) is what `uvicorn app.main:app` and `stepgrad serve` run, configured
from the STEPGRAD_* environment variables; tests build their own with `create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from . import __version__, errors, guards
from .events import EventBus
from .middleware import StrictJSONBodyMiddleware
from .routes import (
    datasets,
    events,
    examples,
    graphs,
    health,
    lessons,
    ops,
    pages,
    race,
    toposort,
)
from .sessions import GraphManager
from .settings import Settings
from .store import SQLiteStore

DESCRIPTION = """
Build computation graphs and step through backpropagation node by node.

Changes to a graph need its edit token (`Authorization: Bearer <edit_token>`), returned
only when the graph is created or forked. Errors are `{"detail": "<sentence>"}`.
"""


async def _sweeper(app: FastAPI) -> None:
    """Delete expired graphs every `sweep_interval_seconds`."""
    interval = app.state.settings.sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await run_in_threadpool(app.state.graphs.sweep)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(app.state.graphs.sweep)
    task = asyncio.create_task(_sweeper(app))
    try:
        yield
    finally:
        guards.shutdown(app)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.state.store.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="stepgrad",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = SQLiteStore(settings.db)
    app.state.bus = EventBus(settings.sse_queue_size)
    app.state.graphs = GraphManager(app.state.store, settings, app.state.bus)
    app.add_middleware(
        StrictJSONBodyMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        max_buffered_bytes=settings.max_buffered_body_bytes,
    )
    guards.install(app, settings)
    errors.install(app)
    for module in (health, ops, examples, lessons, graphs, events, toposort, datasets, race):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("app", "static")]), name="static")
    return app


app = create_app()
