"""engine.datasets: Boston (shipped), synthetic sets, splits and mini-batches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from stepgrad.engine import datasets
from stepgrad.engine.datasets import Dataset, batches, list_datasets, load, split
from stepgrad.engine.errors import StepgradError

BOSTON_NAMES = (
    "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B",
    "LSTAT",
)  # fmt: skip
DATA_DIR = Path(datasets.__file__).parent
SYNTHETIC = ("line", "xor", "moons", "circles", "spiral")
CLASSIFIERS = ("xor", "moons", "circles", "spiral")


# ---------------------------------------------------------------- Boston


def test_boston_shape_names_and_types():
    ds = load("boston")
    assert isinstance(ds, Dataset)
    assert ds.name == "boston"
    assert ds.features.shape == (506, 13)
    assert ds.target.shape == (506, 1)
    assert ds.features.dtype == np.float64 and ds.target.dtype == np.float64
    assert ds.feature_names == BOSTON_NAMES
    assert ds.target_name == "MEDV"
    assert ds.task == "regression"


def test_boston_first_and_last_rows_are_exact():
    ds = load("boston")
    first = [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98]
    assert ds.features[0].tolist() == first
    assert ds.target[0, 0] == 24.0
    last = [0.04741, 0, 11.93, 0, 0.573, 6.03, 80.8, 2.505, 1, 273, 21, 396.9, 7.88]
    assert ds.features[-1].tolist() == last
    assert ds.target[-1, 0] == 11.9


def test_boston_target_statistics():
    ds = load("boston")
    assert ds.target.mean() == pytest.approx(22.532806324110677, abs=1e-12)
    assert round(float(ds.target.mean()), 2) == 22.53
    assert ds.target.min() == 5.0 and ds.target.max() == 50.0
    # CHAS is a 0/1 dummy with 35 tracts on the river
    assert set(np.unique(ds.features[:, 3])) == {0.0, 1.0}
    assert ds.features[:, 3].sum() == 35


def test_boston_csv_is_scikit_learns_file_unchanged():
    raw = (DATA_DIR / "boston_house_prices.csv").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == (
        "d98212636026544fc9b9c0f372e5f819872e6fa6fa757ab025efdda22180f2d6"
    )
    lines = raw.decode().splitlines()
    assert lines[0].startswith("506,13")
    assert lines[1].replace('"', "").split(",") == [*BOSTON_NAMES, "MEDV"]
    assert len(lines) == 2 + 506


def test_boston_description_explains_the_b_column():
    ds = load("boston")
    text = ds.description
    assert "B column" in text
    assert "1000(Bk - 0.63)^2" in text
    assert "Black residents" in text
    assert "self-segregation" in text
    assert "removed it in 1.2" in text
    assert "scikit-learn 1.1.3" in text and "BSD 3-Clause" in text
    entry = next(d for d in list_datasets() if d["name"] == "boston")
    assert entry["description"] == text
    assert "Bk is the proportion of black people" in datasets.boston.full_description()


def test_boston_loads_are_independent_copies():
    first = load("boston")
    first.features[0, 0] = -1.0
    first.target[0, 0] = -1.0
    again = load("boston")
    assert again.features[0, 0] == 0.00632
    assert again.target[0, 0] == 24.0


def test_boston_takes_no_parameters():
    with pytest.raises(StepgradError, match=r"'boston' has no parameter\(s\) 'seed'"):
        load("boston", seed=1)


def test_unknown_dataset_is_named():
    with pytest.raises(StepgradError, match=r"Unknown dataset 'iris'.*boston, line"):
        load("iris")


# ---------------------------------------------------------------- list_datasets


def test_list_datasets_describes_every_dataset_with_defaults():
    entries = {d["name"]: d for d in list_datasets()}
    assert list(entries) == ["boston", *SYNTHETIC]
    for entry in entries.values():
        assert set(entry) >= {"name", "title", "task", "description", "params"}
        assert entry["description"]
    assert entries["boston"]["params"] == []
    line_params = {p["name"]: p for p in entries["line"]["params"]}
    assert {n: p["default"] for n, p in line_params.items()} == {
        "n_samples": 100, "noise": 0.1, "slope": 2.0, "intercept": 1.0, "seed": 0,
    }  # fmt: skip
    assert (line_params["n_samples"]["min"], line_params["n_samples"]["max"]) == (4, 100_000)
    assert (line_params["noise"]["min"], line_params["noise"]["max"]) == (0.0, 10.0)
    assert {p["name"] for p in entries["circles"]["params"]} == {
        "n_samples", "noise", "factor", "seed",
    }  # fmt: skip
    assert entries["moons"]["task"] == "classification"
    assert entries["line"]["task"] == "regression"


def test_defaults_from_list_datasets_reproduce_load():
    for entry in list_datasets():
        params = {p["name"]: p["default"] for p in entry["params"]}
        a, b = load(entry["name"]), load(entry["name"], **params)
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.target, b.target)


# ---------------------------------------------------------------- synthetic


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_shapes_and_determinism(name):
    ds = load(name, n_samples=101)
    d = 1 if name == "line" else 2
    assert ds.features.shape == (101, d)
    assert ds.target.shape == (101, 1)
    assert ds.features.dtype == np.float64 and ds.target.dtype == np.float64
    assert len(ds.feature_names) == d
    same = load(name, n_samples=101)
    np.testing.assert_array_equal(ds.features, same.features)
    np.testing.assert_array_equal(ds.target, same.target)
    other = load(name, n_samples=101, seed=1)
    assert not np.array_equal(ds.features, other.features)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classification_labels_are_balanced_zero_one(name):
    ds = load(name, n_samples=200)
    assert ds.task == "classification"
    assert set(np.unique(ds.target)) == {0.0, 1.0}
    if name != "xor":  # xor's classes are balanced only on average
        assert ds.target.sum() == 100


def test_line_follows_its_formula():
    exact = load("line", n_samples=50, noise=0.0, slope=-3.0, intercept=0.5, seed=4)
    x = exact.features[:, 0]
    np.testing.assert_allclose(exact.target[:, 0], -3.0 * x + 0.5, rtol=0, atol=1e-12)
    assert x.min() >= -1.0 and x.max() <= 1.0
    noisy = load("line", n_samples=5000, noise=0.5, slope=-3.0, intercept=0.5, seed=4)
    residual = noisy.target[:, 0] - (-3.0 * noisy.features[:, 0] + 0.5)
    assert residual.std() == pytest.approx(0.5, rel=0.05)


def test_xor_labels_are_the_quadrants_without_noise():
    ds = load("xor", n_samples=400, noise=0.0, seed=3)
    x1, x2 = ds.features[:, 0], ds.features[:, 1]
    np.testing.assert_array_equal(ds.target[:, 0], (x1 * x2 > 0).astype(float))
    assert np.abs(ds.features).max() <= 1.0


def test_moons_and_circles_follow_sklearns_formulas_without_noise():
    moons = load("moons", n_samples=100, noise=0.0)
    upper = moons.features[moons.target[:, 0] == 0]
    lower = moons.features[moons.target[:, 0] == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert upper[:, 1].min() >= -1e-12 and lower[:, 1].max() <= 0.5 + 1e-12

    circles = load("circles", n_samples=100, noise=0.0, factor=0.3)
    radius = np.hypot(circles.features[:, 0], circles.features[:, 1])
    np.testing.assert_allclose(radius[circles.target[:, 0] == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(radius[circles.target[:, 0] == 1], 0.3, atol=1e-12)


def test_spiral_arms_are_half_a_turn_apart():
    ds = load("spiral", n_samples=200, noise=0.0, turns=1.0)
    radius = np.hypot(ds.features[:, 0], ds.features[:, 1])
    assert radius.max() == pytest.approx(1.0)
    # without noise, a point of arm 1 is a point of arm 0 turned by pi: (x, y) -> (-x, -y)
    arm0 = ds.features[ds.target[:, 0] == 0]
    arm1 = ds.features[ds.target[:, 0] == 1]
    np.testing.assert_allclose(
        -arm1[np.argsort(np.hypot(*arm1.T))], arm0[np.argsort(np.hypot(*arm0.T))], atol=1e-12
    )


@pytest.mark.parametrize("name", SYNTHETIC)
def test_noise_parameter_moves_points_by_about_its_size(name):
    clean = load(name, n_samples=2000, noise=0.0, seed=7)
    noisy = load(name, n_samples=2000, noise=0.3, seed=7)
    if name == "line":  # the noise is on y; x stays
        np.testing.assert_array_equal(noisy.features, clean.features)
        moved = noisy.target - clean.target
    else:  # the noise jitters the points; labels stay
        np.testing.assert_array_equal(noisy.target, clean.target)
        moved = noisy.features - clean.features
    assert moved.std() == pytest.approx(0.3, rel=0.06)
    assert abs(moved.mean()) < 0.03


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_samples": 3}, "'n_samples' is 3; it must be between 4 and 100000"),
        ({"n_samples": 100_001}, "between 4 and 100000"),
        ({"n_samples": 10.0}, "'n_samples' must be a whole number"),
        ({"n_samples": True}, "'n_samples' must be a whole number"),
        ({"noise": -0.1}, "'noise' is -0.1; it must be between 0.0 and 10.0"),
        ({"noise": 10.5}, "between 0.0 and 10.0"),
        ({"noise": "0.1"}, "'noise' must be a number"),
        ({"noise": float("nan")}, "'noise' must be finite"),
        ({"seed": -1}, "'seed' is -1"),
        ({"seed": 1.5}, "'seed' must be a whole number"),
        ({"factor": 0.5}, r"'moons' has no parameter\(s\) 'factor'"),
        ({"bogus": 1, "other": 2}, r"no parameter\(s\) 'bogus', 'other'; its parameters are"),
    ],
)
def test_bad_parameters_are_rejected_with_a_sentence(params, message):
    with pytest.raises(StepgradError, match=message):
        load("moons", **params)


def test_parameter_types_are_normalised():
    a = load("circles", n_samples=np.int64(40), noise=0, factor=np.float32(0.25))
    b = load("circles", n_samples=40, noise=0.0, factor=0.25)
    np.testing.assert_array_equal(a.features, b.features)
    with pytest.raises(StepgradError, match=r"'factor' is 1\.0"):
        load("circles", factor=1)


# ---------------------------------------------------------------- split


def test_split_sizes_and_partition():
    ds = load("boston")
    parts = split(ds, test_fraction=0.2, seed=0)
    assert parts.x_train.shape == (405, 13) and parts.y_train.shape == (405, 1)
    assert parts.x_test.shape == (101, 13) and parts.y_test.shape == (101, 1)
    assert parts.mean is None and parts.std is None
    assert parts.feature_names == BOSTON_NAMES and parts.target_name == "MEDV"
    # the parts are exactly the rows of default_rng(seed).permutation(n)
    order = np.random.default_rng(0).permutation(506)
    np.testing.assert_array_equal(parts.x_test, ds.features[order[:101]])
    np.testing.assert_array_equal(parts.x_train, ds.features[order[101:]])
    np.testing.assert_array_equal(parts.y_test, ds.target[order[:101]])
    together = np.vstack([parts.x_train, parts.x_test])
    assert sorted(map(tuple, together)) == sorted(map(tuple, ds.features))


@pytest.mark.parametrize(("fraction", "n_test"), [(0.0, 0), (0.1, 51), (0.5, 253), (0.9, 455)])
def test_split_rounds_the_test_size(fraction, n_test):
    parts = split(load("boston"), test_fraction=fraction)
    assert len(parts.x_test) == n_test == round(506 * fraction)
    assert len(parts.x_train) == 506 - n_test


def test_split_keeps_a_training_row():
    parts = split(load("line", n_samples=4), test_fraction=0.9)
    assert len(parts.x_train) == 1 and len(parts.x_test) == 3


def test_split_is_deterministic_per_seed():
    ds = load("boston")
    a, b = split(ds, seed=3), split(ds, seed=3)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = split(ds, seed=4)
    assert not np.array_equal(a.x_test, c.x_test)
    assert not np.array_equal(a.y_train, c.y_train)


def test_standardisation_is_fitted_on_the_training_rows_only():
    ds = load("boston")
    raw = split(ds, test_fraction=0.2, seed=0)
    parts = split(ds, test_fraction=0.2, seed=0, standardize=True)
    np.testing.assert_allclose(parts.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(parts.x_train.std(axis=0), 1.0, rtol=1e-12)
    assert np.abs(parts.x_test.mean(axis=0)).max() > 0.01
    assert np.abs(parts.x_test.std(axis=0) - 1.0).max() > 0.01
    # the fitted statistics: those of the training part, computed independently
    train_mean = np.array([sum(col) / len(col) for col in raw.x_train.T])
    train_std = np.sqrt(((raw.x_train - train_mean) ** 2).sum(axis=0) / len(raw.x_train))
    np.testing.assert_allclose(parts.mean, train_mean, rtol=1e-12)
    np.testing.assert_allclose(parts.std, train_std, rtol=1e-12)
    assert np.abs(parts.mean - ds.features.mean(axis=0)).max() > 0.01  # not the full data
    np.testing.assert_allclose(parts.x_test, (raw.x_test - train_mean) / train_std, rtol=1e-12)
    # the target is never standardised
    np.testing.assert_array_equal(parts.y_train, raw.y_train)
    np.testing.assert_array_equal(parts.y_test, raw.y_test)


def test_standardisation_of_a_constant_column_divides_by_one():
    constant = Dataset(
        "toy", np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]]), np.zeros((4, 1)),
        ("a", "c"), "y", "regression", "",
    )  # fmt: skip
    parts = split(constant, test_fraction=0.25, standardize=True)
    assert parts.std[1] == 1.0
    np.testing.assert_array_equal(parts.x_train[:, 1], 0.0)
    np.testing.assert_array_equal(parts.x_test[:, 1], 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 0.95}, "test_fraction is 0.95; it must be between 0 and 0.9"),
        ({"test_fraction": -0.1}, "between 0 and 0.9"),
        ({"test_fraction": "0.2"}, "test_fraction must be a number"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": 0.5}, "seed must be a whole number"),
        ({"standardize": 1}, "standardize must be True or False"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, message):
    with pytest.raises(StepgradError, match=message):
        split(load("line"), **kwargs)


def test_split_needs_a_dataset():
    with pytest.raises(StepgradError, match="needs a Dataset"):
        split(np.zeros((4, 2)))


# ---------------------------------------------------------------- batches


@pytest.mark.parametrize(("n_rows", "batch_size"), [(405, 32), (10, 3), (10, 10), (5, 8)])
def test_batches_cover_every_row_once(n_rows, batch_size):
    rng = np.random.default_rng(0)
    for _ in range(3):  # three epochs, each a fresh shuffle
        parts = batches(n_rows, batch_size, rng)
        sizes = [len(p) for p in parts]
        assert len(parts) == -(-n_rows // batch_size)
        assert all(s == batch_size for s in sizes[:-1])
        assert sizes[-1] == n_rows - batch_size * (len(parts) - 1)
        np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n_rows))


def test_batches_shuffle_deterministically():
    a = batches(100, 16, np.random.default_rng(5))
    b = batches(100, 16, np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    np.testing.assert_array_equal(np.concatenate(a), np.random.default_rng(5).permutation(100))
    assert not np.array_equal(np.concatenate(a), np.arange(100))
    rng = np.random.default_rng(5)
    first, second = batches(100, 16, rng), batches(100, 16, rng)
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_batches_edge_cases():
    assert batches(0, 4, np.random.default_rng(0)) == []
    with pytest.raises(StepgradError, match="batch_size must be a positive whole number"):
        batches(10, 0, np.random.default_rng(0))
    with pytest.raises(StepgradError, match="n_rows must be"):
        batches(-1, 2, np.random.default_rng(0))
