"""Request bodies: bounded in size (413), JSON only (415), and parsed as strict JSON (422)
before any route.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` literals and turns `1e999` into
infinity; the API does not. The body is read (up to `max_body_bytes`, refusing a larger
Content-Length at once), checked, and replayed to the app unchanged.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class NotStrictJSON(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise NotStrictJSON(f"the literal {name} is not JSON; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise NotStrictJSON(f"the number {text[:40]} is too large for a float64")
    return value


def parse_strict(body: bytes) -> object:
    """json.loads without NaN/Infinity literals or numbers that overflow to infinity."""
    return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI would try JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class StrictJSONBodyMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.max_body_bytes
        length = headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _error(
                    scope, receive, send, 400, "The Content-Length header is not a number."
                )
                return
            if declared > limit:
                await _too_large(scope, receive, send, limit)
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and length is None:
            await self.app(scope, receive, send)
            return
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and not _is_json(headers.get("content-type")):
            await _error(
                scope, receive, send, 415, "Request bodies must be JSON (application/json)."
            )
            return
        if body:
            try:
                parse_strict(body)
            except NotStrictJSON as exc:
                await _error(
                    scope, receive, send, 422, f"The request body is not strict JSON: {exc}."
                )
                return
            except RecursionError:
                await _error(scope, receive, send, 422, "The request body is nested too deeply.")
                return
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
                await _error(
                    scope,
                    receive,
                    send,
                    422,
                    f"The request body is not valid JSON: {str(exc)[:200]}.",
                )
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _error(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    from .jsonio import StrictJSONResponse

    await StrictJSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _error(
        scope, receive, send, 413, f"The request body is larger than the limit of {limit} bytes."
    )
