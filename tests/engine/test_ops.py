"""Every op: values and gradients against central differences and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from stepgrad.engine.errors import ShapeError
from stepgrad.engine.ops import OPS
from stepgrad.engine.tensor import unbroadcast


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


def _distinct(rng, shape):
    # no ties, so max has one winner per slice and central differences see a smooth function
    return rng.permutation(int(np.prod(shape, dtype=int))).reshape(shape) * 0.37 + 0.1


def _one_hot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]


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
    ("sqrt", [(3, 2)], {}, [_positive]),
    ("abs", [(4, 3)], {}, [_away_from_zero]),
    ("log_softmax", [(3, 4)], {"axis": -1}, [_normal]),
    ("log_softmax", [(3, 4)], {"axis": 0}, [_normal]),
    ("reshape", [(3, 4)], {"shape": [2, -1]}, [_normal]),
    ("reshape", [(6,)], {"shape": [3, 1, 2]}, [_normal]),
    ("transpose", [(2, 3, 4)], {"axes": [1, 2, 0]}, [_normal]),
    ("max", [(3, 4)], {"axis": None}, [_distinct]),
    ("max", [(3, 4)], {"axis": 1}, [_distinct]),
    ("max", [(2, 3, 4)], {"axis": [0, 2], "keepdims": True}, [_distinct]),
    ("sum", [(2, 3, 4)], {"axis": [0, 2]}, [_normal]),
    ("sum", [(3, 4)], {"axis": -1, "keepdims": True}, [_normal]),
    ("mean", [(2, 3, 4)], {"axis": [1, -1], "keepdims": True}, [_normal]),
    ("cross_entropy", [(5, 3), (5, 3)], {}, [_one_hot, _normal]),
    ("cross_entropy", [(4,), (4,)], {}, [_probability, _normal]),
    ("cross_entropy", [(3, 4), (3, 4)], {"axis": 0}, [_probability, _normal]),
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
    ("bce", [(3,), ()], {}, [_labels, _probability]),
    ("linear", [(3,), (3,), (4,)], {}, [_normal, _normal, _normal]),
    ("linear", [(5, 3), (3, 1), (5, 4)], {}, [_normal, _normal, _normal]),
]
IDS = [f"{op}-{'x'.join(str(list(s)) for s in shapes)}-{attrs}" for op, shapes, attrs, _ in CASES]


def _inputs(case, seed=0):
    _op, shapes, _attrs, gens = case
    rng = np.random.default_rng(seed)
    return [np.asarray(gen(rng, shape), dtype=np.float64) for gen, shape in zip(gens, shapes)]


def _vjp(op, xs, attrs, g):
    with np.errstate(all="ignore"):
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
        "sqrt": lambda: torch.sqrt(a),
        "abs": lambda: torch.abs(a),
        "softmax": lambda: F.softmax(a, dim=attrs["axis"]),
        "log_softmax": lambda: F.log_softmax(a, dim=attrs["axis"]),
        "transpose": lambda: a.permute(*(attrs["axes"] or reversed(range(a.dim())))),
        "reshape": lambda: a.reshape(attrs["shape"]),
        "sum": lambda: a.sum(dim=_dims(attrs, a), keepdim=attrs["keepdims"]),
        "mean": lambda: a.mean(dim=_dims(attrs, a), keepdim=attrs["keepdims"]),
        "max": lambda: torch.amax(a, dim=_dims(attrs, a), keepdim=attrs["keepdims"]),
        "cross_entropy": lambda: (
            F.cross_entropy(ts[1], ts[0])
            if attrs["axis"] == -1 and ts[1].dim() <= 2
            else -(ts[0] * F.log_softmax(ts[1], dim=attrs["axis"])).sum(dim=attrs["axis"]).mean()
        ),
        "matmul": lambda: ts[0] @ ts[1],
        "linear": lambda: (
            ts[0] * ts[1] + ts[2] if ts[0].dim() == 0 or ts[1].dim() == 0 else ts[0] @ ts[1] + ts[2]
        ),
        "mse": lambda: ((ts[0] - ts[1]) ** 2).mean(),
        "bce": lambda: F.binary_cross_entropy(*reversed(torch.broadcast_tensors(*ts))),
    }
    return table[name]()


def _dims(attrs, a):
    axis = attrs["axis"]
    if axis is None:
        return list(range(a.dim()))
    return axis if isinstance(axis, list) else [axis]


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


def _run(name, xs, attrs=None, g=None):
    op = OPS[name]
    attrs = op.check_attrs(attrs or {})
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    with np.errstate(all="ignore"):
        shape = np.shape(op.forward(xs, attrs))
    return _vjp(op, xs, attrs, np.ones(shape) if g is None else g)


def test_sigmoid_is_exact_far_into_the_tails_like_pytorch():
    out, _ = _run("sigmoid", [[-1000.0, -40.0, 0.0, 1000.0]])
    assert out.tolist() == [0.0, pytest.approx(4.248354255291589e-18, rel=1e-15), 0.5, 1.0]
    # log(sigmoid(-40)) is -40 with slope 1, not log(0) with a NaN gradient
    s = out[1]
    (grad,) = _run("log", [s])[1]
    assert np.log(s) == pytest.approx(-40.0, rel=1e-15)
    (gs,) = _run("sigmoid", [-40.0], g=grad)[1]
    assert gs == pytest.approx(1.0, rel=1e-15)


def test_relu_masks_an_infinite_gradient_instead_of_multiplying_it():
    _, (grad,) = _run("relu", [[-1.0, 0.0, 2.0]], g=np.array([np.inf, np.inf, np.inf]))
    assert grad.tolist() == [0.0, 0.0, np.inf]


def test_pow_at_a_zero_base_follows_pytorch():
    _, (gx, gp) = _run("pow", [[0.0, 0.0, 2.0], [0.0, -1.0, 2.0]])
    assert gx[0] == 0.0  # d/dx x**0 at 0
    assert gp[0] == 0.0 and gp[1] == -np.inf  # d/dp 0**0 and 0**-1
    assert gp[2] == pytest.approx(4 * np.log(2.0))


def test_div_by_a_tiny_divisor_does_not_underflow():
    _, (_, gb) = _run("div", [1e-300, 1e-170])
    assert gb == pytest.approx(-1e40, rel=1e-12)


def test_log_of_zero_is_minus_infinity():
    assert _run("log", [0.0])[0] == -np.inf


def test_bce_floors_its_logs_like_pytorch():
    value, _ = _run("bce", [[1.0, 0.0], [0.0, 1.0]])
    assert value == 100.0


def test_bce_labels_may_be_larger_than_the_prediction():
    _, (gy, gp) = _run("bce", [[1.0, 0.0, 1.0], 0.25])
    assert gy.shape == (3,) and gp.shape == ()
    assert gy.tolist() == pytest.approx([np.log(3.0) / 3] * 3)


def test_linear_bias_may_broadcast_beyond_the_product():
    _, (gx, gw, gb) = _run("linear", [np.ones(3), np.ones(3), np.zeros(4)])
    assert gx.tolist() == [4.0] * 3 and gw.tolist() == [4.0] * 3 and gb.tolist() == [1.0] * 4


@pytest.mark.parametrize(
    ("name", "xs", "attrs"),
    [
        ("mse", [np.zeros(0), np.zeros(0)], {}),
        ("bce", [np.zeros(0), np.zeros(0)], {}),
        ("mean", [np.zeros((0, 3))], {}),
        ("cross_entropy", [np.zeros((0, 3)), np.zeros((0, 3))], {}),
    ],
)
def test_the_mean_of_nothing_is_nan_like_pytorch(name, xs, attrs):
    value, grads = _run(name, xs, attrs)
    assert np.isnan(value)
    assert all(g.size == 0 for g in grads)


def test_softmaxes_of_an_empty_tensor_are_empty():
    for name in ("softmax", "log_softmax"):
        value, (grad,) = _run(name, [np.zeros((2, 0))])
        assert value.shape == (2, 0) and grad.shape == (2, 0)


def test_max_shares_the_gradient_between_ties_like_pytorch_amax():
    value, (grad,) = _run("max", [[1.0, 3.0, 3.0]])
    assert value == 3.0 and grad.tolist() == [0.0, 0.5, 0.5]


def test_large_logits_stay_finite_in_log_softmax_and_cross_entropy():
    value, (grad,) = _run("log_softmax", [[1000.0, 0.0]])
    assert value.tolist() == [0.0, -1000.0] and np.all(np.isfinite(grad))
    value, (_, gz) = _run("cross_entropy", [[0.0, 1.0], [1000.0, 0.0]])
    assert value == 1000.0 and gz.tolist() == [1.0, -1.0]


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


@pytest.mark.parametrize(
    ("name", "shape", "attrs", "fragment"),
    [
        ("max", (0,), {}, "no elements"),
        ("max", (3, 0), {"axis": 1}, "no elements"),
        ("sum", (3,), {"axis": [0, 0]}, "twice"),
        ("sum", (3,), {"axis": []}, "names no axis"),
        ("sum", (3,), {"axis": 1}, "out of range"),
        ("mean", (3,), {"keepdims": 1}, "true or false"),
        ("reshape", (6,), {}, "list of sizes"),
        ("reshape", (6,), {"shape": [4, -1]}, "cannot be reshaped"),
        ("reshape", (6,), {"shape": [-1, -1]}, "more than one -1"),
        ("reshape", (0,), {"shape": [2**40, 0]}, "out of range"),
        ("transpose", (2, 3), {"axes": [0, 0]}, "each of the 2 axes once"),
        ("cross_entropy", (), {}, "axis of classes"),
    ],
)
def test_attribute_errors_say_what_is_wrong(name, shape, attrs, fragment):
    op = OPS[name]
    with pytest.raises(ShapeError, match=fragment):
        op.shape([shape] * op.arity, op.check_attrs(attrs))


def test_every_op_describes_itself():
    for op in OPS.values():
        assert op.description.endswith(".")
        assert op.formula
        if not op.leaf:
            assert len(op.derivatives) == op.arity, op.name
