"""Inputs bound to a dataset instead of a fixed value.

An `input` node's spec may carry, instead of `value`, a binding such as

    {"dataset": "boston", "role": "features", "columns": ["RM"], "params": {},
     "test_fraction": 0.2, "seed": 0, "standardize": true, "batch_size": 32}

`role` is "features" (all feature columns, or the named `columns`) or "target".
Inputs bound with the same dataset, params, split, seed and batch size see the same
rows: their value is the first shuffled mini-batch of the training part, so a student
stepping through the graph sees real shapes (32 x 13) flow. The trainer feeds every
other batch, and the test part, through the same bindings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from stepgrad.engine.errors import GraphError, StepgradError
from stepgrad.engine.tensor import DEFAULT_MAX_ELEMENTS, Array

if TYPE_CHECKING:
    from stepgrad.engine.datasets import Split
    from stepgrad.engine.graph import Graph

BIND_KEYS = {
    "dataset", "role", "columns", "params", "test_fraction", "seed", "standardize", "batch_size",
}  # fmt: skip
ROLES = ("features", "target")


@dataclass(frozen=True)
class Binding:
    dataset: str
    role: str
    columns: tuple[str, ...] | None
    params: tuple[tuple[str, str | int | float | None], ...]  # sorted (name, value), hashable
    test_fraction: float
    seed: int
    standardize: bool
    batch_size: int | None

    @property
    def source(self) -> tuple[object, ...]:
        """Bindings with the same source share rows and batches."""
        return (self.dataset, self.params, self.test_fraction, self.seed, self.standardize)

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"dataset": self.dataset, "role": self.role}
        if self.columns is not None:
            spec["columns"] = list(self.columns)
        if self.params:
            spec["params"] = dict(self.params)
        spec.update(
            test_fraction=self.test_fraction,
            seed=self.seed,
            standardize=self.standardize,
            batch_size=self.batch_size,
        )
        return spec


def parse_binding(node_id: str, raw: object) -> Binding:
    where = f"Node {node_id!r}: the dataset binding"
    if not isinstance(raw, dict):
        raise GraphError(f"{where} must be an object.")
    unknown = set(raw) - BIND_KEYS
    if unknown:
        raise GraphError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}.")
    dataset = raw.get("dataset")
    if not isinstance(dataset, str):
        raise GraphError(f"{where} needs a dataset name.")
    role = raw.get("role", "features")
    if role not in ROLES:
        raise GraphError(f"{where} has role {role!r}; use 'features' or 'target'.")
    columns = raw.get("columns")
    if columns is not None:
        if role != "features" or not isinstance(columns, list) or not columns:
            raise GraphError(f"{where}: columns must be a non-empty list, for features only.")
        if not all(isinstance(c, str) for c in columns):
            raise GraphError(f"{where}: columns must be feature names.")
        columns = tuple(columns)
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise GraphError(f"{where}: params must be an object.")
    for key, value in params.items():
        # a binding is hashed (bindings of one source share rows): plain values only
        if isinstance(value, list | dict) or not isinstance(value, str | int | float | None):
            raise GraphError(
                f"{where}: the dataset parameter {key!r} must be a number, text or true/false, "
                f"not {type(value).__name__}."
            )
    test_fraction = raw.get("test_fraction", 0.2)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float):
        raise GraphError(f"{where}: test_fraction must be a number.")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise GraphError(f"{where}: seed must be a whole number from 0 to 2**32 - 1.")
    standardize = raw.get("standardize", True)
    if not isinstance(standardize, bool):
        raise GraphError(f"{where}: standardize must be true or false.")
    batch_size = raw.get("batch_size")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise GraphError(f"{where}: batch_size must be a positive whole number or null.")
    return Binding(
        dataset, role, columns, tuple(sorted(params.items())), float(test_fraction), seed,
        standardize, batch_size,
    )  # fmt: skip


@dataclass(frozen=True)
class BoundData:
    """One source's split, and each bound node's columns of it."""

    split: Split
    train: dict[str, Array]  # node id -> rows of the training part
    test: dict[str, Array]


def load_split(binding: Binding) -> Split:
    from stepgrad.engine import datasets

    try:
        ds = datasets.load(binding.dataset, **dict(binding.params))
        return datasets.split(
            ds, test_fraction=binding.test_fraction, seed=binding.seed,
            standardize=binding.standardize,
        )  # fmt: skip
    except StepgradError as exc:
        raise GraphError(f"Dataset {binding.dataset!r}: {exc}") from None


def columns_of(split: Split, binding: Binding, node_id: str) -> tuple[Array, Array]:
    """The (train, test) arrays a binding selects from a split."""
    if binding.role == "target":
        return split.y_train, split.y_test
    if binding.columns is None:
        return split.x_train, split.x_test
    names = list(split.feature_names)
    missing = [c for c in binding.columns if c not in names]
    if missing:
        raise GraphError(
            f"Node {node_id!r}: dataset {binding.dataset!r} has no column(s) "
            f"{', '.join(missing)}; its features are {', '.join(names)}."
        )
    cols = [names.index(c) for c in binding.columns]
    return split.x_train[:, cols], split.x_test[:, cols]


def first_batch_rows(n_rows: int, batch_size: int | None, seed: int) -> np.ndarray:
    from stepgrad.engine.datasets import batches

    if batch_size is None or batch_size >= n_rows:
        return np.arange(n_rows)
    return batches(n_rows, batch_size, np.random.default_rng(seed))[0]


class BindingResolver:
    """Resolves bound inputs while a graph is built; loads each source's split once."""

    def __init__(self, max_elements: int = DEFAULT_MAX_ELEMENTS):
        self.max_elements = max_elements
        self._splits: dict[tuple[object, ...], Split] = {}

    def __call__(self, node_id: str, raw: object) -> Array:
        binding = parse_binding(node_id, raw)
        if binding.source not in self._splits:
            self._splits[binding.source] = load_split(binding)
        split = self._splits[binding.source]
        train, _ = columns_of(split, binding, node_id)
        rows = first_batch_rows(len(train), binding.batch_size, binding.seed)
        value: Array = train[rows]
        if value.size > self.max_elements:
            raise GraphError(
                f"Node {node_id!r}: a batch of {value.shape} holds {value.size} elements; "
                f"the limit is {self.max_elements} per tensor. Use a smaller batch_size."
            )
        return value


def bound_data(graph: Graph) -> tuple[Binding, BoundData] | None:
    """The single data source of a graph's bound inputs, or None if it has none."""
    bindings = {
        nid: parse_binding(nid, node.bind) for nid, node in graph.nodes.items() if node.bind
    }
    if not bindings:
        return None
    sources = {b.source for b in bindings.values()}
    if len(sources) > 1:
        raise GraphError(
            "The bound inputs " + ", ".join(bindings) + " use different datasets or splits; "
            "bind them all to the same one."
        )
    first = next(iter(bindings.values()))
    split = load_split(first)
    train: dict[str, Array] = {}
    test: dict[str, Array] = {}
    for nid, binding in bindings.items():
        train[nid], test[nid] = columns_of(split, binding, nid)
    return first, BoundData(split, train, test)
