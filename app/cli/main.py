"""The `stepgrad` command line.

stepgrad serve [--lan | --host H] [--port P] [--db FILE | --store URL] [--workers N]
               [--proxy-headers --forwarded-allow-ips ADDRS]
    start the web app (--lan: reachable from the local network, printing the addresses
    students open; --workers N: N processes, which need a shared store, Redis;
    --proxy-headers: behind a reverse proxy, believe the X-Forwarded-For it sets, from
    the proxies ADDRS only)
stepgrad show FILE [--server URL] [--input x=3.0] [--param k=0.09] [--name TEXT]
    create a graph on a running server from a spec JSON file (or a whole
    POST /api/graphs body) or an expression file, and print its URLs and edit token
stepgrad train SPEC.json|EXAMPLE [--epochs N] [--optimizer NAME] [--lr X] [--batch-size N]
    train a graph headless and print its loss curve and final metrics
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from stepgrad.app.cli import train as train_command


def _settings(args: argparse.Namespace):
    from stepgrad.app.settings import Settings

    overrides = {
        k: getattr(args, k)
        for k in ("host", "port", "db", "store", "forwarded_allow_ips")
        if getattr(args, k, None)
    }
    if getattr(args, "proxy_headers", None) is not None:
        overrides["proxy_headers"] = args.proxy_headers
    if getattr(args, "lan", False):
        overrides["host"] = "0.0.0.0"  # noqa: S104 (that is what --lan asks for)
    return Settings(**overrides)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stepgrad.app.classroom import lan as network
    from stepgrad.app.cli import logging_setup
    from stepgrad.app.cli.serve import open_files_warning, raise_open_files, uvicorn_options
    from stepgrad.app.main import create_app

    settings = _settings(args)
    from stepgrad.app.storage.backends import check_store

    check_store(settings)  # with Redis: what its persistence and eviction settings risk
    workers = getattr(args, "workers", None) or 1
    warning = open_files_warning(raise_open_files(), settings.max_connections)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if workers > 1:
        if not settings.store:
            print(
                f"stepgrad: --workers {workers} needs a store the processes share: the SQLite "
                "file serves one process. Start Redis and give --store redis://host:6379/0 "
                "(or STEPGRAD_STORE).",
                file=sys.stderr,
            )
            return 2
        return serve_workers(settings, workers)
    held = None
    if not settings.store:  # the SQLite file is this process's, or it says so and stops
        from stepgrad.app.storage.sqlite_store import ProcessLock, StoreInUse, claim

        try:
            held = claim(settings.db)
        except StoreInUse as exc:
            print(f"stepgrad: {exc}", file=sys.stderr)
            return 1
    print("\n".join(network.banner(settings.host, settings.port)), flush=True)
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            **logging_setup.uvicorn_options(settings.log_level),
            **uvicorn_options(settings),
        )
    finally:
        if held is not None:
            ProcessLock.release(held)
    return 0


def serve_workers(settings, workers: int) -> int:
    """`workers` server processes on one port (uvicorn's supervisor), each building the app
    from the environment: the command line's settings are passed on through it."""
    import os

    import uvicorn

    from stepgrad.app.classroom import lan as network
    from stepgrad.app.cli import logging_setup
    from stepgrad.app.cli.serve import uvicorn_options

    for name in ("host", "port", "db", "store", "proxy_headers", "forwarded_allow_ips"):
        os.environ[f"STEPGRAD_{name.upper()}"] = str(getattr(settings, name))
    print("\n".join(network.banner(settings.host, settings.port)), flush=True)
    options = {**uvicorn_options(settings), "http": "stepgrad.app.cli.serve:WorkerH11Protocol"}
    uvicorn.run(
        "stepgrad.app.main:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        **logging_setup.uvicorn_options(settings.log_level),
        **options,
    )
    return 0


def _assignments(items: list[str], what: str) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"stepgrad: --{what} takes NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            raise SystemExit(
                f"stepgrad: the value of {what} {name!r} is not a JSON number or list"
            ) from None
    return out


def create_body(path: Path, inputs: dict, params: dict, name: str | None) -> dict:
    """The POST /api/graphs body for a file: JSON (a spec or a whole body) or an expression."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        body = data
        if "expression" in body:
            body = {**body, "inputs": {**body.get("inputs", {}), **inputs}}
            body["params"] = {**body.get("params", {}), **params}
    else:
        body = {"expression": text, "inputs": inputs, "params": params}
    if name is not None:
        body["name"] = name
    return body


def show(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"stepgrad: no file {args.file}", file=sys.stderr)
        return 2
    body = create_body(
        path, _assignments(args.input, "input"), _assignments(args.param, "param"), args.name
    )
    server = args.server.rstrip("/")
    if not server.startswith(("http://", "https://")):
        print(f"stepgrad: --server must be an http(s) URL, got {server!r}", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        f"{server}/api/graphs",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            state = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("detail")
        except ValueError:
            detail = exc.reason
        print(f"stepgrad: the server refused the graph ({exc.code}): {detail}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"stepgrad: cannot reach {server}: {exc.reason}", file=sys.stderr)
        return 1
    graph_id = state["id"]
    print(f"{server}/g/{graph_id}")
    print(f"state: {server}/api/graphs/{graph_id}")
    print(f"edit token: {state['edit_token']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stepgrad", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="start the web app")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--lan",
        action="store_true",
        help="listen on every interface (0.0.0.0), so that students on the same network "
        "can open the links; prints their addresses",
    )
    where.add_argument(
        "--host", help="address to bind (default 127.0.0.1, or STEPGRAD_HOST; 0.0.0.0 = --lan)"
    )
    p.add_argument("--port", type=int, help="port (default 8000, or STEPGRAD_PORT)")
    p.add_argument("--db", help="SQLite file (default: STEPGRAD_DB or the user data dir)")
    p.add_argument(
        "--store",
        metavar="URL",
        help="a shared store, redis://host:port/n, for several processes or hosts "
        "(default: STEPGRAD_STORE, or the SQLite file)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="serve with N processes (needs --store redis://...); the default is one",
    )
    p.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="behind a reverse proxy: take each client's address from the X-Forwarded-For "
        "header the proxy sets, believed on connections from --forwarded-allow-ips only "
        "(default off, or STEPGRAD_PROXY_HEADERS: the address is the connection's peer)",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRS",
        help="the reverse proxies believed, comma-separated addresses or networks "
        "(default 127.0.0.1, or STEPGRAD_FORWARDED_ALLOW_IPS)",
    )
    p.set_defaults(run=serve)

    p = sub.add_parser("show", help="create a graph on a running server and print its URL")
    p.add_argument("file", help="a spec JSON file, or an expression file")
    p.add_argument("--server", default="http://127.0.0.1:8000", help="the server's URL")
    p.add_argument("--input", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--name", help="the graph's name")
    p.set_defaults(run=show)

    train_command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
