"""Per-address limits: how often one address may create graphs or make anonymous heavy
calls, and how many event streams it may hold open.

Rates use the `limits` package, in its notation: `rate_create` ("60/minute;600/hour")
counts graph creations, forks and room creations, the calls that fill the store; `rate_heavy` counts
gradient checks, races and sorts, which need no edit token. The moving windows are kept
in memory per server process, or in Redis when the store is Redis, so that all the
processes of a department share one allowance per address. A call over a rate gets 429
with `Retry-After` and a sentence giving the limit. An address is the peer address of
the connection, or with `proxy_headers` the client address the proxies named in
`forwarded_allow_ips` pass on (docs/DEPLOY.md, "Behind a reverse proxy").
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time

import anyio
import anyio.to_thread
from fastapi import HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from stepgrad.app.settings import Settings

logger = logging.getLogger(__name__)

# (kind, method, path): the calls each rate counts
RULES = (
    ("create", "POST", re.compile(r"/api/graphs/?")),
    ("create", "POST", re.compile(r"/api/graphs/[^/]+/fork")),
    ("create", "POST", re.compile(r"/api/rooms/?")),
    ("heavy", "POST", re.compile(r"/api/race/?")),
    ("heavy", "POST", re.compile(r"/api/toposort/?")),
    ("heavy", "GET", re.compile(r"/api/graphs/[^/]+/(gradcheck|toposort)")),
    ("answer", "POST", re.compile(r"/api/graphs/[^/]+/quiz/answers")),
)
WHAT = {
    "create": "new graphs and rooms (creations and forks)",
    "heavy": "gradient checks, races and sorts",
    "answer": "quiz answers",
}


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _per(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return (
        f"{item.amount} per {unit}"
        if item.multiples == 1
        else (f"{item.amount} per {item.multiples} {unit}s")
    )


REDIS_THREADS = 8  # threads that may wait for the shared counters (Redis) at once


class RateLimitMiddleware:
    """Counts the calls of RULES per address; over a rate, 429 with Retry-After. Counters
    in memory are counted on the event loop; counters in Redis in worker threads (at most
    REDIS_THREADS at once, so that a stalled Redis never holds the event loop nor every
    thread), and a Redis that does not answer is a 503 to retry."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.rates = {
            "create": parse_many(settings.rate_create),
            "heavy": parse_many(settings.rate_heavy),
            "answer": parse_many(settings.rate_answer),
        }
        storage = rate_storage(settings)
        self.limiter = MovingWindowRateLimiter(storage)
        self.shared = not isinstance(storage, MemoryStorage)
        self._threads: anyio.CapacityLimiter | None = None

    def _kind(self, method: str, path: str) -> str | None:
        for kind, m, pattern in RULES:
            if method == m and pattern.fullmatch(path):
                return kind
        return None

    def _hit(self, kind: str, address: str) -> tuple[RateLimitItem, int] | None:
        """Count the call; the rate it went over and the seconds until it may, or None."""
        for item in self.rates[kind]:
            if not self.limiter.hit(item, kind, address):
                reset = self.limiter.get_window_stats(item, kind, address).reset_time
                return item, max(1, math.ceil(reset - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = self._kind(scope["method"], scope.get("path", ""))
        if kind is not None:
            address = client_address(scope)
            try:
                if self.shared:
                    if self._threads is None:
                        self._threads = anyio.CapacityLimiter(REDIS_THREADS)
                    over = await anyio.to_thread.run_sync(
                        self._hit, kind, address, limiter=self._threads
                    )
                else:
                    over = self._hit(kind, address)
            except Exception:  # the shared counters (Redis) are unreachable
                from stepgrad.app.http.errors import STORE_DOWN

                logger.warning("rate limit counters unreachable", exc_info=True)
                await _refuse(scope, receive, send, 503, STORE_DOWN, 5)
                return
            if over is not None:
                item, wait = over
                await _refuse(
                    scope,
                    receive,
                    send,
                    429,
                    f"Too many {WHAT[kind]} from your address: the limit is {_per(item)}. "
                    f"Try again in {wait} s.",
                    wait,
                )
                return
        await self.app(scope, receive, send)


def rate_storage(settings: Settings) -> Storage:
    """Where the moving windows are counted: this process's memory, or the store's Redis
    (through connections that wait for it briefly and fail at once while it is down:
    storage.redis_store.connection_pool)."""
    if settings.store:
        from stepgrad.app.storage.redis_store import connection_pool

        pool = connection_pool(settings.store, decode_responses=False)
        return RedisStorage(settings.store, connection_pool=pool, key_prefix="stepgrad-limits")
    return MemoryStorage()


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, retry_after: int
) -> None:
    from stepgrad.app.http.errors import SafeJSONResponse

    response = SafeJSONResponse(
        {"detail": detail}, status_code=status, headers={"Retry-After": str(retry_after)}
    )
    await response(scope, receive, send)


class StreamLimiter:
    """Open event streams, per address and in all: each stream holds a connection, a queue
    and a share of every change's fan-out, so their number is capped. One address (a whole
    school network behind one router, 1,000 students with the defaults) may hold at most
    40 % of the server's streams (the settings check it), so others always find some.
    The address is the connection's peer, or with `proxy_headers` the one the proxy in
    front names (see cli.serve)."""

    def __init__(self, settings: Settings):
        self.max_total = settings.max_streams
        self.max_per_address = settings.max_streams_per_address
        self._open: dict[str, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    def open(self, request: Request) -> str:
        """Count a new stream of the request's address (release it with `close`); 429 or 503
        with Retry-After past a cap."""
        address = client_address(request.scope)
        with self._lock:
            mine = self._open.get(address, 0)
            if mine >= self.max_per_address:
                raise HTTPException(
                    429,
                    f"Your address already has {mine} event streams open; the limit is "
                    f"{self.max_per_address} (max_streams_per_address), counting every "
                    "browser behind the same address. Close some tabs.",
                    headers={"Retry-After": "10"},
                )
            if self._total >= self.max_total:
                raise HTTPException(
                    503,
                    f"The server already has {self._total} event streams open, its limit "
                    f"(max_streams); try again later.",
                    headers={"Retry-After": "10"},
                )
            self._open[address] = mine + 1
            self._total += 1
        return address

    def close(self, address: str) -> None:
        with self._lock:
            left = self._open.get(address, 0) - 1
            if left > 0:
                self._open[address] = left
            else:
                self._open.pop(address, None)
            self._total -= 1

    def count(self) -> int:
        return self._total
