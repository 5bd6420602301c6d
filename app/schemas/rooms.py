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


class CompareRow(Request):
    epoch: int = Field(ge=1, le=100_000)
    train_loss: float | None = None
    test_loss: float | None = None


class CompareFinal(Request):
    train_loss: float | None = None
    test_loss: float | None = None


class CompareRun(Request):
    optimizer: str = Field(max_length=32, pattern=r"^[a-z_]+$", examples=["sgd"])
    epochs: int = Field(ge=1, le=100_000)
    steps: int = Field(ge=0, le=10_000_000, description="Training steps (or loss evaluations).")
    final: CompareFinal
    params: dict[str, float] = Field(
        default_factory=dict,
        max_length=16,
        description="The trained scalar params by id (a fitted line's slope and intercept).",
    )
    rows: list[CompareRow] = Field(max_length=10_000, description="One row per epoch.")


class CompareReference(Request):
    value: float = Field(description="The least-squares test MSE.")
    weights: list[float] = Field(default_factory=list, max_length=64)
    bias: float | None = None
    features: list[str] = Field(default_factory=list, max_length=64)


class CompareResult(Request):
    """Trainings the teacher ran side by side at a step (Day 1's optimizers), for followers
    to draw the chart the projector shows."""

    step: int = Field(ge=0, description="The lesson step they belong to (0 is the first).")
    runs: list[CompareRun] = Field(min_length=1, max_length=8)
    reference: CompareReference | None = None


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
    compare: CompareResult | None = Field(
        None,
        description="The trainings the teacher compared at a step, once done, for followers "
        "to draw the projector's chart.",
    )


class RoomState(BaseModel):
    id: str
    lesson: str
    step: int = Field(description="The lesson step shown (0 is the first).")
    graph: str | None = Field(description="The id of the graph on the stage.")
    view: RoomView | None
    panel: RoomPanel | None
    race: RaceResult | None = Field(None, description="The teacher's race result, if any.")
    compare: CompareResult | None = Field(
        None, description="The teacher's last compared trainings, if any."
    )
    version: int = Field(description="Counts the room's changes.")


class CreatedRoom(RoomState):
    edit_token: str = Field(description="Needed to change the room; returned only here.")
