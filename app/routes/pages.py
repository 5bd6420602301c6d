"""The browser pages: the start page, the graph view and the lessons (shells; the data comes
from /api)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from stepgrad.app import __version__
from stepgrad.app.classroom import course
from stepgrad.app.classroom.rooms import RoomNotFound
from stepgrad.app.http.templating import templates
from stepgrad.app.services import services_of

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"version": __version__})


@router.get("/g/{graph_id}", response_class=HTMLResponse)
def graph_view(request: Request, graph_id: str) -> HTMLResponse:
    # the id is only echoed into a data attribute (autoescaped); the page loads the graph
    # itself and shows the API's 404 if there is none
    return templates.TemplateResponse(
        request, "graph.html", {"version": __version__, "graph_id": graph_id}
    )


@router.get("/lessons/{lesson_id}", response_class=HTMLResponse)
def lesson_view(request: Request, lesson_id: str) -> HTMLResponse:
    # the page loads the lesson from /api/lessons/{id}; an unknown id still gets the page
    # (which says there is no such lesson) but with a 404 status
    status = 200 if course.get_lesson(lesson_id) is not None else 404
    return templates.TemplateResponse(
        request,
        "lesson.html",
        {"version": __version__, "lesson_id": lesson_id},
        status_code=status,
    )


@router.get("/r/{room_id}", response_class=HTMLResponse)
async def room_view(request: Request, room_id: str) -> HTMLResponse:
    # a follower's lesson page: the room names the lesson, the page follows the room
    # (read-only); an unknown or expired room still gets the page, which says so, with a 404
    try:
        room = await run_in_threadpool(services_of(request.app).rooms.get, room_id[:64])
        lesson_id, status = room.lesson, 200
    except RoomNotFound:
        lesson_id, status = "", 404
    return templates.TemplateResponse(
        request,
        "lesson.html",
        {"version": __version__, "lesson_id": lesson_id, "room_id": room_id[:64]},
        status_code=status,
    )
