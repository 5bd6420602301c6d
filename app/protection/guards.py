"""What keeps one client from taking a classroom server down, wired into the app in one
call: the per-address rates (protection.rates) and the security headers
(protection.headers). The heavy-call pool (protection.jobs) and the event-stream caps are
held by `services.Services`; bodies are bounded by protection.bodies, connections by
cli.serve (`stepgrad serve`), the store by live.manager."""

from __future__ import annotations

from fastapi import FastAPI

from stepgrad.app.protection import size_rates
from stepgrad.app.protection.headers import SecurityHeadersMiddleware
from stepgrad.app.protection.rates import RateLimitMiddleware
from stepgrad.app.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Call after the body middleware is added: these wrap it, so a refused call costs no
    body read, and every answer, refusals included, carries the security headers."""
    size_rates.install(app, settings)  # graphs' nodes per address (before a body is read)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
