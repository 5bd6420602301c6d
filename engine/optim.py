"""Gradient-descent updates for `param` nodes: SGD, momentum and Adam.

An optimizer maps current parameter values and their gradients to new values. It
returns new arrays (never updates in place) and keeps its own state (velocities,
moments), which can be saved as plain data and loaded back.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from stepgrad.engine.errors import StepgradError
from stepgrad.engine.tensor import Array, from_json, to_json


class SGD:
    name = "sgd"

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = _positive(learning_rate, "learning_rate")

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        lr = self.learning_rate
        return {k: v - lr * grads[k] if k in grads else v for k, v in params.items()}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate}


class Momentum(SGD):
    """Heavy-ball momentum, as PyTorch's SGD(momentum=...): v = mu * v + g; w -= lr * v."""

    name = "momentum"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9):
        super().__init__(learning_rate)
        self.momentum = _fraction(momentum, "momentum")
        self.velocity: dict[str, Array] = {}

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        new: dict[str, Array] = {}
        for k, w in params.items():
            if k not in grads:
                new[k] = w
                continue
            v = grads[k] if k not in self.velocity else self.momentum * self.velocity[k] + grads[k]
            self.velocity[k] = v
            new[k] = w - self.learning_rate * v
        return new

    def state_dict(self) -> dict[str, Any]:
        return {"velocity": {k: to_json(v) for k, v in self.velocity.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.velocity = {k: from_json(v) for k, v in state.get("velocity", {}).items()}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "momentum": self.momentum}


class Adam(SGD):
    """Adam (Kingma & Ba), with bias correction, as PyTorch's defaults."""

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        super().__init__(learning_rate)
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.eps = _positive(eps, "eps")
        self.t = 0
        self.m: dict[str, Array] = {}
        self.v: dict[str, Array] = {}

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        new: dict[str, Array] = {}
        for k, w in params.items():
            if k not in grads:
                new[k] = w
                continue
            g = grads[k]
            m = b1 * self.m[k] + (1.0 - b1) * g if k in self.m else (1.0 - b1) * g
            v = b2 * self.v[k] + (1.0 - b2) * g * g if k in self.v else (1.0 - b2) * g * g
            self.m[k], self.v[k] = m, v
            new[k] = w - self.learning_rate * (m / c1) / (np.sqrt(v / c2) + self.eps)
        return new

    def state_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "m": {k: to_json(v) for k, v in self.m.items()},
            "v": {k: to_json(v) for k, v in self.v.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state.get("t", 0))
        self.m = {k: from_json(v) for k, v in state.get("m", {}).items()}
        self.v = {k: from_json(v) for k, v in state.get("v", {}).items()}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS: dict[str, type[SGD]] = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def make_optimizer(name: str = "sgd", /, **options: Any) -> SGD:
    """An optimizer by name with its options; unknown names or options are a clear error.

    `name` is positional-only, so an option called "name" is an unknown option like any other."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise StepgradError(f"Unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}.")
    cls = OPTIMIZERS[name]
    known = set(inspect.signature(cls).parameters)
    unknown = sorted(map(str, set(options) - known))
    if unknown:
        raise StepgradError(
            f"Optimizer {name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(known))}."
        )
    return cls(**options)


RESERVED_OPTIONS = ("name", "learning_rate")


def optimizer_from(name: str, learning_rate: float | None, options: dict[str, Any] | None) -> SGD:
    """An optimizer from the settings a client sends: a name, a learning rate, and options
    (momentum, betas...) that must not repeat the name or the learning rate."""
    if options is not None and not isinstance(options, dict):
        raise StepgradError('The optimizer options must be an object, such as {"momentum": 0.9}.')
    options = dict(options or {})
    reserved = [key for key in RESERVED_OPTIONS if key in options]
    if reserved:
        raise StepgradError(
            f"The optimizer options cannot set {' or '.join(reserved)}: "
            "give the optimizer and the learning rate as settings of their own."
        )
    if learning_rate is not None:
        options["learning_rate"] = learning_rate
    return make_optimizer(name, **options)


def _positive(x: object, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not 0 < x < float("inf"):
        raise StepgradError(f"{what} must be a positive finite number, got {x!r}.")
    return float(x)


def _fraction(x: object, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not 0 <= x < 1:
        raise StepgradError(f"{what} must be a number in [0, 1), got {x!r}.")
    return float(x)
