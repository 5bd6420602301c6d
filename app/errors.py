"""The one place where exceptions become HTTP answers.

| exception                                   | status |
|---------------------------------------------|--------|
| engine PhaseError                           | 409    |
| engine LimitError                           | 413    |
| engine ParseError (+ "line", "column")      | 422    |
| engine CycleError (+ "cycle")               | 422    |
| any other engine StepgradError              | 422    |
| GraphNotFound                               | 404    |
| GraphBusy                                   | 409    |
| request validation (FastAPI)                | 422    |
| a body that is not JSON (app.middleware)    | 415    |
| a body over max_body_bytes                  | 413    |
| anything else (a bug): logged with its trace | 500    |

The body is always `{"detail": "<a sentence>", ...}`.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from engine.errors import CycleError, LimitError, ParseError, PhaseError, StepgradError

from .sessions import GraphBusy, GraphNotFound

logger = logging.getLogger("stepgrad.errors")

INTERNAL_ERROR = (
    "The server failed on this request; it has been logged, and the graph is as it was "
    "before the request."
)


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: messages that quote client text always encode."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


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
    return SafeJSONResponse({"detail": str(exc)}, status_code=409)


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
            logger.exception("Unhandled error on %s %s", scope.get("method"), scope.get("path"))
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
