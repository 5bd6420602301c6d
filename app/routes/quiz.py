"""/api/graphs/{id}/quiz and /focus: a question for the whole class, and the teacher's focus.

Quiz (contract v1.1): the teacher (edit token) opens a question on a scalar node before the
step that computes the asked quantity; anyone with the view link answers once per browser
(a later answer replaces it); the reveal closes answering and shows the truth, computed
by the engine on a copy of the run (the class's cursor stays where it is), a histogram
of the answers and the share within 1 %. Focus: the node the teacher selected and the part
of the drawing shown, for followers who mirror the teacher.

Both publish on the graph's event stream (`event: quiz`, `event: focus`), at most
`quiz_event_interval_seconds` / `focus_event_interval_seconds` apart per graph: a burst
of answers or a drag becomes one event carrying the newest state.
"""

from __future__ import annotations

import math
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from stepgrad.app.classroom import quiz as quizmod
from stepgrad.app.classroom.broadcast import publish_focus, publish_quiz, quiz_view
from stepgrad.app.http.deps import (
    GraphId,
    Graphs,
    SettingsDep,
    bearer,
    check_edit_token,
    pinned_session,
)
from stepgrad.app.jsonio import dumps
from stepgrad.app.live.manager import GraphManager, GraphNotFound, Snapshot, run_for
from stepgrad.app.schemas import (
    AUTH_RESPONSES,
    CLIENT_ID_PATTERN,
    CONFLICT,
    ERROR_RESPONSES,
    NOT_FOUND,
    Focus,
    FocusUpdate,
    QuizAnswer,
    QuizAnswered,
    QuizOpen,
    QuizView,
)
from stepgrad.app.services import services_of

router = APIRouter(prefix="/api/graphs", tags=["quiz"])

READ: dict[int | str, dict[str, Any]] = {**NOT_FOUND, **ERROR_RESPONSES}
TEACHER: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    **AUTH_RESPONSES,
    **CONFLICT,
    **ERROR_RESPONSES,
}
RATE: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many answers from this address (Retry-After)."}
}


CLIENT_COOKIE = "stepgrad_client"


def answering_browser(request: Request, response: Response, graph_id: str) -> str:
    """The id of a browser that answers without `client` (contract v1.2): its cookie, set on
    its first answer, scoped to this graph's path so it travels with nothing else."""
    client = request.cookies.get(CLIENT_COOKIE, "")
    if re.fullmatch(CLIENT_ID_PATTERN, client):
        return client
    client = secrets.token_urlsafe(16)
    response.set_cookie(
        CLIENT_COOKIE,
        client,
        path=f"/api/graphs/{graph_id}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return client


async def _session_snapshot(graphs: GraphManager, graph_id: str) -> Snapshot:
    session = await pinned_session(graphs, graph_id)
    try:
        if session.deleted or session.snapshot is None:
            raise GraphNotFound(graph_id)
        return session.snapshot
    finally:
        graphs.release(session)


async def graph_snapshot(graph_id: GraphId, graphs: Graphs) -> Snapshot:
    """The graph as readers see it now (404 if there is none)."""
    return await _session_snapshot(graphs, graph_id)


async def teacher_snapshot(
    graph_id: GraphId,
    graphs: Graphs,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Snapshot:
    """The graph, if the request carries its edit token (401 without, 403 wrong). Takes no
    turn on the graph: a question or a focus never waits behind a training run."""
    session = await pinned_session(graphs, graph_id)
    try:
        check_edit_token(session, credentials, "This call is the teacher's")
        if session.deleted or session.snapshot is None:
            raise GraphNotFound(graph_id)
        return session.snapshot
    finally:
        graphs.release(session)


ReadSnapshot = Annotated[Snapshot, Depends(graph_snapshot)]
TeacherSnapshot = Annotated[Snapshot, Depends(teacher_snapshot)]


def quizzes(request: Request) -> quizmod.QuizStore:
    return services_of(request.app).quizzes


def focuses(request: Request) -> quizmod.FocusStore:
    return services_of(request.app).focuses


Quizzes = Annotated[quizmod.QuizStore, Depends(quizzes)]
Focuses = Annotated[quizmod.FocusStore, Depends(focuses)]


def _scalar_node(snapshot: Snapshot, node: str) -> int:
    graph = snapshot.graph
    if node not in graph.index:
        raise HTTPException(422, f"The graph has no node {node!r} to ask about.")
    shape = graph.shapes[node]
    if math.prod(shape) != 1:
        raise HTTPException(
            422,
            f"Node {node!r} is a tensor of shape {list(shape)}; a question asks for one "
            "number, so pick a scalar node.",
        )
    return graph.index[node]


def truth_of(snapshot: Snapshot, node: str, quantity: str) -> float:
    """The asked quantity as the class will see it, from the run so far or from a copy of
    the run taken to the end (the class's cursor does not move)."""
    i = snapshot.graph.index[node]
    held = snapshot.values[i] if quantity == "value" else snapshot.grads[i]
    complete = quantity == "value" or snapshot.position >= 2 * len(snapshot.graph)
    if held is None or not complete:
        run = run_for(snapshot.graph, snapshot.state)
        run.run_all()
        held = run.value(node) if quantity == "value" else run.grad(node)
    if held is None:
        raise HTTPException(422, f"Node {node!r} has no {quantity} in this graph.")
    return float(held.reshape(-1)[0])


@router.post(
    "/{graph_id}/quiz",
    status_code=201,
    response_model=QuizView,
    responses=TEACHER,
    summary="Open a question: the class predicts a scalar node's value or gradient",
)
async def open_quiz(
    body: QuizOpen, snapshot: TeacherSnapshot, store: Quizzes, request: Request
) -> Response:
    i = _scalar_node(snapshot, body.node)
    graph = snapshot.graph
    if body.quantity == "value":
        if snapshot.values[i] is not None:
            raise HTTPException(
                422,
                f"The value of {body.node!r} is already computed at this point of the "
                "timeline: open the question before the step that computes it.",
            )
    else:
        if body.node not in graph.ancestors_of_output or graph.nodes[body.node].op.name == "const":
            raise HTTPException(
                422, f"Node {body.node!r} gets no gradient in this graph; ask for its value."
            )
        if snapshot.grads[i] is not None:
            raise HTTPException(
                422,
                f"The gradient of {body.node!r} is already on screen at this point of the "
                "timeline: open the question before backward reaches it.",
            )
    await run_in_threadpool(store.open, quizmod.new_quiz(snapshot.id, body.node, body.quantity))
    publish_quiz(services_of(request.app), snapshot.id, now=True)
    view = await run_in_threadpool(quiz_view, store, snapshot.id)
    return Response(dumps(view), 201, media_type="application/json")


@router.get(
    "/{graph_id}/quiz",
    response_model=QuizView,
    responses=READ,
    summary="The graph's question and its number of answers (results after the reveal)",
)
async def get_quiz(snapshot: ReadSnapshot, store: Quizzes) -> Response:
    view = await run_in_threadpool(quiz_view, store, snapshot.id)
    return Response(dumps(view), media_type="application/json")


@router.post(
    "/{graph_id}/quiz/answers",
    status_code=201,
    response_model=QuizAnswered,
    responses={**READ, **CONFLICT, **RATE},
    summary="Answer the graph's question (no token; one answer per browser, the last counts)",
)
async def answer_quiz(
    body: QuizAnswer,
    snapshot: ReadSnapshot,
    store: Quizzes,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> QuizAnswered:
    client = body.client or answering_browser(request, response, snapshot.id)
    try:
        count = await run_in_threadpool(
            store.answer,
            snapshot.id,
            body.quiz_id,
            client,
            body.answer,
            body.name,
            settings.quiz_max_answers,
        )
    except quizmod.QuizNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (quizmod.QuizClosed, quizmod.QuizFull) as exc:
        raise HTTPException(409, str(exc)) from None
    publish_quiz(services_of(request.app), snapshot.id)
    return QuizAnswered(quiz_id=body.quiz_id, answers=count)


@router.post(
    "/{graph_id}/quiz/reveal",
    response_model=QuizView,
    responses=TEACHER,
    summary="Close answering and show the truth, the answers' histogram and the share within 1 %",
)
async def reveal_quiz(snapshot: TeacherSnapshot, store: Quizzes, request: Request) -> Response:
    quiz = await run_in_threadpool(store.get, snapshot.id)
    if quiz is None:
        raise HTTPException(409, "There is no question on this graph to reveal; open one first.")
    graph = snapshot.graph
    if quiz.node not in graph.index or math.prod(graph.shapes[quiz.node]) != 1:
        # the graph was replaced meanwhile (PUT spec): the question no longer applies
        await run_in_threadpool(store.close, snapshot.id)
        publish_quiz(services_of(request.app), snapshot.id, now=True)
        raise HTTPException(
            409, f"Node {quiz.node!r} is no longer a scalar node of the graph; ask again."
        )
    truth = await run_in_threadpool(truth_of, snapshot, quiz.node, quiz.quantity)
    await run_in_threadpool(store.reveal, snapshot.id, truth)
    publish_quiz(services_of(request.app), snapshot.id, now=True)
    view = await run_in_threadpool(quiz_view, store, snapshot.id)
    return Response(dumps(view), media_type="application/json")


@router.delete(
    "/{graph_id}/quiz",
    status_code=204,
    responses=TEACHER,
    summary="Put the question away (followers hide it)",
)
async def close_quiz(snapshot: TeacherSnapshot, store: Quizzes, request: Request) -> Response:
    if await run_in_threadpool(store.close, snapshot.id) is not None:
        publish_quiz(services_of(request.app), snapshot.id, now=True)
    return Response(status_code=204)


# ---- the teacher's focus ---------------------------------------------------------------


@router.put(
    "/{graph_id}/focus",
    response_model=Focus,
    responses=TEACHER,
    summary="Set the node and the part of the drawing the teacher shows (followers mirror it)",
)
async def put_focus(
    body: FocusUpdate, snapshot: TeacherSnapshot, store: Focuses, request: Request
) -> Response:
    if body.node is not None and body.node not in snapshot.graph.index:
        raise HTTPException(422, f"The graph has no node {body.node!r} to focus on.")
    viewport = body.viewport.model_dump() if body.viewport is not None else None
    previous = await run_in_threadpool(store.get, snapshot.id)
    focus = {
        "graph_id": snapshot.id,
        "node": body.node,
        "viewport": viewport,
        "seq": (previous["seq"] + 1) if previous else 1,
    }
    await run_in_threadpool(store.put, snapshot.id, focus)
    publish_focus(services_of(request.app), snapshot.id)
    return Response(dumps(focus), media_type="application/json")


@router.get(
    "/{graph_id}/focus",
    response_model=Focus,
    responses=READ,
    summary="The teacher's focus (node and viewport; null before the teacher set one)",
)
async def get_focus(snapshot: ReadSnapshot, store: Focuses) -> Response:
    focus = await run_in_threadpool(store.get, snapshot.id) or {
        "graph_id": snapshot.id,
        "node": None,
        "viewport": None,
        "seq": 0,
    }
    return Response(dumps(focus), media_type="application/json")
