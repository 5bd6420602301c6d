"""The interactive API docs, /docs (Swagger UI) and /redoc (ReDoc), served without the
internet: their scripts and styles come from the installed `fastapi-offline` package
(mounted at /docs/assets), their pages are our templates, and Swagger UI starts from a
file of ours instead of the inline script FastAPI's page has, so that both pages work
under a Content-Security-Policy that allows scripts from this origin only.
"""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from stepgrad.app import __version__
from stepgrad.app.http.templating import templates

ASSETS = "/docs/assets"
# the assets' URLs change when the package that ships them does, so no browser keeps an
# old Swagger UI after an upgrade
ASSETS_VERSION = version("fastapi-offline")

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": f"{request.app.title} {__version__}",
            "openapi_url": root + request.app.openapi_url,
            "assets": f"{root}{ASSETS}",
            "assets_version": ASSETS_VERSION,
            "root": root,
        },
    )


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "swagger.html")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _page(request, "redoc.html")


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets (the app is built with docs_url=None and
    redoc_url=None, so FastAPI's own pages, which load from a CDN, are not there)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
