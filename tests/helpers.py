"""What the tests share: the plain helpers and constants more than one test module uses.

Fixtures live in the conftest.py files. No test module imports another, nor `bench`
(tests/test_imports.py): a test module can change without breaking its neighbours, and
the benchmarks without breaking the tests. bench/fuzz_engine.py draws its graphs from here.

Sections: the repository and optional parts; graphs as specs; the REST API in-process;
patches and event streams; servers (in a thread, in a process) and Redis; random graphs
against PyTorch; English left in Chinese text; the browser page.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import importlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

from stepgrad.engine.errors import ShapeError
from stepgrad.engine.graph import Graph
from stepgrad.engine.ops import OPS
from stepgrad.engine.passes import forward_pass

with warnings.catch_warnings():
    # starlette 1.x warns that it prefers httpx2 over httpx; either works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient as TestClient

# ---- the repository and optional parts ---------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def optional_import(name: str, install: str = 'pip install -e ".[bench]"'):
    """Import an optional module; skip without it, or fail when CI=true (CI installs it)."""
    import pytest  # here, not at the top: bench/fuzz_engine.py imports this module

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true but cannot be imported: {exc}")
        pytest.skip(f"{name} is not installed ({install})")


# ---- graphs as specs ----------------------------------------------------------------------

# the course's first graph: sigmoid(k*x + b) against y, by mean squared error
SEED_SPEC = {
    "name": "seed example",
    "nodes": [
        {"id": "x", "op": "input", "value": 3.0},
        {"id": "y", "op": "input", "value": 0.71},
        {"id": "k", "op": "param", "value": 0.09},
        {"id": "b", "op": "param", "value": 0.5},
        {"id": "linear", "op": "linear", "inputs": ["x", "k", "b"]},
        {"id": "sigmoid", "op": "sigmoid", "inputs": ["linear"]},
        {"id": "loss", "op": "mse", "inputs": ["y", "sigmoid"]},
    ],
}
SEED_LOSS = 0.000701143068523487
SEED_DK = -0.0343677745599299  # d loss / d k


def spec_with(*nodes, **extra):
    return {"name": "t", "nodes": list(nodes), **extra}


# x used twice by one node and once more: the fan-out bug's smallest graph (f = x*x + x)
TINY_FANOUT = spec_with(
    {"id": "x", "op": "param", "value": 1.5},
    {"id": "sq", "op": "mul", "inputs": ["x", "x"]},
    {"id": "f", "op": "add", "inputs": ["sq", "x"]},
)

# the seed graph with x also feeding x*x: a fan-out inside a graph with a loss
FANOUT = {
    "name": "fan-out",
    "nodes": [
        {"id": "x", "op": "input", "value": 3.0},
        {"id": "y", "op": "input", "value": 0.71},
        {"id": "k", "op": "param", "value": 0.09},
        {"id": "b", "op": "param", "value": 0.5},
        {"id": "linear", "op": "linear", "inputs": ["x", "k", "b"]},
        {"id": "sq", "op": "mul", "inputs": ["x", "x"]},
        {"id": "both", "op": "add", "inputs": ["linear", "sq"]},
        {"id": "sigmoid", "op": "sigmoid", "inputs": ["both"]},
        {"id": "loss", "op": "mse", "inputs": ["y", "sigmoid"]},
    ],
}


def chain_spec(n: int) -> dict:
    """n scalars: a param, then tanh of the node before, n - 1 times."""
    nodes = [{"id": "n0", "op": "param", "value": 0.1}]
    nodes += [{"id": f"n{i}", "op": "tanh", "inputs": [f"n{i - 1}"]} for i in range(1, n)]
    return {"name": f"chain {n}", "nodes": nodes}


def chain(n: int) -> dict:
    """n nodes: a param x0, tanh and neg in turn, and their sum as the output."""
    nodes = [{"id": "x0", "op": "param", "value": 0.5}]
    for i in range(1, n - 1):
        nodes.append({"id": f"x{i}", "op": "tanh" if i % 2 else "neg", "inputs": [f"x{i - 1}"]})
    nodes.append({"id": "out", "op": "sum", "inputs": [f"x{n - 2}"]})
    return {"name": f"chain {n}", "nodes": nodes}


def wide_spec(params: int = 41, size: int = 7190) -> dict:
    """121 nodes, 863k elements: params summed in a chain, tanh on each partial sum, a sum."""
    value = [i % 2 for i in range(size)]
    nodes = [{"id": f"p{i}", "op": "param", "value": value} for i in range(params)]
    prev = "p0"
    for i in range(1, params):
        nodes.append({"id": f"s{i}", "op": "add", "inputs": [prev, f"p{i}"]})
        nodes.append({"id": f"t{i}", "op": "tanh", "inputs": [f"s{i}"]})
        prev = f"t{i}"
    nodes = [n for n in nodes if n["id"] != f"t{params - 1}"]
    nodes.append({"id": "out", "op": "sum", "inputs": [f"s{params - 1}"]})
    return {"name": "wide", "nodes": nodes}


def layered_graph(n: int, width: int = 100) -> dict:
    """About n scalar nodes: a row of params, layers of `width` nodes each fed by one or two
    neighbours in the layer before, then a pairwise sum into one output."""
    nodes = [
        {"id": f"p{i}", "op": "param", "value": round(((i * 37) % 200) / 100 - 1, 2)}
        for i in range(width)
    ]
    prev = [f"p{i}" for i in range(width)]
    layer = 0
    while len(nodes) + width + width - 1 <= n:
        layer += 1
        cur = []
        for i in range(width):
            nid = f"l{layer}_{i}"
            if i % 3 == 0:
                nodes.append({"id": nid, "op": "tanh", "inputs": [prev[i]]})
            else:
                op = "add" if i % 3 == 1 else "mul"
                nodes.append({"id": nid, "op": op, "inputs": [prev[i], prev[(i + 1) % width]]})
            cur.append(nid)
        prev = cur
    k = 0
    while len(prev) > 1:
        nxt = []
        for j in range(0, len(prev) - 1, 2):
            nodes.append({"id": f"s{k}", "op": "add", "inputs": [prev[j], prev[j + 1]]})
            nxt.append(f"s{k}")
            k += 1
        if len(prev) % 2:
            nxt.append(prev[-1])
        prev = nxt
    return {"name": f"layered {len(nodes)}", "nodes": nodes, "output": prev[0]}


def boston_spec(hidden=10, seed=1, batch_size=32):
    """The race's Boston network (13 -> hidden sigmoid -> 1) with weights drawn from `seed`."""
    from stepgrad.engine.race import boston_mlp_spec

    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.normal(size=(13, hidden)) * 0.3,
        "b1": np.zeros(hidden),
        "W2": rng.normal(size=(hidden, 1)) * 0.3,
        "b2": np.array([22.0]),
    }
    return boston_mlp_spec(weights, batch_size, name="boston")


def central_differences(spec: dict, target: str, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """d sum(target) / d leaf for every input and param leaf, by central differences."""
    graph = Graph.from_spec(spec)
    t = graph.index[target]
    out = {}
    for nid in graph.order:
        n = graph.nodes[nid]
        if n.op.name not in ("input", "param"):
            continue
        base = n.value
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1, -1):
                leaves = list(graph.leaf_values)
                bumped = base.copy()
                bumped[idx] += sign * eps
                leaves[graph.index[nid]] = bumped
                vals.append(float(np.sum(forward_pass(graph, leaves)[t])))
            grad[idx] = (vals[0] - vals[1]) / (2 * eps)
        out[nid] = grad
    return out


# ---- the REST API in-process (TestClient) -------------------------------------------------


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def create(client, body: dict | None = None) -> tuple[dict, dict]:
    """POST /api/graphs; returns (state, auth headers)."""
    from stepgrad.app.schemas import CreatedGraph

    r = client.post("/api/graphs", json=body if body is not None else {"example": "seed"})
    assert r.status_code == 201, r.text
    data = r.json()
    CreatedGraph.model_validate(data)
    return data, auth(data["edit_token"])


def post(client, gid: str, what: str, headers: dict, body=None, status: int = 200) -> dict:
    from stepgrad.app.schemas import GraphState

    r = client.post(f"/api/graphs/{gid}/{what}", json=body, headers=headers)
    assert r.status_code == status, r.text
    data = r.json()
    if status == 200 and what != "train":
        GraphState.model_validate(data)
    return data


def put_spec(client, gid, headers, body, status=200, **kw):
    r = client.put(f"/api/graphs/{gid}/spec", json=body, headers=headers, **kw)
    assert r.status_code == status, r.text
    return r


def node(state: dict, node_id: str) -> dict:
    return next(n for n in state["nodes"] if n["id"] == node_id)


# ---- patches and event streams -------------------------------------------------------------


def apply(state: dict, patch: dict) -> dict:
    """The state at patch["version"], from the state at patch["base_version"]."""
    assert patch["base_version"] == state["version"], (patch["base_version"], state["version"])
    if patch.get("full"):
        return {k: v for k, v in patch.items() if k not in ("base_version", "full")}
    out = copy.deepcopy(state)
    for key, value in patch.items():
        if key not in ("nodes", "edges", "base_version"):
            out[key] = value
    nodes = {n["id"]: n for n in out["nodes"]}
    for change in patch["nodes"]:
        node = nodes[change["id"]]
        for key, value in change.items():
            node[key] = value
    edges = {(e["source"], e["target"], e["slot"]): e for e in out["edges"]}
    for change in patch["edges"]:
        edge = edges[(change["source"], change["target"], change["slot"])]
        for key, value in change.items():
            edge[key] = value
    return out


def without_events(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "events"}


def live(live_server, **overrides):
    """(app, base URL) of a fresh app (in-memory store) served by the live_server fixture."""
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    app = create_app(Settings(db=":memory:", **overrides))
    return app, live_server(app)


def read_event(lines) -> tuple[str, str]:
    """The next (event, data) from an iterator of SSE lines; comments come back as ('', ping)."""
    event = data = ""
    for line in lines:
        if line.startswith(":"):
            return "", line
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and event:
            return event, data
    raise AssertionError("the stream ended")


# ---- servers: in a thread, in a process; Redis ---------------------------------------------


@contextlib.contextmanager
def serve(app, **config):
    """A real uvicorn server for `app` on 127.0.0.1 (a random free port); yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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


class ServerProcess:
    """`stepgrad serve` in a subprocess with its own SQLite file (unless given one) and
    STEPGRAD_<NAME> settings; its output is kept for the test to read."""

    def __init__(self, db: str | None = None, **env: object):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = db or os.path.join(self.tmp.name, "graphs.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.tmp.name, "server.log"), "w+b")  # noqa: SIM115
        extra = {f"STEPGRAD_{k.upper()}": str(v) for k, v in env.items()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stepgrad.app.cli", "serve",
             "--port", str(self.port), "--db", self.db],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **extra},
            stdout=self.log,
            stderr=self.log,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                httpx.get(f"{self.base}/api/health", timeout=2)
                return True
            except httpx.TransportError:
                time.sleep(0.1)
        return False

    def cpu(self) -> float:
        """CPU seconds the server process has used."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, limit: float = 20.0) -> float | None:
        """SIGTERM; seconds until the process exited, or None if it had to be killed."""
        if self.proc.poll() is not None:
            return 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(limit)
            return round(time.monotonic() - start, 2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def __enter__(self) -> ServerProcess:
        if not self.wait_ready():
            raise RuntimeError("the server did not start:\n" + self.output())
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.tmp.cleanup()


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


class RedisProcess:
    """A redis-server of a test's own on a free loopback port, in a temporary directory, that
    the test may stall (SIGSTOP), resume, kill and start again on the same port and
    directory: with `--appendonly yes` among `options` its data survives a kill. Nothing is
    saved to disk unless `options` say so (they come after the defaults, so they win)."""

    def __init__(self, *options: str):
        path = redis_server_path()
        if path is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.path = path
        self.options = options
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp = tempfile.TemporaryDirectory(prefix="stepgrad-redis-")
        self.proc: subprocess.Popen | None = None
        self.stalled = False

    def start(self) -> RedisProcess:
        import redis

        self.proc = subprocess.Popen(
            [self.path, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.tmp.name,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
             *self.options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.exceptions.BusyLoadingError:  # reading its append-only file
                    pass
                except redis.ConnectionError:
                    if self.proc.poll() is not None:
                        raise RuntimeError("redis-server exited at start") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
        finally:
            client.close()

    def stall(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.stalled = True

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.stalled = False

    def kill(self) -> None:
        """SIGKILL: connections are refused until `start` again."""
        assert self.proc is not None
        if self.stalled:
            self.resume()
        self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        self.tmp.cleanup()


class SSEReader:
    """An event stream read in a thread: every (event, data as JSON or text) it received, in
    order, and `wait_for(condition)` on them. `close` ends it."""

    def __init__(self, url: str, params: dict | None = None):
        self.url = url
        self.params = params or {}
        self.events: list[tuple[str, object]] = []
        self.status: int | None = None
        self.error: BaseException | None = None
        self._socket: socket.socket | None = None
        self._changed = threading.Condition()
        self._client = httpx.Client(timeout=httpx.Timeout(60, read=None))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import json

        try:
            with self._client.stream("GET", self.url, params=self.params) as r:
                stream = r.extensions.get("network_stream")
                with self._changed:
                    self.status = r.status_code
                    self._socket = stream.get_extra_info("socket") if stream else None
                    self._changed.notify_all()
                if r.status_code != 200:
                    return
                event = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event is not None:
                        text = line[6:]
                        try:
                            data: object = json.loads(text)
                        except ValueError:
                            data = text
                        with self._changed:
                            self.events.append((event, data))
                            self._changed.notify_all()
                        event = None
        except (httpx.HTTPError, RuntimeError) as exc:  # closed by the test, or lost
            self.error = exc
        finally:
            with self._changed:
                self._changed.notify_all()

    def wait_for(self, condition, timeout: float = 30.0) -> bool:
        """Whether condition(events) became true within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))
            return True

    def wait_status(self, timeout: float = 30.0) -> int | None:
        self.wait_for(lambda _: self.status is not None, timeout)
        return self.status

    def versions(self) -> list[int]:
        with self._changed:
            return [d["version"] for _, d in self.events if isinstance(d, dict) and "version" in d]

    def close(self) -> None:
        with self._changed:
            sock = self._socket
        if sock is not None:  # wakes the reading thread (closing alone would not)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._client.close()


@contextlib.contextmanager
def small_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `where` (a new directory), unmounted afterwards: a disk the
    test can fill. Needs root: skips with the reason when mounting is refused, except in CI,
    where it fails."""
    import pytest

    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs (needs root): {done.stderr.strip() or done.returncode}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)  # still busy: detach


def fill_disk(path: Path) -> int:
    """Write `path` until its filesystem has not one byte left (ENOSPC at every size down to
    a byte); the bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            block = b"\0" * chunk
            try:
                while True:
                    written += os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return written


class CommandServer(ServerProcess):
    """`stepgrad serve ARGS...` in a subprocess (its own SQLite file, STEPGRAD_<NAME>
    settings), for the options given on the command line; otherwise a ServerProcess."""

    def __init__(self, *args: str, db: str | None = None, **env: object):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = db or os.path.join(self.tmp.name, "graphs.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.tmp.name, "server.log"), "w+b")  # noqa: SIM115
        extra = {f"STEPGRAD_{k.upper()}": str(v) for k, v in env.items()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stepgrad.app.cli", "serve",
             "--port", str(self.port), "--db", self.db, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **extra},
            stdout=self.log,
            stderr=self.log,
        )  # fmt: skip


def raise_open_files(need: int) -> int:
    """Lift this process's soft limit on open files towards its hard limit, to hold `need`
    sockets and more; the soft limit now."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need + 256 if hard == resource.RLIM_INFINITY else min(hard, max(soft, need + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


NGINX = "/usr/sbin/nginx"


def nginx_path() -> str | None:
    """Debian's nginx (or one on PATH), or None."""
    if os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


def require_nginx() -> None:
    """Skip the calling test without nginx (fail under CI=true, whose .ci/run installs it)."""
    import pytest

    if nginx_path() is None:
        if IN_CI:
            pytest.fail("nginx is required under CI=true (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")


def deploy_nginx_location() -> str:
    """The `location / { ... }` block of docs/DEPLOY.md's nginx configuration, as an operator
    copies it: the tests put that very block in front of the server."""
    text = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    for block in re.findall(r"```nginx\n(.*?)```", text, re.S):
        start = block.find("location / {")
        if start < 0:
            continue
        depth = 0
        for i in range(start, len(block)):
            depth += {"{": 1, "}": -1}.get(block[i], 0)
            if block[i] == "}" and depth == 0:
                return block[start : i + 1]
    raise AssertionError("docs/DEPLOY.md has no nginx `location / { ... }` block")


@contextlib.contextmanager
def nginx_proxy(upstream: str, directory: str | Path, connections: int = 256) -> Iterator[str]:
    """nginx in front of `upstream` (a server's URL, http://127.0.0.1:PORT) with
    docs/DEPLOY.md's `location /` block, listening on a free 127.0.0.1 port and connecting
    to the upstream from 127.0.0.1; its configuration, pid file, logs and temporary files in
    `directory`. `connections`: the client connections it must hold at once (each holds a
    second one, to the upstream). Yields its URL and stops it afterwards."""
    path = nginx_path()
    if path is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    target = upstream.removeprefix("http://").rstrip("/")
    # each client connection holds an upstream one, and a closed one may linger a while
    worker_connections = 4 * connections + 64
    user = "user root;\n" if os.geteuid() == 0 else ""  # the worker reads the folder
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {2 * worker_connections};
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{
    worker_connections {worker_connections};
}}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    upstream stepgrad {{
        server {target};
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_bind 127.0.0.1;
        {deploy_nginx_location()}
    }}
}}
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [path, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    log = (folder / "error.log").read_text(errors="replace")
                    raise RuntimeError(f"nginx did not start:\n{log}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop; its streams are cut
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RawEventStream:
    """One event stream read over a plain asyncio connection from a chosen local address
    (Linux routes all of 127/8 to loopback): light enough for a test to hold a thousand.
    `connect()` sends the request and reads the head; `event()` the next event."""

    def __init__(self, url: str, address: str | None = None, headers: dict | None = None):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.address = address
        self.headers = headers or {}
        self.status = 0
        self.body = b""  # of a refusal
        self._buffer = b""
        self._chunked = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, read_limit: int = 2**16) -> int:
        """Send the request and read the answer's head; its status (a refusal's body is
        read into `body`). `read_limit`: what the reader buffers before it stops reading
        the socket (x2)."""
        self._reader, self._writer = await asyncio.open_connection(
            self.host,
            self.port,
            local_addr=(self.address, 0) if self.address else None,
            limit=read_limit,
        )
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        self._writer.write(
            f"GET {self.target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        self._chunked = fields.get("transfer-encoding", "").lower() == "chunked"
        if self.status != 200:
            if "content-length" in fields:
                self.body = await self._reader.readexactly(int(fields["content-length"]))
            else:
                while await self._more():
                    pass
                self.body = self._buffer
        return self.status

    async def _more(self) -> bool:
        """Read the next piece of the body into the buffer; False at its end."""
        assert self._reader is not None
        if self._chunked:
            line = await self._reader.readline()
            if not line:
                return False
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return False
            self._buffer += (await self._reader.readexactly(size + 2))[:-2]
            return True
        data = await self._reader.read(2**16)
        self._buffer += data
        return bool(data)

    async def event(self) -> tuple[str, str]:
        """The next (event, data); comments (pings) are skipped. EOFError at the end."""
        while True:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                if not await self._more():
                    raise EOFError("the stream ended")
                continue
            frame, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            name = data = ""
            for line in frame.decode().split("\n"):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
            if name:
                return name, data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


async def raw_request(
    url: str,
    method: str = "GET",
    body: object = None,
    headers: dict | None = None,
    address: str | None = None,
) -> tuple[int, bytes]:
    """One request on a connection of its own from `address` (asyncio, no client library):
    (status, body). `body` is sent as JSON."""
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = b"" if body is None else json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    if body is not None:
        extra += "Content-Type: application/json\r\n"
    reader, writer = await asyncio.open_connection(
        host, port, local_addr=(address, 0) if address else None
    )
    try:
        writer.write(
            f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}\r\n".encode()
            + payload
        )
        raw = await reader.read()
    finally:
        writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n", 1)[0].split()[1])
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        rest = out
    return status, rest


# ---- random graphs against PyTorch ----------------------------------------------------------
#
# Shared by the property tests (tests/engine/test_properties.py, drawing through hypothesis)
# and the long run in bench/fuzz_engine.py (drawing from a numpy generator). A graph mixes
# scalars, vectors, (n, 1), (1, n), matrices and 3-D tensors that broadcast together,
# reuses nodes (fan-out), and feeds extreme values (0, -0, 1e-300, +-800, +-1e300...) and
# empty tensors. `torch_reference` evaluates a spec with PyTorch's autograd in float64, and
# `compare` checks the engine's values and gradients against it.

# values where float64 arithmetic gets interesting: signed zeros, subnormal and huge
# magnitudes, the edges of exp's range, the tails of sigmoid
EXTREMES = (
    0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, -1e-300, 1e-170, -1e-170, 40.0, -40.0,
    710.0, -710.0, 800.0, -800.0, 1e300, -1e300, 1e154, 3.0,
)  # fmt: skip
# without the magnitudes near overflow: a rounding residue (1e-17 where the other side has
# 0) times 1e300 is a difference of 1e283 that no tolerance can tell from a bug; and
# without -0, whose ties with +0 in max keep whichever zero the reduction met first (its
# order differs between numpy and PyTorch). The property tests in CI draw from these,
# bench/fuzz_engine.py from both.
MILD_EXTREMES = tuple(
    x for x in EXTREMES if abs(x) < 1e100 and not (x == 0 and math.copysign(1.0, x) < 0)
)
DIMS = (1, 2, 3)
UNARY = ("neg", "square", "sqrt", "abs", "sigmoid", "relu", "tanh", "exp", "log")
BINARY = ("add", "sub", "mul", "div", "pow")
AXIS_OPS = ("softmax", "log_softmax")
REDUCTIONS = ("sum", "mean", "max")
SHAPE_OPS = ("reshape", "transpose")
ALGEBRA = ("matmul", "linear")
LOSSES = ("mse", "bce", "cross_entropy")
ALL_OPS = UNARY + BINARY + AXIS_OPS + REDUCTIONS + SHAPE_OPS + ALGEBRA + LOSSES
RTOL = 1e-9
ABS_FLOOR = 1e-13


class RandomDraw:
    """Draws from a numpy generator (the fuzz script)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def choice(self, items):
        return items[int(self.rng.integers(len(items)))]


class HypothesisDraw:
    """Draws through hypothesis (the property tests), so failures shrink."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))

    def choice(self, items):
        return self.data.draw(self.st.sampled_from(items))


class GraphBuilder:
    def __init__(self, draw, extremes=EXTREMES, empty: bool = True):
        self.draw = draw
        self.extremes = extremes
        self.empty = empty
        self.nodes: list[dict] = []
        self.shapes: dict[str, tuple] = {}

    # ---- leaves --------------------------------------------------------------------

    def number(self, coarse: bool = False) -> float:
        if coarse:  # ties, for max and relu's kink
            return self.draw.choice((0.0, 1.0, -1.0, 2.0))
        if self.extremes and self.draw.integer(0, 5) == 0:
            return self.draw.choice(self.extremes)
        return self.draw.integer(-3000, 3000) / 997.0

    def shape(self, ndim_max: int = 3) -> tuple:
        ndim = self.draw.choice((0, 0, 1, 1, 2, 2, 2, 3)[: 2 + 2 * ndim_max])
        if self.empty and ndim and self.draw.integer(0, 14) == 0:
            # the empty axis last: nested lists cannot hold the axes after an empty one
            return (*[self.draw.choice(DIMS) for _ in range(ndim - 1)], 0)
        return tuple(self.draw.choice(DIMS) for _ in range(ndim))

    def leaf(self, shape: tuple, kind: str | None = None, values=None) -> str:
        kind = kind or self.draw.choice(("input", "param", "param", "const"))
        node_id = f"{kind[0]}{len(self.nodes)}"
        # nested lists cannot hold the axes after an empty one: [[], []] is 2 x 0, never more
        if 0 in shape:
            shape = shape[: shape.index(0) + 1]
        size = math.prod(shape)
        coarse = self.draw.integer(0, 5) == 0
        flat = [self.number(coarse) for _ in range(size)] if values is None else values
        value = np.array(flat, dtype=np.float64).reshape(shape).tolist()
        self.nodes.append({"id": node_id, "op": kind, "value": value})
        self.shapes[node_id] = shape
        return node_id

    def broadcastable(self, shape: tuple) -> tuple:
        """A shape that broadcasts with `shape`: some dims set to 1, maybe fewer or more axes."""
        dims = [1 if self.draw.integer(0, 2) == 0 else n for n in shape]
        how = self.draw.integer(0, 4)
        if how == 0 and dims:
            dims = dims[self.draw.integer(0, len(dims)) :]
        elif how == 1 and len(dims) < 3:
            dims = [self.draw.choice(DIMS), *dims]
        return tuple(dims)

    # ---- nodes ---------------------------------------------------------------------

    def pick(self) -> str:
        computed = [n["id"] for n in self.nodes if n["op"] not in ("input", "param", "const")]
        # mostly the newest node (chains), sometimes any earlier one (fan-out)
        if computed and self.draw.integer(0, 2):
            return computed[-1]
        return self.draw.choice([n["id"] for n in self.nodes])

    def add(self, op: str, inputs: list[str], attrs: dict | None = None) -> str | None:
        spec_attrs = OPS[op].check_attrs(attrs or {})
        try:
            shape = OPS[op].shape([self.shapes[i] for i in inputs], spec_attrs)
        except ShapeError:
            return None
        node_id = f"{op}{len(self.nodes)}"
        node = {"id": node_id, "op": op, "inputs": inputs}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        self.shapes[node_id] = tuple(shape)
        return node_id

    def axis_attrs(self, ndim: int) -> dict:
        how = self.draw.integer(0, 3)
        if how == 0 or ndim == 0:
            axis = None if how == 0 or self.draw.integer(0, 1) else self.draw.choice((0, -1))
        elif how == 1:
            axis = self.draw.integer(-ndim, ndim - 1)
        else:
            axes = [a for a in range(ndim) if self.draw.integer(0, 1)] or [0]
            axis = [a - ndim if self.draw.integer(0, 1) else a for a in axes]
        return {"axis": axis, "keepdims": bool(self.draw.integer(0, 1))}

    def step(self) -> str | None:
        op = self.draw.choice(ALL_OPS)
        a = self.pick()
        sa = self.shapes[a]
        if op in UNARY:
            return self.add(op, [a])
        if op in BINARY:
            if op == "pow" and self.draw.integer(0, 1):
                b = self.leaf((), "const", [self.draw.choice((0.0, 1.0, 2.0, 3.0, -1.0, 0.5))])
            elif self.draw.integer(0, 1):
                b = self.pick()
                if op == "div" and b == a:
                    # x / x: its gradient 1/x - (x/x)/x is a cancellation whose rounding
                    # residue differs with any earlier rounding; compared elsewhere
                    return None
            else:
                b = self.leaf(self.broadcastable(sa))
            return self.add(op, [a, b] if self.draw.integer(0, 3) else [b, a])
        if op in AXIS_OPS:
            ndim = len(sa)
            axis = self.draw.integer(-max(ndim, 1), max(ndim, 1) - 1)
            return self.add(op, [a], {"axis": axis})
        if op in REDUCTIONS:
            return self.add(op, [a], self.axis_attrs(len(sa)))
        if op == "transpose":
            perm = list(range(len(sa)))
            self.draw_permutation(perm)
            return self.add(op, [a], {"axes": perm} if self.draw.integer(0, 1) else None)
        if op == "reshape":
            size = math.prod(sa)
            options = [[-1], [1, -1], [-1, 1], [size], []]
            options += [[d, -1] for d in DIMS if size and size % d == 0]
            return self.add(op, [a], {"shape": self.draw.choice(options)})
        if op in ALGEBRA:
            return self.algebra(op, a, sa)
        return self.loss(op, a, sa)

    def draw_permutation(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.draw.integer(0, i)
            items[i], items[j] = items[j], items[i]

    def algebra(self, op: str, a: str, sa: tuple) -> str | None:
        if op == "linear" and self.draw.integer(0, 3) == 0:
            # the course's scalar Linear: x * w + b
            w = self.leaf(())
            b = self.leaf(self.broadcastable(sa))
            return self.add(op, [a, w, b])
        if len(sa) not in (1, 2):
            a = self.leaf(self.draw.choice(((3,), (2, 3), (1, 3))))
            sa = self.shapes[a]
        w_shape = (sa[-1],) if self.draw.integer(0, 2) == 0 else (sa[-1], self.draw.choice(DIMS))
        w = self.leaf(w_shape)
        if op == "matmul":
            return self.add(op, [a, w])
        out = sa[:-1] + w_shape[1:]
        # a bias that broadcasts the output beyond x @ w, sometimes
        b_shape = self.broadcastable(out) if self.draw.integer(0, 2) else (4,)
        if self.draw.integer(0, 4) == 0 and len(out) == 2 and out[1] == 1:
            b_shape = (out[0], 4)
        return self.add(op, [a, w, self.leaf(b_shape)])

    def loss(self, op: str, a: str, sa: tuple) -> str | None:
        if op == "mse":
            return self.add(op, [self.leaf(self.broadcastable(sa)), a])
        if op == "bce":
            p = self.add("sigmoid", [a])
            labels = [float(self.draw.integer(0, 1)) for _ in range(math.prod(sa))]
            shape = sa
            if self.draw.integer(0, 2) == 0:
                # labels larger than the prediction
                shape = (2, *sa) if len(sa) < 3 else sa
                labels = labels * (math.prod(shape) // max(math.prod(sa), 1))
                if math.prod(sa) == 0:
                    labels = []
            return self.add(op, [self.leaf(shape, "input", labels), p])
        # cross_entropy(y, z): y a distribution of z's shape
        if not sa:
            return None
        axis = self.draw.integer(-len(sa), len(sa) - 1)
        y = self.leaf(sa, "input", [abs(self.number()) % 1.0 for _ in range(math.prod(sa))])
        return self.add(op, [y, a], {"axis": axis})

    def build(self, n_ops: int) -> dict:
        for _ in range(self.draw.integer(1, 3)):
            self.leaf(self.shape())
        made = 0
        for _ in range(n_ops * 3):
            if made >= n_ops:
                break
            if self.step() is not None:
                made += 1
        output = self.nodes[-1]["id"]
        if self.draw.integer(0, 3):
            # mostly, every branch feeds the output (so every gradient is checked); else the
            # others stay dead ends, which get no gradient
            used = {i for n in self.nodes for i in n.get("inputs", ())}
            for sink in [n["id"] for n in self.nodes if n["id"] not in used][:-1]:
                total = self.add("sum", [sink])
                output = self.add("add", [output, total]) or output
        return {"name": "random", "nodes": self.nodes, "output": output}


def random_spec(draw, n_ops: int | None = None, **options) -> dict:
    return GraphBuilder(draw, **options).build(n_ops or draw.integer(1, 8))


# ---- PyTorch ------------------------------------------------------------------------


def _dims(axis, ndim: int) -> list[int]:
    if axis is None:
        return list(range(ndim))
    return list(axis) if isinstance(axis, list) else [axis]


def _torch_op(torch, op: str, ts: list, attrs: dict):
    F = torch.nn.functional
    a = ts[0]
    if op in ("add", "sub", "mul", "div"):
        return {"add": a + ts[1], "sub": a - ts[1], "mul": a * ts[1], "div": a / ts[1]}[op]
    if op == "pow":
        return torch.pow(a, ts[1])
    if op == "square":
        return torch.pow(a, 2)
    if op in ("neg", "sqrt", "abs", "sigmoid", "relu", "tanh", "exp", "log"):
        return getattr(torch, op)(a)
    if op in ("softmax", "log_softmax"):
        return getattr(F, op)(a, dim=attrs["axis"])
    if op in ("sum", "mean", "max"):
        fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}[op]
        return fn(a, dim=_dims(attrs["axis"], a.dim()), keepdim=attrs["keepdims"])
    if op == "transpose":
        axes = attrs["axes"]
        return torch.permute(a, list(reversed(range(a.dim()))) if axes is None else axes)
    if op == "reshape":
        return a.reshape(attrs["shape"])
    if op == "matmul":
        # the engine's exact zeros are +0 (BLAS libraries differ in their sign)
        return a @ ts[1] + 0.0
    if op == "linear":
        return (a * ts[1] if a.dim() == 0 or ts[1].dim() == 0 else a @ ts[1]) + ts[2]
    if op == "mse":
        y, yhat = torch.broadcast_tensors(*ts)
        return F.mse_loss(yhat, y)
    if op == "bce":
        y, p = torch.broadcast_tensors(*ts)
        return F.binary_cross_entropy(p, y)
    if op == "cross_entropy":
        y, z = torch.broadcast_tensors(*ts)
        # PyTorch's classes are on axis 1 (axis 0 for one sample)
        axis = attrs["axis"] % z.dim()
        if z.dim() > 1:
            y, z = y.movedim(axis, 1), z.movedim(axis, 1)
        return F.cross_entropy(z, y)
    raise AssertionError(f"no PyTorch reference for {op}")


class TorchRefused(Exception):
    """PyTorch refuses the graph (bce of a probability outside [0, 1], say)."""


class IllConditioned(TorchRefused):
    """A sum in the graph cancels terms far larger than its result (1e300 - 1e300 + 0.5):
    its digits depend on the order of summation, which numpy and PyTorch choose
    differently, so the graph cannot be compared."""


CONDITION_LIMIT = 1e8


def _check_conditioning(torch, op: str, ts: list, t) -> None:
    """Raise IllConditioned when a sum's result is far smaller than the sum of its terms'
    magnitudes, or when its terms overflow with both signs (inf - inf, or inf, or a finite
    number, by the order of summation)."""
    if op not in ("sum", "mean", "matmul", "linear") or t.numel() == 0:
        return
    with torch.no_grad():
        if op in ("sum", "mean"):
            x = ts[0].detach()
            up = torch.sum(x.clamp(min=0), dim=t.attrs_dims, keepdim=t.attrs_keep)
            down = torch.sum((-x).clamp(min=0), dim=t.attrs_dims, keepdim=t.attrs_keep)
        elif ts[0].dim() and ts[1].dim():
            a, b = ts[0].detach(), ts[1].detach()
            a2 = a.reshape(1, -1) if a.dim() == 1 else a
            b2 = b.reshape(-1, 1) if b.dim() == 1 else b
            # every product of the matrix product, 0 * inf counted as 0
            terms = torch.nan_to_num(a2[:, :, None] * b2[None, :, :], nan=0.0)
            up = terms.clamp(min=0).sum(dim=1).reshape(t.shape if op == "matmul" else -1)
            down = (-terms).clamp(min=0).sum(dim=1).reshape(up.shape)
        else:
            return
        bound, result = up + down, (up - down).abs()
        cancels = torch.isfinite(bound) & (bound > CONDITION_LIMIT * result) & (bound > 1e-290)
        overflows = ~torch.isfinite(bound) & (up > 0) & (down > 0)
        if bool((cancels | overflows).any()):
            raise IllConditioned(f"{op} cancels terms up to {float(bound.max()):.3g}")


def torch_reference(torch, spec: dict) -> tuple[dict, dict]:
    """Values and gradients (d output / d node, seeded with ones) of every node."""
    ts: dict = {}
    for node in spec["nodes"]:
        op = node["op"]
        if OPS[op].leaf:
            t = torch.tensor(node["value"], dtype=torch.float64)
            if op != "const":
                t.requires_grad_(True)
            ts[node["id"]] = t
            continue
        attrs = OPS[op].check_attrs(node.get("attrs") or {})
        inputs = [ts[i] for i in node["inputs"]]
        try:
            t = _torch_op(torch, op, inputs, attrs)
        except RuntimeError as exc:
            raise TorchRefused(str(exc)) from None
        if op in ("sum", "mean"):
            t.attrs_dims = _dims(attrs["axis"], inputs[0].dim())
            t.attrs_keep = attrs["keepdims"]
        _check_conditioning(torch, op, inputs, t)
        if t.requires_grad:
            t.retain_grad()
        ts[node["id"]] = t
    out = ts[spec["output"]]
    if out.requires_grad:
        out.backward(torch.ones_like(out))
    values = {nid: t.detach().numpy().copy() for nid, t in ts.items()}
    grads = {nid: t.grad.numpy().copy() for nid, t in ts.items() if t.grad is not None}
    return values, grads


def _largest(arrays) -> float:
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    return max((float(f.max()) for f in finite if f.size), default=0.0)


def assert_same(mine, ref, what: str, scale: float = 0.0) -> None:
    """Equal to rtol 1e-9: NaN where PyTorch has NaN, the same infinities, the same shape.

    Where terms cancel, the residue (about 1e-16 of the terms) has no correct digits on
    either side and differs with the order of operations, so elements are also equal
    within 1e-13 of `scale` (at least the array's own largest finite magnitude, and 1)."""
    mine = np.asarray(mine, dtype=np.float64)
    assert mine.shape == ref.shape, f"{what}: shape {mine.shape} against PyTorch's {ref.shape}"
    scale = max(scale, _largest([ref]), 1.0)
    np.testing.assert_allclose(
        mine, ref, rtol=RTOL, atol=ABS_FLOOR * scale, equal_nan=True, err_msg=what
    )


def _close(mine, ref, atol: float) -> bool:
    mine = np.asarray(mine, dtype=np.float64)
    if mine.shape != ref.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.isclose(mine, ref, rtol=RTOL, atol=atol, equal_nan=True)))


def compare(values, grads, ref_values, ref_grads, how: str, graph=None) -> None:
    """Every value and gradient of the engine against PyTorch's (see `assert_same`).

    With the graph, gradients are checked from the output back. A gradient that matches
    only within the residue floor is a rounding residue (1e-17 where the other side has
    exactly 0); what the nodes feeding it receive is that residue times their local
    derivatives, which can be 1e12 (bce's clamp) or infinite (sqrt at 0): those nodes are
    not compared."""
    for nid, ref in ref_values.items():
        assert_same(values[nid], ref, f"{how}: value of {nid}")
    # a gradient sums what flows back from its consumers; softmax's backward, for one,
    # cancels terms as large as the largest gradient in the graph
    flow = _largest(ref_grads.values())
    order = list(reversed(graph.order)) if graph is not None else list(ref_grads)
    residue: set[str] = set()
    for nid in order:
        if nid not in ref_grads:
            continue
        ref = ref_grads[nid]
        assert grads.get(nid) is not None, f"{how}: no gradient for {nid}"
        fed_residue = graph is not None and any(c in residue for c, _ in graph.consumers[nid])
        if _close(grads[nid], ref, 0.0):
            continue
        floor = ABS_FLOOR * max(flow, _largest([ref]), 1.0)
        if fed_residue or _close(grads[nid], ref, floor):
            residue.add(nid)
            continue
        assert_same(grads[nid], ref, f"{how}: gradient of {nid}", flow)


# ---- English left in Chinese text ----------------------------------------------------------
#
# A word is a run of two or more Latin letters, lower-case or capitalised ("forward",
# "Run"). Identifiers and maths are not words: names of the graph (node ids, tokens of
# labels, op names, given by the caller), tokens with digits or underscores, all-capitals
# (MSE, RM, JSON), mixed case (PyTorch, dY), single letters, d + a name (dloss, dk1), and the
# short list ALLOWED below. English is two words in a row with only spaces or punctuation
# between them: "Run forward", "chain rule", or one word standing alone with no Chinese
# around it ("scalar" as a label). One foreign word in a Chinese sentence (a function name,
# a product) is how Chinese courses write, and passes.

# Words (not identifiers of the graph) a Chinese ML course writes in Latin letters. Kept
# small on purpose: every entry is a word that could hide an untranslated sentence.
ALLOWED = frozenset(
    {
        "stepgrad",  # the product
        "English",  # the language's own name, on the button that switches to it
        "Adam",  # an optimizer's name
        "ms",  # milliseconds, as charts write them
        "numpy",  # libraries and tools
        "Graphviz",
        "scikit",  # (scikit-learn)
        "logits",  # the technical term, as Chinese courses write it
        "keepdims",  # an op attribute, written as in code
        "one",  # "one-hot", written so in Chinese courses ("hot" is below)
        "hot",
        "logistic",  # "logistic 函数"
    }
)

TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_']*")
WORD = re.compile(r"[A-Z]?[a-z]+(?:'[a-z]+)?\Z")
# between two words of one English phrase: spaces and punctuation only (no CJK, digits, maths)
GAP = re.compile(r"[\s,.;:!?\"'()\u2018\u2019\u201c\u201d\u2026\u2014\u2013-]*\Z")


def is_word(token: str, names: frozenset[str] | set[str]) -> bool:
    if len(token) < 2 or not WORD.match(token):
        return False
    if token in names or token in ALLOWED or token.lower() in ALLOWED:
        return False
    # dloss, dk1: derivative names
    return not (token.startswith("d") and token[1:] in names)


# a label cut short on a node ("mse(y, sigmo…") ends in a piece of a name, not a word
CUT = re.compile(r"[A-Za-z0-9_]+\u2026")


def english_runs(text: str, names: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Every run of two or more English words in `text` (empty when there is none)."""
    text = CUT.sub("\u2026", text)
    tokens = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
    runs: list[str] = []
    start = None
    for i, (begin, end, token) in enumerate(tokens):
        word = is_word(token, names)
        if word and start is not None and GAP.match(text[tokens[i - 1][1] : begin]):
            continue  # the run goes on
        if start is not None and start < i - 1:
            runs.append(text[tokens[start][0] : tokens[i - 1][1]])
        start = i if word else None
    if start is not None and start < len(tokens) - 1:
        runs.append(text[tokens[start][0] : tokens[-1][1]])
    return runs


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def lone_word(text: str, names: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The English word of a text that is that word alone, with no Chinese around it (a
    label "scalar", a tooltip "graph"), or None."""
    if CJK.search(text):
        return None
    text = CUT.sub("\u2026", text)
    words = [t for t in TOKEN.findall(text) if is_word(t, names)]
    return words[0] if len(words) == 1 else None


def names_of(*texts: str) -> set[str]:
    """The Latin tokens of some identifiers or labels (node ids, labels, op names)."""
    out: set[str] = set()
    for text in texts:
        out.update(TOKEN.findall(text or ""))
    return out


# ---- the browser page --------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"  # the namespace of SVG elements, as ElementTree names them

# a projector's 1280x720, in English unless a test switches
CONTEXT_ARGS = {"viewport": {"width": 1280, "height": 720}, "locale": "en-US"}
# ms: the slowest lesson step (the race) takes seconds on two idle cores; a shared CI machine
# may be far from idle, and this bounds a hang, not the speed
STEP_TIMEOUT = 120_000


def browser_stack():
    """Called by test_browser_*.py at import: Playwright's `expect`, or the module is skipped
    without Playwright (and fails under CI=true, which installs it)."""
    import pytest

    try:
        return importlib.import_module("playwright.sync_api").expect
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"playwright is required under CI=true: {exc}", pytrace=False)
        pytest.skip(
            "playwright is not installed (pip install 'stepgrad[test]')", allow_module_level=True
        )


CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || "?"}:${e.lineNumber}`);
});
"""


def csp_violations(context) -> list[str]:
    """Start collecting the context's Content-Security-Policy violations (Chromium's own
    console errors and the pages' securitypolicyviolation events) into the returned list."""
    found: list[str] = []
    context.add_init_script(CSP_WATCH)

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            found.append(message.text)

    context.on("console", on_console)
    return found


class PageApi:
    """The REST API of the page test server, for setting up graphs and checking the page."""

    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, token: str | None = None):
        import json
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read().decode()
            return exc.code, (json.loads(text) if text else None)

    def create(self, body: dict) -> tuple[dict, str]:
        status, data = self.call("POST", "/api/graphs", body)
        assert status == 201, data
        return data, data["edit_token"]

    def state(self, graph_id: str) -> dict:
        status, data = self.call("GET", f"/api/graphs/{graph_id}")
        assert status == 200, data
        return data


# what the page draws for every node, edge label and the current node
READ_PAGE = """() => {
  const nodes = {};
  for (const g of document.querySelectorAll('#graph-svg [data-node-id]')) {
    nodes[g.dataset.nodeId] = {
      value: g.querySelector('[data-role=value]').textContent,
      grad: g.querySelector('[data-role=grad]').textContent,
      cls: g.getAttribute('class'),
    };
  }
  const edges = [...document.querySelectorAll('#graph-svg .edge-label')].map((l) => ({
    source: l.dataset.source, target: l.dataset.target, slot: Number(l.dataset.slot),
    text: l.querySelector('[data-role=edge-grad]').textContent,
    visible: l.classList.contains('is-visible'),
  }));
  const current = [...document.querySelectorAll('#graph-svg .node.is-current')]
    .map((g) => g.dataset.nodeId);
  return {nodes, edges, current};
}"""


@contextlib.contextmanager
def big_graph_server(*sizes: int) -> Iterator[tuple[PageApi, dict[int, tuple[dict, str]]]]:
    """A real server that takes graphs of 10,000 nodes, holding one layered graph of each
    size: yields (api, {size: (graph, token)})."""
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    settings = Settings(
        db=":memory:",
        max_nodes=10_000,
        rate_create="100000/minute",
        rate_heavy="100000/minute",
    )
    with serve(create_app(settings), timeout_graceful_shutdown=2) as url:
        api = PageApi(url)
        yield api, {n: api.create(layered_graph(n)) for n in sizes}


FUNCTION_TEXT = re.compile(r"^\s*(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)")


def wait_js(page, expression: str, arg=None, timeout: float = 30_000):
    """Wait until `expression` (a JS function of `arg`, or an expression) is truthy in the
    page, as JavaScript judges it, and return its value. Playwright's wait_for_function
    evaluates a string inside the page, which our Content-Security-Policy (no
    'unsafe-eval') sometimes refuses while the page works (EvalError); a top-level evaluate
    is never refused, so this polls with evaluate."""
    from playwright.sync_api import Error as PlaywrightError

    call = expression if FUNCTION_TEXT.match(expression) else f"() => ({expression})"
    # truth is the page's: [] and {} are true there, not in Python
    probe = f"async (arg) => {{ const v = await ({call})(arg); return {{ ok: !!v, v }}; }}"
    deadline = time.monotonic() + timeout / 1000
    last = None
    while True:
        try:
            got = page.evaluate(probe, arg)
            if got["ok"]:
                return got["v"]
            if time.monotonic() > deadline:
                break
            # the next frame (or 100 ms), as wait_for_function's "raf" polling waited: a
            # page whose work waits for a frame gets one
            page.evaluate(NEXT_FRAME)
        except PlaywrightError as exc:  # the page navigated between two polls
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            last = exc
            if time.monotonic() > deadline:
                break
            page.wait_for_timeout(50)
    why = last or "false"
    raise AssertionError(f"timed out after {timeout:g} ms waiting for {expression!r} ({why})")


NEXT_FRAME = "() => new Promise(r => { requestAnimationFrame(() => r()); setTimeout(r, 100); })"


def wait_position(page, position: int, total: int) -> None:
    """The page shows `position / total`, its calls are done and its state is there."""
    from playwright.sync_api import expect

    expect(page.locator("[data-role=position]")).to_have_text(f"{position} / {total}")
    wait_js(
        page,
        "p => !document.querySelector('#app').classList.contains('is-busy')"
        " && window.stepgrad.state.graph.cursor.position === p",
        arg=position,
    )


def open_editable(page, base: str, graph: dict, token: str) -> None:
    """The graph's page with its edit token, drawn and following its event stream."""
    from playwright.sync_api import expect

    page.goto(f"{base}/g/{graph['id']}#edit={token}")
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=live]")).to_have_text("live")


def shown(page, node_id: str, role: str) -> float | None:
    """The number a node shows in its value or grad role (None for the dash)."""
    text = page.locator(f'#graph-svg [data-node-id="{node_id}"] [data-role={role}]').text_content()
    text = text.strip().replace("\u2212", "-")
    return None if text in ("", "\u2014") else float(text)


# ---- legibility ---------------------------------------------------------------------------
#
# What the browser tests of legibility, phones and screenshots measure on a page: the
# rendered size of every visible text, node boxes drawn without their text, names that run
# into their op badge, the drawing's box and the page's overflow. Plain JavaScript run through
# Playwright's page.evaluate; the Python helpers wait for a page to be drawn.

# Every visible text on the page with its rendered size in CSS px: the computed font size
# times the scale of its SVG's screen transform (1 for HTML). Visible: displayed, with a box
# inside the window and, in an SVG, inside the SVG's own box (a drawing clips what is panned
# away). Returns [{text, px, where}] for the texts under `min`.
SMALL_TEXT = r"""min => {
  const out = [];
  const seen = new Set();
  const vw = innerWidth, vh = innerHeight;
  const overlaps = (r, b) => r.right > b.left + 1 && r.left < b.right - 1
    && r.bottom > b.top + 1 && r.top < b.bottom - 1;
  const win = {left: 0, top: 0, right: vw, bottom: vh};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.data.trim()) continue;
    const el = n.parentElement;
    if (!el || seen.has(el) || el.closest("title, script, style, option, noscript")) continue;
    seen.add(el);
    const opts = {checkOpacity: true, checkVisibilityCSS: true};
    if (el.checkVisibility && !el.checkVisibility(opts)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || !overlaps(r, win)) continue;
    const svg = el.ownerSVGElement || (el instanceof SVGSVGElement ? el : null);
    let scale = 1;
    if (svg) {
      if (!overlaps(r, svg.getBoundingClientRect())) continue;
      const m = el.getScreenCTM();
      if (!m) continue;
      scale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    }
    // scrolled out of a scrolling box: not on screen
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflow;
      if (o !== "visible" && !overlaps(r, p.getBoundingClientRect())) { clipped = true; break; }
    }
    if (clipped) continue;
    const px = parseFloat(getComputedStyle(el).fontSize) * scale;
    if (px < min - 0.05) {
      const cls = el.getAttribute("class") || "";
      const box = el.parentElement && el.parentElement.closest("[class]");
      const inside = box ? ` in .${(box.getAttribute("class") || "").split(" ")[0]}` : "";
      out.push({text: n.data.trim().slice(0, 40), px: Math.round(px * 10) / 10,
        where: `${el.tagName.toLowerCase()}.${cls.split(" ")[0]}${inside}`});
    }
  }
  return out;
}"""

# Node boxes on screen that show no name (text hidden by the level of detail, or cut away),
# and names whose box runs into the node's op badge.
NODE_TEXT = r"""() => {
  const svg = document.querySelector("#graph-svg");
  if (!svg) return {empty: [], overprint: [], shown: 0};
  const b = svg.getBoundingClientRect();
  const empty = [], overprint = [];
  let shown = 0;
  for (const g of svg.querySelectorAll("[data-node-id]")) {
    const r = g.querySelector(".node-box").getBoundingClientRect();
    if (r.right <= b.left || r.left >= b.right || r.bottom <= b.top || r.top >= b.bottom) continue;
    if (getComputedStyle(g).display === "none") continue;
    shown++;
    const label = g.querySelector(".node-label");
    const lr = label && label.getBoundingClientRect();
    if (!label || getComputedStyle(label).display === "none" || !lr.width) {
      empty.push(g.dataset.nodeId);
      continue;
    }
    const op = g.querySelector(".node-op");
    if (!op || getComputedStyle(op).display === "none") continue;
    const a = label.getBBox(), o = op.getBBox();
    if (a.x + a.width > o.x - 2 && a.y < o.y + o.height && o.y < a.y + a.height) {
      overprint.push(`${g.dataset.nodeId}: "${label.textContent}" over "${op.textContent}"`);
    }
  }
  return {empty, overprint, shown};
}"""

# Two frames: what a change asked for (a refit, a redraw) is on the screen.
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def settle(page) -> None:
    page.evaluate(FRAMES)
    page.evaluate(FRAMES)


# ---- the statuses the suite sees, against the ones /openapi.json lists ---------------------


class StatusLedger:
    """Every (method, path, status) a test's httpx client got from a stepgrad app (in-process
    or a real server on loopback): the suite's record of what the server really answers."""

    HOSTS = ("testserver", "127.0.0.1", "localhost")

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def record(self, response: httpx.Response) -> None:
        request = response.request
        # the server's answers carry its security headers; a proxy's own error page does not
        if request.url.host in self.HOSTS and "x-content-type-options" in response.headers:
            with self._lock:
                self.seen.add((request.method, request.url.path, response.status_code))

    def install(self) -> None:
        ledger = self
        plain, asynchronous = httpx.Client.send, httpx.AsyncClient.send

        def send(client, request, *args, **kwargs):
            response = plain(client, request, *args, **kwargs)
            ledger.record(response)
            return response

        async def send_async(client, request, *args, **kwargs):
            response = await asynchronous(client, request, *args, **kwargs)
            ledger.record(response)
            return response

        httpx.Client.send = send  # type: ignore[method-assign]
        httpx.AsyncClient.send = send_async  # type: ignore[method-assign]

    def undocumented(self, document: dict) -> list[str]:
        """`METHOD /path/template -> status` for each status seen that the document does not
        list for that operation (paths outside the document, such as pages, are not asked)."""
        templates = [
            (re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path) + "/?"), path, operations)
            for path, operations in document["paths"].items()
        ]
        # a literal path (/api/graphs/examples) wins over a template that also matches it
        templates.sort(key=lambda t: t[1].count("{"))
        missing = set()
        with self._lock:
            seen = sorted(self.seen)
        for method, path, status in seen:
            if status == 500:
                continue  # a bug by contract, never listed: tests provoke one on purpose
            for pattern, template, operations in templates:
                if pattern.fullmatch(path):
                    operation = operations.get(method.lower())
                    if operation is not None and str(status) not in operation["responses"]:
                        missing.add(f"{method} {template} -> {status}")
                    break
        return sorted(missing)


STATUS_LEDGER = StatusLedger()
