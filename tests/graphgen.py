"""Random valid graphs over every op, and the same graphs evaluated by PyTorch.

Shared by the property tests (tests/test_properties.py, drawing through hypothesis) and
the long run in bench/fuzz_engine.py (drawing from a numpy generator). A graph mixes
scalars, vectors, (n, 1), (1, n), matrices and 3-D tensors that broadcast together,
reuses nodes (fan-out), and feeds extreme values (0, -0, 1e-300, +-800, +-1e300...) and
empty tensors. `torch_reference` evaluates a spec with PyTorch's autograd in float64, and
`compare` checks the engine's values and gradients against it.
"""

from __future__ import annotations

import math

import numpy as np

from stepgrad.engine.errors import ShapeError
from stepgrad.engine.ops import OPS

# values where float64 arithmetic gets interesting: signed zeros, subnormal and huge
# magnitudes, the edges of exp's range, the tails of sigmoid
EXTREMES = (
    0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, -1e-300, 1e-170, -1e-170, 40.0, -40.0,
    710.0, -710.0, 800.0, -800.0, 1e300, -1e300, 1e154, 3.0,
)  # fmt: skip
# without the magnitudes near overflow: a rounding residue (1e-17 where the other side has
# 0) times 1e300 is a difference of 1e283 that no tolerance can tell from a bug; and
# without -0, whose ties with +0 in max keep whichever zero the reduction met first (its
# order differs between numpy and PyTorch). The property tests in CI draw from these,
# bench/fuzz_engine.py from both.
MILD_EXTREMES = tuple(
    x for x in EXTREMES if abs(x) < 1e100 and not (x == 0 and math.copysign(1.0, x) < 0)
)
DIMS = (1, 2, 3)
UNARY = ("neg", "square", "sqrt", "abs", "sigmoid", "relu", "tanh", "exp", "log")
BINARY = ("add", "sub", "mul", "div", "pow")
AXIS_OPS = ("softmax", "log_softmax")
REDUCTIONS = ("sum", "mean", "max")
SHAPE_OPS = ("reshape", "transpose")
ALGEBRA = ("matmul", "linear")
LOSSES = ("mse", "bce", "cross_entropy")
ALL_OPS = UNARY + BINARY + AXIS_OPS + REDUCTIONS + SHAPE_OPS + ALGEBRA + LOSSES
RTOL = 1e-9
ABS_FLOOR = 1e-13


class RandomDraw:
    """Draws from a numpy generator (the fuzz script)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def choice(self, items):
        return items[int(self.rng.integers(len(items)))]


class HypothesisDraw:
    """Draws through hypothesis (the property tests), so failures shrink."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))

    def choice(self, items):
        return self.data.draw(self.st.sampled_from(items))


class GraphBuilder:
    def __init__(self, draw, extremes=EXTREMES, empty: bool = True):
        self.draw = draw
        self.extremes = extremes
        self.empty = empty
        self.nodes: list[dict] = []
        self.shapes: dict[str, tuple] = {}

    # ---- leaves --------------------------------------------------------------------

    def number(self, coarse: bool = False) -> float:
        if coarse:  # ties, for max and relu's kink
            return self.draw.choice((0.0, 1.0, -1.0, 2.0))
        if self.extremes and self.draw.integer(0, 5) == 0:
            return self.draw.choice(self.extremes)
        return self.draw.integer(-3000, 3000) / 997.0

    def shape(self, ndim_max: int = 3) -> tuple:
        ndim = self.draw.choice((0, 0, 1, 1, 2, 2, 2, 3)[: 2 + 2 * ndim_max])
        if self.empty and ndim and self.draw.integer(0, 14) == 0:
            # the empty axis last: nested lists cannot hold the axes after an empty one
            return (*[self.draw.choice(DIMS) for _ in range(ndim - 1)], 0)
        return tuple(self.draw.choice(DIMS) for _ in range(ndim))

    def leaf(self, shape: tuple, kind: str | None = None, values=None) -> str:
        kind = kind or self.draw.choice(("input", "param", "param", "const"))
        node_id = f"{kind[0]}{len(self.nodes)}"
        # nested lists cannot hold the axes after an empty one: [[], []] is 2 x 0, never more
        if 0 in shape:
            shape = shape[: shape.index(0) + 1]
        size = math.prod(shape)
        coarse = self.draw.integer(0, 5) == 0
        flat = [self.number(coarse) for _ in range(size)] if values is None else values
        value = np.array(flat, dtype=np.float64).reshape(shape).tolist()
        self.nodes.append({"id": node_id, "op": kind, "value": value})
        self.shapes[node_id] = shape
        return node_id

    def broadcastable(self, shape: tuple) -> tuple:
        """A shape that broadcasts with `shape`: some dims set to 1, maybe fewer or more axes."""
        dims = [1 if self.draw.integer(0, 2) == 0 else n for n in shape]
        how = self.draw.integer(0, 4)
        if how == 0 and dims:
            dims = dims[self.draw.integer(0, len(dims)) :]
        elif how == 1 and len(dims) < 3:
            dims = [self.draw.choice(DIMS), *dims]
        return tuple(dims)

    # ---- nodes ---------------------------------------------------------------------

    def pick(self) -> str:
        computed = [n["id"] for n in self.nodes if n["op"] not in ("input", "param", "const")]
        # mostly the newest node (chains), sometimes any earlier one (fan-out)
        if computed and self.draw.integer(0, 2):
            return computed[-1]
        return self.draw.choice([n["id"] for n in self.nodes])

    def add(self, op: str, inputs: list[str], attrs: dict | None = None) -> str | None:
        spec_attrs = OPS[op].check_attrs(attrs or {})
        try:
            shape = OPS[op].shape([self.shapes[i] for i in inputs], spec_attrs)
        except ShapeError:
            return None
        node_id = f"{op}{len(self.nodes)}"
        node = {"id": node_id, "op": op, "inputs": inputs}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        self.shapes[node_id] = tuple(shape)
        return node_id

    def axis_attrs(self, ndim: int) -> dict:
        how = self.draw.integer(0, 3)
        if how == 0 or ndim == 0:
            axis = None if how == 0 or self.draw.integer(0, 1) else self.draw.choice((0, -1))
        elif how == 1:
            axis = self.draw.integer(-ndim, ndim - 1)
        else:
            axes = [a for a in range(ndim) if self.draw.integer(0, 1)] or [0]
            axis = [a - ndim if self.draw.integer(0, 1) else a for a in axes]
        return {"axis": axis, "keepdims": bool(self.draw.integer(0, 1))}

    def step(self) -> str | None:
        op = self.draw.choice(ALL_OPS)
        a = self.pick()
        sa = self.shapes[a]
        if op in UNARY:
            return self.add(op, [a])
        if op in BINARY:
            if op == "pow" and self.draw.integer(0, 1):
                b = self.leaf((), "const", [self.draw.choice((0.0, 1.0, 2.0, 3.0, -1.0, 0.5))])
            elif self.draw.integer(0, 1):
                b = self.pick()
                if op == "div" and b == a:
                    # x / x: its gradient 1/x - (x/x)/x is a cancellation whose rounding
                    # residue differs with any earlier rounding; compared elsewhere
                    return None
            else:
                b = self.leaf(self.broadcastable(sa))
            return self.add(op, [a, b] if self.draw.integer(0, 3) else [b, a])
        if op in AXIS_OPS:
            ndim = len(sa)
            axis = self.draw.integer(-max(ndim, 1), max(ndim, 1) - 1)
            return self.add(op, [a], {"axis": axis})
        if op in REDUCTIONS:
            return self.add(op, [a], self.axis_attrs(len(sa)))
        if op == "transpose":
            perm = list(range(len(sa)))
            self.draw_permutation(perm)
            return self.add(op, [a], {"axes": perm} if self.draw.integer(0, 1) else None)
        if op == "reshape":
            size = math.prod(sa)
            options = [[-1], [1, -1], [-1, 1], [size], []]
            options += [[d, -1] for d in DIMS if size and size % d == 0]
            return self.add(op, [a], {"shape": self.draw.choice(options)})
        if op in ALGEBRA:
            return self.algebra(op, a, sa)
        return self.loss(op, a, sa)

    def draw_permutation(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.draw.integer(0, i)
            items[i], items[j] = items[j], items[i]

    def algebra(self, op: str, a: str, sa: tuple) -> str | None:
        if op == "linear" and self.draw.integer(0, 3) == 0:
            # the course's scalar Linear: x * w + b
            w = self.leaf(())
            b = self.leaf(self.broadcastable(sa))
            return self.add(op, [a, w, b])
        if len(sa) not in (1, 2):
            a = self.leaf(self.draw.choice(((3,), (2, 3), (1, 3))))
            sa = self.shapes[a]
        w_shape = (sa[-1],) if self.draw.integer(0, 2) == 0 else (sa[-1], self.draw.choice(DIMS))
        w = self.leaf(w_shape)
        if op == "matmul":
            return self.add(op, [a, w])
        out = sa[:-1] + w_shape[1:]
        # a bias that broadcasts the output beyond x @ w, sometimes
        b_shape = self.broadcastable(out) if self.draw.integer(0, 2) else (4,)
        if self.draw.integer(0, 4) == 0 and len(out) == 2 and out[1] == 1:
            b_shape = (out[0], 4)
        return self.add(op, [a, w, self.leaf(b_shape)])

    def loss(self, op: str, a: str, sa: tuple) -> str | None:
        if op == "mse":
            return self.add(op, [self.leaf(self.broadcastable(sa)), a])
        if op == "bce":
            p = self.add("sigmoid", [a])
            labels = [float(self.draw.integer(0, 1)) for _ in range(math.prod(sa))]
            shape = sa
            if self.draw.integer(0, 2) == 0:
                # labels larger than the prediction
                shape = (2, *sa) if len(sa) < 3 else sa
                labels = labels * (math.prod(shape) // max(math.prod(sa), 1))
                if math.prod(sa) == 0:
                    labels = []
            return self.add(op, [self.leaf(shape, "input", labels), p])
        # cross_entropy(y, z): y a distribution of z's shape
        if not sa:
            return None
        axis = self.draw.integer(-len(sa), len(sa) - 1)
        y = self.leaf(sa, "input", [abs(self.number()) % 1.0 for _ in range(math.prod(sa))])
        return self.add(op, [y, a], {"axis": axis})

    def build(self, n_ops: int) -> dict:
        for _ in range(self.draw.integer(1, 3)):
            self.leaf(self.shape())
        made = 0
        for _ in range(n_ops * 3):
            if made >= n_ops:
                break
            if self.step() is not None:
                made += 1
        output = self.nodes[-1]["id"]
        if self.draw.integer(0, 3):
            # mostly, every branch feeds the output (so every gradient is checked); else the
            # others stay dead ends, which get no gradient
            used = {i for n in self.nodes for i in n.get("inputs", ())}
            for sink in [n["id"] for n in self.nodes if n["id"] not in used][:-1]:
                total = self.add("sum", [sink])
                output = self.add("add", [output, total]) or output
        return {"name": "random", "nodes": self.nodes, "output": output}


def random_spec(draw, n_ops: int | None = None, **options) -> dict:
    return GraphBuilder(draw, **options).build(n_ops or draw.integer(1, 8))


# ---- PyTorch ------------------------------------------------------------------------


def _dims(axis, ndim: int) -> list[int]:
    if axis is None:
        return list(range(ndim))
    return list(axis) if isinstance(axis, list) else [axis]


def _torch_op(torch, op: str, ts: list, attrs: dict):
    F = torch.nn.functional
    a = ts[0]
    if op in ("add", "sub", "mul", "div"):
        return {"add": a + ts[1], "sub": a - ts[1], "mul": a * ts[1], "div": a / ts[1]}[op]
    if op == "pow":
        return torch.pow(a, ts[1])
    if op == "square":
        return torch.pow(a, 2)
    if op in ("neg", "sqrt", "abs", "sigmoid", "relu", "tanh", "exp", "log"):
        return getattr(torch, op)(a)
    if op in ("softmax", "log_softmax"):
        return getattr(F, op)(a, dim=attrs["axis"])
    if op in ("sum", "mean", "max"):
        fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}[op]
        return fn(a, dim=_dims(attrs["axis"], a.dim()), keepdim=attrs["keepdims"])
    if op == "transpose":
        axes = attrs["axes"]
        return torch.permute(a, list(reversed(range(a.dim()))) if axes is None else axes)
    if op == "reshape":
        return a.reshape(attrs["shape"])
    if op == "matmul":
        # the engine's exact zeros are +0 (BLAS libraries differ in their sign)
        return a @ ts[1] + 0.0
    if op == "linear":
        return (a * ts[1] if a.dim() == 0 or ts[1].dim() == 0 else a @ ts[1]) + ts[2]
    if op == "mse":
        y, yhat = torch.broadcast_tensors(*ts)
        return F.mse_loss(yhat, y)
    if op == "bce":
        y, p = torch.broadcast_tensors(*ts)
        return F.binary_cross_entropy(p, y)
    if op == "cross_entropy":
        y, z = torch.broadcast_tensors(*ts)
        # PyTorch's classes are on axis 1 (axis 0 for one sample)
        axis = attrs["axis"] % z.dim()
        if z.dim() > 1:
            y, z = y.movedim(axis, 1), z.movedim(axis, 1)
        return F.cross_entropy(z, y)
    raise AssertionError(f"no PyTorch reference for {op}")


class TorchRefused(Exception):
    """PyTorch refuses the graph (bce of a probability outside [0, 1], say)."""


class IllConditioned(TorchRefused):
    """A sum in the graph cancels terms far larger than its result (1e300 - 1e300 + 0.5):
    its digits depend on the order of summation, which numpy and PyTorch choose
    differently, so the graph cannot be compared."""


CONDITION_LIMIT = 1e8


def _check_conditioning(torch, op: str, ts: list, t) -> None:
    """Raise IllConditioned when a sum's result is far smaller than the sum of its terms'
    magnitudes, or when its terms overflow with both signs (inf - inf, or inf, or a finite
    number, by the order of summation)."""
    if op not in ("sum", "mean", "matmul", "linear") or t.numel() == 0:
        return
    with torch.no_grad():
        if op in ("sum", "mean"):
            x = ts[0].detach()
            up = torch.sum(x.clamp(min=0), dim=t.attrs_dims, keepdim=t.attrs_keep)
            down = torch.sum((-x).clamp(min=0), dim=t.attrs_dims, keepdim=t.attrs_keep)
        elif ts[0].dim() and ts[1].dim():
            a, b = ts[0].detach(), ts[1].detach()
            a2 = a.reshape(1, -1) if a.dim() == 1 else a
            b2 = b.reshape(-1, 1) if b.dim() == 1 else b
            # every product of the matrix product, 0 * inf counted as 0
            terms = torch.nan_to_num(a2[:, :, None] * b2[None, :, :], nan=0.0)
            up = terms.clamp(min=0).sum(dim=1).reshape(t.shape if op == "matmul" else -1)
            down = (-terms).clamp(min=0).sum(dim=1).reshape(up.shape)
        else:
            return
        bound, result = up + down, (up - down).abs()
        cancels = torch.isfinite(bound) & (bound > CONDITION_LIMIT * result) & (bound > 1e-290)
        overflows = ~torch.isfinite(bound) & (up > 0) & (down > 0)
        if bool((cancels | overflows).any()):
            raise IllConditioned(f"{op} cancels terms up to {float(bound.max()):.3g}")


def torch_reference(torch, spec: dict) -> tuple[dict, dict]:
    """Values and gradients (d output / d node, seeded with ones) of every node."""
    ts: dict = {}
    for node in spec["nodes"]:
        op = node["op"]
        if OPS[op].leaf:
            t = torch.tensor(node["value"], dtype=torch.float64)
            if op != "const":
                t.requires_grad_(True)
            ts[node["id"]] = t
            continue
        attrs = OPS[op].check_attrs(node.get("attrs") or {})
        inputs = [ts[i] for i in node["inputs"]]
        try:
            t = _torch_op(torch, op, inputs, attrs)
        except RuntimeError as exc:
            raise TorchRefused(str(exc)) from None
        if op in ("sum", "mean"):
            t.attrs_dims = _dims(attrs["axis"], inputs[0].dim())
            t.attrs_keep = attrs["keepdims"]
        _check_conditioning(torch, op, inputs, t)
        if t.requires_grad:
            t.retain_grad()
        ts[node["id"]] = t
    out = ts[spec["output"]]
    if out.requires_grad:
        out.backward(torch.ones_like(out))
    values = {nid: t.detach().numpy().copy() for nid, t in ts.items()}
    grads = {nid: t.grad.numpy().copy() for nid, t in ts.items() if t.grad is not None}
    return values, grads


def _largest(arrays) -> float:
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    return max((float(f.max()) for f in finite if f.size), default=0.0)


def assert_same(mine, ref, what: str, scale: float = 0.0) -> None:
    """Equal to rtol 1e-9: NaN where PyTorch has NaN, the same infinities, the same shape.

    Where terms cancel, the residue (about 1e-16 of the terms) has no correct digits on
    either side and differs with the order of operations, so elements are also equal
    within 1e-13 of `scale` (at least the array's own largest finite magnitude, and 1)."""
    mine = np.asarray(mine, dtype=np.float64)
    assert mine.shape == ref.shape, f"{what}: shape {mine.shape} against PyTorch's {ref.shape}"
    scale = max(scale, _largest([ref]), 1.0)
    np.testing.assert_allclose(
        mine, ref, rtol=RTOL, atol=ABS_FLOOR * scale, equal_nan=True, err_msg=what
    )


def _close(mine, ref, atol: float) -> bool:
    mine = np.asarray(mine, dtype=np.float64)
    if mine.shape != ref.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.isclose(mine, ref, rtol=RTOL, atol=atol, equal_nan=True)))


def compare(values, grads, ref_values, ref_grads, how: str, graph=None) -> None:
    """Every value and gradient of the engine against PyTorch's (see `assert_same`).

    With the graph, gradients are checked from the output back. A gradient that matches
    only within the residue floor is a rounding residue (1e-17 where the other side has
    exactly 0); what the nodes feeding it receive is that residue times their local
    derivatives, which can be 1e12 (bce's clamp) or infinite (sqrt at 0): those nodes are
    not compared."""
    for nid, ref in ref_values.items():
        assert_same(values[nid], ref, f"{how}: value of {nid}")
    # a gradient sums what flows back from its consumers; softmax's backward, for one,
    # cancels terms as large as the largest gradient in the graph
    flow = _largest(ref_grads.values())
    order = list(reversed(graph.order)) if graph is not None else list(ref_grads)
    residue: set[str] = set()
    for nid in order:
        if nid not in ref_grads:
            continue
        ref = ref_grads[nid]
        assert grads.get(nid) is not None, f"{how}: no gradient for {nid}"
        fed_residue = graph is not None and any(c in residue for c, _ in graph.consumers[nid])
        if _close(grads[nid], ref, 0.0):
            continue
        floor = ABS_FLOOR * max(flow, _largest([ref]), 1.0)
        if fed_residue or _close(grads[nid], ref, floor):
            residue.add(nid)
            continue
        assert_same(grads[nid], ref, f"{how}: gradient of {nid}", flow)
