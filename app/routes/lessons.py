"""GET /api/lessons: the course's guided lessons (data files in app/classroom/lessons/)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from stepgrad.app.classroom import course
from stepgrad.app.schemas import ERROR_RESPONSES, Lesson, LessonInfo

router = APIRouter(prefix="/api/lessons", tags=["lessons"])


@router.get("", response_model=list[LessonInfo], summary="The course's lessons, day by day")
def list_lessons() -> list[dict]:
    return course.list_lessons()


@router.get(
    "/{lesson_id}",
    response_model=Lesson,
    responses={404: ERROR_RESPONSES[422] | {"description": "No such lesson"}},
    summary="One lesson with its steps",
)
def get_lesson(lesson_id: str) -> Lesson:
    lesson = course.get_lesson(lesson_id)
    if lesson is None:
        raise HTTPException(404, f"There is no lesson {lesson_id!r}.")
    return lesson
