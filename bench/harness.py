"""What the benchmarks share: a real server in a subprocess on 127.0.0.1, a redis-server of
their own for the scale-out runs, and random DAGs of scalars made into graph specs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, **settings: object) -> tuple[subprocess.Popen, str]:
    """`stepgrad serve` on a free port with `db` and STEPGRAD_<NAME> settings; (process, URL)
    once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        **{f"STEPGRAD_{name.upper()}": str(value) for name, value in settings.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepgrad.app.cli", "serve", "--port", str(port), "--db", db],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/api/health")
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


REDIS_SERVER = "/usr/bin/redis-server"


def redis_server_path() -> str | None:
    """Debian's redis-server (or one on PATH), or None."""
    if os.access(REDIS_SERVER, os.X_OK):
        return REDIS_SERVER
    return shutil.which("redis-server")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server of its own on a free loopback port, in a temporary directory, nothing
    saved to disk; yields its URL (database 0) and stops it afterwards."""
    path = redis_server_path()
    if path is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    import redis

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="stepgrad-redis-") as tmp:
        proc = subprocess.Popen(
            [path, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            client.close()
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def scalar_nodes(names: list[str], edges: list[tuple[str, str]]) -> tuple[list[dict], list[str]]:
    """Spec nodes for a DAG: a param for a node without inputs, tanh for one input, add or
    mul of the first two for more; and the ids that feed nothing."""
    inputs: dict[str, list[str]] = {name: [] for name in names}
    for u, v in edges:
        inputs[v].append(u)
    nodes = []
    for i, name in enumerate(names):
        ins = inputs[name]
        if not ins:
            nodes.append({"id": name, "op": "param", "value": 0.1 + 0.001 * (i % 97)})
        elif len(ins) == 1:
            nodes.append({"id": name, "op": "tanh", "inputs": ins})
        else:
            nodes.append({"id": name, "op": "mul" if i % 2 else "add", "inputs": ins[:2]})
    used = {s for node in nodes for s in node.get("inputs", [])}
    return nodes, [node["id"] for node in nodes if node["id"] not in used]
