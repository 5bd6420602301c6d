"""Looking at a dataset before modelling it (the course's first day): the table, the
correlation of every column with every other, and the nearest neighbours of a query."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from stepgrad.engine.baselines import knn_neighbours
from stepgrad.engine.datasets import Dataset
from stepgrad.engine.errors import StepgradError


def table(ds: Dataset, rows: int = 10) -> dict[str, Any]:
    """The first rows, features then target, as the course prints `dataframe.head()`."""
    data = np.hstack([ds.features[:rows], ds.target[:rows]])
    return {"columns": [*ds.feature_names, ds.target_name], "rows": data.tolist()}


def correlations(ds: Dataset) -> dict[str, Any]:
    """Pearson correlation matrix of the features and the target (the course's heatmap)."""
    data = np.hstack([ds.features, ds.target])
    return {
        "columns": [*ds.feature_names, ds.target_name],
        "matrix": np.corrcoef(data, rowvar=False).tolist(),
    }


def column(ds: Dataset, name: str) -> np.ndarray:
    if name == ds.target_name:
        return ds.target[:, 0]
    if name not in ds.feature_names:
        raise StepgradError(
            f"Dataset {ds.name!r} has no column {name!r}; its columns are "
            f"{', '.join([*ds.feature_names, ds.target_name])}."
        )
    return ds.features[:, ds.feature_names.index(name)]


def knn_query(ds: Dataset, features: list[str], query: list[float], k: int = 3) -> dict[str, Any]:
    """The course's `find_price_by_similar`: the k rows most like `query` on `features`,
    and the mean of their targets."""
    if len(features) != len(query):
        raise StepgradError(f"The query has {len(query)} value(s) for {len(features)} feature(s).")
    x = np.column_stack([column(ds, f) for f in features])
    idx = knn_neighbours(x, np.asarray(query, dtype=np.float64).reshape(1, -1), k)[0]
    return {
        "features": features,
        "query": list(query),
        "k": k,
        "neighbours": idx.tolist(),
        "neighbour_targets": ds.target[idx, 0].tolist(),
        "prediction": float(ds.target[idx, 0].mean()),
    }


def knn_cost(
    sizes: tuple[int, ...] = (506, 5_060, 50_600), k: int = 3, seed: int = 0
) -> list[dict[str, float]]:
    """Seconds for one KNN query as the table grows (rows resampled from Boston with
    jitter): KNN compares the query with every row, so its cost grows with the data."""
    from stepgrad.engine.datasets import load

    ds = load("boston")
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        rows = rng.integers(0, ds.n_rows, size=n)
        x = ds.features[rows] * rng.normal(1.0, 0.01, size=(n, ds.features.shape[1]))
        query = ds.features[:1]
        t0 = time.perf_counter()
        knn_neighbours(x, query, k)
        out.append({"rows": n, "seconds": time.perf_counter() - t0})
    return out
