"""Tensors as the API reads and writes them, the strict request base, error bodies."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# ---- tensors ----------------------------------------------------------------------------

NON_FINITE = ["NaN", "Infinity", "-Infinity"]

TENSOR_IN_SCHEMA = {
    "description": "A finite number or a rectangular nested list of finite numbers "
    "(a float64 tensor). NaN and Infinity are not accepted.",
    "anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
    "examples": [3.0, [[1.0, 2.0], [3.0, 4.0]]],
}

SUMMARY_SCHEMA = {
    "type": "object",
    "description": "A tensor larger than the summary threshold, summarised.",
    "required": ["summary"],
    "properties": {
        "summary": {
            "type": "object",
            "required": ["shape", "size", "min", "max", "mean", "sample"],
            "properties": {
                "shape": {"type": "array", "items": {"type": "integer"}},
                "size": {"type": "integer"},
                "min": {"type": ["number", "null"]},
                "max": {"type": ["number", "null"]},
                "mean": {"type": ["number", "null"]},
                "sample": {
                    "type": "array",
                    "description": "The first 8 elements, flattened.",
                    "items": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                },
            },
        }
    },
}

TENSOR_OUT_SCHEMA = {
    "description": "A number, a nested list, or null where not computed yet. Non-finite "
    'elements are the strings "NaN", "Infinity", "-Infinity". Tensors with more elements '
    "than the server's summary threshold (64 by default) are sent as "
    '`{"summary": {"shape", "size", "min", "max", "mean", "sample"}}`; the full value '
    "comes with `?full=true` or from GET /api/graphs/{id}/nodes/{node_id}.",
    "anyOf": [
        {"type": "number"},
        {"type": "string", "enum": NON_FINITE},
        {"type": "array", "items": {}},
        SUMMARY_SCHEMA,
        {"type": "null"},
    ],
}

FLOAT_OUT_SCHEMA = {
    "description": 'A number; non-finite values are the strings "NaN", "Infinity", "-Infinity".',
    "anyOf": [{"type": "number"}, {"type": "string", "enum": NON_FINITE}],
}

TensorIn = Annotated[Any, WithJsonSchema(TENSOR_IN_SCHEMA)]
TensorOut = Annotated[Any, WithJsonSchema(TENSOR_OUT_SCHEMA)]
FloatOut = Annotated[float | str, WithJsonSchema(FLOAT_OUT_SCHEMA)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
