"""GET /api/server: where students can reach this server; GET /api/qr.svg: a QR code of
a link, for students to scan from the projector with a phone."""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from stepgrad.app.classroom import lan as network
from stepgrad.app.http.deps import SettingsDep
from stepgrad.app.schemas import ERROR_RESPONSES, ServerInfo

router = APIRouter(prefix="/api", tags=["meta"])

MAX_QR_URL = 512

QR_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An SVG image (black on white, sized by its viewBox).",
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    },
    422: ERROR_RESPONSES[422],
}


@router.get("/server", response_model=ServerInfo, summary="Where students can reach the server")
async def server(request: Request, settings: SettingsDep) -> dict:
    local = request.scope.get("server")
    # listing interfaces asks the kernel: off the event loop
    return await run_in_threadpool(
        network.server_info, settings.host, settings.port, tuple(local) if local else None
    )


def qr_svg(text: str) -> bytes:
    import segno

    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", border=4, dark="#000", light="#fff", omitsize=True, xmldecl=False)
    return out.getvalue()


@router.get(
    "/qr.svg",
    response_class=Response,
    responses=QR_DOC,
    summary="A QR code of a link (for the share dialog)",
)
def qr(
    url: Annotated[
        str,
        Query(max_length=MAX_QR_URL, description="An http(s) URL, at most 512 characters."),
    ],
) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HTTPException(422, "url must be an absolute http:// or https:// URL.")
    # the same URL always gives the same image
    return Response(
        qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )
