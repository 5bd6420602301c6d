"""The lessons: data files in `app/classroom/lessons/<id>.json`, checked against
`schemas.Lesson` and against the examples they open (graph keys, node ids, positions) when
first loaded.

Teachers can add their own file; `check_lesson` says what is wrong with it, in a sentence
naming the step.
"""

from __future__ import annotations

import json
import threading
from importlib.resources import files

from pydantic import ValidationError

from stepgrad.app.schemas import Lesson
from stepgrad.engine.examples import list_examples, load_example
from stepgrad.engine.graph import Graph

# found through the package, so an installed wheel has them too
LESSONS_DIR = files("stepgrad.app.classroom") / "lessons"

_cache: dict[str, Lesson] = {}
_lock = threading.Lock()


class LessonError(ValueError):
    pass


def check_lesson(lesson_id: str, data: object) -> Lesson:
    """The lesson, validated; LessonError with a sentence otherwise."""
    try:
        lesson = Lesson.model_validate(
            {"id": lesson_id, **data} if isinstance(data, dict) else data
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LessonError(f"Lesson {lesson_id!r}: {where}: {first['msg']}.") from None
    examples = {e["id"] for e in list_examples()}
    graphs: dict[str, Graph] = {}
    for key, example in lesson.graphs.items():
        if example not in examples:
            raise LessonError(f"Lesson {lesson_id!r}: graph {key!r} names no example {example!r}.")
        graphs[key] = Graph.from_spec(load_example(example))
    for n, step in enumerate(lesson.steps, 1):
        where = f"Lesson {lesson_id!r}, step {n}"
        needs_graph = step.view in ("graph", "curve") or (
            step.view == "toposort" and step.toposort is None
        )
        if step.graph is None:
            if needs_graph:
                raise LessonError(f"{where}: the {step.view} view needs a graph.")
            continue
        if step.graph not in graphs:
            raise LessonError(f"{where}: graph {step.graph!r} is not one of the lesson's graphs.")
        graph = graphs[step.graph]
        named = [step.select, *step.highlight, *(step.sliders or [])]
        if step.curve:
            named += [step.curve.x, step.curve.y, step.curve.target]
        for node_id in filter(None, named):
            if node_id not in graph.nodes:
                raise LessonError(f"{where}: graph {step.graph!r} has no node {node_id!r}.")
        for node_id in step.sliders or []:
            if graph.nodes[node_id].op.name not in ("param", "input"):
                raise LessonError(f"{where}: {node_id!r} is computed; sliders move leaves.")
        if isinstance(step.position, int) and not 0 <= step.position <= 2 * len(graph):
            raise LessonError(f"{where}: position {step.position} is outside 0..{2 * len(graph)}.")
        if step.quiz is not None:
            _check_quiz(where, step, graph)
    return lesson


def _check_quiz(where: str, step, graph: Graph) -> None:
    """A step's question must be answerable where the step puts the timeline: a scalar node
    whose value (or gradient) the step has not computed yet."""
    node = step.quiz.node
    if node not in graph.nodes:
        raise LessonError(f"{where}: the question asks about {node!r}, which is not in the graph.")
    if step.view != "graph":
        raise LessonError(f"{where}: a question needs the graph view.")
    if any(d != 1 for d in graph.shapes[node]):
        raise LessonError(f"{where}: the question asks about {node!r}, which is not a scalar.")
    n = len(graph)
    if step.position is None:
        return  # the timeline stays where the teacher left it: the page checks then
    position = {"start": 0, "forward": n, "end": 2 * n}.get(step.position, step.position)
    rank = graph.order.index(node)
    if step.quiz.quantity == "value" and position > rank:
        raise LessonError(f"{where}: the value of {node!r} is already computed at that position.")
    # backward visits order[n - 1], order[n - 2], ...: a node gets its gradient from the
    # first of its consumers that backward visits (the output, from its own visit)
    consumers = [graph.order.index(c) for c, _ in graph.consumers[node]] or [rank]
    if step.quiz.quantity == "grad" and position >= 2 * n - max(consumers):
        raise LessonError(
            f"{where}: the gradient of {node!r} is already on screen at that position."
        )


def _load_all() -> dict[str, Lesson]:
    with _lock:
        if not _cache:
            for path in sorted(LESSONS_DIR.iterdir(), key=lambda p: p.name):
                if not path.name.endswith(".json"):
                    continue
                lesson_id = path.name.removesuffix(".json")
                data = json.loads(path.read_text(encoding="utf-8"))
                _cache[lesson_id] = check_lesson(lesson_id, data)
        return _cache


def list_lessons() -> list[dict]:
    return [
        {"id": lesson.id, "title": lesson.title, "summary": lesson.summary, "day": lesson.day}
        for lesson in sorted(_load_all().values(), key=lambda lesson: (lesson.day, lesson.id))
    ]


def get_lesson(lesson_id: str) -> Lesson | None:
    return _load_all().get(lesson_id)
