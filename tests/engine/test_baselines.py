"""engine.baselines, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepgrad.engine.baselines import baselines, knn_predict, least_squares, mean_predictor, mse
from stepgrad.engine.datasets import load, split
from stepgrad.engine.errors import StepgradError


@pytest.fixture(scope="module")
def boston_split():
    return split(load("boston"), test_fraction=0.2, seed=0)


@pytest.fixture(scope="module")
def boston_standardized():
    return split(load("boston"), test_fraction=0.2, seed=0, standardize=True)


def brute_force_knn(x_train, y_train, query, k):
    """The course's find_price_by_similar, written as plainly as possible."""
    distances = []
    for i, row in enumerate(x_train):
        d = math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(row, query, strict=True)))
        distances.append((d, i))
    distances.sort()  # by distance, then by row index
    nearest = [i for _, i in distances[:k]]
    return sum(float(y_train[i, 0]) for i in nearest) / k


# ---------------------------------------------------------------- mse / mean


def test_mse_values_and_shapes():
    assert mse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(4.0 / 3.0)
    column = np.array([[1.0], [2.0], [3.0]])
    # (n, 1) against (n,) is compared row by row, never broadcast to (n, n)
    assert mse(column, np.array([1.0, 2.0, 5.0])) == pytest.approx(4.0 / 3.0)
    assert mse(column, 2.0) == pytest.approx(2.0 / 3.0)
    with pytest.raises(StepgradError, match="3 targets and 2 predictions"):
        mse(column, [1.0, 2.0])
    with pytest.raises(StepgradError, match="at least one value"):
        mse([], [])


def test_mean_predictor():
    assert mean_predictor(np.array([[1.0], [2.0], [6.0]])) == 3.0
    assert isinstance(mean_predictor([1, 2]), float)
    with pytest.raises(StepgradError):
        mean_predictor([])


def test_mean_predictor_on_boston(boston_split):
    y_train = [float(v) for v in boston_split.y_train[:, 0]]
    y_test = [float(v) for v in boston_split.y_test[:, 0]]
    mean = sum(y_train) / len(y_train)
    expected = sum((v - mean) ** 2 for v in y_test) / len(y_test)
    result = baselines(boston_split)["mean"]
    assert result["value"] == pytest.approx(mean, abs=1e-12)
    assert result["test_mse"] == pytest.approx(expected, abs=1e-9)
    assert result["test_mse"] == pytest.approx(88.50749756753453, abs=1e-9)
    assert 60 < result["test_mse"] < 110


# ---------------------------------------------------------------- KNN


def test_knn_matches_a_brute_force_double_loop(boston_split):
    s = boston_split
    queries = s.x_test[:7]
    for k in (1, 3, 5):
        got = knn_predict(s.x_train, s.y_train, queries, k=k)
        assert got.shape == (7, 1)
        for q, value in zip(queries, got[:, 0], strict=True):
            assert value == pytest.approx(brute_force_knn(s.x_train, s.y_train, q, k), abs=1e-12)


def test_knn_on_one_feature_like_the_course(boston_split):
    s = boston_split
    rm = s.feature_names.index("RM")
    x_train = s.x_train[:, rm]  # 1-D: one feature
    got = knn_predict(x_train, s.y_train[:, 0], s.x_test[:5, rm], k=3)
    assert got.shape == (5,)
    for q, value in zip(s.x_test[:5, rm], got, strict=True):
        expected = brute_force_knn(x_train[:, None], s.y_train, [q], 3)
        assert value == pytest.approx(expected, abs=1e-12)


def test_knn_breaks_ties_by_row_order():
    x_train = np.array([[1.0], [-1.0], [1.0], [3.0]])
    y_train = np.array([[10.0], [20.0], [30.0], [40.0]])
    # rows 0, 1 and 2 are all at distance 1 from 0: the first two rows win
    assert knn_predict(x_train, y_train, np.array([[0.0]]), k=2)[0, 0] == 15.0
    assert knn_predict(x_train, y_train, np.array([[0.0]]), k=1)[0, 0] == 10.0
    assert knn_predict(x_train, y_train, np.array([[2.0]]), k=1)[0, 0] == 10.0


def test_knn_with_k_equal_to_n_is_the_mean():
    x_train = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    y_train = np.array([1.0, 2.0, 6.0])
    np.testing.assert_array_equal(knn_predict(x_train, y_train, [[9.0, 9.0], [0.0, 0.0]], 3), 3.0)


def test_knn_chunks_give_the_same_answer(monkeypatch):
    import stepgrad.engine.baselines as module

    rng = np.random.default_rng(0)
    x_train, y_train, queries = (
        rng.normal(size=(50, 3)),
        rng.normal(size=(50, 1)),
        rng.normal(size=(23, 3)),
    )
    whole = knn_predict(x_train, y_train, queries, k=4)
    monkeypatch.setattr(module, "_KNN_CHUNK_ELEMENTS", 50 * 3 * 5)  # chunks of 5 queries
    np.testing.assert_array_equal(knn_predict(x_train, y_train, queries, k=4), whole)


def test_knn_on_all_of_boston_finds_each_row_itself():
    ds = load("boston")
    predictions = knn_predict(ds.features, ds.target, ds.features, k=1)
    # each row's nearest neighbour is itself (Boston has no duplicated rows)
    np.testing.assert_array_equal(predictions, ds.target)


def test_knn_rejects_bad_input():
    x, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(StepgradError, match="k must be a whole number from 1 to 4"):
        knn_predict(x, y, x, k=5)
    with pytest.raises(StepgradError, match="k must be"):
        knn_predict(x, y, x, k=0)
    with pytest.raises(StepgradError, match="1 feature"):
        knn_predict(x, y, np.zeros((2, 1)), k=1)
    with pytest.raises(StepgradError, match="y_train has shape"):
        knn_predict(x, np.zeros(3), x, k=1)


# ---------------------------------------------------------------- least squares


def test_least_squares_matches_the_normal_equations(boston_standardized):
    s = boston_standardized
    w, b = least_squares(s.x_train, s.y_train)
    assert w.shape == (13, 1) and isinstance(b, float)
    design = np.hstack([s.x_train, np.ones((len(s.x_train), 1))])
    solution = np.linalg.solve(design.T @ design, design.T @ s.y_train)
    np.testing.assert_allclose(w, solution[:-1], rtol=1e-8, atol=1e-9)
    assert b == pytest.approx(float(solution[-1, 0]), rel=1e-10)
    # on standardised features the bias is the training mean of the target
    assert b == pytest.approx(float(s.y_train.mean()), rel=1e-10)


def test_least_squares_recovers_an_exact_line():
    ds = load("line", n_samples=30, noise=0.0, slope=-1.5, intercept=4.0)
    w, b = least_squares(ds.features[:, 0], ds.target[:, 0])
    assert w.shape == (1,)
    assert w[0] == pytest.approx(-1.5, abs=1e-12)
    assert b == pytest.approx(4.0, abs=1e-12)


def test_least_squares_test_mse_on_boston(boston_split, boston_standardized):
    result = baselines(boston_standardized)["least_squares"]
    s = boston_standardized
    design = np.hstack([s.x_train, np.ones((len(s.x_train), 1))])
    solution = np.linalg.solve(design.T @ design, design.T @ s.y_train)
    predictions = np.hstack([s.x_test, np.ones((len(s.x_test), 1))]) @ solution
    expected = float(np.mean((s.y_test - predictions) ** 2))
    assert result["test_mse"] == pytest.approx(expected, rel=1e-9)
    assert result["test_mse"] == pytest.approx(20.8336835837404, rel=1e-9)
    assert 15 < result["test_mse"] < 35
    np.testing.assert_allclose(result["weights"], solution[:-1, 0], rtol=1e-8, atol=1e-9)
    assert result["bias"] == pytest.approx(float(solution[-1, 0]), rel=1e-10)
    # a linear fit does not care about standardisation
    raw = baselines(boston_split)["least_squares"]
    assert raw["test_mse"] == pytest.approx(result["test_mse"], rel=1e-9)


# ---------------------------------------------------------------- baselines()


def test_baselines_report_on_boston(boston_split, boston_standardized):
    report = baselines(boston_standardized)
    assert set(report) == {"mean", "least_squares", "knn"}
    assert report["knn"]["k"] == 3
    assert report["knn"]["features"] == list(boston_standardized.feature_names)
    s = boston_standardized
    expected = [brute_force_knn(s.x_train, s.y_train, q, 3) for q in s.x_test]
    knn_mse = float(np.mean((s.y_test[:, 0] - np.array(expected)) ** 2))
    assert report["knn"]["test_mse"] == pytest.approx(knn_mse, rel=1e-12)
    assert report["knn"]["test_mse"] == pytest.approx(8.442343234323435, rel=1e-9)
    # on raw features the large TAX and B columns dominate the distance: much worse
    assert baselines(boston_split)["knn"]["test_mse"] == pytest.approx(37.54599559955996, rel=1e-9)
    # the report is JSON-ready
    assert isinstance(report["least_squares"]["weights"], list)
    assert all(isinstance(v, float) for v in report["least_squares"]["weights"])


def test_baselines_on_chosen_features(boston_standardized):
    s = boston_standardized
    report = baselines(s, k=5, features=["RM", "LSTAT"])
    assert report["knn"] == {
        "k": 5, "features": ["RM", "LSTAT"], "test_mse": report["knn"]["test_mse"],
    }  # fmt: skip
    cols = [s.feature_names.index("RM"), s.feature_names.index("LSTAT")]
    expected = knn_predict(s.x_train[:, cols], s.y_train, s.x_test[:, cols], k=5)
    assert report["knn"]["test_mse"] == mse(s.y_test, expected)
    w, b = least_squares(s.x_train[:, cols], s.y_train)
    assert report["least_squares"]["weights"] == pytest.approx(w[:, 0].tolist())
    assert report["least_squares"]["bias"] == pytest.approx(b)
    assert len(report["least_squares"]["weights"]) == 2
    # the mean predictor does not depend on the features
    assert report["mean"] == baselines(s)["mean"]


def test_baselines_reject_unknown_features_and_empty_tests(boston_split):
    with pytest.raises(StepgradError, match="Unknown feature\\(s\\) 'ROOMS'; the features are"):
        baselines(boston_split, features=["RM", "ROOMS"])
    with pytest.raises(StepgradError, match="at least one feature"):
        baselines(boston_split, features=[])
    with pytest.raises(StepgradError, match="list of feature names"):
        baselines(boston_split, features="RM")
    no_test = split(load("boston"), test_fraction=0.0)
    with pytest.raises(StepgradError, match="no test rows"):
        baselines(no_test)
