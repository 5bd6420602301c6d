"""The one place where exceptions become HTTP answers.

| exception                                   | status |
|---------------------------------------------|--------|
| engine PhaseError                           | 409    |
| engine LimitError                           | 413    |
| engine ParseError (+ "line", "column")      | 422    |
| engine CycleError (+ "cycle")               | 422    |
| any other engine StepgradError              | 422    |
| GraphNotFound                               | 404    |
| GraphBusy                                   | 409 + Retry-After |
| StoreFull (every kept graph in use)         | 503 + Retry-After |
| JobStopped: time budget / shutdown          | 413 / 503 + Retry-After |
| PoolFull (too many heavy calls at once)     | 503 + Retry-After |
| StoreDiskFull (the store's disk is full)    | 507 + Retry-After |
| Redis OOM / MISCONF (full, cannot persist)  | 507 + Retry-After |
| request validation (FastAPI)                | 422    |
| a body that is not JSON (protection.bodies)    | 415    |
| a body over max_body_bytes                  | 413    |
| anything else (a bug): logged with its trace | 500    |

The body is always `{"detail": "<a sentence>", ...}`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from stepgrad.app.http.request_log import printable
from stepgrad.app.jsonio import StrictJSONResponse as SafeJSONResponse
from stepgrad.app.live.manager import GraphBusy, GraphNotFound, StoreFull
from stepgrad.app.protection.jobs import JobStopped, PoolFull
from stepgrad.app.services import services_of
from stepgrad.app.storage.base import StoreDiskFull
from stepgrad.engine.errors import CycleError, LimitError, ParseError, PhaseError, StepgradError

logger = logging.getLogger(__name__)

INTERNAL_ERROR = (
    "The server failed on this request; it has been logged, and the graph is as it was "
    "before the request."
)


def status_of(exc: StepgradError) -> int:
    if isinstance(exc, PhaseError):
        return 409
    if isinstance(exc, LimitError):
        return 413
    return 422


def engine_error_body(exc: StepgradError) -> dict:
    body: dict = {"detail": str(exc)}
    if isinstance(exc, ParseError):
        body["line"] = exc.line
        body["column"] = exc.column
    if isinstance(exc, CycleError):
        body["cycle"] = list(exc.cycle)
    return body


async def engine_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, StepgradError)
    return SafeJSONResponse(engine_error_body(exc), status_code=status_of(exc))


async def not_found(request: Request, exc: Exception) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": str(exc)}, status_code=404)


async def busy(request: Request, exc: Exception) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": str(exc)}, status_code=409, headers={"Retry-After": "2"})


async def store_full(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, StoreFull)
    headers = {"Retry-After": str(exc.retry_after)}
    return SafeJSONResponse({"detail": str(exc)}, status_code=503, headers=headers)


async def job_stopped(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, JobStopped)
    job = exc.job
    if exc.reason == "budget":
        detail = (
            f"{job.what} was stopped after {job.seconds:.1f} s: the time budget of one heavy "
            f"call is {job.budget:g} s (max_job_seconds), and it had made {job.checks} steps "
            "or evaluations. Nothing was changed; ask for less work."
        )
        return SafeJSONResponse({"detail": detail}, status_code=413)
    if exc.reason == "client":  # nobody reads this: the client has gone
        return SafeJSONResponse({"detail": f"{job.what} was stopped: the client left."}, 499)
    return SafeJSONResponse(
        {"detail": f"{job.what} was stopped: the server is shutting down. Try again shortly."},
        status_code=503,
        headers={"Retry-After": "5"},
    )


STORE_DOWN = "The graph store (Redis) cannot be reached just now; try again shortly."


async def store_unreachable(request: Request, exc: Exception) -> SafeJSONResponse:
    logger.warning("the store is unreachable: %s", exc)
    return SafeJSONResponse({"detail": STORE_DOWN}, status_code=503, headers={"Retry-After": "5"})


async def disk_full(request: Request, exc: Exception) -> SafeJSONResponse:
    """Contract v1.2: 507 when the store's disk is full; nothing of the change was kept and
    reads go on."""
    assert isinstance(exc, StoreDiskFull)
    logger.warning("a write was refused: the store's disk is full (%s)", exc.__cause__ or exc)
    headers = {"Retry-After": str(exc.retry_after)}
    return SafeJSONResponse({"detail": str(exc)}, status_code=507, headers=headers)


REDIS_FULL = (
    "The graph store (Redis) is full or cannot save to its disk, so this change was not "
    "saved and nothing of it was kept; reading goes on. Try again in a minute, once the "
    "server's operator has made room."
)


async def redis_refused(request: Request, exc: Exception) -> SafeJSONResponse:
    """Redis refusing writes for want of room: out of memory under `maxmemory` (OOM), or
    unable to persist to its disk (MISCONF) is a 507 like a full disk. Any other error
    reply is a bug: logged, 500."""
    from redis.exceptions import OutOfMemoryError

    if isinstance(exc, OutOfMemoryError) or str(exc).startswith(("OOM", "MISCONF")):
        logger.warning("Redis refused a write: %s", exc)
        retry = {"Retry-After": str(StoreDiskFull.retry_after)}
        return SafeJSONResponse({"detail": REDIS_FULL}, status_code=507, headers=retry)
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return SafeJSONResponse({"detail": INTERNAL_ERROR}, status_code=500)


async def pool_full(request: Request, exc: Exception) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})


async def validation_error(request: Request, exc: Exception) -> SafeJSONResponse:
    """FastAPI's 422 body, made safe for any input (it echoes the input back)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        if isinstance(error.get("ctx"), dict):
            ctx = error["ctx"]
            error = {
                **error,
                "ctx": {k: str(v) if isinstance(v, Exception) else v for k, v in ctx.items()},
            }
        try:
            errors.append(jsonable_encoder(error))
        except Exception:
            # the client's input made FastAPI's error unencodable: answer with its core
            logger.info("a validation error could not be encoded whole", exc_info=True)
            errors.append(jsonable_encoder({k: error[k] for k in ("type", "loc", "msg")}))
    return SafeJSONResponse({"detail": errors}, status_code=422)


async def http_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, HTTPException)
    return SafeJSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


class CatchAll:
    """Any exception no handler took becomes a logged 500 with a JSON sentence.

    A plain ASGI middleware rather than an `Exception` handler: Starlette re-raises after
    such a handler has answered, which ends the connection under some servers. Changes to
    a graph are undone by the store's own rollback (`GraphManager.mutate`)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            logger.exception(
                "Unhandled error on %s %s", scope.get("method"), printable(scope.get("path", ""))
            )
            if started:  # too late for an answer of our own
                raise
            await SafeJSONResponse({"detail": INTERNAL_ERROR}, status_code=500)(
                scope, receive, send
            )


def install(app: FastAPI) -> None:
    app.add_middleware(CatchAll)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StepgradError, engine_error)
    app.add_exception_handler(GraphNotFound, not_found)
    app.add_exception_handler(GraphBusy, busy)
    app.add_exception_handler(StoreFull, store_full)
    app.add_exception_handler(JobStopped, job_stopped)
    app.add_exception_handler(PoolFull, pool_full)
    app.add_exception_handler(StoreDiskFull, disk_full)
    if services_of(app).settings.store:  # Redis: an outage is a 503 to retry, not a 500
        from redis.exceptions import ConnectionError, ResponseError, TimeoutError

        app.add_exception_handler(ConnectionError, store_unreachable)
        app.add_exception_handler(TimeoutError, store_unreachable)
        app.add_exception_handler(ResponseError, redis_refused)  # OOM, MISCONF: 507
