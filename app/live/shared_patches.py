"""The changes of a graph's last versions as a shared store keeps them (storage.base.PatchLog),
so that `?since=V` is a patch on every process, not only on the one that made the changes.

Each change is its `patches.Diff` as compact JSON: per field, the node (or edge) indexes it
touched as ranges (`[start, stop)`), and the top-level fields. A step names a few nodes; a
change that touches every node (reset, new values) is one range per field, whatever the
graph's size. The patch from V is the union of the changes to V+1 .. now, rendered from the
current snapshot (patches.render_patch), as `Stamps.since_diff` gives it for a graph held
in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from stepgrad.app.live.patches import Diff

KEPT = 64  # the changes kept per graph: ?since=V is a patch for V >= version - KEPT


def _ranges(indexes: Iterable[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in sorted(indexes):
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def _by_field(items: dict[int, set[str]]) -> dict[str, list[list[int]]]:
    fields: dict[str, list[int]] = {}
    for i, names in items.items():
        for name in names:
            fields.setdefault(name, []).append(i)
    return {name: _ranges(indexes) for name, indexes in sorted(fields.items())}


def encode(diff: Diff) -> str | None:
    """The change as JSON text, or None for a change of structure (no field-level patch)."""
    if diff.full:
        return None
    return json.dumps(
        {"n": _by_field(diff.nodes), "e": _by_field(diff.edges), "t": sorted(diff.top)},
        separators=(",", ":"),
    )


def _add(target: dict[int, set[str]], fields: dict, size: int) -> bool:
    for name, ranges in fields.items():
        for start, stop in ranges:
            if not 0 <= start < stop <= size:
                return False
            for i in range(start, stop):
                target.setdefault(i, set()).add(name)
    return True


def since(
    kept: list[tuple[int, str | None]], base: int, upto: int, nodes: int, edges: int
) -> Diff | None:
    """What changed from version `base` to `upto` (a graph of `nodes` nodes and `edges`
    edges), from the kept changes; None when one of those versions is not kept or changed
    the structure (then the answer is the whole state)."""
    wanted = {v: text for v, text in kept if base < v <= upto}
    if len(wanted) != upto - base:
        return None
    out = Diff()
    for v in range(base + 1, upto + 1):
        text = wanted[v]
        if text is None:
            return None
        try:
            change = json.loads(text)
            ok = _add(out.nodes, change["n"], nodes) and _add(out.edges, change["e"], edges)
            out.top.update(change["t"])
        except (ValueError, KeyError, TypeError):
            return None
        if not ok:
            return None
    return out
