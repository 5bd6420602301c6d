"""Small synthetic data sets, deterministic for a given seed.

Each generator takes already validated parameters (see `engine.datasets.DATASETS`) and
returns `(features, target)`: float64 arrays of shape (n, d) and (n, 1). Classification
targets are 0.0 or 1.0. Every generator draws from `np.random.default_rng(seed)` only,
so the same parameters always give the same arrays.
"""

from __future__ import annotations

import numpy as np


def _as_column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _shuffled(
    rng: np.random.Generator, features: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(features))
    return features[order], labels[order]


def line(
    n_samples: int, noise: float, slope: float, intercept: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """$y = slope \\cdot x + intercept + noise \\cdot N(0, 1)$, with x uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n_samples)
    y = slope * x + intercept + noise * rng.standard_normal(n_samples)
    return _as_column(x), _as_column(y)


def xor(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-1, 1]^2, labelled 1 where x1 * x2 > 0 (the first and third
    quadrants); then jittered by `noise` * N(0, 1), so labels overlap near the axes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    x = x + noise * rng.standard_normal(x.shape)
    return x, _as_column(labels)


def moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's make_moons formula): the upper one,
    label 0, is (cos t, sin t); the lower one, label 1, is (1 - cos t, 0.5 - sin t), for t
    in [0, pi]. Rows are shuffled, then jittered by `noise` * N(0, 1)."""
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    features = np.vstack(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    labels = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    features, labels = _shuffled(rng, features, labels)
    features = features + noise * rng.standard_normal(features.shape)
    return features, _as_column(labels)


def circles(
    n_samples: int, noise: float, factor: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles (scikit-learn's make_circles formula): the outer one of
    radius 1, label 0, the inner one of radius `factor`, label 1. Rows are shuffled, then
    jittered by `noise` * N(0, 1)."""
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    features = np.vstack(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            factor * np.column_stack([np.cos(t_in), np.sin(t_in)]),
        ]
    )
    labels = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    features, labels = _shuffled(rng, features, labels)
    features = features + noise * rng.standard_normal(features.shape)
    return features, _as_column(labels)


def spiral(n_samples: int, noise: float, turns: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms around the origin: along each arm the radius r grows
    from 0 to 1 while the angle grows from 0 to `turns` full turns; the arm of label 1 is
    the arm of label 0 turned by half a turn. Rows are shuffled, then jittered by
    `noise` * N(0, 1)."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    arms = []
    for label, n_arm in ((0, n0), (1, n1)):
        r = np.linspace(0.0, 1.0, n_arm)
        angle = 2.0 * np.pi * turns * r + np.pi * label
        arms.append(np.column_stack([r * np.cos(angle), r * np.sin(angle)]))
    features = np.vstack(arms)
    labels = np.concatenate([np.zeros(n0), np.ones(n1)])
    features, labels = _shuffled(rng, features, labels)
    features = features + noise * rng.standard_normal(features.shape)
    return features, _as_column(labels)
