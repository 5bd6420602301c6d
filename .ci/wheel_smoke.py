"""Build the wheel, install it (not editable) in a clean venv in another folder, start
`stepgrad serve` from it and check that the installed package serves the app.

Fails when a file of the source tree's pages, assets, lessons, examples or data is missing
from the installed package, or when a page, a script, the lessons or the docs do not load.
Dependencies come from the runtime lock, so the check needs no network beyond the registry.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folders whose every file the package must carry (source path -> import package, subpath)
PACKAGED = {
    "templates": ("stepgrad.templates", "."),
    "static": ("stepgrad.static", "."),
    "app/classroom/lessons": ("stepgrad.app.classroom", "lessons"),
    "engine/examples": ("stepgrad.engine", "examples"),
    "engine/datasets": ("stepgrad.engine.datasets", "."),
}
SKIP_SUFFIXES = {".py", ".pyc"}


def run(*cmd: str | Path, **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read(), r.headers.get("content-type", "")


def expected_files() -> list[tuple[str, str, str]]:
    out = []
    for folder, (package, sub) in PACKAGED.items():
        for path in sorted((ROOT / folder).rglob("*")):
            skipped = path.suffix in SKIP_SUFFIXES or "__pycache__" in path.parts
            if path.is_file() and not skipped:
                out.append((package, sub, path.relative_to(ROOT / folder).as_posix()))
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="stepgrad-wheel-") as tmp:
        tmp = Path(tmp)
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", ROOT)
        wheel = next((tmp / "dist").glob("stepgrad-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
        top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
        if top != {"stepgrad"}:
            print(f"the wheel's top-level names are {sorted(top)}, not just stepgrad")
            return 1
        modules = {n for n in names if n.endswith(".py")}
        sources = {
            "stepgrad/" + p.relative_to(ROOT).as_posix()
            for folder in ("app", "engine", "static", "templates")
            for p in (ROOT / folder).rglob("*.py")
        }
        if sources - modules:
            print("modules missing from the wheel:\n" + "\n".join(sorted(sources - modules)))
            return 1
        venv = tmp / "venv"
        run(sys.executable, "-m", "venv", venv)
        py = venv / "bin" / "python"
        run(py, "-m", "pip", "install", "-q", "--require-hashes", "-r", ROOT / "requirements.lock")
        run(py, "-m", "pip", "install", "-q", "--no-deps", wheel)

        # from another folder, so nothing of the source tree can be imported by accident
        # that holds a learner's own `engine.py` (micrograd's file has that name) and `app/`
        work = tmp / "elsewhere"
        (work / "app").mkdir(parents=True)
        (work / "app" / "__init__.py").write_text("MINE = True\n")
        (work / "engine.py").write_text("class Value:\n    pass\n")
        files = expected_files()
        probe = (
            "import importlib.resources as r, sys\n"
            "rows = (line.split('|') for line in sys.stdin.read().split())\n"
            "missing = [f'{p}/{s}/{f}' for p, s, f in rows"
            " if not r.files(p).joinpath(s, *f.split('/')).is_file()]\n"
            "import stepgrad.app, stepgrad.engine\n"
            "for m in (stepgrad.app, stepgrad.engine):\n"
            "    assert 'site-packages' in m.__file__, m.__file__\n"
            "print('\\n'.join(missing)); sys.exit(1 if missing else 0)\n"
        )
        listing = "\n".join(f"{p}|{s}|{f}" for p, s, f in files)
        result = subprocess.run(
            [py, "-c", probe], input=listing, text=True, cwd=work, capture_output=True
        )
        if result.returncode:
            print("missing from the installed package:\n" + result.stdout + result.stderr)
            return 1
        print(f"all {len(files)} packaged files are installed")

        port = free_port()
        env = {**os.environ, "STEPGRAD_DB": str(tmp / "smoke.db")}
        server = subprocess.Popen(
            [venv / "bin" / "stepgrad", "serve", "--port", str(port)], cwd=work, env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    get(base + "/api/health")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        print("stepgrad serve did not start from the wheel")
                        return 1
                    time.sleep(0.2)
            checks = {
                "/": "text/html",
                "/lessons/day1": "text/html",
                "/static/js/graphpage.js": "javascript",
                "/api/lessons": "application/json",
                "/docs": "text/html",
            }
            for path, kind in checks.items():
                status, body, ctype = get(base + path)
                assert status == 200 and kind in ctype and body, (path, status, ctype)
                print(f"GET {path}: {status} {ctype}, {len(body)} bytes")
            status, body, _ = get(base + "/api/lessons")
            assert b"day1" in body, body[:200]
            # the docs must work offline: every asset they name comes from this server
            _, docs, _ = get(base + "/docs")
            assets = re.findall(rb'(?:src|href)="([^"]+)"', docs)
            for asset in (a.decode() for a in assets):
                assert asset.startswith("/"), f"/docs loads {asset} from another origin"
                status, body, _ = get(base + asset)
                assert status == 200 and body, asset
                print(f"GET {asset} (named by /docs): {status}, {len(body)} bytes")
        finally:
            server.terminate()
            server.wait(timeout=20)
    print("the wheel serves the app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
