"""The browser pages: the start page, the graph view and the lessons (shells; the data comes
from /api)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stepgrad.app import __version__
from stepgrad.app.classroom import course
from stepgrad.app.http.templating import templates

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
