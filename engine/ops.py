"""One small class per operation: shape rule, forward, backward and the formulas shown to students.

`backward(g, out, xs, attrs, need)` returns one gradient per input (the vector-Jacobian
product `g * d out / d input`), or None where `need` says that input wants none. The
graph reduces each gradient back to its input's shape after numpy broadcasting, so an
op may return it on the broadcast shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, TypeGuard

import numpy as np

from stepgrad.engine.errors import ShapeError
from stepgrad.engine.tensor import Array, unbroadcast

Shape = tuple[int, ...]
Attrs = dict[str, Any]
# one gradient per input, None where `need` wants none
Grads = list[Array | None]


def _sum(x: Array, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
    """np.sum starting from +0, as PyTorch's sums do: a sum of negative zeros is +0 (numpy
    starts from the first element and keeps -0, which turns a later 1 / sum into -inf)."""
    return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, initial=0.0))


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
    attr_defaults: ClassVar[Attrs] = {}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        """Output shape for these input shapes, or ShapeError (without the node id)."""
        return _broadcast(shapes)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        raise NotImplementedError

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        raise NotImplementedError

    def check_attrs(self, attrs: Attrs) -> Attrs:
        """Fill defaults; reject unknown attrs. Raises ValueError with a short reason."""
        unknown = set(attrs) - set(self.attr_defaults)
        if unknown:
            known = ", ".join(sorted(self.attr_defaults)) or "none"
            raise ValueError(f"unknown attribute(s) {sorted(unknown)} (known: {known})")
        return {**self.attr_defaults, **attrs}


class Leaf(Op):
    arity = 0
    leaf = True

    def shape(
        self, shapes: list[Shape], attrs: Attrs
    ) -> Shape:  # pragma: no cover - leaves take their value's shape
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

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return xs[0] + xs[1]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g if need[0] else None, g if need[1] else None]


class Sub(Op):
    name, arity = "sub", 2
    description = "Elementwise difference, with numpy broadcasting."
    formula = "a - b"
    derivatives = ("d(a - b)/da = 1", "d(a - b)/db = -1")

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return xs[0] - xs[1]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g if need[0] else None, -g if need[1] else None]


class Mul(Op):
    name, arity = "mul", 2
    description = "Elementwise product, with numpy broadcasting."
    formula = "a * b"
    derivatives = ("d(a * b)/da = b", "d(a * b)/db = a")

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return xs[0] * xs[1]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        a, b = xs
        return [g * b if need[0] else None, g * a if need[1] else None]


class Div(Op):
    name, arity = "div", 2
    description = "Elementwise quotient, with numpy broadcasting."
    formula = "a / b"
    derivatives = ("d(a / b)/da = 1 / b", "d(a / b)/db = -a / b**2")

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return xs[0] / xs[1]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        a, b = xs
        # (a / b) / b rather than a / (b * b): b * b underflows for |b| < 1e-154
        return [g / b if need[0] else None, -g * ((a / b) / b) if need[1] else None]


def _power(x: Array, p: Array) -> Array:
    """x ** p by C's pow, as PyTorch computes it. numpy turns a one-element exponent of 0.5
    into sqrt, which differs at -inf (NaN, not inf) and at -0; an exponent written out to
    the full shape (a real array, not a broadcast view) takes the general path."""
    if np.size(p) != 1:
        return np.power(x, p)
    shape = np.broadcast_shapes(np.shape(x), np.shape(p))
    full = np.broadcast_to(p, shape or (1,)).copy()
    return np.power(x, full).reshape(shape)


class Pow(Op):
    name, arity = "pow", 2
    description = "Elementwise power; the exponent is the second input."
    formula = "x ** p"
    derivatives = ("d(x ** p)/dx = p * x ** (p - 1)", "d(x ** p)/dp = x ** p * log(x)")

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return _power(xs[0], xs[1])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        x, p = xs
        gx = gp = None
        if need[0]:
            # PyTorch's rule: x ** 0 is constant, so no gradient even where x ** -1 is inf
            gx = np.where(p == 0.0, 0.0, g * (p * _power(x, p - 1.0)))
        if need[1]:
            # PyTorch's rule: none where x == 0 and p >= 0 (0 * log 0 would be NaN);
            # 0 ** -1 keeps inf * log(0) = -inf
            gp = g * np.where((x == 0.0) & (p >= 0.0), 0.0, out * np.log(x))
        return [gx, gp]


# ---- elementwise unary ----------------------------------------------------------------


class Unary(Op):
    arity = 1

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        return shapes[0]


class Neg(Unary):
    name = "neg"
    description = "Negation."
    formula = "-u"
    derivatives = ("d(-u)/du = -1",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return -xs[0]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [-g]


class Square(Unary):
    name = "square"
    description = "Elementwise square."
    formula = "u ** 2"
    derivatives = ("d(u ** 2)/du = 2 * u",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return xs[0] * xs[0]

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g * (2.0 * xs[0])]


class Sqrt(Unary):
    name = "sqrt"
    description = "Elementwise square root; the root of a negative number is NaN."
    formula = "sqrt(u)"
    derivatives = ("d sqrt(u)/du = 1 / (2 * sqrt(u))",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.sqrt(xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g / (2.0 * out)]


def _sign(u: Array) -> Array:
    # PyTorch's sign(NaN) is 0, numpy's is NaN
    s = np.sign(u)
    return np.where(np.isnan(s), 0.0, s)


class Abs(Unary):
    name = "abs"
    description = "Absolute value; its derivative at 0 is 0, as in PyTorch."
    formula = "|u|"
    derivatives = ("d |u|/du = sign(u) (0 at u = 0)",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.abs(xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g * _sign(xs[0])]


class Sigmoid(Unary):
    name = "sigmoid"
    description = "The logistic function, squashing any number into (0, 1)."
    formula = "sigmoid(u) = 1 / (1 + exp(-u))"
    derivatives = ("d sigmoid(u)/du = sigmoid(u) * (1 - sigmoid(u))",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        # exact down to sigmoid(-709) = 1.2e-308 (no cancellation: 1 + exp(-u) only
        # grows); exp(-u) overflows to inf below that and the result is 0, as in PyTorch
        return 1.0 / (1.0 + np.exp(-xs[0]))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g * (1.0 - out) * out]


class Relu(Unary):
    name = "relu"
    description = "Rectified linear unit: negative values become 0."
    formula = "relu(u) = max(u, 0)"
    derivatives = ("d relu(u)/du = 1 if u > 0 else 0",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        # not np.maximum: PyTorch keeps relu(-0.0) = -0.0 (and NaN stays NaN)
        return np.where(xs[0] < 0.0, 0.0, xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        # a mask, not a product: an infinite g stays out of the zeros (inf * 0 is NaN);
        # relu'(0) = 0, as in PyTorch
        return [np.where(out <= 0.0, 0.0, g)]


class Tanh(Unary):
    name = "tanh"
    description = "Hyperbolic tangent, squashing any number into (-1, 1)."
    formula = "tanh(u)"
    derivatives = ("d tanh(u)/du = 1 - tanh(u) ** 2",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.tanh(xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g * (1.0 - out * out)]


class Exp(Unary):
    name = "exp"
    description = "Elementwise exponential."
    formula = "exp(u)"
    derivatives = ("d exp(u)/du = exp(u)",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.exp(xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g * out]


class Log(Unary):
    name = "log"
    description = "Natural logarithm; log(0) is -inf and log of a negative number is NaN."
    formula = "log(u)"
    derivatives = ("d log(u)/du = 1 / u",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.log(xs[0])

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [g / xs[0]]


# ---- axes -----------------------------------------------------------------------------


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _one_axis(axis: object, ndim: int) -> int:
    # a 0-d tensor takes axis 0 or -1, as in PyTorch
    if not _is_int(axis) or not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ShapeError(f"axis {axis!r} is out of range for a tensor with {ndim} dimension(s)")
    return axis % ndim if ndim else 0


def _axes(axis: object, ndim: int) -> tuple[int, ...]:
    """The axes a reduction runs over, sorted: all of them for None."""
    if axis is None:
        return tuple(range(ndim))
    items = list(axis) if isinstance(axis, list | tuple) else [axis]
    if not items:
        # numpy would reduce nothing, PyTorch everything: neither is worth guessing
        raise ShapeError("axis [] names no axis; use null for all of them")
    axes = [_one_axis(a, ndim) for a in items]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {axis!r} names the same axis twice")
    return tuple(sorted(axes)) if ndim else ()


def _keepdims(attrs: Attrs) -> bool:
    keep = attrs.get("keepdims", False)
    if not isinstance(keep, bool):
        raise ShapeError(f"keepdims must be true or false, got {keep!r}")
    return keep


def _reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _count(shape: Shape, axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def _expand(g: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    """A reduction's gradient with the reduced axes put back (as size 1)."""
    return g if keepdims or not axes else np.expand_dims(g, axes)


class Transpose(Unary):
    name = "transpose"
    description = "Permutes the axes: reverses them by default (the matrix transpose in 2-D)."
    formula = "u^T"
    derivatives = ("d(u^T)/du: the incoming gradient, permuted back",)
    attr_defaults: ClassVar[Attrs] = {"axes": None}

    @staticmethod
    def _perm(attrs: Attrs, ndim: int) -> tuple[int, ...]:
        axes = attrs.get("axes")
        if axes is None:
            return tuple(reversed(range(ndim)))
        if not isinstance(axes, list | tuple) or sorted(_one_axis(a, ndim) for a in axes) != list(
            range(ndim)
        ):
            raise ShapeError(
                f"axes {axes!r} must list each of the {ndim} axes once, in their new order"
            )
        return tuple(_one_axis(a, ndim) for a in axes)

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        return tuple(shapes[0][a] for a in self._perm(attrs, len(shapes[0])))

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.transpose(xs[0], self._perm(attrs, xs[0].ndim))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [np.transpose(g, np.argsort(self._perm(attrs, xs[0].ndim)))]


# numpy's own limit is 64 axes; sizes beyond int32 only fit tensors with no elements
MAX_DIMS = 32
MAX_DIM_SIZE = 2**31 - 1


class Reshape(Unary):
    name = "reshape"
    description = "The same elements in a new shape (`shape`, with at most one -1 to infer)."
    formula = "reshape(u, shape)"
    derivatives = ("d reshape(u)/du: the incoming gradient, reshaped back",)
    attr_defaults: ClassVar[Attrs] = {"shape": None}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        want = attrs.get("shape")
        if not isinstance(want, list | tuple) or not all(_is_int(n) and n >= -1 for n in want):
            raise ShapeError(f"shape {want!r} must be a list of sizes (one of them may be -1)")
        if len(want) > MAX_DIMS or any(n > MAX_DIM_SIZE for n in want):
            raise ShapeError(
                f"shape {list(want)[:8]} is out of range (at most {MAX_DIMS} axes, "
                f"each of at most {MAX_DIM_SIZE})"
            )
        size = math.prod(shapes[0])
        known = math.prod(n for n in want if n != -1)
        if list(want).count(-1) > 1:
            raise ShapeError(f"shape {list(want)} has more than one -1")
        if -1 in want:
            if known == 0 or size % known:
                raise ShapeError(f"{size} elements cannot be reshaped to {list(want)}")
            return tuple(size // known if n == -1 else n for n in want)
        if known != size:
            raise ShapeError(f"{size} elements cannot be reshaped to {list(want)}")
        return tuple(want)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return np.reshape(xs[0], self.shape([xs[0].shape], attrs))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [np.reshape(g, xs[0].shape)]


class Softmax(Unary):
    name = "softmax"
    description = "Softmax along an axis (the last by default): positive, sums to 1."
    formula = "softmax(u)_i = exp(u_i) / sum_j exp(u_j)"
    derivatives = ("d softmax(u)/du = s * (g - sum(g * s)) with s = softmax(u)",)
    attr_defaults: ClassVar[Attrs] = {"axis": -1}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        _softmax_axis(attrs, len(shapes[0]))
        return shapes[0]

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        axis = _softmax_axis(attrs, xs[0].ndim)
        if xs[0].size == 0:
            return xs[0].copy()
        e: Array = np.exp(xs[0] - np.max(xs[0], axis=axis, keepdims=True))
        return e / _sum(e, axis, True)

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        axis = _softmax_axis(attrs, out.ndim)
        gs = g * out
        return [gs - out * _sum(gs, axis, True)]


def _softmax_axis(attrs: Attrs, ndim: int) -> int | None:
    axis = _one_axis(attrs.get("axis"), ndim)
    return axis if ndim else None


def _log_softmax(u: Array, axis: int | None) -> Array:
    if u.size == 0:
        return u.copy()
    shifted: Array = u - np.max(u, axis=axis, keepdims=True)
    log_total: Array = np.log(_sum(np.exp(shifted), axis, True))
    return shifted - log_total


class LogSoftmax(Unary):
    name = "log_softmax"
    description = (
        "log(softmax(u)) along an axis (the last by default), computed as "
        "u - max(u) - log(sum(exp(u - max(u)))): finite where softmax would round to 0."
    )
    formula = "log_softmax(u)_i = u_i - log(sum_j exp(u_j))"
    derivatives = ("d log_softmax(u)/du = g - softmax(u) * sum(g)",)
    attr_defaults: ClassVar[Attrs] = {"axis": -1}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        _softmax_axis(attrs, len(shapes[0]))
        return shapes[0]

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        return _log_softmax(xs[0], _softmax_axis(attrs, xs[0].ndim))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        axis = _softmax_axis(attrs, out.ndim)
        return [g - np.exp(out) * _sum(g, axis, True)]


# ---- reductions -----------------------------------------------------------------------


class Sum(Unary):
    name = "sum"
    description = "Sum of all elements, or over the axes in `axis` (keepdims keeps them as 1)."
    formula = "sum(u) = sum_i u_i"
    derivatives = ("d sum(u)/du_i = 1",)
    attr_defaults: ClassVar[Attrs] = {"axis": None, "keepdims": False}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        return _reduced_shape(shapes[0], _axes(attrs.get("axis"), len(shapes[0])), _keepdims(attrs))

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        axes = _axes(attrs.get("axis"), xs[0].ndim)
        return _sum(xs[0], axes, _keepdims(attrs))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        return [self._spread(g, xs[0], attrs)]

    @staticmethod
    def _spread(g: Array, x: Array, attrs: Attrs) -> Array:
        """The reduction's gradient spread back over every element of its input."""
        axes = _axes(attrs.get("axis"), x.ndim)
        return np.broadcast_to(_expand(g, axes, _keepdims(attrs)), x.shape)


class Mean(Sum):
    name = "mean"
    description = "Mean of all elements, or over the axes in `axis`; the mean of nothing is NaN."
    formula = "mean(u) = sum_i u_i / n"
    derivatives = ("d mean(u)/du_i = 1 / n",)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        # a sum and a division: np.mean warns on an empty tensor, PyTorch gives NaN
        axes = _axes(attrs.get("axis"), xs[0].ndim)
        total = _sum(xs[0], axes, _keepdims(attrs))
        return np.asarray(total / _count(xs[0].shape, axes))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        grad = self._spread(g, xs[0], attrs)
        n = _count(xs[0].shape, _axes(attrs.get("axis"), xs[0].ndim))
        return [grad / n if n else grad]


class Max(Sum):
    name = "max"
    description = (
        "Largest element, or largest along the axes in `axis`; ties share the gradient equally."
    )
    formula = "max(u) = max_i u_i"
    derivatives = ("d max(u)/du_i = 1 / (number of ties) where u_i == max(u), else 0",)

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        axes = _axes(attrs.get("axis"), len(shapes[0]))
        if _count(shapes[0], axes) == 0:
            raise ShapeError(f"the max over no elements is undefined (shape {list(shapes[0])})")
        return super().shape(shapes, attrs)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        axes = _axes(attrs.get("axis"), xs[0].ndim)
        return np.asarray(np.max(xs[0], axis=axes, keepdims=_keepdims(attrs)))

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        # PyTorch's amax: the comparison u == max(u) picks the winners, (g / count) * mask
        axes = _axes(attrs.get("axis"), xs[0].ndim)
        keep = _keepdims(attrs)
        mask = xs[0] == _expand(out, axes, keep)
        count = np.sum(mask, axis=axes, keepdims=True)
        return [(_expand(g, axes, keep) / count) * mask]


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


def _matmul_backward(
    g: Array, a: Array, b: Array, need: Sequence[bool]
) -> tuple[Array | None, Array | None]:
    """Gradients of a @ b for 1-D/2-D operands: dA = g @ B^T, dB = A^T @ g."""
    if a.ndim == 2 and b.ndim == 2:  # the common case, without reshapes
        return (g @ b.T if need[0] else None), (a.T @ g if need[1] else None)
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

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        return _matmul_shape(*shapes)

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        # + 0.0 makes an exact zero +0: BLAS libraries (numpy's, PyTorch's) differ in its sign
        return xs[0] @ xs[1] + 0.0

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
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

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        x, w, b = shapes
        xw = _broadcast([x, w]) if not x or not w else _matmul_shape(x, w)
        return _broadcast([xw, b])

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        x, w, b = xs
        if x.ndim == 0 or w.ndim == 0:
            return x * w + b
        return x @ w + b

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        x, w, _ = xs
        if x.ndim == 0 or w.ndim == 0:
            gx = g * w if need[0] else None
            gw = g * x if need[1] else None
        else:
            # b may broadcast the output beyond x @ w: sum g back to the product's shape first
            xw = x.shape[:-1] + w.shape[1:]
            gx, gw = _matmul_backward(g if g.shape == xw else unbroadcast(g, xw), x, w, need)
        return [gx, gw, g if need[2] else None]


# ---- losses ---------------------------------------------------------------------------


def _size(shape: Shape) -> int:
    return int(np.prod(shape)) if shape else 1


class Mse(Op):
    name, arity = "mse", 2
    description = "Mean squared error between the truth y and the prediction yhat."
    formula = "mse(y, yhat) = mean((y - yhat) ** 2)"
    derivatives = ("d mse/dy = 2 * (y - yhat) / n", "d mse/dyhat = -2 * (y - yhat) / n")

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        _broadcast(shapes)
        return ()

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        d = xs[0] - xs[1]
        # the mean of nothing is NaN, as in PyTorch (np.mean would warn); squares are never
        # -0, so a plain sum will do
        return np.asarray((d * d).sum() / d.size if d.size else np.nan)

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        # PyTorch's mse_loss_backward with yhat as the input: 2 / n * (yhat - y) * g
        d = xs[1] - xs[0]
        gyhat = (2.0 / max(d.size, 1)) * d * g
        return [-gyhat if need[0] else None, gyhat if need[1] else None]


BCE_LOG_FLOOR = -100.0
# PyTorch clamps p * (1 - p) at its float32 EPSILON, 1e-12 rounded to float32
BCE_EPS = float(np.float32(1e-12))


class Bce(Op):
    name, arity = "bce", 2
    description = (
        "Binary cross-entropy between labels y and probabilities p, as PyTorch's "
        "binary_cross_entropy: each log is floored at -100, so p = 0 or 1 gives a finite loss; "
        "p outside [0, 1] gives NaN (PyTorch refuses it)."
    )
    formula = "bce(y, p) = -mean(y * log(p) + (1 - y) * log(1 - p))"
    derivatives = (
        "d bce/dy = -(log(p) - log(1 - p)) / n",
        "d bce/dp = (p - y) / (p * (1 - p)) / n",
    )

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        _broadcast(shapes)
        return ()

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        y, p = xs
        loss = (y - 1.0) * np.maximum(np.log1p(-p), BCE_LOG_FLOOR) - y * np.maximum(
            np.log(p), BCE_LOG_FLOOR
        )
        return np.asarray(_sum(loss) / loss.size if loss.size else np.nan)

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        y, p = xs
        # both gradients live on the broadcast shape, whichever input is the larger
        n = max(_size(np.broadcast_shapes(y.shape, p.shape)), 1)
        gy = gp = None
        if need[0]:
            gy = np.broadcast_to(-np.log(p / (1.0 - p)), np.broadcast_shapes(y.shape, p.shape))
            gy = gy * g / n
        if need[1]:
            gp = g * (p - y) / np.maximum((1.0 - p) * p, BCE_EPS) / n
        return [gy, gp]


class CrossEntropy(Op):
    name, arity = "cross_entropy", 2
    description = (
        "Cross-entropy between class probabilities y (one-hot labels, or any distribution) "
        "and logits z along `axis` (the last by default), averaged over the other elements; "
        "through log_softmax, so large logits stay finite. PyTorch's cross_entropy with "
        "probability targets."
    )
    formula = "cross_entropy(y, z) = -mean(sum_axis(y * log_softmax(z)))"
    derivatives = (
        "d cross_entropy/dy = -log_softmax(z) / n",
        "d cross_entropy/dz = (softmax(z) * sum_axis(y) - y) / n",
    )
    attr_defaults: ClassVar[Attrs] = {"axis": -1}

    def shape(self, shapes: list[Shape], attrs: Attrs) -> Shape:
        full = _broadcast(shapes)
        if not full:
            raise ShapeError("cross_entropy needs at least one axis of classes, got scalars")
        _one_axis(attrs.get("axis"), len(full))
        return ()

    @staticmethod
    def _terms(xs: list[Array], attrs: Attrs) -> tuple[Array, Array, int, int]:
        y, z = xs
        full = np.broadcast_shapes(y.shape, z.shape)
        axis = _one_axis(attrs.get("axis"), len(full))
        rows = _size(full[:axis] + full[axis + 1 :])
        return y, np.broadcast_to(z, full), axis, rows

    def forward(self, xs: list[Array], attrs: Attrs) -> Array:
        # PyTorch's order: -(sum of log_softmax(z) * y) / rows; nothing at all gives NaN
        y, z, axis, rows = self._terms(xs, attrs)
        if z.size == 0:
            return np.asarray(np.nan)
        return np.asarray(-_sum(_log_softmax(z, axis) * y) / rows)

    def backward(
        self, g: Array, out: Array, xs: list[Array], attrs: Attrs, need: Sequence[bool]
    ) -> Grads:
        y, z, axis, rows = self._terms(xs, attrs)
        ls = _log_softmax(z, axis)
        gm = np.broadcast_to(-(g / max(rows, 1)), ls.shape)
        gy = gm * ls if need[0] else None
        gz = None
        if need[1]:
            gls = gm * y
            gz = gls - np.exp(ls) * _sum(gls, axis, True)
        return [gy, gz]


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Input(), Param(), Const(),
        Add(), Sub(), Mul(), Div(), Pow(), Neg(), Square(),
        Sqrt(), Abs(), Sigmoid(), Relu(), Tanh(), Exp(), Log(),
        Softmax(), LogSoftmax(), Transpose(), Reshape(),
        Sum(), Mean(), Max(), Matmul(), Linear(), Mse(), Bce(), CrossEntropy(),
    )
}  # fmt: skip


def describe_ops() -> list[dict[str, Any]]:
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
