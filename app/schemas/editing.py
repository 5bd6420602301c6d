"""Editing a graph: replacing its structure, placing its nodes, checking a spec."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stepgrad.app.schemas.common import Finite, Request
from stepgrad.app.schemas.graphs import GraphCreate

# ---- editing, the network builder (issue 14) -----------------------------------------


class SpecReplace(GraphCreate):
    """PUT /api/graphs/{id}/spec: the new graph, in any form POST /api/graphs takes, plus
    `layout`. Params with the same id and shape keep their value and optimizer state; an
    input or const may leave out `value` to keep its current one."""

    layout: Literal["keep", "auto"] = Field(
        "keep",
        description="keep: nodes with x and y stay where they were placed; auto: drop every "
        "hand position and lay the graph out again.",
    )
    keep_params: bool = Field(
        True,
        description="false: every param takes the body's value and the optimizer starts "
        "afresh (a new initialisation, say a network built again with another seed).",
    )


class Position(Request):
    x: Finite
    y: Finite


class PositionsUpdate(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"positions": {"k": {"x": 10.0, "y": 20.0}, "b": None}}]}
    )

    positions: dict[str, Position | None] = Field(
        max_length=10_000,
        description="Node id -> where it was placed by hand, or null to give it back to the "
        "automatic layout.",
    )


class SpecCheck(BaseModel):
    """What PUT .../spec would make of a body, without changing the graph."""

    ok: bool = Field(description="Always true: a body the graph would refuse is a 4xx.")
    name: str
    output: str
    order: list[str] = Field(description="The new graph's topological order.")
    shapes: dict[str, list[int]] = Field(description="Node id -> shape of its value.")
    kept: list[str] = Field(
        description="The params that would keep their current value and optimizer state."
    )
