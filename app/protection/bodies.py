"""Request bodies: bounded in size (413), JSON only (415), and parsed as strict JSON (422)
before any route.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` literals and turns `1e999` into
infinity; the API does not. The body is read (up to `max_body_bytes`, refusing a larger
Content-Length at once), checked, and replayed to the app unchanged.

Reading is bounded in time and in memory, so slow or stalled uploads cannot pile up: the
whole body must arrive within `body_timeout_seconds` (408), and the bodies being read at
once may hold at most `max_buffered_bytes` together (503; a declared Content-Length is
reserved up front). Either refusal closes the connection, so the rest of the body is
never read. A body over `max_body_bytes` is read and dropped, up to four times that
limit, before its 413, so that the client reads the answer rather than a reset.
"""

from __future__ import annotations

import asyncio
import json
import math
import time

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
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_timeout_seconds: float = 10.0,
        max_buffered_bytes: int = 64_000_000,
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout_seconds
        self.max_buffered = max_buffered_bytes
        self.buffered = 0  # bytes reserved by the bodies being read (one event loop)
        # a refused body up to this size is read and dropped so its 413 reaches the client
        self.drain_bytes = 4 * max_body_bytes

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
                drained = declared <= self.drain_bytes and await self._drain(receive, 0)
                await _too_large(scope, receive, send, limit, close=not drained)
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and length is None:
            await self.app(scope, receive, send)
            return
        reserved = min(declared, limit) if length is not None else 0
        if self.buffered + reserved > self.max_buffered:
            await _busy(scope, receive, send, self.max_buffered)
            return
        self.buffered += reserved
        try:
            chunks = await self._read(scope, receive, send, limit, reserved)
        finally:
            self.buffered -= reserved
        if chunks is None:
            return
        body = b"".join(chunks)
        chunks.clear()
        await self._check_and_call(scope, receive, send, headers, body)

    async def _read(
        self, scope: Scope, receive: Receive, send: Send, limit: int, reserved: int
    ) -> list[bytes] | None:
        """The body's chunks, or None after answering (or losing) the request."""
        chunks: list[bytes] = []
        size = 0
        more = True
        deadline = time.monotonic() + self.body_timeout
        extra = 0  # bytes beyond the reservation (no Content-Length), counted as they come
        try:
            while more:
                try:
                    async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                        message = await receive()
                except TimeoutError:
                    await _error(
                        scope,
                        receive,
                        send,
                        408,
                        f"The request body did not arrive within {self.body_timeout:g} s "
                        f"({size} bytes came).",
                        close=True,
                    )
                    return None
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    chunks.clear()
                    more = message.get("more_body", False)
                    drained = not more or await self._drain(receive, size, deadline)
                    await _too_large(scope, receive, send, limit, close=not drained)
                    return None
                if size > reserved + extra:
                    grow = size - reserved - extra
                    if self.buffered + grow > self.max_buffered:
                        await _busy(scope, receive, send, self.max_buffered)
                        return None
                    self.buffered += grow
                    extra += grow
                chunks.append(chunk)
                more = message.get("more_body", False)
        finally:
            self.buffered -= extra
        return chunks

    async def _drain(self, receive: Receive, size: int, deadline: float | None = None) -> bool:
        """Read and drop the rest of a refused body (up to `drain_bytes` in all, within the
        body deadline). Closing with unread bytes makes the kernel reset the connection, and
        the client may then never see the 413 sentence; a drained connection answers it."""
        if deadline is None:
            deadline = time.monotonic() + self.body_timeout
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                while size <= self.drain_bytes:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return False
                    size += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return size <= self.drain_bytes
        except TimeoutError:
            return False
        return False

    async def _check_and_call(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, body: bytes
    ) -> None:
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


async def _error(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    close: bool = False,
    retry_after: float | None = None,
) -> None:
    """An error answer; `close` when the body was not read to its end: the server then
    drops the connection instead of reading the rest."""
    from stepgrad.app.jsonio import StrictJSONResponse

    headers = {"Connection": "close"} if close else {}
    if retry_after is not None:
        headers["Retry-After"] = str(math.ceil(retry_after))
    await StrictJSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, receive, send
    )


async def _too_large(
    scope: Scope, receive: Receive, send: Send, limit: int, close: bool = True
) -> None:
    await _error(
        scope,
        receive,
        send,
        413,
        f"The request body is larger than the limit of {limit} bytes.",
        close=close,
    )


async def _busy(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _error(
        scope,
        receive,
        send,
        503,
        f"The server is already reading {limit} bytes of request bodies, its limit "
        "(max_buffered_body_bytes); try again in a moment.",
        close=True,
        retry_after=1,
    )
