"""Per-address allowance of graph size: the nodes of the graphs one address has had built
(creations, forks and replaced specs), counted against `rate_create_nodes`.

`rate_create` counts calls, but a 10,000-node graph costs a thousand times a 10-node one:
about a second of the process's CPU to build and lay out and 40 MiB while it is kept. So
the routes charge a graph's nodes once its body is parsed and its size known, before it
is built; a graph that would pass the allowance is refused (429, Retry-After: when it
would fit), nothing built. The windows are sliding-window counters of the `limits`
package (a graph's nodes are one hit of that cost), kept where the other rates are: in
this process's memory, or in Redis when the store is Redis.

A refused address also loses, for that Retry-After, the right to have large bodies read
on the create, fork and spec paths: `SizeAllowanceMiddleware` refuses them before the
body is read, so that a client resending a large graph costs no parse (reading and
parsing 500 kB of JSON holds the event loop for a tenth of a second). Small bodies (a
course's graph, an example's name) still pass, and are charged as usual.

What is admitted still costs CPU while it is built, and a process runs one Python thread
at a time: large builds (`LARGE` nodes or more, from any address) take turns in a
`BuildLane`, one at a time, and while one runs the interpreter hands over between threads
ten times as often, so that the steps of other graphs wait for it far less.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage.base import SlidingWindowCounterSupport
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from stepgrad.app.protection.rates import client_address, rate_storage
from stepgrad.app.settings import Settings

logger = logging.getLogger(__name__)

# the calls that build a graph from a body or a stored graph
PATHS = (
    ("POST", re.compile(r"/api/graphs/?")),
    ("POST", re.compile(r"/api/graphs/[^/]+/fork")),
    ("PUT", re.compile(r"/api/graphs/[^/]+/spec")),
)
SMALL_BODY = 16 * 1024  # bytes: a body this small (any course graph) is read even then
MAX_BLOCKED = 100_000  # addresses remembered as refused (the oldest are forgotten first)
SETTING = "rate_create_nodes"
LARGE = 1_000  # nodes: a graph this large is built in the build lane
LANE_RUNNING = 1  # large builds at once
LANE_WAITING = 4  # large builds waiting for their turn (then 503)
LANE_SWITCH = 0.0005  # seconds: the GIL's switch interval while a large build runs


def _per(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount:,} nodes per {unit}"
    return f"{item.amount:,} nodes per {item.multiples} {unit}s"


class SizeAllowance:
    """The allowance of every address, and the addresses refused until a time."""

    def __init__(self, settings: Settings):
        self.items = parse_many(settings.rate_create_nodes)
        self.limiter = SlidingWindowCounterRateLimiter(rate_storage(settings))
        self._blocked: dict[str, float] = {}  # address -> time.time() its refusal ends
        self._lock = threading.Lock()
        self.lane = BuildLane(LANE_RUNNING, LANE_WAITING, LANE_SWITCH)

    @contextmanager
    def admit(self, request: Request, nodes: int, what: str = "This graph") -> Iterator[None]:
        """Charge the graph (`charge`), then hold its turn in the build lane while the
        block builds it."""
        self.charge(request, nodes, what)
        with self.lane.turn(nodes):
            yield

    def charge(self, request: Request, nodes: int, what: str = "This graph") -> None:
        """Count a graph of `nodes` nodes against the request's address, or raise 429 (with
        Retry-After) when it would pass the allowance: then nothing is counted. Blocking
        (the counters may be in Redis): call it from a worker thread."""
        address = client_address(request.scope)
        try:
            refused = next(
                (
                    item
                    for item in self.items
                    if not self.limiter.test(item, "nodes", address, cost=nodes)
                ),
                None,
            )
            if refused is None:
                for item in self.items:
                    if not self.limiter.hit(item, "nodes", address, cost=nodes):
                        refused = item  # another process took the room meanwhile
                        break
        except Exception:  # the shared counters (Redis) are unreachable
            from stepgrad.app.http.errors import STORE_DOWN

            logger.warning("graph size counters unreachable", exc_info=True)
            raise HTTPException(503, STORE_DOWN, headers={"Retry-After": "5"}) from None
        if refused is None:
            return
        wait = self._wait(refused, address, nodes)
        self._block(address, wait)
        if nodes > refused.amount:
            detail = (
                f"{what} has {nodes:,} nodes, more than your address may have built at all: "
                f"the limit is {_per(refused)} ({SETTING}). Build a smaller graph, or ask for "
                f"a larger {SETTING}."
            )
        else:
            detail = (
                f"Too many nodes of new graphs from your address: {what.lower()}'s {nodes:,} "
                f"nodes would pass the limit of {_per(refused)} ({SETTING}). Try again in "
                f"{wait} s."
            )
        raise HTTPException(429, detail, headers={"Retry-After": str(wait)})

    def _wait(self, item: RateLimitItem, address: str, nodes: int) -> int:
        """Seconds until a graph of `nodes` nodes fits the sliding window of `item`."""
        period = item.get_expiry()
        if nodes > item.amount:
            return period
        try:
            storage = cast(SlidingWindowCounterSupport, self.limiter.storage)
            prev, prev_left, current, current_left = storage.get_sliding_window(
                item.key_for("nodes", address), period
            )
        except Exception:
            return period
        # the count is prev * prev_left / period + current: the previous window's share
        # fades until the current window ends (prev_left), then the current one's does
        # until current_left
        room = item.amount - nodes - current
        if room >= 0:
            wait = prev_left - room * period / prev if prev else 0.0
        else:
            wait = current_left - (item.amount - nodes) * period / current
        return max(1, min(math.ceil(wait), 2 * period))

    def _block(self, address: str, seconds: int) -> None:
        now = time.time()
        with self._lock:
            if len(self._blocked) >= MAX_BLOCKED:
                for gone in [a for a, until in self._blocked.items() if until <= now]:
                    del self._blocked[gone]
                while len(self._blocked) >= MAX_BLOCKED:
                    del self._blocked[next(iter(self._blocked))]
            self._blocked.pop(address, None)
            self._blocked[address] = now + seconds

    def blocked(self, address: str) -> int:
        """Seconds left of the address's refusal (0: none)."""
        with self._lock:
            until = self._blocked.get(address)
            if until is None:
                return 0
            left = until - time.time()
            if left <= 0:
                del self._blocked[address]
                return 0
        return math.ceil(left)

    def describe(self) -> str:
        return ", ".join(_per(item) for item in self.items)


class BuildLane:
    """Builds of large graphs take turns: `running` at once, `waiting` more waiting (their
    threads idle), 503 with Retry-After past that. Python runs one thread at a time, and a
    thread that wants to run waits for the running one to hand over, every `switch`
    seconds (5 ms by default): while a large build runs, the switch interval is `switch`,
    so that a step of another graph waits a fraction of a millisecond, not 5 ms, at each of
    its hand-overs (a step makes several: the event loop, a worker thread, the store)."""

    def __init__(self, running: int, waiting: int, switch: float | None):
        self.running = running
        self.capacity = running + waiting
        self.switch = switch
        self._turns = threading.Semaphore(running)
        self._lock = threading.Lock()
        self._queued = 0  # running or waiting
        self._active = 0
        self._default_switch = sys.getswitchinterval()

    @contextmanager
    def turn(self, nodes: int) -> Iterator[None]:
        if nodes < LARGE:
            yield
            return
        with self._lock:
            if self._queued >= self.capacity:
                raise HTTPException(
                    503,
                    f"The server is already building {self._queued} large graphs, its limit; "
                    "try again in a few seconds.",
                    headers={"Retry-After": "5"},
                )
            self._queued += 1
        try:
            with self._turns:
                self._switching(+1)
                try:
                    yield
                finally:
                    self._switching(-1)
        finally:
            with self._lock:
                self._queued -= 1

    def queued(self) -> int:
        """Large builds running or waiting."""
        with self._lock:
            return self._queued

    def _switching(self, change: int) -> None:
        if self.switch is None:
            return
        with self._lock:
            if change > 0 and self._active == 0:
                self._default_switch = sys.getswitchinterval()
                sys.setswitchinterval(self.switch)
            self._active += change
            if self._active == 0:
                sys.setswitchinterval(self._default_switch)


class SizeAllowanceMiddleware:
    """Refuses, before any body is read, a large body on the create, fork and spec paths
    from an address refused for size within its Retry-After."""

    def __init__(self, app: ASGIApp, allowance: SizeAllowance):
        self.app = app
        self.allowance = allowance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _builds(scope["method"], scope.get("path", "")):
            left = self.allowance.blocked(client_address(scope))
            if left:
                length = Headers(scope=scope).get("content-length")
                size = int(length) if length is not None and length.isdigit() else None
                if size is None or size > SMALL_BODY:
                    from stepgrad.app.jsonio import StrictJSONResponse

                    body = "a request body" if size is None else f"a request body of {size:,} bytes"
                    response = StrictJSONResponse(
                        {
                            "detail": "Too many nodes of new graphs from your address: the "
                            f"limit is {self.allowance.describe()} ({SETTING}), and {body} "
                            f"is not read until a graph fits again. Try again in {left} s."
                        },
                        status_code=429,
                        headers={"Retry-After": str(left)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _builds(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in PATHS)


def install(app, settings: Settings) -> SizeAllowance:
    """The allowance of this app, and its middleware (add it after the body middleware, so
    that it refuses before the body is read)."""
    allowance = SizeAllowance(settings)
    app.state.size_allowance = allowance
    app.add_middleware(SizeAllowanceMiddleware, allowance=allowance)
    return allowance


async def get_size_allowance(request: Request) -> SizeAllowance:
    allowance: SizeAllowance = request.app.state.size_allowance
    return allowance


Sizes = Annotated[SizeAllowance, Depends(get_size_allowance)]
