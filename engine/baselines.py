"""Baselines that need no gradient: the yardsticks the course trains against.

- `mean_predictor`: always answer the training mean.
- `knn_predict`: the course's `find_price_by_similar`: the mean target of the k most
  similar (nearest, by Euclidean distance) training rows.
- `least_squares`: the closed-form linear fit with an intercept.
- `baselines(split)`: the three of them on a data split, as JSON-ready test MSEs.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from stepgrad.engine.errors import StepgradError

if TYPE_CHECKING:
    from stepgrad.engine.datasets import Split

# KNN computes distances a chunk of query rows at a time, so that the
# (chunk, n_train, d) difference array stays below about this many elements.
_KNN_CHUNK_ELEMENTS = 2_000_000


def _as_2d(x: object, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise StepgradError(f"{what} must be a table of rows (2-D), not of shape {arr.shape}.")
    return arr


def mse(y: object, yhat: object) -> float:
    """$mean((y - \\hat y)^2)$; `yhat` may be a single number. Shapes (n,) and (n, 1)
    are treated alike (never broadcast to (n, n))."""
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    if y.size == 0:
        raise StepgradError("mse needs at least one value.")
    if yhat.ndim > 0:
        if yhat.size != y.size:
            raise StepgradError(
                f"mse got {y.size} targets and {yhat.size} predictions; they must match."
            )
        yhat = yhat.reshape(y.shape)
    return float(np.mean((y - yhat) ** 2))


def mean_predictor(y_train: object) -> float:
    """The constant prediction with the lowest training MSE: the training mean."""
    y = np.asarray(y_train, dtype=np.float64)
    if y.size == 0:
        raise StepgradError("mean_predictor needs at least one training target.")
    return float(np.mean(y))


def knn_predict(x_train: object, y_train: object, x_query: object, k: int = 3) -> np.ndarray:
    """For each query row, the mean target of its k nearest training rows (Euclidean
    distance). Ties are broken by training-row order (a stable sort). A 1-D `x_train`
    is one feature; the result has one row per query, shaped like `y_train`'s rows."""
    y = np.asarray(y_train, dtype=np.float64)
    n = len(_as_2d(x_train, "x_train"))
    if y.shape[:1] != (n,):
        raise StepgradError(f"x_train has {n} rows but y_train has shape {y.shape}.")
    means: np.ndarray = y[knn_neighbours(x_train, x_query, k)].mean(axis=1)
    return means


def knn_neighbours(x_train: object, x_query: object, k: int = 3) -> np.ndarray:
    """Indices (one row per query, nearest first) of the k nearest training rows."""
    x_tr = _as_2d(x_train, "x_train")
    x_q = np.asarray(x_query, dtype=np.float64)
    if x_q.ndim == 1:
        x_q = x_q.reshape(-1, 1) if np.asarray(x_train).ndim == 1 else x_q.reshape(1, -1)
    x_q = _as_2d(x_q, "x_query")
    n, d = x_tr.shape
    if x_q.shape[1] != d:
        raise StepgradError(
            f"x_query has {x_q.shape[1]} feature(s) but x_train has {d}; they must match."
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise StepgradError(f"k must be a whole number from 1 to {n} (the training rows).")
    k = int(k)
    chunk = max(1, _KNN_CHUNK_ELEMENTS // max(1, n * d))
    nearest = np.empty((len(x_q), k), dtype=np.intp)
    for start in range(0, len(x_q), chunk):
        block = x_q[start : start + chunk]
        diff = block[:, None, :] - x_tr[None, :, :]
        dist2 = np.einsum("qnd,qnd->qn", diff, diff)
        nearest[start : start + chunk] = np.argsort(dist2, axis=1, kind="stable")[:, :k]
    return nearest


def least_squares(x_train: object, y_train: object) -> tuple[np.ndarray, float | np.ndarray]:
    """The weights w and bias b minimising the training MSE of `x @ w + b`, solved in
    closed form with `np.linalg.lstsq` on [X, 1]. For a target of shape (n, 1), w has
    shape (d, 1) (so `x @ w + b` has the target's shape); for (n,), shape (d,). b is a
    float for a single target column."""
    x = _as_2d(x_train, "x_train")
    y = np.asarray(y_train, dtype=np.float64)
    n = x.shape[0]
    if n == 0 or y.shape[:1] != (n,):
        raise StepgradError(f"x_train has {n} rows but y_train has shape {y.shape}.")
    design = np.hstack([x, np.ones((n, 1))])
    solution, *_ = np.linalg.lstsq(design, y.reshape(n, -1), rcond=None)
    weights, bias = solution[:-1], solution[-1]
    if y.ndim == 1:
        weights = weights[:, 0]
    if bias.size == 1:
        return weights, float(bias[0])
    return weights, bias


def baselines(split: Split, k: int = 3, features: list[str] | None = None) -> dict[str, Any]:
    """Test MSE of the mean predictor, least squares and KNN on a split (an
    `engine.datasets.Split`), using the named feature columns (all by default)."""
    names = list(split.feature_names)
    if features is None:
        chosen = names
    else:
        if isinstance(features, str) or not all(isinstance(f, str) for f in features):
            raise StepgradError("features must be a list of feature names.")
        chosen = list(features)
        if not chosen:
            raise StepgradError("features must name at least one feature.")
        missing = [f for f in chosen if f not in names]
        if missing:
            raise StepgradError(
                f"Unknown feature(s) {', '.join(map(repr, missing))}; "
                f"the features are {', '.join(names)}."
            )
    if len(split.y_test) == 0:
        raise StepgradError("The split has no test rows; use a test_fraction above 0.")
    cols = [names.index(f) for f in chosen]
    x_train, x_test = split.x_train[:, cols], split.x_test[:, cols]
    y_train, y_test = split.y_train, split.y_test

    mean_value = mean_predictor(y_train)
    weights, bias = least_squares(x_train, y_train)
    ls_pred = x_test @ weights + bias
    knn_pred = knn_predict(x_train, y_train, x_test, k=k)
    return {
        "mean": {"value": mean_value, "test_mse": mse(y_test, mean_value)},
        "least_squares": {
            "test_mse": mse(y_test, ls_pred),
            "weights": np.asarray(weights, dtype=np.float64).ravel().tolist(),
            "bias": float(np.asarray(bias).ravel()[0]),
            "features": chosen,
        },
        "knn": {"k": int(k), "features": chosen, "test_mse": mse(y_test, knn_pred)},
    }
