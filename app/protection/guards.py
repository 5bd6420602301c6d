"""What keeps one client from taking a classroom server down, wired into the app in one
call: the heavy-call pool (app.jobs), the event-stream caps and per-address rates
(app.ratelimit), and the security headers (app.security). Bodies are bounded by
app.middleware, connections by app.serving (`stepgrad serve`), the store by
app.sessions."""

from __future__ import annotations

from fastapi import FastAPI

from stepgrad.app.protection.headers import SecurityHeadersMiddleware
from stepgrad.app.protection.jobs import JobPool
from stepgrad.app.protection.rates import RateLimitMiddleware, StreamLimiter
from stepgrad.app.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Call after the body middleware is added: these wrap it, so a refused call costs no
    body read, and every answer, refusals included, carries the security headers."""
    app.state.jobs = JobPool(settings)
    app.state.streams = StreamLimiter(settings)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)


def shutdown(app: FastAPI) -> None:
    """Stop the heavy calls still running (the lifespan's end)."""
    app.state.jobs.shutdown()
