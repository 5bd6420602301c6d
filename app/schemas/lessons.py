"""Lessons: the data files in app/classroom/lessons/, checked when loaded."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stepgrad.app.schemas.course import GraphOptions

# ---- lessons (data files in app/classroom/lessons/, checked when loaded) -----------------


class Text(BaseModel):
    """A text in both of the page's languages."""

    model_config = ConfigDict(extra="forbid")
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class LessonTrain(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(ge=1, le=5_000)
    optimizer: Literal["sgd", "momentum", "adam", "random_search"] = "sgd"
    learning_rate: float = Field(0.01, gt=0, le=10)
    batch_size: int | None = Field(None, ge=1)
    options: dict[str, float] | None = None


class LessonKnn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: list[str] = Field(min_length=1)
    query: list[float] = Field(min_length=1)
    k: int = Field(3, ge=1, le=100)


class LessonCurve(BaseModel):
    """Draw node `y` against node `x` (both vectors), with `target` as dots."""

    model_config = ConfigDict(extra="forbid")
    x: str
    y: str
    target: str | None = None


class LessonToposort(BaseModel):
    """A directed graph to sort (cycles allowed), instead of the step's graph."""

    model_config = ConfigDict(extra="forbid")
    nodes: list[str] = Field(min_length=1)
    edges: list[list[str]]


class LessonQuiz(BaseModel):
    """A question the step opens for the class: predict the node's value or gradient."""

    model_config = ConfigDict(extra="forbid")
    node: str
    quantity: Literal["value", "grad"] = "value"


class LessonStep(BaseModel):
    """What the page shows at one step of a lesson."""

    model_config = ConfigDict(extra="forbid")
    title: Text
    text: Text
    graph: str | None = Field(None, description="A key of the lesson's `graphs`.")
    view: Literal["graph", "data", "curve", "toposort", "race"] = "graph"
    position: Literal["start", "forward", "end"] | int | None = Field(
        None, description="Where the timeline is: start, end of forward, end, or a position."
    )
    select: str | None = Field(None, description="The node shown in the inspector.")
    highlight: list[str] = Field(default_factory=list, description="Nodes to highlight.")
    panel: Literal["inspector", "train", "gradcheck", "code"] | None = None
    chart: (
        Literal[
            "table", "heatmap", "scatter", "knn", "knn_cost", "lines", "compare", "curve",
            "loss", "predictions", "race",
        ]
        | None
    ) = None  # fmt: skip
    scatter: dict[Literal["x", "y"], str] | None = None
    knn: LessonKnn | None = None
    compare: list[LessonTrain] | None = Field(
        None, description="Trainings run side by side on forks of the step's graph."
    )
    train: LessonTrain | None = Field(None, description="A training the step runs.")
    curve: LessonCurve | None = None
    sliders: list[str] | None = Field(None, description="Params with a slider.")
    options: GraphOptions | None = None
    toposort: LessonToposort | None = None
    choose_order: bool = Field(False, description="The student picks the next ready node.")
    code: str | None = Field(None, max_length=5_000, description="Python shown beside it.")
    quiz: LessonQuiz | None = Field(
        None, description="A question the teacher opens for the class at this step."
    )


class LessonInfo(BaseModel):
    id: str
    title: Text
    summary: Text
    day: int


class Lesson(LessonInfo):
    """A lesson file: `graphs` names the examples it opens; `steps` are shown in order."""

    model_config = ConfigDict(extra="forbid")
    graphs: dict[str, str] = Field(description="Key -> example id.")
    steps: list[LessonStep] = Field(min_length=1)
