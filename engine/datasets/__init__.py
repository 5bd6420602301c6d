"""Data sets for the lessons: Boston house prices (shipped) and small synthetic ones.

    ds = load("boston")                      # 506 x 13, target MEDV in $1000s
    ds = load("moons", n_samples=300, noise=0.2, seed=1)
    parts = split(ds, test_fraction=0.2, seed=0, standardize=True)
    for rows in batches(len(parts.x_train), 32, np.random.default_rng(0)): ...

`list_datasets()` describes every data set with its parameters, defaults and ranges;
`DATASETS` is the registry behind it. Everything is deterministic: synthetic sets draw
only from `np.random.default_rng(seed)`, splits from `default_rng(seed).permutation(n)`.

Boston comes from scikit-learn 1.1.3 (BSD 3-Clause licence, (c) 2007-2021 the
scikit-learn developers), copied unchanged; see `engine.datasets.boston` for its
provenance and for the note on its `B` column (derived from the proportion of Black
residents by town), the reason scikit-learn removed it in 1.2. Its description, shown
to users, repeats that note.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stepgrad.engine.datasets import boston, synthetic
from stepgrad.engine.errors import StepgradError

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetInfo",
    "ParamSpec",
    "Split",
    "batches",
    "list_datasets",
    "load",
    "split",
]

REGRESSION = "regression"
CLASSIFICATION = "classification"
MAX_SEED = 2**32 - 1


@dataclass(frozen=True, eq=False)
class Dataset:
    """A table of float64 features (n, d) and a target column (n, 1)."""

    name: str
    features: np.ndarray  # float64 (n, d)
    target: np.ndarray  # float64 (n, 1); 0.0 / 1.0 for binary classification
    feature_names: tuple[str, ...]
    target_name: str
    task: str  # "regression" | "classification"
    description: str

    @property
    def n_rows(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True, eq=False)
class Split:
    """Training and test parts of a data set; `mean` and `std` are the standardisation
    fitted on the training features (None when not standardised)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    mean: np.ndarray | None = None  # (d,)
    std: np.ndarray | None = None  # (d,)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a data set: a whole number ("int") or a number ("float") in
    [low, high]."""

    name: str
    kind: str  # "int" | "float"
    default: int | float
    low: int | float
    high: int | float
    description: str

    def check(self, dataset: str, value: object) -> int | float:
        where = f"Dataset {dataset!r}: parameter {self.name!r}"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise StepgradError(f"{where} must be a whole number, not {value!r}.")
            value = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise StepgradError(f"{where} must be a number, not {value!r}.")
            value = float(value)
            if not math.isfinite(value):
                raise StepgradError(f"{where} must be finite, not {value!r}.")
        if not self.low <= value <= self.high:
            raise StepgradError(
                f"{where} is {value!r}; it must be between {self.low} and {self.high}."
            )
        return value

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "min": self.low,
            "max": self.high,
            "description": self.description,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: how to make a data set, and how to describe it."""

    name: str
    title: str
    task: str
    description: str
    feature_names: tuple[str, ...]
    target_name: str
    params: tuple[ParamSpec, ...]
    make: Callable[..., tuple[np.ndarray, np.ndarray]]


def _n_samples(default: int) -> ParamSpec:
    return ParamSpec("n_samples", "int", default, 4, 100_000, "number of rows")


def _noise(default: float, what: str) -> ParamSpec:
    return ParamSpec("noise", "float", default, 0.0, 10.0, what)


_SEED = ParamSpec("seed", "int", 0, 0, MAX_SEED, "seed of the random generator")
_JITTER = "standard deviation of the Gaussian jitter added to the points"

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="boston",
            title=boston.TITLE,
            task=REGRESSION,
            description=boston.DESCRIPTION,
            feature_names=boston.FEATURE_NAMES,
            target_name=boston.TARGET_NAME,
            params=(),
            make=boston.load_arrays,
        ),
        DatasetInfo(
            "line",
            "A noisy line",
            REGRESSION,
            "One feature x, uniform in [-1, 1], and y = slope * x + intercept plus Gaussian "
            "noise: the smallest regression problem, for a single Linear node.",
            ("x",),
            "y",
            (
                _n_samples(100),
                _noise(0.1, "standard deviation of the Gaussian noise added to y"),
                ParamSpec("slope", "float", 2.0, -1000.0, 1000.0, "slope of the line"),
                ParamSpec("intercept", "float", 1.0, -1000.0, 1000.0, "value at x = 0"),
                _SEED,
            ),
            synthetic.line,
        ),
        DatasetInfo(
            "xor",
            "XOR",
            CLASSIFICATION,
            "Points in the square [-1, 1]^2, labelled 1 where x1 * x2 > 0 (first and third "
            "quadrants) and 0 elsewhere, then jittered: no single line separates the "
            "classes, so it needs a hidden layer.",
            ("x1", "x2"),
            "label",
            (_n_samples(200), _noise(0.1, _JITTER), _SEED),
            synthetic.xor,
        ),
        DatasetInfo(
            "moons",
            "Two moons",
            CLASSIFICATION,
            "Two interleaving half circles (scikit-learn's make_moons formula), labels 0 "
            "and 1, jittered by Gaussian noise.",
            ("x1", "x2"),
            "label",
            (_n_samples(200), _noise(0.1, _JITTER), _SEED),
            synthetic.moons,
        ),
        DatasetInfo(
            "circles",
            "Two circles",
            CLASSIFICATION,
            "Two concentric circles (scikit-learn's make_circles formula): the outer one of "
            "radius 1 is label 0, the inner one of radius `factor` label 1.",
            ("x1", "x2"),
            "label",
            (
                _n_samples(200),
                _noise(0.05, _JITTER),
                ParamSpec("factor", "float", 0.5, 0.01, 0.99, "radius of the inner circle"),
                _SEED,
            ),
            synthetic.circles,
        ),
        DatasetInfo(
            "spiral",
            "Two-arm spiral",
            CLASSIFICATION,
            "Two interleaved spiral arms around the origin, labels 0 and 1: hard for a "
            "small network, a good test of depth and training time.",
            ("x1", "x2"),
            "label",
            (
                _n_samples(200),
                _noise(0.05, _JITTER),
                ParamSpec("turns", "float", 1.0, 0.25, 5.0, "number of turns of each arm"),
                _SEED,
            ),
            synthetic.spiral,
        ),
    )
}


def _info(name: object) -> DatasetInfo:
    if not isinstance(name, str) or name not in DATASETS:
        raise StepgradError(f"Unknown dataset {name!r}; the datasets are {', '.join(DATASETS)}.")
    return DATASETS[name]


def _check_params(info: DatasetInfo, params: dict[str, object]) -> dict[str, int | float]:
    specs = {spec.name: spec for spec in info.params}
    unknown = sorted(set(params) - set(specs), key=str)
    if unknown:
        known = ", ".join(specs) if specs else "none"
        raise StepgradError(
            f"Dataset {info.name!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"its parameters are: {known}."
        )
    return {
        name: spec.check(info.name, params[name]) if name in params else spec.default
        for name, spec in specs.items()
    }


def load(name: str, **params: object) -> Dataset:
    """The data set `name`, made with `params` (defaults for the ones not given)."""
    info = _info(name)
    values = _check_params(info, params)
    features, target = info.make(**values)
    return Dataset(
        name=info.name,
        features=np.asarray(features, dtype=np.float64),
        target=np.asarray(target, dtype=np.float64).reshape(-1, 1),
        feature_names=tuple(info.feature_names),
        target_name=info.target_name,
        task=info.task,
        description=info.description,
    )


def list_datasets() -> list[dict[str, object]]:
    """Every data set: name, title, task, description, feature and target names, its
    parameters (name, type, default, min, max, description), its number of `inputs`
    (features) and of `classes` (None for regression)."""
    return [
        {
            "name": info.name,
            "title": info.title,
            "task": info.task,
            "description": info.description,
            "feature_names": list(info.feature_names),
            "target_name": info.target_name,
            "params": [spec.to_dict() for spec in info.params],
            "inputs": len(info.feature_names),
            # every classification set here has labels 0 and 1
            "classes": 2 if info.task == CLASSIFICATION else None,
        }
        for info in DATASETS.values()
    ]


def split(
    ds: Dataset, test_fraction: float = 0.2, seed: int = 0, standardize: bool = False
) -> Split:
    """Shuffle the rows with `default_rng(seed).permutation(n)`; the first
    round(n * test_fraction) go to the test part (at most n - 1, so training keeps a row).

    With `standardize`, each feature is centred and scaled by the mean and standard
    deviation of the TRAINING rows only (a standard deviation of 0 counts as 1), and
    both parts are transformed with them. The target is never standardised."""
    if not isinstance(ds, Dataset):
        raise StepgradError("split() needs a Dataset, as returned by load().")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise StepgradError(f"test_fraction must be a number, not {test_fraction!r}.")
    if not 0.0 <= float(test_fraction) <= 0.9:
        raise StepgradError(f"test_fraction is {test_fraction!r}; it must be between 0 and 0.9.")
    if (
        isinstance(seed, bool)
        or not isinstance(seed, numbers.Integral)
        or not (0 <= seed <= MAX_SEED)
    ):
        raise StepgradError(f"seed must be a whole number from 0 to 2**32 - 1, not {seed!r}.")
    if not isinstance(standardize, bool):
        raise StepgradError(f"standardize must be True or False, not {standardize!r}.")
    n = ds.n_rows
    n_test = min(round(n * float(test_fraction)), n - 1)
    order = np.random.default_rng(int(seed)).permutation(n)
    test_rows, train_rows = order[:n_test], order[n_test:]
    x_train, x_test = ds.features[train_rows], ds.features[test_rows]
    mean = std = None
    if standardize:
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std = np.where(std == 0.0, 1.0, std)
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
    return Split(
        x_train=x_train,
        y_train=ds.target[train_rows],
        x_test=x_test,
        y_test=ds.target[test_rows],
        feature_names=ds.feature_names,
        target_name=ds.target_name,
        mean=mean,
        std=std,
    )


def batches(n_rows: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One shuffled epoch as row-index arrays of `batch_size` (the last one smaller):
    every row appears exactly once."""
    if isinstance(n_rows, bool) or not isinstance(n_rows, numbers.Integral) or n_rows < 0:
        raise StepgradError(f"n_rows must be a whole number of 0 or more, not {n_rows!r}.")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise StepgradError(f"batch_size must be a positive whole number, not {batch_size!r}.")
    order = rng.permutation(int(n_rows))
    return [order[start : start + batch_size] for start in range(0, int(n_rows), batch_size)]
