"""The installed wheel: one top-level import name, `stepgrad`, that a learner's own
`engine.py` (micrograd's file has that name) or `app/` never shadows."""

from __future__ import annotations

import site
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory) -> Path:
    """The wheel built from this tree, unpacked (a wheel is what pip copies as it is)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp, ROOT],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp.glob("stepgrad-*.whl")
    unpacked = tmp / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked


@pytest.fixture
def learner_folder(tmp_path) -> Path:
    """A learner's folder with their own `engine.py` and `app/` package."""
    (tmp_path / "engine.py").write_text("class Value:\n    pass\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("MINE = True\n")
    return tmp_path


def python_with_wheel(wheel_dir: Path) -> tuple[list[str], dict]:
    """This interpreter without site initialisation (so the editable install of this tree
    is not on the path), with the unpacked wheel and the installed dependencies."""
    path = [str(wheel_dir), *site.getsitepackages()]
    return [sys.executable, "-S"], {"PYTHONPATH": ":".join(path), "PATH": "/usr/bin:/bin"}


def test_the_wheel_installs_one_top_level_name(wheel_dir):
    top = {p.name for p in wheel_dir.iterdir() if not p.name.endswith(".dist-info")}
    assert top == {"stepgrad"}
    for folder in ("app", "engine", "static", "templates"):
        for source in (ROOT / folder).rglob("*.py"):
            installed = wheel_dir / "stepgrad" / source.relative_to(ROOT)
            assert installed.is_file(), f"{installed} is missing from the wheel"


def test_the_engine_imports_beside_a_learners_engine_py(wheel_dir, learner_folder):
    python, env = python_with_wheel(wheel_dir)
    code = (
        "import engine, app\n"
        "assert hasattr(engine, 'Value') and app.MINE\n"
        "from stepgrad.engine import Graph, Run\n"
        "from stepgrad.engine.examples import load_example\n"
        "run = Run(Graph.from_spec(load_example('seed')))\n"
        "run.run_all()\n"
        "print(round(float(run.grad('k')), 6))\n"
    )
    out = subprocess.run(
        [*python, "-c", code],
        cwd=learner_folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "-0.034368"


def test_the_server_runs_beside_a_learners_app_package(wheel_dir, learner_folder):
    python, env = python_with_wheel(wheel_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*python, "-m", "stepgrad.app.cli", "serve", "--port", str(port), "--db", ":memory:"],
        cwd=learner_folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert b"stepgrad" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/lessons", timeout=5) as r:
            assert b"day1" in r.read()
    finally:
        server.terminate()
        server.wait(timeout=20)
        server.stderr.close()
