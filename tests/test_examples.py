"""The preset graphs in engine/examples: valid files, specs that build, the seed numbers."""

from __future__ import annotations

import json

import pytest

from engine.errors import GraphError
from engine.examples import EXAMPLES_DIR, check_examples, list_examples, load_example
from engine.graph import Graph
from engine.run import Run

from .test_graph import SEED_SPEC


def test_every_example_builds_and_has_its_fields():
    ids = check_examples()
    assert {"seed", "fanout", "diamond", "two_layer", "chain_rule"} <= set(ids)
    for item in list_examples():
        assert set(item) == {"id", "title", "description", "kind", "title_zh", "description_zh"}
        assert item["kind"] in ("example", "lesson")
        # every shipped example speaks both of the page's languages
        assert item["title_zh"] and item["description_zh"]
        raw = json.loads((EXAMPLES_DIR / f"{item['id']}.json").read_text())
        assert set(raw) == {"title", "description", "kind", "spec", "title_zh", "description_zh"}


def test_seed_is_the_design_spec():
    assert load_example("seed") == SEED_SPEC


def test_copies_are_independent():
    spec = load_example("seed")
    spec["nodes"].clear()
    assert load_example("seed") == SEED_SPEC


def test_fanout_adds_both_contributions():
    run = Run(Graph.from_spec(load_example("fanout")))
    run.run_all()
    assert float(run.grad("x")) == pytest.approx(2 * 1.5 + 1)


def test_two_layer_shapes():
    g = Graph.from_spec(load_example("two_layer"))
    assert g.shapes["X"] == (4, 2) and g.shapes["h"] == (4, 3) and g.shapes["yhat"] == (4, 1)


def test_unknown_example():
    with pytest.raises(GraphError, match="no example 'nope'"):
        load_example("nope")
