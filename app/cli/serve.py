"""How `stepgrad serve` runs uvicorn: connection limits and timeouts from the settings.

uvicorn's own settings bound most of it: `timeout_keep_alive` closes an idle kept-alive
connection, `limit_concurrency` answers 503 past that many connections or requests,
`h11_max_incomplete_event_size` bounds a request's line and headers, and
`timeout_graceful_shutdown` gives running calls that long after SIGTERM before they are
cancelled (heavy calls then stop at their next check, see protection.jobs). uvicorn has no
deadline for a request's headers, nor for a new connection that sends nothing: the
protocol below adds one (`header_timeout_seconds`). Bodies have theirs in protection.bodies.

A client's address (what the per-address limits count) is the connection's peer. uvicorn
would by default believe an X-Forwarded-For header on any connection from 127.0.0.1, which
any local process, or a proxy that passes the client's own header on, could forge: here it
is believed only with `proxy_headers`, from the proxies of `forwarded_allow_ips`. uvicorn
then takes the last address in the header that is not one of those proxies (each proxy
appends the address it saw), so the header a client sent itself counts for nothing once
the proxy in front replaces it or appends to it.

Every connection is a file: `raise_open_files` lifts the process's soft limit to its hard
limit, since the common soft default (1,024) is below `max_connections`.
"""

from __future__ import annotations

import asyncio
import functools
import resource

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from stepgrad.app.settings import Settings


class HeaderDeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers have not all
    arrived `header_timeout` seconds after it opened or after its last response."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in; the body has its own deadline

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # waiting for the next request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


@functools.cache
def _env_header_timeout() -> float:
    return Settings().header_timeout_seconds


class WorkerH11Protocol(HeaderDeadlineH11Protocol):
    """The protocol of `--workers N` processes, which uvicorn starts afresh and which import
    it by name: the deadline comes from their environment (STEPGRAD_HEADER_TIMEOUT_SECONDS)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = _env_header_timeout()
        super().connection_made(transport)


def uvicorn_options(settings: Settings) -> dict:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` besides the app, host and port."""
    protocol = type(
        "StepgradH11Protocol",
        (HeaderDeadlineH11Protocol,),
        {"header_timeout": settings.header_timeout_seconds},
    )
    return {
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips if settings.proxy_headers else "",
    }


# files a server process holds besides its connections: the SQLite file and its journal,
# Redis connections, the import of its modules, the job pool's pipes
OWN_FILES = 100


def raise_open_files() -> int:
    """Lift the soft limit on open files to the hard one (for this process and the workers
    it starts); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


def open_files_warning(limit: int, max_connections: int) -> str | None:
    """A sentence for the operator when `limit` open files cannot hold `max_connections`."""
    if limit == resource.RLIM_INFINITY or limit >= max_connections + OWN_FILES:
        return None
    return (
        f"stepgrad: this process may open {limit} files (raised as far as it may), fewer than "
        f"max_connections ({max_connections}) plus about {OWN_FILES} of its own: past about "
        f"{max(0, limit - OWN_FILES)} connections new ones will fail. Raise the hard limit "
        "(`ulimit -Hn` as root, `LimitNOFILE=` in a systemd unit) or lower "
        "STEPGRAD_MAX_CONNECTIONS."
    )
