"""Layered (Sugiyama-style) layout of a DAG for a left-to-right drawing.

1. Layers are topological generations (the engine's `graph.layers`): a node sits one
   layer right of its deepest input. A leaf (no inputs) is drawn in the column just left
   of its first consumer rather than in the first column: a param or a target that enters
   late sits beside the node it feeds, so the first column is not a tall stack of every
   leaf and its edges are short (`Layout.column`; `layer` stays the generation).
2. An edge spanning several layers gets a virtual point in every layer it crosses, so
   that all segments join adjacent layers; the drawing follows those points
   (`Layout.points`).
3. Inside each layer the order starts as the topological (spec) order and is improved by
   barycenter sweeps: each node moves to the mean position of its neighbours in the layer
   before (sweeping down) or after (sweeping up). The best ordering seen, counted in edge
   crossings, is kept, so the result never has more crossings than the start.
4. x = column * spacing_x; y stacks the column's nodes by their heights (`heights`, in rows
   of spacing_y: a tensor node is drawn taller than a scalar one, a virtual point is a thin
   pass between nodes), centred on 0; so a column of small nodes is not spaced for the
   tallest one of the graph.

Everything runs on numpy arrays, one vector step per layer; no recursion. Deterministic:
the same nodes and edges in the same order give the same layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

SPACING_X = 160.0
SPACING_Y = 80.0
SWEEPS = 4  # pairs of (down, up) sweeps
# heights in rows of SPACING_Y: a scalar node 1, a tensor node as drawn (its value and gradient
# as small heatmaps: 164 px against 92, with the 30 px between nodes), an edge's waypoint less
TENSOR_ROWS = (164 + 30) / (92 + 30)
VIRTUAL_ROWS = 0.6


@dataclass(frozen=True)
class Layout:
    layer: dict[str, int]  # topological generation
    column: dict[str, int]  # where it is drawn: the generation, a leaf next to its consumer
    rank: dict[str, int]  # place inside the layer, virtual points included
    x: dict[str, float]
    y: dict[str, float]
    # waypoints of edges spanning more than one layer, keyed by (source, target)
    points: dict[tuple[str, str], list[tuple[float, float]]]
    crossings: int  # segment crossings of the layout
    initial_crossings: int  # crossings with the layers in topological order


def columns(
    nodes: Sequence[str], edges: Iterable[tuple[str, str]], layer: dict[str, int]
) -> dict[str, int]:
    """The column of every node: its layer, but a leaf (a node without inputs) one column left
    of its leftmost consumer (a leaf that feeds nothing stays in column 0)."""
    column = dict(layer)
    first: dict[str, int] = {}
    for u, v in edges:
        if layer[u] == 0:
            first[u] = min(first.get(u, layer[v]), layer[v])
    for u, lay in first.items():
        column[u] = lay - 1
    return column


def generations(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Topological generation of every node (0 for nodes without inputs), by a loop.

    `nodes` must be in topological order."""
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        preds[v].append(u)
    layer: dict[str, int] = {}
    for n in nodes:
        layer[n] = 1 + max((layer[u] for u in preds[n]), default=-1)
    return layer


class _Segments:
    """The DAG with virtual points: integer node ids, all segments between adjacent layers."""

    def __init__(self, nodes: Sequence[str], edges: Iterable[tuple[str, str]], layer: dict):
        index = {n: i for i, n in enumerate(nodes)}
        layers = [layer[n] for n in nodes]
        # initial key inside a layer: real nodes by their topological index; a virtual
        # point by the index of its edge's source, after the real nodes of that index
        keys: list[float] = [float(i) for i in range(len(nodes))]
        src: list[int] = []
        dst: list[int] = []
        self.chains: dict[tuple[str, str], list[int]] = {}
        seen: set[tuple[str, str]] = set()
        for u, v in edges:
            if (u, v) in seen:
                continue
            seen.add((u, v))
            a, b = index[u], index[v]
            span = layers[b] - layers[a]
            if span < 1:
                raise ValueError(f"edge {u!r} -> {v!r} does not go to a later layer")
            prev = a
            chain = []
            for step in range(1, span):
                virtual = len(layers)
                layers.append(layers[a] + step)
                keys.append(a + 0.5)
                chain.append(virtual)
                src.append(prev)
                dst.append(virtual)
                prev = virtual
            src.append(prev)
            dst.append(b)
            if chain:
                self.chains[(u, v)] = chain
        self.n_real = len(nodes)
        self.layer = np.asarray(layers, dtype=np.int64)
        self.src = np.asarray(src, dtype=np.int64)
        self.dst = np.asarray(dst, dtype=np.int64)
        self.n_layers = int(self.layer.max()) + 1 if len(layers) else 0
        key = np.asarray(keys)
        # members of each layer, in initial order
        by_layer = np.lexsort((np.arange(len(layers)), key, self.layer))
        counts = np.bincount(self.layer, minlength=self.n_layers)
        self.initial = np.split(by_layer, np.cumsum(counts)[:-1]) if len(layers) else []
        # segments leaving each layer (segment layer = layer of its source)
        seg_layer = self.layer[self.src]
        self.into = [np.flatnonzero(seg_layer == lay - 1) for lay in range(self.n_layers)]
        self.out_of = [np.flatnonzero(seg_layer == lay) for lay in range(self.n_layers)]

    def positions(self, orders: list[np.ndarray]) -> np.ndarray:
        pos = np.empty(len(self.layer), dtype=np.int64)
        for order in orders:
            pos[order] = np.arange(len(order))
        return pos

    def crossings(self, pos: np.ndarray) -> int:
        if not len(self.src):
            return 0
        return count_segment_crossings(self.layer[self.src], pos[self.src], pos[self.dst])

    def _reorder(self, order, pos, segs, fixed_end, moving_end) -> np.ndarray:
        """Sort one layer by the barycenter of its neighbours in the fixed layer."""
        if len(order) < 2 or not len(segs):
            return order
        moving = pos[moving_end[segs]]
        sums = np.bincount(moving, weights=pos[fixed_end[segs]], minlength=len(order))
        counts = np.bincount(moving, minlength=len(order))
        current = np.arange(len(order), dtype=np.float64)
        bary = np.where(counts > 0, sums / np.maximum(counts, 1), current)
        return order[np.lexsort((current, bary))]

    def sweep(self, orders: list[np.ndarray], down: bool) -> list[np.ndarray]:
        orders = list(orders)
        pos = self.positions(orders)
        sequence = range(1, self.n_layers) if down else range(self.n_layers - 2, -1, -1)
        for lay in sequence:
            if down:
                new = self._reorder(orders[lay], pos, self.into[lay], self.src, self.dst)
            else:
                new = self._reorder(orders[lay], pos, self.out_of[lay], self.dst, self.src)
            orders[lay] = new
            pos[new] = np.arange(len(new))
        return orders


def count_inversions(values: np.ndarray) -> int:
    """Pairs i < j with values[i] > values[j], by a bottom-up merge sort in numpy."""
    a = np.asarray(values, dtype=np.int64)
    n = len(a)
    if n < 2:
        return 0
    a = a - a.min()
    span = int(a.max()) + 1
    idx = np.arange(n)
    total = 0
    width = 1
    while width < n:
        block = idx // (2 * width)
        right = (idx % (2 * width)) >= width
        base = block * span
        # each run of `width` is sorted, so the left halves' keys are globally sorted
        left_keys = (base + a)[~right]
        r_base = base[right]
        r_val = a[right]
        # left elements of the same block greater than each right element
        greater = np.searchsorted(left_keys, r_base + span, "left") - np.searchsorted(
            left_keys, r_base + r_val, "right"
        )
        total += int(greater.sum())
        a = np.sort(base + a) - base
        width *= 2
    return total


def count_segment_crossings(seg_layer, pos_src, pos_dst) -> int:
    """Crossings among segments between adjacent layers.

    Segments (u1, v1) and (u2, v2) leaving the same layer cross when their ends are in
    opposite orders (u1 < u2 and v1 > v2); segments sharing an end never cross."""
    seg_layer = np.asarray(seg_layer, dtype=np.int64)
    pos_src = np.asarray(pos_src, dtype=np.int64)
    pos_dst = np.asarray(pos_dst, dtype=np.int64)
    if not len(seg_layer):
        return 0
    order = np.lexsort((pos_dst, pos_src, seg_layer))
    width = int(pos_dst.max()) + 1
    # layers apart never count: a later layer's targets get larger keys
    return count_inversions(seg_layer[order] * width + pos_dst[order])


def layered_layout(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    layers: dict[str, int] | None = None,
    sweeps: int = SWEEPS,
    spacing_x: float = SPACING_X,
    spacing_y: float = SPACING_Y,
    heights: dict[str, float] | None = None,
) -> Layout:
    """Lay out a DAG: `nodes` in topological order, `edges` as (source, target) pairs;
    `heights`: rows a node takes (1 when not given)."""
    edges = list(edges)
    if layers is None:
        layers = generations(nodes, edges)
    column = columns(nodes, edges, layers)
    segs = _Segments(nodes, edges, column)
    best = segs.initial
    initial = best_count = segs.crossings(segs.positions(best))
    orders = best
    for _ in range(sweeps if best_count else 0):
        orders = segs.sweep(segs.sweep(orders, down=True), down=False)
        count = segs.crossings(segs.positions(orders))
        if count < best_count:
            best, best_count = orders, count
        elif count == best_count:
            break  # settled
        if best_count == 0:
            break
    pos = segs.positions(best)
    xs = segs.layer * spacing_x
    ys = _stacked(segs, best, heights, nodes) * spacing_y
    real = range(segs.n_real)
    return Layout(
        layer={n: int(layers[n]) for n in nodes},
        column={nodes[i]: int(segs.layer[i]) for i in real},
        rank={nodes[i]: int(pos[i]) for i in real},
        x={nodes[i]: float(xs[i]) for i in real},
        y={nodes[i]: float(ys[i]) for i in real},
        points={
            edge: [(float(xs[v]), float(ys[v])) for v in chain]
            for edge, chain in segs.chains.items()
        },
        crossings=int(best_count),
        initial_crossings=int(initial),
    )


def _stacked(segs: _Segments, orders: list[np.ndarray], heights, nodes) -> np.ndarray:
    """y of every point in rows: each layer's points stacked in their order, each pair of
    neighbours apart by the mean of their heights, the layer centred on 0. Vectorised."""
    total = len(segs.layer)
    if not total:
        return np.zeros(0)
    h = np.full(total, VIRTUAL_ROWS)
    h[: segs.n_real] = [heights.get(n, 1.0) for n in nodes] if heights else 1.0
    order = np.concatenate(orders)
    hs = h[order]
    ends = np.cumsum(hs)
    centre = ends - hs / 2.0  # from the start of everything
    sizes = np.array([len(o) for o in orders])
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)  # index of each one's layer's first
    last = np.repeat(np.cumsum(sizes) - 1, sizes)
    rel = centre - centre[first]
    out = np.empty(total)
    out[order] = rel - (centre[last] - centre[first]) / 2.0
    return out


def graph_layout(graph, **options) -> Layout:
    """The layout of an engine Graph (its order, edges and layers). Nodes placed by hand
    (`position` in the spec) keep their place; an edge touching one is drawn straight, as
    its waypoints were laid out for the automatic places."""
    heights = {n: TENSOR_ROWS for n, shape in graph.shapes.items() if len(shape)}
    layout = layered_layout(
        graph.order, [(s, t) for s, t, _ in graph.edges], graph.layers, heights=heights, **options
    )
    pinned = {nid: n.position for nid, n in graph.nodes.items() if n.position is not None}
    if not pinned:
        return layout
    x, y = dict(layout.x), dict(layout.y)
    for nid, (px, py) in pinned.items():
        x[nid], y[nid] = px, py
    points = {e: p for e, p in layout.points.items() if e[0] not in pinned and e[1] not in pinned}
    return replace(layout, x=x, y=y, points=points)
