"""Every op: values and gradients against central differences and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ShapeError
from engine.ops import OPS
from engine.tensor import unbroadcast


def _normal(rng, shape):
    return rng.normal(size=shape)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _away_from_zero(rng, shape):
    return rng.uniform(0.3, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _probability(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _labels(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float64)


# op, input shapes, attrs, input generators
CASES = [
    ("add", [(3, 4), (3, 4)], {}, [_normal, _normal]),
    ("add", [(3, 4), (4,)], {}, [_normal, _normal]),
    ("add", [(), (2, 3)], {}, [_normal, _normal]),
    ("sub", [(3, 1), (1, 4)], {}, [_normal, _normal]),
    ("mul", [(2, 3), (2, 3)], {}, [_normal, _normal]),
    ("mul", [(5,), ()], {}, [_normal, _normal]),
    ("div", [(2, 3), (3,)], {}, [_normal, _away_from_zero]),
    ("pow", [(2, 3), ()], {}, [_positive, _normal]),
    ("pow", [(4,), (4,)], {}, [_positive, _normal]),
    ("neg", [(3, 2)], {}, [_normal]),
    ("square", [(3,)], {}, [_normal]),
    ("sigmoid", [(4, 3)], {}, [_normal]),
    ("relu", [(4, 3)], {}, [_away_from_zero]),
    ("tanh", [(5,)], {}, [_normal]),
    ("exp", [(2, 2)], {}, [_normal]),
    ("log", [(3, 2)], {}, [_positive]),
    ("softmax", [(3, 4)], {"axis": -1}, [_normal]),
    ("softmax", [(3, 4)], {"axis": 0}, [_normal]),
    ("transpose", [(2, 5)], {}, [_normal]),
    ("sum", [(3, 4)], {"axis": None}, [_normal]),
    ("sum", [(3, 4)], {"axis": 0}, [_normal]),
    ("mean", [(3, 4)], {"axis": None}, [_normal]),
    ("mean", [(3, 4)], {"axis": 1}, [_normal]),
    ("matmul", [(3, 4), (4, 2)], {}, [_normal, _normal]),
    ("matmul", [(4,), (4, 2)], {}, [_normal, _normal]),
    ("matmul", [(3, 4), (4,)], {}, [_normal, _normal]),
    ("matmul", [(4,), (4,)], {}, [_normal, _normal]),
    ("linear", [(5, 3), (3, 2), (2,)], {}, [_normal, _normal, _normal]),
    ("linear", [(5, 3), (3, 1), ()], {}, [_normal, _normal, _normal]),
    ("linear", [(), (), ()], {}, [_normal, _normal, _normal]),
    ("linear", [(6,), (), ()], {}, [_normal, _normal, _normal]),
    ("mse", [(5, 1), (5, 1)], {}, [_normal, _normal]),
    ("mse", [(5,), ()], {}, [_normal, _normal]),
    ("bce", [(6, 1), (6, 1)], {}, [_labels, _probability]),
]
IDS = [f"{op}-{'x'.join(str(list(s)) for s in shapes)}-{attrs}" for op, shapes, attrs, _ in CASES]


def _inputs(case, seed=0):
    _op, shapes, _attrs, gens = case
    rng = np.random.default_rng(seed)
    return [np.asarray(gen(rng, shape), dtype=np.float64) for gen, shape in zip(gens, shapes)]


def _vjp(op, xs, attrs, g):
    out = op.forward(xs, attrs)
    parts = op.backward(g, out, xs, attrs, (True,) * len(xs))
    return out, [unbroadcast(np.asarray(p, dtype=np.float64), x.shape) for p, x in zip(parts, xs)]


def test_every_op_is_covered():
    covered = {case[0] for case in CASES}
    computed = {name for name, op in OPS.items() if not op.leaf}
    assert computed == covered


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_central_differences(case):
    name, _shapes, attrs, _ = case
    op = OPS[name]
    attrs = op.check_attrs(attrs)
    xs = _inputs(case)
    out = op.forward(xs, attrs)
    assert np.shape(out) == op.shape([x.shape for x in xs], attrs)
    # a random upstream gradient checks the whole vector-Jacobian product, not just its sum
    g = np.random.default_rng(1).normal(size=np.shape(out))
    _, analytic = _vjp(op, xs, attrs, g)
    eps = 1e-6
    # labels of bce are checked too: the formula is differentiable in y
    for slot, x in enumerate(xs):
        numeric = np.zeros_like(x)
        for k in range(x.size):
            plus = [a.copy() for a in xs]
            minus = [a.copy() for a in xs]
            plus[slot].flat[k] += eps
            minus[slot].flat[k] -= eps
            f_plus = np.sum(op.forward(plus, attrs) * g)
            f_minus = np.sum(op.forward(minus, attrs) * g)
            numeric.flat[k] = (f_plus - f_minus) / (2 * eps)
        assert analytic[slot].shape == x.shape
        np.testing.assert_allclose(analytic[slot], numeric, rtol=1e-5, atol=1e-7)


def _torch_reference(torch, name, ts, attrs):
    F = torch.nn.functional
    a = ts[0]
    table = {
        "add": lambda: ts[0] + ts[1],
        "sub": lambda: ts[0] - ts[1],
        "mul": lambda: ts[0] * ts[1],
        "div": lambda: ts[0] / ts[1],
        "pow": lambda: torch.pow(ts[0], ts[1]),
        "neg": lambda: -a,
        "square": lambda: a**2,
        "sigmoid": lambda: torch.sigmoid(a),
        "relu": lambda: torch.relu(a),
        "tanh": lambda: torch.tanh(a),
        "exp": lambda: torch.exp(a),
        "log": lambda: torch.log(a),
        "softmax": lambda: F.softmax(a, dim=attrs["axis"]),
        "transpose": lambda: a.permute(*reversed(range(a.dim()))),
        "sum": lambda: a.sum() if attrs["axis"] is None else a.sum(dim=attrs["axis"]),
        "mean": lambda: a.mean() if attrs["axis"] is None else a.mean(dim=attrs["axis"]),
        "matmul": lambda: ts[0] @ ts[1],
        "linear": lambda: (
            ts[0] * ts[1] + ts[2] if ts[0].dim() == 0 or ts[1].dim() == 0 else ts[0] @ ts[1] + ts[2]
        ),
        "mse": lambda: ((ts[0] - ts[1]) ** 2).mean(),
        "bce": lambda: -(ts[0] * torch.log(ts[1]) + (1 - ts[0]) * torch.log(1 - ts[1])).mean(),
    }
    return table[name]()


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_and_gradient_match_pytorch(case, torch):
    name, _, attrs, _ = case
    op = OPS[name]
    attrs = op.check_attrs(attrs)
    xs = _inputs(case, seed=7)
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ref = _torch_reference(torch, name, ts, attrs)
    g = np.random.default_rng(3).normal(size=tuple(ref.shape))
    ref.backward(torch.tensor(g, dtype=torch.float64))
    out, grads = _vjp(op, xs, attrs, g)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, t in zip(grads, ts):
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_relu_derivative_at_zero_is_zero_like_pytorch():
    op = OPS["relu"]
    x = np.array([-1.0, 0.0, 2.0])
    (grad,) = op.backward(np.ones(3), op.forward([x], {}), [x], {}, (True,))
    assert grad.tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_does_not_overflow_for_large_inputs():
    op = OPS["sigmoid"]
    with np.errstate(all="raise"):
        out = op.forward([np.array([-1000.0, 0.0, 1000.0])], {})
    assert out.tolist() == [0.0, 0.5, 1.0]


def test_log_of_zero_is_minus_infinity():
    with np.errstate(divide="ignore"):
        assert OPS["log"].forward([np.array(0.0)], {}) == -np.inf


def test_bce_clips_probabilities():
    op = OPS["bce"]
    with np.errstate(all="raise"):
        value = op.forward([np.array([1.0, 0.0]), np.array([0.0, 1.0])], {})
    assert np.isfinite(value) and value == pytest.approx(-np.log(1e-12), rel=1e-6)


def test_pow_exponent_gradient_is_zero_at_zero_base_like_pytorch():
    op = OPS["pow"]
    xs = [np.array([0.0, 2.0]), np.array(2.0)]
    out = op.forward(xs, {})
    _, gp = op.backward(np.ones(2), out, xs, {}, (True, True))
    assert gp.tolist() == [0.0, pytest.approx(4 * np.log(2.0))]


@pytest.mark.parametrize(
    ("name", "shapes", "fragment"),
    [
        ("add", [(3,), (4,)], "[3] and [4] cannot be broadcast"),
        ("matmul", [(2, 3), (2, 3)], "3 columns against 2 rows"),
        ("matmul", [(2, 2, 2), (2, 2)], "1-D or 2-D"),
        ("linear", [(5, 3), (4, 2), (2,)], "3 columns against 4 rows"),
        ("mse", [(3,), (4,)], "cannot be broadcast"),
    ],
)
def test_shape_errors_name_both_shapes(name, shapes, fragment):
    with pytest.raises(ShapeError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        OPS[name].shape(shapes, OPS[name].check_attrs({}))


def test_every_op_describes_itself():
    for op in OPS.values():
        assert op.description.endswith(".")
        assert op.formula
        if not op.leaf:
            assert len(op.derivatives) == op.arity, op.name
