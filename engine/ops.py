"""One small class per operation: shape rule, forward, backward and the formulas shown to students.

`backward(g, out, xs, attrs, need)` returns one gradient per input (the vector-Jacobian
product `g * d out / d input`), or None where `need` says that input wants none. The
graph reduces each gradient back to its input's shape after numpy broadcasting, so an
op may return it on the broadcast shape.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .errors import ShapeError

Shape = tuple[int, ...]


def _broadcast(shapes: list[Shape]) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(
            "shapes " + " and ".join(str(list(s)) for s in shapes) + " cannot be broadcast together"
        ) from None


class Op:
    name: ClassVar[str]
    arity: ClassVar[int]
    description: ClassVar[str]
    formula: ClassVar[str]
    # one local-derivative formula per input, in input order
    derivatives: ClassVar[tuple[str, ...]] = ()
    leaf: ClassVar[bool] = False
    trainable: ClassVar[bool] = False
    # attrs the op understands, with their defaults
    attr_defaults: ClassVar[dict] = {}

    def shape(self, shapes: list[Shape], attrs: dict) -> Shape:
        """Output shape for these input shapes, or ShapeError (without the node id)."""
        return _broadcast(shapes)

    def forward(self, xs: list[np.ndarray], attrs: dict) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g, out, xs, attrs, need) -> list[np.ndarray | None]:
        raise NotImplementedError

    def check_attrs(self, attrs: dict) -> dict:
        """Fill defaults; reject unknown attrs. Raises ValueError with a short reason."""
        unknown = set(attrs) - set(self.attr_defaults)
        if unknown:
            known = ", ".join(sorted(self.attr_defaults)) or "none"
            raise ValueError(f"unknown attribute(s) {sorted(unknown)} (known: {known})")
        return {**self.attr_defaults, **attrs}


class Leaf(Op):
    arity = 0
    leaf = True

    def shape(self, shapes, attrs):  # pragma: no cover - leaves take their value's shape
        raise NotImplementedError


class Input(Leaf):
    name = "input"
    description = "A value fed from outside (the course's Placeholder); not trained."
    formula = "x = fed value"


class Param(Leaf):
    name = "param"
    trainable = True
    description = "A trainable parameter, updated by gradient descent."
    formula = "w = current parameter value"


class Const(Leaf):
    name = "const"
    description = "A constant; no gradient is computed for it."
    formula = "c = constant"


# ---- elementwise binary ---------------------------------------------------------------


class Add(Op):
    name, arity = "add", 2
    description = "Elementwise sum, with numpy broadcasting."
    formula = "a + b"
    derivatives = ("d(a + b)/da = 1", "d(a + b)/db = 1")

    def forward(self, xs, attrs):
        return xs[0] + xs[1]

    def backward(self, g, out, xs, attrs, need):
        return [g if need[0] else None, g if need[1] else None]


class Sub(Op):
    name, arity = "sub", 2
    description = "Elementwise difference, with numpy broadcasting."
    formula = "a - b"
    derivatives = ("d(a - b)/da = 1", "d(a - b)/db = -1")

    def forward(self, xs, attrs):
        return xs[0] - xs[1]

    def backward(self, g, out, xs, attrs, need):
        return [g if need[0] else None, -g if need[1] else None]


class Mul(Op):
    name, arity = "mul", 2
    description = "Elementwise product, with numpy broadcasting."
    formula = "a * b"
    derivatives = ("d(a * b)/da = b", "d(a * b)/db = a")

    def forward(self, xs, attrs):
        return xs[0] * xs[1]

    def backward(self, g, out, xs, attrs, need):
        a, b = xs
        return [g * b if need[0] else None, g * a if need[1] else None]


class Div(Op):
    name, arity = "div", 2
    description = "Elementwise quotient, with numpy broadcasting."
    formula = "a / b"
    derivatives = ("d(a / b)/da = 1 / b", "d(a / b)/db = -a / b**2")

    def forward(self, xs, attrs):
        return xs[0] / xs[1]

    def backward(self, g, out, xs, attrs, need):
        a, b = xs
        return [g / b if need[0] else None, -g * a / (b * b) if need[1] else None]


class Pow(Op):
    name, arity = "pow", 2
    description = "Elementwise power; the exponent is the second input."
    formula = "x ** p"
    derivatives = ("d(x ** p)/dx = p * x ** (p - 1)", "d(x ** p)/dp = x ** p * log(x)")

    def forward(self, xs, attrs):
        return np.power(xs[0], xs[1])

    def backward(self, g, out, xs, attrs, need):
        x, p = xs
        gx = g * p * np.power(x, p - 1) if need[0] else None
        gp = None
        if need[1]:
            # as in PyTorch: no contribution where x == 0 and p >= 0 (log(0) would give nan)
            gp = np.where((x == 0) & (p >= 0), 0.0, g * out * np.log(np.where(x == 0, 1.0, x)))
        return [gx, gp]


# ---- elementwise unary ----------------------------------------------------------------


class Unary(Op):
    arity = 1

    def shape(self, shapes, attrs):
        return shapes[0]


class Neg(Unary):
    name = "neg"
    description = "Negation."
    formula = "-u"
    derivatives = ("d(-u)/du = -1",)

    def forward(self, xs, attrs):
        return -xs[0]

    def backward(self, g, out, xs, attrs, need):
        return [-g]


class Square(Unary):
    name = "square"
    description = "Elementwise square."
    formula = "u ** 2"
    derivatives = ("d(u ** 2)/du = 2 * u",)

    def forward(self, xs, attrs):
        return xs[0] * xs[0]

    def backward(self, g, out, xs, attrs, need):
        return [2.0 * g * xs[0]]


def _sigmoid(u: np.ndarray) -> np.ndarray:
    # the tanh form never overflows, unlike 1 / (1 + exp(-u)) for very negative u
    return 0.5 * (1.0 + np.tanh(0.5 * u))


class Sigmoid(Unary):
    name = "sigmoid"
    description = "The logistic function, squashing any number into (0, 1)."
    formula = "sigmoid(u) = 1 / (1 + exp(-u))"
    derivatives = ("d sigmoid(u)/du = sigmoid(u) * (1 - sigmoid(u))",)

    def forward(self, xs, attrs):
        return _sigmoid(xs[0])

    def backward(self, g, out, xs, attrs, need):
        return [g * out * (1.0 - out)]


class Relu(Unary):
    name = "relu"
    description = "Rectified linear unit: negative values become 0."
    formula = "relu(u) = max(u, 0)"
    derivatives = ("d relu(u)/du = 1 if u > 0 else 0",)

    def forward(self, xs, attrs):
        return np.maximum(xs[0], 0.0)

    def backward(self, g, out, xs, attrs, need):
        # relu'(0) = 0, as in PyTorch
        return [g * (xs[0] > 0)]


class Tanh(Unary):
    name = "tanh"
    description = "Hyperbolic tangent, squashing any number into (-1, 1)."
    formula = "tanh(u)"
    derivatives = ("d tanh(u)/du = 1 - tanh(u) ** 2",)

    def forward(self, xs, attrs):
        return np.tanh(xs[0])

    def backward(self, g, out, xs, attrs, need):
        return [g * (1.0 - out * out)]


class Exp(Unary):
    name = "exp"
    description = "Elementwise exponential."
    formula = "exp(u)"
    derivatives = ("d exp(u)/du = exp(u)",)

    def forward(self, xs, attrs):
        return np.exp(xs[0])

    def backward(self, g, out, xs, attrs, need):
        return [g * out]


class Log(Unary):
    name = "log"
    description = "Natural logarithm; log(0) is -inf and log of a negative number is NaN."
    formula = "log(u)"
    derivatives = ("d log(u)/du = 1 / u",)

    def forward(self, xs, attrs):
        return np.log(xs[0])

    def backward(self, g, out, xs, attrs, need):
        return [g / xs[0]]


class Transpose(Unary):
    name = "transpose"
    description = "Reverses the axes (the matrix transpose for 2-D tensors)."
    formula = "u^T"
    derivatives = ("d(u^T)/du: the incoming gradient, transposed back",)

    def shape(self, shapes, attrs):
        return tuple(reversed(shapes[0]))

    def forward(self, xs, attrs):
        return np.transpose(xs[0])

    def backward(self, g, out, xs, attrs, need):
        return [np.transpose(g)]


def _axis(attrs: dict, ndim: int) -> int | None:
    axis = attrs.get("axis")
    if axis is None:
        return None
    if not isinstance(axis, int) or isinstance(axis, bool) or not -ndim <= axis < max(ndim, 1):
        raise ShapeError(f"axis {axis!r} is out of range for a tensor with {ndim} dimension(s)")
    return axis % ndim if ndim else None


class Softmax(Unary):
    name = "softmax"
    description = "Softmax along an axis (the last by default): positive, sums to 1."
    formula = "softmax(u)_i = exp(u_i) / sum_j exp(u_j)"
    derivatives = ("d softmax(u)/du = s * (g - sum(g * s)) with s = softmax(u)",)
    attr_defaults: ClassVar[dict] = {"axis": -1}

    def shape(self, shapes, attrs):
        _axis(attrs, len(shapes[0]))
        return shapes[0]

    def forward(self, xs, attrs):
        axis = _axis(attrs, xs[0].ndim)
        z = xs[0] - np.max(xs[0], axis=axis, keepdims=True)
        e = np.exp(z)
        return e / np.sum(e, axis=axis, keepdims=True)

    def backward(self, g, out, xs, attrs, need):
        axis = _axis(attrs, out.ndim)
        return [out * (g - np.sum(g * out, axis=axis, keepdims=True))]


# ---- reductions -----------------------------------------------------------------------


class Sum(Unary):
    name = "sum"
    description = "Sum of all elements, or along `axis`."
    formula = "sum(u) = sum_i u_i"
    derivatives = ("d sum(u)/du_i = 1",)
    attr_defaults: ClassVar[dict] = {"axis": None}

    def shape(self, shapes, attrs):
        axis = _axis(attrs, len(shapes[0]))
        if axis is None:
            return ()
        return shapes[0][:axis] + shapes[0][axis + 1 :]

    def forward(self, xs, attrs):
        return np.asarray(np.sum(xs[0], axis=_axis(attrs, xs[0].ndim)))

    def backward(self, g, out, xs, attrs, need):
        axis = _axis(attrs, xs[0].ndim)
        if axis is not None:
            g = np.expand_dims(g, axis)
        return [np.broadcast_to(g, xs[0].shape)]


class Mean(Sum):
    name = "mean"
    description = "Mean of all elements, or along `axis`."
    formula = "mean(u) = sum_i u_i / n"
    derivatives = ("d mean(u)/du_i = 1 / n",)

    def forward(self, xs, attrs):
        return np.asarray(np.mean(xs[0], axis=_axis(attrs, xs[0].ndim)))

    def backward(self, g, out, xs, attrs, need):
        (grad,) = super().backward(g, out, xs, attrs, need)
        return [grad * (out.size / xs[0].size) if xs[0].size else grad]


# ---- linear algebra -------------------------------------------------------------------


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        raise ShapeError(f"matmul takes 1-D or 2-D tensors, got shapes {list(a)} and {list(b)}")
    if a[-1] != b[0]:
        raise ShapeError(
            f"shapes {list(a)} and {list(b)} do not fit a matrix product "
            f"({a[-1]} columns against {b[0]} rows)"
        )
    return a[:-1] + b[1:]


def _matmul_backward(g, a, b, need):
    """Gradients of a @ b for 1-D/2-D operands: dA = g @ B^T, dB = A^T @ g."""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    g2 = g.reshape(a2.shape[0], b2.shape[1])
    ga = (g2 @ b2.T).reshape(a.shape) if need[0] else None
    gb = (a2.T @ g2).reshape(b.shape) if need[1] else None
    return ga, gb


class Matmul(Op):
    name, arity = "matmul", 2
    description = "Matrix product of 1-D or 2-D tensors."
    formula = "A @ B"
    derivatives = ("d(A @ B)/dA: dA = dY @ B^T", "d(A @ B)/dB: dB = A^T @ dY")

    def shape(self, shapes, attrs):
        return _matmul_shape(*shapes)

    def forward(self, xs, attrs):
        return xs[0] @ xs[1]

    def backward(self, g, out, xs, attrs, need):
        return list(_matmul_backward(g, xs[0], xs[1], need))


class Linear(Op):
    name, arity = "linear", 3
    description = "Affine map x @ w + b; x * w + b when x or w is a scalar (the course's Linear)."
    formula = "linear(x, w, b) = x @ w + b"
    derivatives = (
        "d linear/dx: dx = dY @ w^T (or dY * w for scalars)",
        "d linear/dw: dw = x^T @ dY (or dY * x for scalars)",
        "d linear/db = 1: db = dY summed over the batch rows",
    )

    def shape(self, shapes, attrs):
        x, w, b = shapes
        xw = _broadcast([x, w]) if not x or not w else _matmul_shape(x, w)
        return _broadcast([xw, b])

    def forward(self, xs, attrs):
        x, w, b = xs
        if x.ndim == 0 or w.ndim == 0:
            return x * w + b
        return x @ w + b

    def backward(self, g, out, xs, attrs, need):
        x, w, _ = xs
        if x.ndim == 0 or w.ndim == 0:
            gx = g * w if need[0] else None
            gw = g * x if need[1] else None
        else:
            gx, gw = _matmul_backward(g, x, w, need)
        return [gx, gw, g if need[2] else None]


# ---- losses ---------------------------------------------------------------------------


class Mse(Op):
    name, arity = "mse", 2
    description = "Mean squared error between the truth y and the prediction yhat."
    formula = "mse(y, yhat) = mean((y - yhat) ** 2)"
    derivatives = ("d mse/dy = 2 * (y - yhat) / n", "d mse/dyhat = -2 * (y - yhat) / n")

    def shape(self, shapes, attrs):
        _broadcast(shapes)
        return ()

    def forward(self, xs, attrs):
        d = xs[0] - xs[1]
        return np.asarray(np.mean(d * d))

    def backward(self, g, out, xs, attrs, need):
        d = xs[0] - xs[1]
        gy = (2.0 / d.size) * g * d
        return [gy if need[0] else None, -gy if need[1] else None]


BCE_EPS = 1e-12


class Bce(Op):
    name, arity = "bce", 2
    description = (
        "Binary cross-entropy between labels y and probabilities p, "
        "with p clipped to [1e-12, 1 - 1e-12]."
    )
    formula = "bce(y, p) = -mean(y * log(p) + (1 - y) * log(1 - p))"
    derivatives = (
        "d bce/dy = -(log(p) - log(1 - p)) / n",
        "d bce/dp = -(y / p - (1 - y) / (1 - p)) / n",
    )

    def shape(self, shapes, attrs):
        _broadcast(shapes)
        return ()

    def forward(self, xs, attrs):
        y, p = xs[0], np.clip(xs[1], BCE_EPS, 1.0 - BCE_EPS)
        return np.asarray(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))

    def backward(self, g, out, xs, attrs, need):
        y, p = xs[0], np.clip(xs[1], BCE_EPS, 1.0 - BCE_EPS)
        n = np.broadcast_shapes(y.shape, p.shape)
        n = int(np.prod(n)) if n else 1
        gy = -g * (np.log(p) - np.log1p(-p)) / n if need[0] else None
        gp = -g * (y / p - (1.0 - y) / (1.0 - p)) / n if need[1] else None
        return [gy, gp]


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Input(), Param(), Const(),
        Add(), Sub(), Mul(), Div(), Pow(), Neg(), Square(),
        Sigmoid(), Relu(), Tanh(), Exp(), Log(), Softmax(), Transpose(),
        Sum(), Mean(), Matmul(), Linear(), Mse(), Bce(),
    )
}  # fmt: skip


def describe_ops() -> list[dict]:
    """Every op as plain data (what GET /api/ops serves)."""
    return [
        {
            "name": op.name,
            "arity": op.arity,
            "leaf": op.leaf,
            "trainable": op.trainable,
            "description": op.description,
            "formula": op.formula,
            "derivatives": list(op.derivatives),
            "attrs": dict(op.attr_defaults),
        }
        for op in OPS.values()
    ]
