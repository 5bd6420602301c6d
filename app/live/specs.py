"""Every way of making a graph (a spec, an expression, a network, an example) turned into
one spec, which `Graph.from_spec` builds: POST /api/graphs and PUT .../spec share it, so
they validate alike."""

from __future__ import annotations

import numpy as np

from stepgrad.app.schemas import GraphCreate
from stepgrad.app.settings import Settings
from stepgrad.engine.examples import load_example
from stepgrad.engine.graph import Limits

SOURCE_MAX_ELEMENTS = 64  # a larger value is not copied into a graph's source


def source_values(values: dict | None) -> dict:
    """An expression's values as its source keeps them: a tensor of more than
    SOURCE_MAX_ELEMENTS elements as null, which PUT .../spec fills with the graph's current
    value (the nodes hold it already; the source need not carry it into every state)."""
    out = {}
    for name, value in (values or {}).items():
        try:
            size = np.asarray(value, dtype=np.float64).size
        except (TypeError, ValueError):
            size = 0  # malformed: the engine refuses it with a sentence
        out[name] = value if size <= SOURCE_MAX_ELEMENTS else None
    return out


def spec_from(body: GraphCreate, settings: Settings) -> dict:
    if body.nodes is not None:
        spec: dict = {
            "name": body.name if body.name is not None else "untitled",
            "nodes": [n.model_dump(exclude_none=True) for n in body.nodes],
        }
        if body.output is not None:
            spec["output"] = body.output
        if body.source is not None:
            spec["source"] = body.source
        return spec
    if body.expression is not None:
        from stepgrad.engine.parser import ParseLimits, parse_expression

        limits = ParseLimits(
            max_length=settings.max_expression_length,
            max_depth=settings.max_expression_depth,
            max_nodes=settings.max_nodes,
        )
        name = body.name if body.name is not None else "expression"
        spec = parse_expression(body.expression, body.inputs, body.params, name, limits)
        # kept with the graph, so that an editor can reopen the expression that made it
        spec["source"] = {
            "expression": body.expression,
            "inputs": source_values(body.inputs),
            "params": source_values(body.params),
        }
        return spec
    if body.network is not None:
        from stepgrad.engine.builder import build_network

        graph_limits = Limits(
            max_nodes=settings.max_nodes,
            max_elements=settings.max_elements,
            max_total_elements=settings.max_total_elements,
        )
        return build_network(body.network.model_dump(exclude_none=True), body.name, graph_limits)
    spec = load_example(body.example or "")
    if body.name is not None:
        spec["name"] = body.name
    return spec
