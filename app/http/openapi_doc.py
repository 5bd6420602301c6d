"""The statuses the whole server may answer, added to every operation of /openapi.json.

Routes declare what they decide (404, 401, 409, ...). Some answers come from layers every
request passes through and that no route sees: the connection cap and an unreachable
store (503), the body checks (400, 408, 413, 415, 422), the per-address rates and stream
caps (429) and a full disk (507). Listing them here, from the same rules those layers
apply, keeps the document true for every operation a layer can refuse.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from stepgrad.app.protection import size_rates
from stepgrad.app.protection.rates import RULES

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
# the body checks (protection.bodies) read every request that sends a body
BODY = {
    400: "A Content-Length that is not a number",
    408: "The request body did not arrive in time",
    413: "Over a size limit",
    415: "A request body that is not JSON",
    422: "Invalid request or graph",
}
EVERY = {
    503: "The server is at its limit (connections, bodies read at once) or its store "
    "is unreachable; try again after Retry-After"
}
WRITE = {507: "The store's disk is full: nothing was changed; reads go on"}
RATED = {429: "Over a per-address rate; try again after Retry-After"}
STREAMS = {429: "Your address holds its share of the server's event streams"}
RETRIED = (429, 503, 507)


def _add(responses: dict[str, Any], status: int, description: str) -> None:
    entry = responses.setdefault(
        str(status),
        {"description": description, "content": {"application/json": {"schema": ERROR}}},
    )
    if status in RETRIED:
        entry.setdefault("headers", {}).update(RETRY_AFTER)


def _rated(method: str, path: str) -> bool:
    # the OpenAPI path has {names}; the rules match concrete paths
    concrete = path.replace("{graph_id}", "x").replace("{room_id}", "x")
    return any(method == m and pattern.fullmatch(concrete) for _, m, pattern in RULES) or any(
        method == m and pattern.fullmatch(concrete) for m, pattern in size_rates.PATHS
    )


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every operation's server-wide statuses, and every 422 typed as the
    sentence (or list) the server really sends."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            verb = method.upper()
            added: dict[int, str] = dict(EVERY)
            if verb in ("POST", "PUT", "PATCH", "DELETE"):
                added |= BODY | WRITE
            if _rated(verb, path):
                added |= RATED
            if path.endswith("/events"):
                added |= STREAMS
            for status, description in added.items():
                _add(responses, status, description)
            unprocessable = responses.get("422")
            if unprocessable is not None:
                content = unprocessable.setdefault("content", {})
                content["application/json"] = {"schema": ERROR}
    schemas = document.get("components", {}).get("schemas", {})
    # no answer carries FastAPI's own validation body any more
    if not _refers(document.get("paths", {}), "HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        if not _refers({**document.get("paths", {}), **schemas}, "ValidationError"):
            schemas.pop("ValidationError", None)
    return document


def _refers(tree: object, name: str) -> bool:
    target = f"#/components/schemas/{name}"
    if isinstance(tree, dict):
        return any(v == target or _refers(v, name) for v in tree.values())
    if isinstance(tree, list):
        return any(_refers(v, name) for v in tree)
    return False


def install(app: FastAPI) -> None:
    """Serve FastAPI's document, completed once each time FastAPI builds it anew."""
    build = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if not completed or completed[0] is not document:
            completed[:] = [complete(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
