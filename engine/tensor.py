"""Tensors are float64 numpy arrays; a scalar is a 0-d array.

Values arrive from JSON or Python as numbers or nested lists; this module checks them
(no ragged lists, strings, booleans, non-finite numbers, oversized tensors) and turns
results back into JSON-ready values.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import numpy.typing as npt

from stepgrad.engine.errors import TensorError

# what every value and gradient in a graph is
Array = npt.NDArray[np.float64]

DEFAULT_MAX_ELEMENTS = 1_000_000


def _check_leaves(value: object, where: str) -> None:
    """Walk nested lists without recursion; reject anything that is not a real number."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, bool | np.bool_):
            raise TensorError(f"{where} contains a boolean; values must be numbers.")
        elif isinstance(item, Real | np.number):
            continue
        else:
            raise TensorError(
                f"{where} contains {type(item).__name__} {str(item)[:40]!r}; "
                "values must be numbers or nested lists of numbers."
            )


def as_tensor(
    value: object, name: str = "value", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Array:
    """Convert a number, nested list or array to a finite float64 array, or raise TensorError."""
    where = f"The value of {name!r}"
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu":
            raise TensorError(f"{where} has dtype {value.dtype}; values must be numbers.")
        arr = value.astype(np.float64, copy=True)
    else:
        if isinstance(value, list | tuple):
            _check_size_before_build(value, where, max_elements)
        _check_leaves(value, where)
        try:
            arr = np.array(value, dtype=np.float64)
        except (ValueError, OverflowError) as exc:
            raise TensorError(
                f"{where} is not a rectangular tensor (ragged nested lists or an "
                f"out-of-range number): {exc}."
            ) from None
    if arr.size > max_elements:
        raise TensorError(
            f"{where} has {arr.size} elements; the limit is {max_elements} per tensor."
        )
    if not np.all(np.isfinite(arr)):
        raise TensorError(f"{where} contains a non-finite number (NaN or infinity).")
    return arr


def _check_size_before_build(
    value: list[object] | tuple[object, ...], where: str, max_elements: int
) -> None:
    """Count leaves first so that a huge list is refused before numpy allocates for it."""
    count = 0
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        else:
            count += 1
            if count > max_elements:
                raise TensorError(
                    f"{where} has more than {max_elements} elements; "
                    f"the limit is {max_elements} per tensor."
                )


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum a gradient computed on a broadcast shape back down to an input's own shape."""
    if grad.shape == shape:
        return grad
    # sums start from +0, as PyTorch's do (numpy's would keep a sum of -0s at -0)
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)), initial=0.0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True, initial=0.0)
    return grad.reshape(shape)


def _json_number(x: float) -> float | str:
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def to_json(value: npt.ArrayLike | None) -> object:
    """A JSON-ready number or nested list; non-finite elements become strings.

    NaN, inf and -inf become "NaN", "Infinity" and "-Infinity", so bodies stay strict JSON."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return _json_number(float(arr))
    if np.all(np.isfinite(arr)):
        return arr.tolist()
    flat: list[object] = [_json_number(x) for x in arr.ravel().tolist()]
    # rebuild the nesting from the flat list, innermost axis first
    for n in reversed(arr.shape[1:]):
        flat = [flat[i : i + n] for i in range(0, len(flat), n)]
    return flat


def from_json(
    value: object, name: str = "value", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Array:
    """Inverse of to_json for stored state: accepts the non-finite strings again."""
    if isinstance(value, str) or (isinstance(value, list) and _has_strings(value)):
        mapping = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

        def conv(v: object) -> object:
            if isinstance(v, list):
                return [conv(x) for x in v]
            return mapping[v] if isinstance(v, str) else v

        return np.array(conv(value), dtype=np.float64)
    return np.array(value, dtype=np.float64)


def _has_strings(value: list[object]) -> bool:
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            return True
    return False


def summary(arr: Array) -> dict[str, object]:
    """Shape, min, max, mean and a short sample: what a large tensor is shown as."""
    flat = arr.ravel()
    finite = flat[np.isfinite(flat)]
    stats = (
        {"min": float(finite.min()), "max": float(finite.max()), "mean": float(finite.mean())}
        if finite.size
        else {"min": None, "max": None, "mean": None}
    )
    return {
        "shape": list(arr.shape),
        "size": int(arr.size),
        **stats,
        "sample": to_json(flat[:8]),
    }
