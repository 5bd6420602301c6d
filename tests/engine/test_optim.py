"""Optimizers against PyTorch's, step by step, and their saved state."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine.errors import StepgradError
from stepgrad.engine.optim import make_optimizer


def _trajectory(opt, w0, grad_fn, steps=25):
    params = {"w": w0.copy()}
    out = []
    for _ in range(steps):
        params = opt.step(params, {"w": grad_fn(params["w"])})
        out.append(params["w"].copy())
    return np.array(out)


def _quadratic_grad(w):
    # gradient of the quadratic 0.5 w^T A w + c^T w
    a = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]])
    return a @ w + np.array([1.0, -2.0, 0.5])


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "options", "torch_name", "torch_options"),
    [
        ("sgd", {"learning_rate": 0.1}, "SGD", {"lr": 0.1}),
        (
            "momentum",
            {"learning_rate": 0.05, "momentum": 0.9},
            "SGD",
            {"lr": 0.05, "momentum": 0.9},
        ),
        ("adam", {"learning_rate": 0.1}, "Adam", {"lr": 0.1}),
        (
            "adam",
            {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
            "Adam",
            {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
        ),
    ],
)
def test_trajectory_matches_pytorch(name, options, torch_name, torch_options, torch):
    w0 = np.array([1.0, -1.0, 2.0])
    mine = _trajectory(make_optimizer(name, **options), w0, _quadratic_grad)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, torch_name)([w], **torch_options)
    ref = []
    for _ in range(25):
        opt.zero_grad()
        w.grad = torch.tensor(_quadratic_grad(w.detach().numpy()), dtype=torch.float64)
        opt.step()
        ref.append(w.detach().numpy().copy())
    np.testing.assert_allclose(mine, np.array(ref), rtol=1e-12, atol=1e-14)


def test_state_round_trips():
    w0 = np.array([1.0, -1.0, 2.0])
    for name in ("momentum", "adam"):
        a = make_optimizer(name, learning_rate=0.05)
        _trajectory(a, w0, _quadratic_grad, steps=5)
        b = make_optimizer(name, learning_rate=0.05)
        b.load_state_dict(a.state_dict())
        w = np.array([0.3, 0.2, 0.1])
        np.testing.assert_array_equal(
            a.step({"w": w}, {"w": _quadratic_grad(w)})["w"],
            b.step({"w": w}, {"w": _quadratic_grad(w)})["w"],
        )


def test_steps_do_not_modify_arrays_in_place():
    w = np.array([1.0, 2.0])
    opt = make_optimizer("adam", learning_rate=0.1)
    new = opt.step({"w": w}, {"w": np.array([1.0, 1.0])})
    assert w.tolist() == [1.0, 2.0] and new["w"] is not w


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("rmsprop", {}, "Unknown optimizer 'rmsprop'"),
        ("sgd", {"learning_rate": -1}, "positive finite"),
        ("sgd", {"learning_rate": float("nan")}, "positive finite"),
        ("momentum", {"momentum": 1.5}, r"in \[0, 1\)"),
        ("sgd", {"momentum": 0.9}, "does not take option"),
    ],
)
def test_bad_options_are_clear_errors(name, options, message):
    with pytest.raises(StepgradError, match=message):
        make_optimizer(name, **options)
