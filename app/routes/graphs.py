"""/api/graphs: create, read, step, update, train, fork, check, export and delete graphs.

Each route validates its body (schemas), calls the engine through the graph manager
(live.manager) and returns the rendered state. Changes need the graph's edit token.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from stepgrad.app import jsonio
from stepgrad.app.classroom.broadcast import close_question, drop_graph
from stepgrad.app.http.deps import EditableSession, GraphId, Graphs, Jobs, SettingsDep, get_bus
from stepgrad.app.http.responses import (
    CHANGE,
    ETAG,
    READ,
    ReturnPatch,
    StateOrPatch,
    changed_response,
    json_response,
    version_number,
)
from stepgrad.app.live import state_json as render
from stepgrad.app.live.event_bus import EventBus
from stepgrad.app.live.manager import Session, next_optimizer
from stepgrad.app.live.specs import spec_from
from stepgrad.app.protection.jobs import Job
from stepgrad.app.protection.size_rates import Sizes
from stepgrad.app.protection.work import gradcheck_work, train_work
from stepgrad.app.schemas import (
    AUTH_RESPONSES,
    CONFLICT,
    ERROR_RESPONSES,
    NOT_FOUND,
    CreatedGraph,
    GradcheckReport,
    GraphCreate,
    NodeState,
    SeekRequest,
    StepRequest,
    TrainRequest,
    TrainResponse,
    TrainResult,
    UpdateRequest,
    ValuesUpdate,
)
from stepgrad.app.services import services_of
from stepgrad.engine.errors import LimitError
from stepgrad.engine.examples import training_settings
from stepgrad.engine.gradcheck import gradcheck

router = APIRouter(prefix="/api/graphs", tags=["graphs"])

# ---- create and read --------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=CreatedGraph,
    responses=ERROR_RESPONSES,
    summary="Create a graph from a spec, an expression or an example",
)
def create_graph(
    body: GraphCreate, graphs: Graphs, settings: SettingsDep, sizes: Sizes, request: Request
) -> Response:
    spec = spec_from(body, settings)
    with sizes.admit(request, len(spec["nodes"])):  # charged before the graph is built
        graph = graphs.build_graph(spec)
        state = None
        if body.nodes is None and body.expression is None and body.example is not None:
            # an example starts with the optimizer and learning rate that train it
            train = training_settings(body.example)
            state = {
                "optimizer": {"name": train["optimizer"], "learning_rate": train["learning_rate"]}
            }
        session, token = graphs.create(graph, state)
        snapshot = session.snapshot
        return json_response(
            {**graphs.render(snapshot), "edit_token": token}, 201, version=snapshot.version
        )


@router.get(
    "/{graph_id}",
    response_model=StateOrPatch,
    responses={**READ, **ETAG},
    summary="The graph state, or what changed since a version",
)
def get_graph(
    graph_id: GraphId,
    graphs: Graphs,
    full: Annotated[bool, Query(description="Send every tensor whole, never summarised.")] = False,
    since: Annotated[
        str | None,
        Query(
            description="A version the client holds: answer with the patch from it to now "
            '(a GraphPatch), or the whole state with `"full": true` when the server no longer '
            "knows what changed since (see docs/REST.md).",
            examples=["7"],
        ),
    ] = None,
) -> Response:
    base = None if since is None else version_number(since, "since")
    snapshot = graphs.snapshot(graph_id)
    if base is not None:
        if base > snapshot.version:
            raise HTTPException(
                422,
                f"since={base} is ahead of the graph, which is at version {snapshot.version}.",
            )
        return json_response(graphs.since(snapshot, base, full), version=snapshot.version)
    if full:
        return json_response(graphs.render(snapshot, full=True), version=snapshot.version)
    return Response(
        graphs.state_text(snapshot),
        media_type="application/json",
        headers={"ETag": f'"{snapshot.version}"'},
    )


@router.get(
    "/{graph_id}/nodes/{node_id}",
    response_model=NodeState,
    responses=READ,
    summary="One node, with its full value and gradient",
)
def get_node(graph_id: GraphId, node_id: str, graphs: Graphs) -> Response:
    snapshot = graphs.snapshot(graph_id)
    if node_id not in snapshot.graph.index:
        raise HTTPException(404, f"Graph {graph_id!r} has no node {node_id[:64]!r}.")
    return json_response(render.render_node(snapshot, node_id))


@router.delete(
    "/{graph_id}",
    status_code=204,
    response_class=Response,
    responses={**NOT_FOUND, **AUTH_RESPONSES, **CONFLICT},
    summary="Delete the graph",
)
def delete_graph(session: EditableSession, graphs: Graphs, request: Request) -> Response:
    graphs.delete(session)
    drop_graph(services_of(request.app), session.id)
    return Response(status_code=204)


@router.post(
    "/{graph_id}/fork",
    status_code=201,
    response_model=CreatedGraph,
    responses=READ,
    summary="An editable copy (new id and edit token); no token needed",
)
def fork_graph(graph_id: GraphId, graphs: Graphs, sizes: Sizes, request: Request) -> Response:
    snapshot = graphs.snapshot(graph_id)
    with sizes.admit(request, len(snapshot.graph), "The fork"):  # before the copy is built
        session, token = graphs.fork(snapshot)
        snapshot = session.snapshot
        return json_response(
            {**graphs.render(snapshot), "edit_token": token}, 201, version=snapshot.version
        )


# ---- the timeline -----------------------------------------------------------------------


def _changed(graphs, session: Session, change, patch: bool) -> Response:
    return changed_response(graphs.mutate(session, change), patch)


@router.put(
    "/{graph_id}/values",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Set leaf values; the timeline starts again",
)
def set_values(
    body: ValuesUpdate, session: EditableSession, graphs: Graphs, patch: ReturnPatch
) -> Response:
    def change(s: Session) -> list:
        s.run.set_values(body.values)
        return []

    return _changed(graphs, session, change, patch)


StepBody = Annotated[StepRequest | None, Body()]


@router.post(
    "/{graph_id}/forward",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Step forward (409 once the forward pass is complete)",
)
def forward(
    session: EditableSession, graphs: Graphs, patch: ReturnPatch, body: StepBody = None
) -> Response:
    body = body or StepRequest()
    steps = None if body.all else body.steps
    return _changed(graphs, session, lambda s: s.run.forward(steps), patch)


@router.post(
    "/{graph_id}/backward",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Step backward (409 before the forward pass is complete, or when done)",
)
def backward(
    session: EditableSession, graphs: Graphs, patch: ReturnPatch, body: StepBody = None
) -> Response:
    body = body or StepRequest()
    steps = None if body.all else body.steps
    return _changed(graphs, session, lambda s: s.run.backward(steps), patch)


@router.post(
    "/{graph_id}/seek",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Move the cursor to any position 0..2N",
)
def seek(
    body: SeekRequest, session: EditableSession, graphs: Graphs, patch: ReturnPatch
) -> Response:
    def change(s: Session) -> list:
        if body.position > s.run.total:
            raise HTTPException(
                422, f"Position {body.position} is outside the timeline 0..{s.run.total}."
            )
        return s.run.seek(body.position)

    return _changed(graphs, session, change, patch)


@router.post(
    "/{graph_id}/reset",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="Clear values, gradients and the cursor",
)
def reset(
    session: EditableSession, graphs: Graphs, patch: ReturnPatch, request: Request
) -> Response:
    def change(s: Session) -> list:
        s.run.reset()
        return []

    answer = _changed(graphs, session, change, patch)
    # a question (open or revealed) was about the run just cleared: it goes with it
    close_question(services_of(request.app), session.id)
    return answer


@router.post(
    "/{graph_id}/update",
    response_model=StateOrPatch,
    responses=CHANGE,
    summary="One gradient-descent step on every param (409 without gradients)",
)
def update(
    session: EditableSession,
    graphs: Graphs,
    patch: ReturnPatch,
    body: Annotated[UpdateRequest | None, Body()] = None,
) -> Response:
    body = body or UpdateRequest()

    def change(s: Session) -> list:
        opt = next_optimizer(s.optimizer, body.optimizer, body.learning_rate, body.options)
        new = s.run.update(opt)
        s.optimizer = opt
        return [{"phase": "update", "position": 0, "node": None, "params": new}]

    return _changed(graphs, session, change, patch)


# ---- training ---------------------------------------------------------------------------


@router.post(
    "/{graph_id}/train",
    response_model=TrainResponse,
    responses=CHANGE,
    summary="Train the params on the server; returns the loss history",
)
async def train(
    body: TrainRequest,
    request: Request,
    session: EditableSession,
    graphs: Graphs,
    settings: SettingsDep,
    jobs: Jobs,
    bus: Annotated[EventBus, Depends(get_bus)],
    patch: ReturnPatch,
) -> Response:
    from stepgrad.engine.training import train as run_training

    graph = session.run.graph  # this request's turn: nothing else changes it meanwhile
    work = await run_in_threadpool(train_work, graph, body.epochs, body.optimizer, body.batch_size)
    if work > settings.max_train_work:
        raise LimitError(
            f"Training for {body.epochs} epoch(s) would make about {work:,} element "
            f"operations; the limit is {settings.max_train_work:,} per call "
            "(max_train_work). Train fewer epochs or a smaller graph."
        )

    def task(job: Job):
        def change(s: Session):
            last = [0.0]

            def on_epoch(row: dict) -> None:
                now = time.monotonic()
                final = row["epoch"] == row["epochs"]
                if bus.has_subscribers(s.id) and (
                    final or now - last[0] >= settings.progress_interval_seconds
                ):
                    last[0] = now
                    bus.publish(s.id, "progress", jsonio.dumps(render.progress(row)))

            result = run_training(
                s.run.graph,
                epochs=body.epochs,
                optimizer=body.optimizer,
                learning_rate=body.learning_rate,
                batch_size=body.batch_size,
                seed=body.seed,
                options=body.options,
                on_epoch=on_epoch,
                check=job.check,
            )
            s.run.replace_graph(result["graph"])
            s.optimizer = None
            s.training = render.train_result(result, settings.summary_threshold)
            return [], s.training

        return graphs.mutate(session, change)

    change = await jobs.run(request, "Training", task)
    return json_response(
        {**change.result, "state": change.patch if patch else change.state},
        version=change.snapshot.version,
    )


@router.get(
    "/{graph_id}/train",
    response_model=TrainResult,
    responses=READ,
    summary="The result of the last training run",
)
def last_training(graph_id: GraphId, graphs: Graphs) -> Response:
    training = graphs.snapshot(graph_id).state.get("training")
    if not training:
        raise HTTPException(404, f"Graph {graph_id!r} has not been trained yet.")
    return json_response(training)


# ---- checks and export ------------------------------------------------------------------


@router.get(
    "/{graph_id}/gradcheck",
    response_model=GradcheckReport,
    responses=READ,
    summary="Analytic against central-difference gradients, per param and input",
)
async def check_gradients(
    graph_id: GraphId,
    request: Request,
    graphs: Graphs,
    settings: SettingsDep,
    jobs: Jobs,
    max_elements: Annotated[
        int, Query(ge=1, le=2_000, description="Elements checked per node (a sample beyond).")
    ] = 200,
) -> Response:
    snapshot = await run_in_threadpool(graphs.snapshot, graph_id)
    graph = snapshot.graph
    work = gradcheck_work(graph, max_elements)
    if work > settings.max_gradcheck_work:
        raise LimitError(
            f"A gradient check of this graph with max_elements={max_elements} would make about "
            f"{work:,} element operations; the limit is {settings.max_gradcheck_work:,} "
            "(max_gradcheck_work). Ask for fewer elements (max_elements)."
        )
    # the check compares what backward really computes, fan-out mistake included
    fanout_bug = bool(snapshot.state.get("fanout_bug"))

    def task(job: Job) -> dict:
        report = gradcheck(graph, max_elements=max_elements, fanout_bug=fanout_bug, check=job.check)
        return render.gradcheck_report(report, settings.summary_threshold)

    return json_response(await jobs.run(request, "The gradient check", task))


@router.get(
    "/{graph_id}/export",
    responses={
        200: {
            "description": "The spec (round-trips through POST /api/graphs) or Graphviz DOT.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/vnd.graphviz": {"schema": {"type": "string"}},
            },
        },
        **READ,
    },
    response_class=Response,
    summary="The graph as a spec (JSON) or as Graphviz DOT",
)
def export(
    graph_id: GraphId,
    graphs: Graphs,
    format: Annotated[Literal["json", "dot"], Query(description="json or dot")] = "json",
) -> Response:
    graph = graphs.snapshot(graph_id).graph
    if format == "dot":
        return Response(render.to_dot(graph), media_type="text/vnd.graphviz")
    return json_response(graph.to_spec())
