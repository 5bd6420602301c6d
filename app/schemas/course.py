"""The course's tools: run options, the topological sort, datasets, the race."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stepgrad.app.schemas.common import Request

# ---- the course's lessons: run options, the topological sort, datasets, the race -------


class GraphOptions(Request):
    fanout_bug: bool | None = Field(
        None,
        description="Backward overwrites a node's gradient instead of adding up its "
        "consumers' contributions: the classic mistake, for the class to see.",
    )
    order: list[str] | None = Field(
        None,
        max_length=10_000,
        description="Evaluate in this topological order instead of the graph's own; an "
        "empty list restores the graph's own order.",
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"fanout_bug": True}, {"order": ["b", "k", "x"]}, {"target": "linear"}]
        },
    )
    target: str | None = Field(
        None,
        max_length=64,
        description="The node to differentiate: backward seeds d target / d target = 1 (ones "
        "of its shape for a tensor, so the gradients are of sum(target)) and visits only the "
        "target and its ancestors. null: the output again. Leave it out to keep it as it is. "
        "Update refuses (409) while the target is not the output; train always trains the "
        "output (the loss).",
    )


class ToposortRequest(Request):
    nodes: list[str] = Field(max_length=5_000)
    edges: list[list[str]] = Field(max_length=50_000, description="[source, target] pairs")
    choose: list[str] | None = Field(
        None, description="Take these nodes in this order (each must be ready when taken)."
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"nodes": ["a", "b", "c"], "edges": [["a", "b"], ["b", "c"], ["c", "b"]]}]
        },
    )


class KahnStep(BaseModel):
    ready: list[str] = Field(description="Nodes with no remaining inputs, before this step.")
    take: str = Field(description="The node taken.")
    removed: list[list[str]] = Field(description="Its outgoing edges, now removed.")


class Stuck(BaseModel):
    remaining: list[str] = Field(description="Nodes never ready: they wait on each other.")
    cycle: list[str] = Field(description="A cycle among them, in order.")


class ToposortResult(BaseModel):
    steps: list[KahnStep]
    order: list[str]
    complete: bool = Field(description="False when a cycle stopped the sort.")
    stuck: Stuck | None


class DatasetParam(BaseModel):
    name: str
    type: Literal["int", "float"]
    default: float
    min: float
    max: float
    description: str


class DatasetInfoOut(BaseModel):
    name: str
    title: str
    task: Literal["regression", "classification"]
    description: str
    feature_names: list[str]
    target_name: str
    params: list[DatasetParam]
    inputs: int = Field(description="Number of feature columns (a network's input size).")
    classes: int | None = Field(
        description="Number of classes (labels 0..classes-1) for classification; null for "
        "regression."
    )


class DatasetView(BaseModel):
    name: str
    description: str
    description_zh: str = Field("", description="The description in Simplified Chinese.")
    n_rows: int
    columns: list[str] = Field(description="The features, then the target.")
    head: list[list[float]] = Field(description="The first rows, in `columns` order.")
    correlations: list[list[float]] = Field(description="Pearson, `columns` x `columns`.")


class Scatter(BaseModel):
    x_name: str
    y_name: str
    x: list[float]
    y: list[float]


class KnnRequest(Request):
    features: list[str] = Field(min_length=1, max_length=20)
    query: list[float] = Field(min_length=1, max_length=20)
    k: int = Field(3, ge=1, le=100)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"features": ["RM"], "query": [7.0], "k": 3}]},
    )


class KnnResult(BaseModel):
    features: list[str]
    query: list[float]
    k: int
    neighbours: list[int] = Field(description="Row numbers of the k most similar rows.")
    neighbour_targets: list[float]
    prediction: float = Field(description="The mean target of the neighbours.")


class KnnCost(BaseModel):
    rows: int
    seconds: float


class BaselineReport(BaseModel):
    mean: dict[str, float]
    least_squares: dict[str, Any]
    knn: dict[str, Any]


class RaceRequest(Request):
    hidden: int = Field(10, ge=1, le=256)
    batch_size: int = Field(32, ge=1, le=506)
    epochs: int = Field(100, ge=1, le=500)

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"epochs": 100}]}
    )


class RaceResult(BaseModel):
    hidden: int
    batch_size: int
    epochs: int
    engine_us: float = Field(description="Microseconds per training step.")
    torch_us: float | None = Field(description="None when PyTorch is not installed.")
    numpy_us: float
    engine_over_torch: float | None
    engine_over_numpy: float
    mse_engine: float = Field(description="Test MSE after training.")
    mse_torch: float | None
    mse_numpy: float
    train_mse_engine: float
    train_mse_torch: float | None
    train_mse_numpy: float
    agree: bool = Field(
        description="The test MSEs of the trainers that ran agree to 1e-6 relative."
    )
    ran: list[Literal["engine", "torch", "numpy"]] = Field(
        description="The trainers that ran, in this order: PyTorch only when it is installed "
        "and the server's race_torch setting is on."
    )
    torch_installed: bool
    install: str | None = Field(description="How to install PyTorch, when it is missing.")
