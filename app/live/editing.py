"""Editing a live graph (contract v1.1, "Editing"): PUT .../spec puts a new structure in
place of the old one, keeping what an editor expects to persist; hand positions of nodes.

What carries over from the old graph to the new one:
- a `param` with the same id and shape keeps its current value (a value in the body is
  ignored for it) and its optimizer state (momentum, Adam moments), so adding a neuron
  does not throw away what training learnt;
- an `input` or `const` leaf may leave out its value when the old graph has a leaf with
  that id: it keeps its value (a value in the body wins);
- the fan-out-bug toggle, and the target while that node still exists.
What starts again: the timeline (position 0), the evaluation order (the new graph's own),
the last training result (it belonged to the old graph).

Versions: every state response carries `ETag: "<version>"`; a PUT with `If-Match` naming
another version gets 412 and changes nothing (RFC 9110's conditional request; without
If-Match the last writer wins, `If-Match: *` matches any version).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import HTTPException

from stepgrad.app.live.manager import GraphManager, Session, run_for
from stepgrad.engine.graph import Graph
from stepgrad.engine.ops import OPS
from stepgrad.engine.optim import make_optimizer


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(header: str | None, version: int) -> None:
    """412, with a sentence, unless the If-Match header (if any) names `version`."""
    if header is None:
        return
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags:
        return
    # a weak tag (W/"7") names the same version: versions are whole numbers; so does a bare
    # 7, the version as the state's JSON gives it, which clients send unquoted
    if any(t.removeprefix("W/") == etag(version) or t == str(version) for t in tags):
        return
    shown = header if len(header) <= 40 else header[:40] + "..."
    raise HTTPException(
        412,
        f"The graph has changed since the version you edited (If-Match: {shown}); it "
        f"is now at version {version}. Nothing was changed: reload it (GET sends its ETag), "
        "apply your edit again and send it with the new version.",
    )


def fill_leaf_values(spec: dict, old: Graph) -> dict:
    """The spec, with the current value put in for each leaf that left its value out and
    that the old graph has (as a leaf). A computed node that reuses an old leaf's id takes
    nothing: it is validated exactly as POST validates it."""
    nodes = spec.get("nodes")
    if not isinstance(nodes, list):
        return spec
    filled = []
    for raw in nodes:
        if (
            isinstance(raw, dict)
            and raw.get("value") is None
            and raw.get("bind") is None
            and _is_leaf_op(raw.get("op"))
            and isinstance(raw.get("id"), str)
            and raw["id"] in old.nodes
            and old.nodes[raw["id"]].op.leaf
            and old.nodes[raw["id"]].bind is None
        ):
            raw = {**raw, "value": old.nodes[raw["id"]].value}
        filled.append(raw)
    return {**spec, "nodes": filled}


def _is_leaf_op(name: object) -> bool:
    op = OPS.get(name) if isinstance(name, str) else None
    return op is not None and op.leaf


def kept_params(old: Graph, new: Graph) -> dict[str, np.ndarray | None]:
    """The params of `new` that `old` has with the same id and shape: id -> old value."""
    return {
        nid: old.nodes[nid].value
        for nid in new.params
        if nid in old.nodes and old.nodes[nid].op.trainable and old.shapes[nid] == new.shapes[nid]
    }


def _only(state: dict[str, Any], kept: set[str]) -> dict[str, Any]:
    """An optimizer state with the per-param tables cut down to the kept params."""
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k in kept}
        out[key] = value
    return out


def keep_optimizer(optimizer, kept: set[str]):
    """A copy of the optimizer holding the state of the kept params only."""
    if optimizer is None:
        return None
    config = dict(optimizer.config())
    copy = make_optimizer(config.pop("name"), **config)
    copy.load_state_dict(_only(optimizer.state_dict(), kept))
    return copy


def _structure(nodes: object) -> list | None:
    """(id, op, inputs) of each raw node, or None for a malformed list."""
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        return None
    return [(n.get("id"), n.get("op"), list(n.get("inputs") or [])) for n in nodes]


def build_replacement(
    graphs: GraphManager,
    spec: dict,
    old: Graph,
    auto_layout: bool,
    keep_params: bool = True,
    given_source: bool = False,
) -> Graph:
    """The new graph from a spec, with the old graph's kept values in (see the module).
    `given_source`: the spec's source came with its nodes (an export sent back)."""
    if given_source and spec.get("source") is not None:
        # it describes a structure: it stays only while the nodes, ops and edges are those
        # of the graph it replaces
        before = [(nid, n.op.name, list(n.inputs)) for nid, n in old.nodes.items()]
        if _structure(spec.get("nodes")) != before:
            spec = {k: v for k, v in spec.items() if k != "source"}
    spec = fill_leaf_values(spec, old)
    if auto_layout:
        spec = {
            **spec,
            "nodes": [
                {k: v for k, v in n.items() if k not in ("x", "y")} if isinstance(n, dict) else n
                for n in spec["nodes"]
            ],
        }
    new = graphs.build_graph(spec)
    kept = kept_params(old, new) if keep_params else {}
    return new.with_values(kept) if kept else new


def check_replacement(graphs: GraphManager, session: Session, spec: dict, body) -> dict:
    """What `replace_graph` would make of the spec, from the current graph; nothing changes
    (an error is raised as the PUT would raise it)."""
    old = session.snapshot.graph
    keep = body.keep_params
    new = build_replacement(graphs, spec, old, body.layout == "auto", keep, body.nodes is not None)
    return {
        "ok": True,
        "name": new.name,
        "output": new.output,
        "order": list(new.order),
        "shapes": {nid: list(shape) for nid, shape in new.shapes.items()},
        "kept": sorted(kept_params(old, new)) if keep else [],
    }


def replace_graph(
    graphs: GraphManager,
    session: Session,
    spec: dict,
    auto_layout: bool,
    if_match: str | None,
    keep_params: bool = True,
    given_source: bool = False,
):
    """Put the graph `spec` describes in place of the session's graph (one change)."""

    def change(s: Session) -> list:
        check_if_match(if_match, s.version)
        old = s.run.graph
        new = build_replacement(graphs, spec, old, auto_layout, keep_params, given_source)
        kept = set(kept_params(old, new)) if keep_params else set()
        state = s.run_state()
        state["order"] = None
        if state.get("target") not in new.nodes:
            state["target"] = None
        run = run_for(new, state)
        optimizer = keep_optimizer(s.optimizer, kept)
        s.run, s.optimizer, s.training = run, optimizer, None
        return []

    return graphs.replace(session, change)


def place_nodes(graphs: GraphManager, session: Session, positions: dict | None):
    """Pin nodes where a user put them (None for a node: unpin it; `positions` None: unpin
    every node, the layout on demand). The timeline and every value stay."""

    def change(s: Session) -> list:
        graph = s.run.graph
        wanted = positions
        if wanted is None:
            wanted = {nid: None for nid, n in graph.nodes.items() if n.position is not None}
        s.run.swap_graph(graph.with_positions(wanted))
        return []

    return graphs.replace(session, change)
