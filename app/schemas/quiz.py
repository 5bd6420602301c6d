"""The class quiz and the teacher's focus (contract v1.1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from stepgrad.app.schemas.common import Finite, FloatOut, PositiveFloat, Request

# ---- the class quiz and the teacher's focus (contract v1.1) -------------------------------

CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
CLIENT_ID = Field(
    pattern=CLIENT_ID_PATTERN,
    description="A random id the browser keeps (localStorage) and sends with each answer: "
    "one answer per client per question, a later one replaces it. Optional (contract v1.2): "
    "without it the server identifies the browser by a cookie it sets on the first answer.",
    examples=["c7Hq2w9LkP0xZb4T"],
)


class QuizOpen(Request):
    node: str = Field(max_length=64, description="A scalar node of the graph.")
    quantity: Literal["value", "grad"] = Field(
        description="What the class predicts: the node's value or its gradient."
    )


class QuizAnswer(Request):
    quiz_id: str = Field(max_length=64)
    answer: Finite = Field(description="The predicted number (finite).")
    client: Annotated[str | None, CLIENT_ID] = None
    name: str | None = Field(None, max_length=40, description="Shown to nobody but stored.")


class QuizAnswered(BaseModel):
    quiz_id: str
    answers: int = Field(description="Answers to the question so far, this one included.")


class QuizHistogram(BaseModel):
    edges: list[float] = Field(description="Bin edges, ascending; bin i is [edges[i], edges[i+1]).")
    counts: list[int]
    below: int = Field(description="Answers below the first edge.")
    above: int = Field(description="Answers at or above the last edge.")


class QuizView(BaseModel):
    """The graph's question. Answers are counted, never shown, until the reveal; then the
    truth, their histogram and the share within 1 % of the truth come with it."""

    graph_id: str
    status: Literal["none", "open", "revealed", "closed"]
    quiz_id: str | None
    node: str | None = None
    quantity: Literal["value", "grad"] | None = None
    answers: int | None = None
    opened: float | None = Field(None, description="Unix time the question was opened.")
    truth: FloatOut | None = None
    histogram: QuizHistogram | None = None
    within_1pct: int | None = Field(None, description="Answers within 1 % of the truth.")
    share_within_1pct: float | None = None


class Viewport(Request):
    """The part of the drawing shown, in the graph's own coordinates (the node `x`, `y` of
    the state): its centre and the width and height visible. A screen of any size shows the
    same part by fitting that box."""

    cx: Finite = Field(ge=-1e7, le=1e7)
    cy: Finite = Field(ge=-1e7, le=1e7)
    width: PositiveFloat = Field(le=1e7)
    height: PositiveFloat = Field(le=1e7)


class FocusUpdate(Request):
    node: str | None = Field(None, max_length=64, description="The node the teacher selected.")
    viewport: Viewport | None = None


class Focus(BaseModel):
    graph_id: str
    node: str | None
    viewport: dict[str, float] | None
    seq: int = Field(description="Counts the teacher's focus changes (newest wins).")
