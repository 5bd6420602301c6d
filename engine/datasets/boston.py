"""The Boston house prices data set, shipped with the project.

Provenance: `boston_house_prices.csv` and `boston_house_prices.rst` beside this module
are byte-for-byte copies of `sklearn/datasets/data/boston_house_prices.csv` and
`sklearn/datasets/descr/boston_house_prices.rst` from the scikit-learn 1.1.3 wheel
(CSV sha256 d98212636026544fc9b9c0f372e5f819872e6fa6fa757ab025efdda22180f2d6).
scikit-learn is distributed under the BSD 3-Clause licence, "Copyright (c) 2007-2021 The
scikit-learn developers. All rights reserved."; its terms (keep the copyright notice,
the list of conditions and the disclaimer; do not use the holders' names to endorse
derived products) apply to these two files. The data themselves are Harrison and
Rubinfeld's, 'Hedonic prices and the demand for clean air', J. Environ. Economics &
Management 5, 81-102 (1978), via the StatLib archive and the UCI repository.

The CSV's first line is "506,13" (rows, features), the second the column names; then
506 rows of 13 features and the target MEDV, the median value of owner-occupied homes
in $1000s.

An ethical note, for teachers: the column `B` is 1000(Bk - 0.63)^2, where Bk is the
proportion of Black residents by town. The encoding assumes that racial
self-segregation has a (parabolic) effect on house prices; for that reason
scikit-learn deprecated the data set in 1.0 and removed it in 1.2. It is kept here,
unchanged, because the course is built on it and because the column itself is worth
discussing in class; `DESCRIPTION` says so to every user who picks it.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import numpy as np

# found through the package, so an installed wheel has them too
CSV_PATH = files("stepgrad.engine.datasets") / "boston_house_prices.csv"
RST_PATH = files("stepgrad.engine.datasets") / "boston_house_prices.rst"

FEATURE_NAMES = (
    "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B",
    "LSTAT",
)  # fmt: skip
TARGET_NAME = "MEDV"
N_ROWS = 506

TITLE = "Boston house prices"

DESCRIPTION = (
    "Boston house prices (Harrison and Rubinfeld, 1978): 506 towns and suburbs of the "
    "Boston area, 13 features (CRIM crime rate, ZN, INDUS, CHAS river, NOX pollution, "
    "RM rooms per dwelling, AGE, DIS distance to employment centres, RAD, TAX, PTRATIO "
    "pupil-teacher ratio, B, LSTAT % lower status), and the target MEDV, the median home "
    "value in $1000s. "
    "A note for the class: the B column is 1000(Bk - 0.63)^2, where Bk is the proportion "
    "of Black residents by town, an encoding that assumes racial self-segregation affects "
    "house prices; for that reason scikit-learn deprecated this data set in version 1.0 "
    "and removed it in 1.2, and it is worth discussing before using it. "
    "Source: the copy shipped with scikit-learn 1.1.3 (BSD 3-Clause licence, "
    "(c) 2007-2021 the scikit-learn developers), from the StatLib and UCI archives."
)


@cache
def _read() -> tuple[np.ndarray, np.ndarray]:
    """Features (506, 13) and target (506, 1), read once; the cached arrays are read-only."""
    with CSV_PATH.open(encoding="utf-8") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=2, dtype=np.float64)
    if table.shape != (N_ROWS, len(FEATURE_NAMES) + 1):  # pragma: no cover - shipped file
        raise RuntimeError(f"{CSV_PATH} has shape {table.shape}; expected (506, 14).")
    features = np.ascontiguousarray(table[:, :-1])
    target = np.ascontiguousarray(table[:, -1:])
    features.flags.writeable = False
    target.flags.writeable = False
    return features, target


def load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Fresh (writable) copies of the features (506, 13) and the target (506, 1)."""
    features, target = _read()
    return features.copy(), target.copy()


def full_description() -> str:
    """scikit-learn's original description of the data set (reStructuredText)."""
    return RST_PATH.read_text(encoding="utf-8")
