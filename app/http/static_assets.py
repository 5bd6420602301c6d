"""The page's files (static/, the package stepgrad.static) under two prefixes.

`/static/<hash>/...`, where `<hash>` is a short hash of the content of the whole tree
(computed once, when the app is built), is what the pages use: cached by browsers for a
year without asking again, and new URLs after any change, so an upgrade is never served
stale. The pages name only their entry module and stylesheets this way; ES modules resolve
`./api.js` against the importing module's URL, so every import carries the hash too.
`/static/...` stays for anything else that links a file directly; browsers revalidate it
on each use (`no-cache`, answered by 304 when unchanged).
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from stepgrad.app.services import services_of

# a regular package, so it has one real folder in a wheel and in an editable install alike
STATIC_DIR = str(resources.files("stepgrad.static"))
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class CachedStaticFiles(StaticFiles):
    """StaticFiles that send one Cache-Control header with every file."""

    def __init__(self, *, cache_control: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_control = cache_control

    def file_response(
        self, full_path, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self.cache_control
        return response


def tree_hash(directory: str | os.PathLike[str], length: int = 12) -> str:
    """A short hash of every file's relative path and bytes under `directory`."""
    digest = hashlib.sha256()
    files = []
    for folder, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [os.path.join(folder, n) for n in names if n != "__init__.py"]
    for path in sorted(files):
        digest.update(os.path.relpath(path, directory).replace(os.sep, "/").encode())
        digest.update(b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
        digest.update(b"\0")
    return digest.hexdigest()[:length]


def install(app: FastAPI) -> str:
    """Mount the static tree at its versioned and its plain prefix; returns the versioned
    one (also `Services.static_url`, which the templates use as `static`)."""
    versioned = CachedStaticFiles(directory=STATIC_DIR, cache_control=IMMUTABLE)
    url = f"/static/{tree_hash(versioned.all_directories[0])}"
    app.mount(url, versioned, name="static-versioned")  # before /static, which would match too
    app.mount(
        "/static", CachedStaticFiles(directory=STATIC_DIR, cache_control=REVALIDATE), name="static"
    )
    services_of(app).static_url = url
    return url


def template_context(request: Request) -> dict:
    return {"static": services_of(request.app).static_url}
