"""What the graph routes answer with: JSON with the state's ETag, the whole state or (with
`?return=patch`) the patch, and the OpenAPI response tables they share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Response

from stepgrad.app import jsonio
from stepgrad.app.schemas import (
    AUTH_RESPONSES,
    CONFLICT,
    ERROR_RESPONSES,
    NOT_FOUND,
    GraphPatch,
    GraphState,
)

READ: dict[int | str, dict[str, Any]] = {**NOT_FOUND, **ERROR_RESPONSES}
# every state answer names its version, for If-Match on PUT .../spec
ETAG: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {
                "description": 'The graph\'s version, quoted: "7". Send it back as If-Match '
                "with PUT /api/graphs/{id}/spec.",
                "schema": {"type": "string"},
            }
        }
    }
}
CHANGE: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    **AUTH_RESPONSES,
    **CONFLICT,
    **ERROR_RESPONSES,
}
# a change answers with the whole state, or with ?return=patch the patch (contract v1.1)
StateOrPatch = GraphState | GraphPatch


async def return_patch(
    return_: Annotated[
        str | None,
        Query(
            alias="return",
            description="`patch`: answer with what changed since the version before the call "
            "(a GraphPatch) instead of the whole state; `state` (the default): the whole state.",
        ),
    ] = None,
) -> bool:
    if return_ is None or return_ == "state":
        return False
    if return_ == "patch":
        return True
    raise HTTPException(
        422,
        f"return={return_[:40]!r} is not something a change can answer with: use return=patch "
        "for the patch, or return=state (or nothing) for the whole state.",
    )


ReturnPatch = Annotated[bool, Depends(return_patch)]


def version_number(text: str, name: str) -> int:
    """A version from a query string: a 422 sentence rather than a 500 or a validation list."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise HTTPException(
            422, f"{name} must be a graph version, a whole number from 0, not {text[:40]!r}."
        )
    return int(text)


def json_response(data: object, status_code: int = 200, version: int | None = None) -> Response:
    """JSON; with `version`, the state's `ETag: "<version>"` (If-Match of PUT .../spec)."""
    headers = None if version is None else {"ETag": f'"{version}"'}
    return Response(
        jsonio.dumps(data), status_code=status_code, media_type="application/json", headers=headers
    )


def changed_response(done, patch: bool) -> Response:
    """A change's answer: its patch or whole state, with the new version as ETag."""
    return json_response(done.patch if patch else done.state, version=done.snapshot.version)
