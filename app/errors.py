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

The body is always `{"detail": "<a sentence>", ...}`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from engine.errors import CycleError, LimitError, ParseError, PhaseError, StepgradError

from .jsonio import StrictJSONResponse as SafeJSONResponse
from .sessions import GraphBusy, GraphNotFound

logger = logging.getLogger(__name__)


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
            # the client's input made FastAPI's error unencodable: answer with its core
            logger.info("a validation error could not be encoded whole", exc_info=True)
            errors.append(jsonable_encoder({k: error[k] for k in ("type", "loc", "msg")}))
    return SafeJSONResponse({"detail": errors}, status_code=422)


async def http_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, HTTPException)
    return SafeJSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StepgradError, engine_error)
    app.add_exception_handler(GraphNotFound, not_found)
    app.add_exception_handler(GraphBusy, busy)
