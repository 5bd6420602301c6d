"""Behind a reverse proxy (issue 21): a client's address is the one nginx saw, never one it
claims. A real nginx, configured with docs/DEPLOY.md's `location` block, in front of a real
`stepgrad serve --proxy-headers --forwarded-allow-ips 127.0.0.1`; clients on loopback
addresses of their own (Linux routes all of 127/8), so that 127.0.0.2 and up are not the
trusted proxy. Per-address caps (one event stream, one graph a minute) show which address
the server counted: a forged `X-Forwarded-For` gains no allowance, through nginx or
straight to the server's port, while two clients nginx saw apart are counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from tests.helpers import (
    CommandServer,
    RawEventStream,
    nginx_proxy,
    raw_request,
    require_nginx,
)

pytestmark = pytest.mark.timeout(180)

PROXY_ARGS = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
# one stream per address (at most 40 % of 5), one graph per address a minute
CAPS = {"max_streams": 5, "max_streams_per_address": 1, "rate_create": "1/minute"}


def forged(address: str, real_ip: bool = True) -> dict:
    """Headers a client sends to claim `address`."""
    headers = {"X-Forwarded-For": address}
    if real_ip:
        headers["X-Real-IP"] = address
    return headers


class Streams:
    """Event streams opened from chosen addresses; an accepted one stays open, so that it
    keeps counting, until `close`."""

    def __init__(self) -> None:
        self.open: list[RawEventStream] = []

    async def status(self, url: str, address: str, headers: dict | None = None) -> int:
        stream = RawEventStream(url, address, headers)
        status = await stream.connect()
        if status == 200:
            self.open.append(stream)
            assert (await stream.event())[0] == "state"
        else:
            stream.close()
            self.refusal = stream.body.decode(errors="replace")
        return status

    async def close(self) -> None:
        for stream in self.open:
            await stream.aclose()


async def create_status(base: str, address: str, headers: dict | None = None) -> int:
    status, _ = await raw_request(
        f"{base}/api/graphs", "POST", {"example": "seed"}, headers, address
    )
    return status


def events_path(base: str) -> str:
    """A new graph's event stream path (created from 127.0.0.9)."""
    status, body = asyncio.run(
        raw_request(f"{base}/api/graphs", "POST", {"example": "seed"}, address="127.0.0.9")
    )
    assert status == 201, body
    return f"/api/graphs/{json.loads(body)['id']}/events"


@contextlib.contextmanager
def proxied(tmp_path, *args: str, **settings):
    """(nginx URL, server URL) of `stepgrad serve ARGS` behind nginx."""
    require_nginx()
    with CommandServer(*args, **settings) as server:
        try:
            with nginx_proxy(server.base, tmp_path / "nginx", connections=32) as front:
                yield front, server.base
        finally:
            server.stop()


def test_forged_forwarded_headers_are_believed_neither_through_nginx_nor_straight(tmp_path):
    with proxied(tmp_path, *PROXY_ARGS, **CAPS) as (front, direct):
        path = events_path(direct)
        streams = Streams()

        async def scenario() -> None:
            try:
                await checks()
            finally:
                await streams.close()

        async def checks() -> None:
            # through nginx: the client at 127.0.0.3 claims a new address each time
            assert await streams.status(front + path, "127.0.0.3", forged("10.1.0.1")) == 200
            for claim in ("10.1.0.2", "10.1.0.3, 10.1.0.4", "127.0.0.1", "10.1.0.5, 127.0.0.1"):
                assert await streams.status(front + path, "127.0.0.3", forged(claim)) == 429
                assert "max_streams_per_address" in streams.refusal
            # a second student, whom nginx saw at another address, is counted apart
            assert await streams.status(front + path, "127.0.0.4", forged("10.1.0.1")) == 200
            # straight to the server's port from 127.0.0.2, not a trusted proxy: the header
            # is ignored and the peer counted
            assert await streams.status(direct + path, "127.0.0.2", forged("10.1.0.6")) == 200
            for claim in ("10.1.0.7", "127.0.0.5", "10.1.0.8, 127.0.0.1"):
                assert await streams.status(direct + path, "127.0.0.2", forged(claim)) == 429

            # the same for a rate: one graph per address a minute
            assert await create_status(front, "127.0.0.5", forged("10.2.0.1")) == 201
            assert await create_status(front, "127.0.0.5", forged("10.2.0.2")) == 429
            assert await create_status(front, "127.0.0.6", forged("10.2.0.1")) == 201
            assert await create_status(direct, "127.0.0.7", forged("10.2.0.3")) == 201
            assert await create_status(direct, "127.0.0.7", forged("10.2.0.4")) == 429

        asyncio.run(scenario())


def test_without_proxy_headers_no_forwarded_header_is_believed(tmp_path):
    """The default: the peer is the address, even from 127.0.0.1 (which uvicorn alone would
    trust); behind nginx every client then shares nginx's, which is why the flag exists."""
    with proxied(tmp_path, **CAPS) as (front, direct):
        path = events_path(direct)
        streams = Streams()

        async def scenario() -> None:
            try:
                await checks()
            finally:
                await streams.close()

        async def checks() -> None:
            assert await streams.status(direct + path, "127.0.0.1", forged("10.1.0.1")) == 200
            assert await streams.status(direct + path, "127.0.0.1", forged("10.1.0.2")) == 429
            # through nginx without the flag, 127.0.0.3 is nginx's 127.0.0.1, which already
            # holds its one stream
            assert await streams.status(front + path, "127.0.0.3") == 429

        asyncio.run(scenario())


def test_workers_believe_only_the_proxy_too(tmp_path, redis_db):
    """`--workers 2` processes get the options through uvicorn's supervisor and their
    settings through the environment: the rate, counted in Redis for both, sees the
    address nginx saw."""
    args = (*PROXY_ARGS, "--workers", "2", "--store", redis_db)
    with proxied(tmp_path, *args, rate_create="1/minute") as (front, direct):

        async def scenario() -> None:
            assert await create_status(front, "127.0.0.3", forged("10.2.0.1")) == 201
            for claim in ("10.2.0.2", "10.2.0.3", "10.2.0.4"):  # new connections: any worker
                assert await create_status(front, "127.0.0.3", forged(claim)) == 429
            assert await create_status(front, "127.0.0.4", forged("10.2.0.1")) == 201
            assert await create_status(direct, "127.0.0.2", forged("10.2.0.5")) == 201
            for claim in ("10.2.0.6", "10.2.0.7"):
                assert await create_status(direct, "127.0.0.2", forged(claim)) == 429

        asyncio.run(scenario())


def test_the_command_line_flags_reach_uvicorn_and_the_workers_environment(monkeypatch):
    from stepgrad.app.cli import main as cli
    from stepgrad.app.cli.serve import uvicorn_options

    for name in ("PROXY_HEADERS", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(f"STEPGRAD_{name}", raising=False)
    args = cli.build_parser().parse_args(["serve", "--db", ":memory:"])
    options = uvicorn_options(cli._settings(args))
    assert options["proxy_headers"] is False  # uvicorn's own default would be True
    args = cli.build_parser().parse_args(
        ["serve", "--db", ":memory:", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8, ::1"]
    )
    settings = cli._settings(args)
    options = uvicorn_options(settings)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.0/8,::1"
    monkeypatch.setenv("STEPGRAD_PROXY_HEADERS", "true")
    args = cli.build_parser().parse_args(["serve", "--db", ":memory:", "--no-proxy-headers"])
    assert cli._settings(args).proxy_headers is False  # the flag wins over the environment

    # --workers: uvicorn.run is handed the options, and the environment the settings
    seen: dict = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.update(kw, app=app))
    for name in ("HOST", "PORT", "DB", "STORE", "PROXY_HEADERS", "FORWARDED_ALLOW_IPS"):
        monkeypatch.setenv(f"STEPGRAD_{name}", "")  # restored after the test
    assert cli.serve_workers(settings, 2) == 0
    assert seen["workers"] == 2 and seen["proxy_headers"] is True
    assert seen["forwarded_allow_ips"] == "10.0.0.0/8,::1"
    from stepgrad.app.settings import Settings

    assert Settings().proxy_headers is True  # what a worker process reads
    assert Settings().forwarded_allow_ips == "10.0.0.0/8,::1"


def test_proxy_settings_refuse_what_would_believe_anyone():
    from pydantic import ValidationError

    from stepgrad.app.settings import Settings

    for bad, said in (
        ("*", "anyone can forge"),
        ("nginx", "not an IP address or network"),
        ("10.0.0.1/8", "not an IP address or network"),
    ):
        with pytest.raises(ValidationError, match=said):
            Settings(db=":memory:", forwarded_allow_ips=bad)
    with pytest.raises(ValidationError, match="names no proxy"):
        Settings(db=":memory:", proxy_headers=True, forwarded_allow_ips=" , ")
    assert Settings(db=":memory:", forwarded_allow_ips="").forwarded_allow_ips == ""
