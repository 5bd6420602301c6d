"""Day 1's look at the Boston data."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine.datasets import load
from stepgrad.engine.errors import StepgradError
from stepgrad.engine.explore import correlations, knn_cost, knn_query, table


def test_table_head():
    t = table(load("boston"), rows=2)
    assert t["columns"][5] == "RM" and t["columns"][-1] == "MEDV"
    assert t["rows"][0][5] == 6.575 and t["rows"][0][-1] == 24.0


def test_correlations_against_an_independent_computation():
    ds = load("boston")
    c = correlations(ds)
    m = np.array(c["matrix"])
    assert m.shape == (14, 14)
    rm, medv = ds.features[:, 5], ds.target[:, 0]
    r = np.sum((rm - rm.mean()) * (medv - medv.mean())) / np.sqrt(
        np.sum((rm - rm.mean()) ** 2) * np.sum((medv - medv.mean()) ** 2)
    )
    assert m[5, 13] == pytest.approx(r, rel=1e-12)
    assert m[5, 13] == pytest.approx(0.6954, abs=1e-4)  # RM, the strongest positive
    assert m[12, 13] == pytest.approx(-0.7377, abs=1e-4)  # LSTAT, the strongest negative


def test_knn_query_finds_the_most_similar_houses():
    ds = load("boston")
    result = knn_query(ds, ["RM"], [7.0], k=3)
    rm = ds.features[:, 5]
    brute = sorted(range(len(rm)), key=lambda i: (abs(rm[i] - 7.0), i))[:3]
    assert result["neighbours"] == brute
    assert result["prediction"] == pytest.approx(ds.target[brute, 0].mean())
    with pytest.raises(StepgradError, match="no column 'ROOMS'"):
        knn_query(ds, ["ROOMS"], [7.0])


def test_knn_cost_is_measured_per_size():
    cost = knn_cost(sizes=(100, 1000))
    assert [c["rows"] for c in cost] == [100, 1000]
    assert all(c["seconds"] > 0 for c in cost)
