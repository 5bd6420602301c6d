"""What the class hears about its question, the teacher's focus and its room: `event: quiz`
and `event: focus` on the graph's event stream (coalesced per graph), `event: room` on the
room's, what a follower hears on connecting, and forgetting both when the graph goes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stepgrad.app.classroom import quiz as quizmod
from stepgrad.app.classroom.rooms import left_question, room_view
from stepgrad.app.jsonio import dumps, json_safe
from stepgrad.app.services import Services
from stepgrad.app.storage.base import RoomRecord

logger = logging.getLogger(__name__)

ROOM_PREFIX = "room:"  # a room's key on the event bus (graph ids hold no colon)


def room_channel(room_id: str) -> str:
    """The key a room's followers subscribe to on the event bus."""
    return ROOM_PREFIX + room_id


def quiz_view(store: quizmod.QuizStore, graph_id: str) -> dict:
    """The question as everyone may see it (the truth and the answers only after the
    reveal)."""
    return json_safe(quizmod.view(store.get(graph_id), graph_id))  # type: ignore[return-value]


# the coalesced sends read the store (Redis, or a file): on the event loop they are handed
# to this one thread, in order (a later send reads newer data and is published after)
_emitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stepgrad-emit")


def _off_loop(emit: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            emit()
        except Exception:
            logger.warning("a quiz or focus event could not be sent", exc_info=True)

    def send() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread already
            emit()
            return
        _emitter.submit(run)

    return send


def publish_quiz(services: Services, graph_id: str, now: bool = False) -> None:
    """`event: quiz` with the question as everyone may see it, coalesced per graph."""
    bus, store = services.bus, services.quizzes

    def emit() -> None:
        bus.publish(graph_id, "quiz", dumps(quiz_view(store, graph_id)))

    services.quiz_events.send(graph_id, _off_loop(emit), now=now)


def publish_focus(services: Services, graph_id: str) -> None:
    bus, store = services.bus, services.focuses

    def emit() -> None:
        focus = store.get(graph_id)
        if focus is not None:
            bus.publish(graph_id, "focus", dumps(focus))

    services.focus_events.send(graph_id, _off_loop(emit))


def on_connect_frames(services: Services, graph_id: str) -> list[tuple[str, str]]:
    """What a follower connecting now must hear besides the state: the open (or revealed)
    question and the teacher's focus."""
    out = []
    if services.quizzes.get(graph_id) is not None:
        out.append(("quiz", dumps(quiz_view(services.quizzes, graph_id))))
    focus = services.focuses.get(graph_id)
    if focus is not None:
        out.append(("focus", dumps(focus)))
    return out


def drop_graph(services: Services, graph_id: str) -> None:
    """The graph is gone: forget its question and focus."""
    services.quizzes.drop(graph_id)
    services.focuses.close(graph_id)
    services.quiz_events.cancel(graph_id)
    services.focus_events.cancel(graph_id)


def close_question(services: Services, graph_id: str) -> bool:
    """Put the graph's question away, open or revealed (its step was left, or the graph was
    reset); followers hear `event: quiz` with status `none` and hide its card."""
    if services.quizzes.close(graph_id) is None:
        return False
    publish_quiz(services, graph_id, now=True)
    return True


def room_changed(services: Services, old: RoomRecord, new: RoomRecord) -> None:
    """After a change of the room: the question of the step left closes, then the room's
    followers hear `event: room` (a follower that switches graph on it finds no open
    question of the step before)."""
    if new.version == old.version:
        return
    graph_id = left_question(old, new)
    if graph_id is not None:
        close_question(services, graph_id)
    services.bus.publish(room_channel(new.id), "room", dumps(room_view(new)))
