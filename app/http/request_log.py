"""One log line per failed request: method, path and status of every 4xx and 5xx answer,
the graph or room in the path named by its fingerprint (app.redact), never its link.

4xx (the client's mistake) at INFO, 5xx at ERROR. An exception that escapes the app is
logged here as a 500 line and passed on, so that the server logs its traceback as usual.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stepgrad.app import redact

logger = logging.getLogger(__name__)

MAX_PATH = 200


def printable(path: str) -> str:
    """The path as one line of log: a client can put newlines and escapes into a URL."""
    path = redact.path(path)
    if len(path) > MAX_PATH:
        path = path[:MAX_PATH] + "..."
    return path.encode("unicode_escape").decode("ascii") if not path.isprintable() else path


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            log(scope, status or 500)
            raise
        if status >= 400:
            log(scope, status)


def log(scope: Scope, status: int) -> None:
    level = logging.ERROR if status >= 500 else logging.INFO
    logger.log(level, "%s %s -> %d", scope["method"], printable(scope["path"]), status)
