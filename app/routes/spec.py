"""Editing a graph: replace its structure (PUT .../spec, with ETag / If-Match), place nodes
by hand and lay the graph out again on demand. The rules live in live.editing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from stepgrad.app.http.deps import EditableSession, Graphs, SettingsDep
from stepgrad.app.http.responses import (
    CHANGE,
    ETAG,
    ReturnPatch,
    StateOrPatch,
    changed_response,
    json_response,
)
from stepgrad.app.live import editing
from stepgrad.app.live.specs import spec_from
from stepgrad.app.protection.size_rates import Sizes
from stepgrad.app.schemas import ErrorResponse, PositionsUpdate, SpecCheck, SpecReplace

router = APIRouter(prefix="/api/graphs", tags=["editing"])

PRECONDITION: dict[int | str, dict[str, Any]] = {
    412: {
        "model": ErrorResponse,
        "description": "If-Match names another version than the graph's: nothing changed",
    }
}


@router.put(
    "/{graph_id}/spec",
    response_model=StateOrPatch,
    responses={**CHANGE, **PRECONDITION, **ETAG},
    summary="Replace the graph (spec, expression, network or example); params kept",
    description="The body takes any form POST /api/graphs takes, with the same validation "
    "(422 naming the node, `cycle` for a cycle; 413 over a limit); on any error the graph "
    "stays exactly as it was. Params with the same id and shape keep their value (a value "
    "in the body is ignored for them) and their optimizer state; an input or const may leave "
    "out `value` to keep its current one. The timeline starts again at 0 and the custom "
    "evaluation order is dropped; the fan-out toggle and the target (if it still exists) stay. "
    'Send `If-Match: "<version>"` (the ETag of the state you edited) to get 412 rather than '
    "overwrite a newer version; without it the last writer wins. With ?return=patch the answer "
    'is the whole state with `"full": true` when the structure changed.',
)
def put_spec(
    body: SpecReplace,
    session: EditableSession,
    graphs: Graphs,
    settings: SettingsDep,
    patch: ReturnPatch,
    sizes: Sizes,
    request: Request,
    if_match: Annotated[
        str | None,
        Header(description='The version edited, as its ETag ("7"), or * for any.'),
    ] = None,
) -> Response:
    spec = spec_from(body, settings)
    with sizes.admit(request, len(spec["nodes"]), "The new graph"):  # before it is built
        done = editing.replace_graph(
            graphs,
            session,
            spec,
            body.layout == "auto",
            if_match,
            body.keep_params,
            given_source=body.nodes is not None,
        )
        return changed_response(done, patch)


@router.post(
    "/{graph_id}/spec/check",
    response_model=SpecCheck,
    responses={**CHANGE},
    summary="Check a body of PUT .../spec without applying it (live validation)",
    description="The same validation as PUT .../spec, with the same 422 sentences (the node "
    "named, `cycle` for a cycle) and 413 limits, but the graph is not changed: for an editor "
    "that shows the engine's verdict while a user edits. Answers the new graph's order, the "
    "shape of every node and the params that would keep their values.",
)
def check_spec(
    body: SpecReplace, session: EditableSession, graphs: Graphs, settings: SettingsDep
) -> Response:
    spec = spec_from(body, settings)
    return json_response(editing.check_replacement(graphs, session, spec, body))


@router.put(
    "/{graph_id}/positions",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Place nodes by hand (null: back to the layout); the timeline stays",
)
def put_positions(
    body: PositionsUpdate, session: EditableSession, graphs: Graphs, patch: ReturnPatch
) -> Response:
    positions = {
        nid: None if pos is None else (pos.x, pos.y) for nid, pos in body.positions.items()
    }
    return changed_response(editing.place_nodes(graphs, session, positions), patch)


@router.post(
    "/{graph_id}/layout",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Lay the graph out again, dropping every hand position; the timeline stays",
)
def relayout(session: EditableSession, graphs: Graphs, patch: ReturnPatch) -> Response:
    return changed_response(editing.place_nodes(graphs, session, None), patch)
