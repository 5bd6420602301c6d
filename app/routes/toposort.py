"""The topological sort made visible: Kahn's algorithm step by step, and run options."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from engine.toposort import graph_kahn_steps, kahn_steps

from ..deps import EditableSession, GraphId, Graphs
from ..schemas import ERROR_RESPONSES, GraphOptions, GraphState, ToposortRequest, ToposortResult
from ..sessions import Session, run_for
from .graphs import CHANGE, READ, json_response

router = APIRouter(tags=["topological sort"])


@router.post(
    "/api/toposort",
    response_model=ToposortResult,
    responses=ERROR_RESPONSES,
    summary="Kahn's algorithm on any directed graph, cycles allowed",
)
def toposort_any(body: ToposortRequest) -> dict:
    return kahn_steps(body.nodes, body.edges, body.choose)


@router.get(
    "/api/graphs/{graph_id}/toposort",
    response_model=ToposortResult,
    responses=READ,
    summary="Kahn's algorithm on this graph, step by step",
)
def toposort_graph(
    graph_id: GraphId,
    graphs: Graphs,
    choose: Annotated[
        str | None,
        Query(max_length=20_000, description="Comma-separated node ids to take in this order."),
    ] = None,
) -> dict:
    picks = [c for c in choose.split(",") if c] if choose else None
    return graph_kahn_steps(graphs.snapshot(graph_id).graph, picks)


@router.put(
    "/api/graphs/{graph_id}/options",
    response_model=GraphState,
    responses=CHANGE,
    summary="Evaluation order and the fan-out-bug toggle; the timeline starts again",
)
def set_options(body: GraphOptions, session: EditableSession, graphs: Graphs) -> Response:
    def change(s: Session) -> list:
        state = s.run_state()
        if body.order is not None:
            state["order"] = body.order or None
        if body.fanout_bug is not None:
            state["fanout_bug"] = body.fanout_bug
        s.run = run_for(s.run.graph, state)
        return []

    return json_response(graphs.mutate(session, change).state)
