"""Rooms (contract v1.2): one follow link for a whole lesson."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stepgrad.app.schemas.common import Request
from stepgrad.app.schemas.course import RaceResult

RoomView = Literal["graph", "data", "curve", "toposort", "race"]
RoomPanel = Literal[
    "inspector", "train", "gradcheck", "code", "compare", "order",
    "table", "heatmap", "scatter", "knn", "knn_cost", "lines", "curve", "loss", "predictions",
    "race",
]  # fmt: skip


class RoomCreate(Request):
    lesson: str | None = Field(
        None,
        max_length=64,
        description="The lesson the room follows (an id of GET /api/lessons).",
        examples=["day2"],
    )
    playground: dict | None = Field(
        None,
        description="Rooms for a playground are not offered yet: a body with `playground` "
        "answers 422.",
    )


class RoomUpdate(Request):
    """What the teacher shows now; a field left out keeps its value."""

    step: int | None = Field(
        None, ge=0, description="The lesson step shown (0 is the first).", examples=[5]
    )
    graph: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The id of the graph on the stage (null: none).",
    )
    view: RoomView | None = Field(None, description="What the stage shows.")
    panel: RoomPanel | None = Field(None, description="The chart or panel shown (null: none).")
    race: RaceResult | None = Field(
        None,
        description="The result of the race the teacher ran (POST /api/race), for followers "
        "to show beside the projector's.",
    )


class RoomState(BaseModel):
    id: str
    lesson: str
    step: int = Field(description="The lesson step shown (0 is the first).")
    graph: str | None = Field(description="The id of the graph on the stage.")
    view: RoomView | None
    panel: RoomPanel | None
    race: RaceResult | None = Field(None, description="The teacher's race result, if any.")
    version: int = Field(description="Counts the room's changes.")


class CreatedRoom(RoomState):
    edit_token: str = Field(description="Needed to change the room; returned only here.")
