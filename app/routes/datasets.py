"""The datasets behind the lessons: a look at the data (Day 1), KNN and the baselines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stepgrad.app.classroom.translations import DATASETS_ZH
from stepgrad.app.schemas import (
    ERROR_RESPONSES,
    BaselineReport,
    DatasetInfoOut,
    DatasetView,
    KnnCost,
    KnnRequest,
    KnnResult,
    Scatter,
)
from stepgrad.engine import baselines, datasets, explore

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


@router.get("", response_model=list[DatasetInfoOut], summary="Every dataset and its parameters")
def list_datasets() -> list[dict]:
    return datasets.list_datasets()


@router.get(
    "/{name}",
    response_model=DatasetView,
    responses=ERROR_RESPONSES,
    summary="The first rows and the correlation matrix (default parameters)",
)
def view(name: str, rows: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
    ds = datasets.load(name)
    head = explore.table(ds, rows)
    return {
        "name": ds.name,
        "description": ds.description,
        "description_zh": DATASETS_ZH.get(ds.name, ds.description),
        "n_rows": ds.n_rows,
        "columns": head["columns"],
        "head": head["rows"],
        "correlations": explore.correlations(ds)["matrix"],
    }


@router.get(
    "/{name}/scatter",
    response_model=Scatter,
    responses=ERROR_RESPONSES,
    summary="Two columns against each other",
)
def scatter(name: str, x: str, y: str | None = None) -> dict:
    ds = datasets.load(name)
    y = y or ds.target_name
    return {
        "x_name": x,
        "y_name": y,
        "x": explore.column(ds, x).tolist(),
        "y": explore.column(ds, y).tolist(),
    }


@router.post(
    "/{name}/knn",
    response_model=KnnResult,
    responses=ERROR_RESPONSES,
    summary="The k most similar rows and the mean of their targets",
)
def knn(name: str, body: KnnRequest) -> dict:
    return explore.knn_query(datasets.load(name), body.features, body.query, body.k)


@router.get(
    "/{name}/knn_cost",
    response_model=list[KnnCost],
    responses=ERROR_RESPONSES,
    summary="Seconds for one KNN query as the table grows (measured now)",
)
def knn_cost(name: str) -> list[dict]:
    datasets.load(name)  # a clear 422 for an unknown name
    return explore.knn_cost()


@router.get(
    "/{name}/baselines",
    response_model=BaselineReport,
    responses=ERROR_RESPONSES,
    summary="Test MSE of the mean, least squares and KNN on a split",
)
def baseline_report(
    name: str,
    features: Annotated[str | None, Query(description="Comma-separated; all by default.")] = None,
    k: Annotated[int, Query(ge=1, le=100)] = 3,
    test_fraction: Annotated[float, Query(ge=0.05, le=0.9)] = 0.2,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    standardize: bool = True,
) -> dict:
    parts = datasets.split(
        datasets.load(name), test_fraction=test_fraction, seed=seed, standardize=standardize
    )
    chosen = [f for f in features.split(",") if f] if features else None
    return baselines.baselines(parts, k=k, features=chosen)
