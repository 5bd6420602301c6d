"""Preset graphs and lessons, kept as data files in `engine/examples/<id>.json`.

Each file holds `title`, `description`, `kind` ("example" or "lesson") and `spec` (a
graph spec), and may hold `train`: the optimizer and learning rate that train it, where
the page's defaults (SGD at 0.1) would not. Files are read once and checked: the fields,
and that the spec builds.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from stepgrad.engine.errors import GraphError, StepgradError
from stepgrad.engine.graph import Graph
from stepgrad.engine.optim import optimizer_from

# found through the package, so an installed wheel has them too
EXAMPLES_DIR = files("stepgrad.engine") / "examples"
KINDS = ("example", "lesson")
FIELDS = {"title", "description", "kind", "spec"}
OPTIONAL = {"title_zh", "description_zh"}  # the page shows them in Chinese
# settings that train the example (the page's own defaults otherwise): optimizer, learning rate
TRAIN_KEYS = {"optimizer", "learning_rate"}
DEFAULT_TRAINING = {"optimizer": "sgd", "learning_rate": 0.1}
_ID = re.compile(r"[a-z0-9_]+\Z")

_cache: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _read(path: Traversable) -> dict[str, Any]:
    example_id = path.name.removesuffix(".json")
    where = f"Example {example_id!r} ({path.name})"
    if not _ID.match(example_id):
        raise GraphError(f"{where}: the file name must be lower-case letters, digits and _.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraphError(f"{where} cannot be read: {exc}.") from None
    if not isinstance(data, dict) or not FIELDS <= set(data) <= FIELDS | OPTIONAL | {"train"}:
        raise GraphError(
            f"{where} must have the fields {', '.join(sorted(FIELDS))} "
            f"(and optionally {', '.join(sorted(OPTIONAL))})."
        )
    for key in ("title", "description", *OPTIONAL):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise GraphError(f"{where}: {key} must be non-empty text.")
    if data["kind"] not in KINDS:
        raise GraphError(f"{where}: kind must be one of {', '.join(KINDS)}.")
    if not isinstance(data["spec"], dict):
        raise GraphError(f"{where}: spec must be a graph spec object.")
    train = data.get("train", {})
    if not isinstance(train, dict) or not set(train) <= TRAIN_KEYS:
        raise GraphError(f"{where}: train may only set {', '.join(sorted(TRAIN_KEYS))}.")
    train = {**DEFAULT_TRAINING, **train}
    try:
        optimizer_from(train["optimizer"], train["learning_rate"], None)
    except StepgradError as exc:
        raise GraphError(f"{where}: train: {exc}") from None
    return {"id": example_id, **dict.fromkeys(OPTIONAL), **data, "train": train}


def _all() -> dict[str, dict[str, Any]]:
    with _lock:
        if not _cache:
            for path in sorted(EXAMPLES_DIR.iterdir(), key=lambda p: p.name):
                if not path.name.endswith(".json"):
                    continue
                item = _read(path)
                _cache[item["id"]] = item
        return _cache


def list_examples() -> list[dict[str, Any]]:
    """id, title, description and kind of every example, sorted by id."""
    return [
        {k: item[k] for k in ("id", "title", "description", "kind", *sorted(OPTIONAL), "train")}
        for item in _all().values()
    ]


def get_example(example_id: str) -> dict[str, Any]:
    """The whole example (with its spec), as a fresh copy."""
    examples = _all()
    if example_id not in examples:
        raise GraphError(
            f"There is no example {example_id!r}; the examples are: {', '.join(examples)}."
        )
    return copy.deepcopy(examples[example_id])


def load_example(example_id: str) -> dict[str, Any]:
    """The graph spec of an example (a fresh copy)."""
    spec: dict[str, Any] = get_example(example_id)["spec"]
    return spec


def training_settings(example_id: str) -> dict[str, Any]:
    """The optimizer and learning rate that train this example (see `train` in its file)."""
    return dict(get_example(example_id)["train"])


def check_examples() -> list[str]:
    """Build every example's graph; returns the ids (raises on the first bad one)."""
    for example_id in _all():
        try:
            Graph.from_spec(load_example(example_id))
        except StepgradError as exc:
            raise GraphError(f"Example {example_id!r}: {exc}") from None
    return list(_all())
