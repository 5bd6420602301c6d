"""Rooms (contract v1.2): one follow link for a whole lesson.

A room names a lesson and what its teacher shows now: the step, the graph on the stage, the
view and the chart or panel. The teacher's lesson page creates one when it starts (201 with
an edit token) and says every step change; followers open `/r/{id}` once and draw what the
room says, following the room's current graph as they would follow a graph.

Rooms live in the graph store beside the graphs (both backends), expire after
`idle_expiry_seconds` without use like graphs, and at most `max_rooms` are kept. A change is
a compare-and-set on the room's version, retried, so changes from several server processes
never get lost.

A lesson's question belongs to its step: `left_question` names the graph whose question
closes when a change moves the room to another step.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from stepgrad.app.classroom import course
from stepgrad.app.live.session import hash_token, new_token
from stepgrad.app.storage.base import DuplicateId, GraphStore, RoomRecord, StoreConflict

ROOM_ID_LENGTH = 12  # bytes of randomness, as graph ids


class RoomNotFound(Exception):
    def __init__(self, room_id: str):
        super().__init__(f"There is no room {room_id[:64]!r} (it may have expired).")


class RoomRefused(Exception):
    """A body the room cannot take: the sentence says why (422)."""


class RoomsFull(Exception):
    """`max_rooms` rooms are in use."""


def room_view(record: RoomRecord) -> dict[str, Any]:
    """The room as anyone with its id sees it."""
    shown = record.shown
    return {
        "id": record.id,
        "lesson": record.lesson,
        "step": shown.get("step", 0),
        "graph": shown.get("graph"),
        "view": shown.get("view"),
        "panel": shown.get("panel"),
        "race": shown.get("race"),
        "compare": shown.get("compare"),
        "version": record.version,
    }


def left_question(old: RoomRecord, new: RoomRecord) -> str | None:
    """The graph whose question closes with this change: the graph of the step the teacher
    left (None when the step did not change, or no graph was on the stage)."""
    if old.shown.get("step") == new.shown.get("step"):
        return None
    graph = old.shown.get("graph")
    return graph if isinstance(graph, str) else None


class Rooms:
    def __init__(self, store: GraphStore, max_rooms: int, idle_seconds: float):
        self.store = store
        self.max_rooms = max_rooms
        self.idle_seconds = idle_seconds

    def create(self, lesson_id: str | None, playground: object | None) -> tuple[RoomRecord, str]:
        """A new room at the lesson's first step, and its edit token."""
        if playground is not None:
            raise RoomRefused(
                "Rooms for a playground are not offered yet: create a room for a lesson, "
                'as {"lesson": "day2"}.'
            )
        if lesson_id is None:
            raise RoomRefused('Name the lesson the room follows, as {"lesson": "day2"}.')
        lesson = course.get_lesson(lesson_id)
        if lesson is None:
            known = ", ".join(item["id"] for item in course.list_lessons())
            raise RoomRefused(f"There is no lesson {lesson_id!r}; the lessons are: {known}.")
        token, token_hash = new_token()
        now = time.time()
        first = lesson.steps[0]
        shown = {"step": 0, "graph": None, "view": first.view, "panel": first.panel}
        for _ in range(5):
            record = RoomRecord(
                id=secrets.token_urlsafe(ROOM_ID_LENGTH),
                lesson=lesson.id,
                shown=shown,
                token_hash=token_hash,
                created=now,
                accessed=now,
            )
            try:
                if not self.store.create_room(record, cap=self.max_rooms):
                    raise RoomsFull(
                        f"The server keeps {self.max_rooms} rooms and all are in use; try "
                        "again later, or ask for a larger max_rooms."
                    )
                return record, token
            except DuplicateId:  # pragma: no cover - a 96-bit id collided
                continue
        raise RuntimeError("no free room id")  # pragma: no cover

    def get(self, room_id: str) -> RoomRecord:
        record = self.store.get_room(room_id)
        if record is None or record.accessed < time.time() - self.idle_seconds:
            raise RoomNotFound(room_id)
        return record

    @staticmethod
    def token_matches(record: RoomRecord, token: str) -> bool:
        return hmac.compare_digest(hash_token(token), record.token_hash)

    def change(
        self, room_id: str, changes: dict[str, Any], graph_exists
    ) -> tuple[RoomRecord, RoomRecord]:
        """Apply the teacher's `changes` (fields sent: step, graph, view, panel); the room
        before and after. `graph_exists(id)` says whether a graph may be put on the stage."""
        if "step" in changes and changes["step"] is None:
            raise RoomRefused("`step` is a step number (0 is the first), not null.")
        if "view" in changes and changes["view"] is None:
            raise RoomRefused("`view` names what the stage shows (graph, data, curve, ...).")
        graph = changes.get("graph")
        if graph is not None and not graph_exists(graph):
            raise RoomRefused(
                f"There is no graph {graph!r} to put on the stage (it may have expired)."
            )
        for _ in range(20):
            old = self.get(room_id)
            if "step" in changes:
                lesson = course.get_lesson(old.lesson)
                n = len(lesson.steps) if lesson is not None else 0
                if changes["step"] >= n:
                    raise RoomRefused(
                        f"Step {changes['step']} is not a step of lesson {old.lesson!r}: its "
                        f"steps are 0 to {n - 1}."
                    )
            shown = {**old.shown, **changes}
            if shown == old.shown:
                self.store.touch_room(room_id, time.time())
                return old, old
            new = RoomRecord(
                id=old.id,
                lesson=old.lesson,
                shown=shown,
                token_hash=old.token_hash,
                version=old.version + 1,
                created=old.created,
                accessed=time.time(),
            )
            try:
                self.store.save_room(new, old.version)
            except StoreConflict:
                continue  # another process changed it meanwhile: apply ours to theirs
            except KeyError:
                raise RoomNotFound(room_id) from None
            return old, new
        raise StoreConflict(f"Room {room_id!r} kept changing; try again.")  # pragma: no cover

    def touch(self, room_id: str) -> None:
        self.store.touch_room(room_id, time.time())

    def sweep(self, followed: list[str]) -> list[str]:
        """Mark the rooms followed now as used, then delete those idle too long."""
        now = time.time()
        for room_id in followed:
            self.store.touch_room(room_id, now)
        return self.store.expire_rooms(now - self.idle_seconds)
