"""The topological sort made visible: Kahn's algorithm step by step, and run options."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from stepgrad.app.http.deps import EditableSession, GraphId, Graphs, Jobs, SettingsDep
from stepgrad.app.http.responses import (
    CHANGE,
    READ,
    ReturnPatch,
    StateOrPatch,
    changed_response,
    json_response,
)
from stepgrad.app.live.manager import Session, run_for
from stepgrad.app.protection.jobs import JobPool
from stepgrad.app.protection.work import toposort_size
from stepgrad.app.schemas import ERROR_RESPONSES, GraphOptions, ToposortRequest, ToposortResult
from stepgrad.engine.errors import LimitError
from stepgrad.engine.toposort import kahn_steps

router = APIRouter(tags=["topological sort"])


@router.post(
    "/api/toposort",
    response_model=ToposortResult,
    responses=ERROR_RESPONSES,
    summary="Kahn's algorithm on any directed graph, cycles allowed",
)
async def toposort_any(
    body: ToposortRequest, request: Request, settings: SettingsDep, jobs: Jobs
) -> Response:
    return await _sorted(request, settings, jobs, body.nodes, body.edges, body.choose)


async def _sorted(
    request: Request,
    settings,
    jobs: JobPool,
    nodes: list[str],
    edges: list,
    choose: list[str] | None,
) -> Response:
    """Kahn's steps, refused (413) before they are built when they would list more names
    than `max_toposort_work`: their count grows as the square of the nodes."""
    size = await run_in_threadpool(toposort_size, nodes, edges, choose)
    if size > settings.max_toposort_work:
        raise LimitError(
            f"The steps of that sort would list {size:,} node names (about {size * 8 // 1000:,} "
            f"KB); the limit is {settings.max_toposort_work:,} (max_toposort_work). Sort a "
            "graph with fewer nodes ready at once."
        )
    steps = await jobs.run(
        request, "The topological sort", lambda job: kahn_steps(nodes, edges, choose)
    )
    return json_response(steps)


@router.get(
    "/api/graphs/{graph_id}/toposort",
    response_model=ToposortResult,
    responses=READ,
    summary="Kahn's algorithm on this graph, step by step",
)
async def toposort_graph(
    graph_id: GraphId,
    request: Request,
    graphs: Graphs,
    settings: SettingsDep,
    jobs: Jobs,
    choose: Annotated[
        str | None,
        Query(max_length=20_000, description="Comma-separated node ids to take in this order."),
    ] = None,
) -> Response:
    picks = [c for c in choose.split(",") if c] if choose else None
    graph = (await run_in_threadpool(graphs.snapshot, graph_id)).graph
    edges = [(u, v) for u, v, _ in graph.edges]
    return await _sorted(request, settings, jobs, list(graph.nodes), edges, picks)


@router.put(
    "/api/graphs/{graph_id}/options",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Evaluation order, the fan-out-bug toggle and the target; the timeline starts again",
)
def set_options(
    body: GraphOptions, session: EditableSession, graphs: Graphs, patch: ReturnPatch
) -> Response:
    def change(s: Session) -> list:
        state = s.run_state()
        if body.order is not None:
            state["order"] = body.order or None
        if body.fanout_bug is not None:
            state["fanout_bug"] = body.fanout_bug
        if "target" in body.model_fields_set:
            state["target"] = body.target
        s.run = run_for(s.run.graph, state)
        return []

    return changed_response(graphs.mutate(session, change), patch)
