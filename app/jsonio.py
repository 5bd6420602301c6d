"""The one JSON serialiser of the service: response bodies, error bodies, event-stream data,
the rows of the store and `stepgrad train --json` all go through `dumps`.

Strict JSON: a non-finite number is never written as `NaN`/`Infinity` (which browsers'
`JSON.parse` refuses) but as the strings "NaN", "Infinity", "-Infinity", the convention of
the whole API. ASCII only: text a client sent, even a lone surrogate, comes back as \\u
escapes that always encode.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse

from stepgrad.engine.tensor import to_json


def number(x: float | np.floating[Any] | None) -> float | str | None:
    """A float, or its non-finite string."""
    if x is None:
        return None
    return to_json(np.float64(x))  # type: ignore[return-value]


def json_safe(obj: object) -> object:
    """Plain JSON data from nested dicts/lists of numbers and arrays (non-finite as strings)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj)
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return number(obj)
    return obj


def dumps(obj: object) -> str:
    """Strict, compact, ASCII-only JSON text of JSON-ready data.

    Raises ValueError on a non-finite float rather than write a literal no browser parses:
    data meant to carry one converts it first (`json_safe`, `engine.tensor.to_json`), and
    the store refuses to keep one by accident."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


class StrictJSONResponse(JSONResponse):
    """The app's default response class: `dumps`, after `json_safe` where the content is
    not JSON-ready (a NaN or a numpy number that a route's model let through), so that a
    response body follows the API's rule for non-finite numbers instead of failing."""

    def render(self, content: object) -> bytes:
        try:
            text = dumps(content)
        except (TypeError, ValueError):
            text = dumps(json_safe(content))
        return text.encode("ascii")
