"""The preset graphs in engine/examples: valid files, specs that build, the seed numbers."""

from __future__ import annotations

import json

import pytest

from stepgrad.engine import examples
from stepgrad.engine.errors import GraphError
from stepgrad.engine.examples import EXAMPLES_DIR, check_examples, list_examples, load_example
from stepgrad.engine.graph import Graph
from stepgrad.engine.run import Run
from tests.helpers import SEED_SPEC


def test_every_example_builds_and_has_its_fields():
    ids = check_examples()
    assert {"seed", "fanout", "diamond", "two_layer", "chain_rule"} <= set(ids)
    for item in list_examples():
        assert set(item) == {
            "id", "title", "description", "kind", "title_zh", "description_zh", "train"
        }  # fmt: skip
        assert item["kind"] in ("example", "lesson")
        # every shipped example speaks both of the page's languages
        assert item["title_zh"] and item["description_zh"]
        raw = json.loads((EXAMPLES_DIR / f"{item['id']}.json").read_text())
        assert set(raw) - {"train"} == {
            "title", "description", "kind", "spec", "title_zh", "description_zh"
        }  # fmt: skip


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


@pytest.mark.parametrize("example_id", [e["id"] for e in examples.list_examples()])
def test_every_example_trains_with_its_own_settings(example_id):
    from stepgrad.engine.training import train

    graph = Graph.from_spec(examples.load_example(example_id))
    if not graph.params:
        return
    settings = examples.training_settings(example_id)
    # the page's 50 epochs at the example's optimizer and learning rate
    result = train(graph, epochs=50, optimizer=settings["optimizer"],
                   learning_rate=settings["learning_rate"])  # fmt: skip
    losses = result["history"]["train_loss"]
    assert losses[-1] < losses[0], example_id


def test_a_line_on_raw_rooms_diverges_at_the_page_defaults_and_says_so():
    from stepgrad.engine.errors import StepgradError
    from stepgrad.engine.training import train

    graph = Graph.from_spec(examples.load_example("boston_line"))
    with pytest.raises(StepgradError, match=r"diverged at epoch \d+ \(loss "):
        train(graph, epochs=50, optimizer="sgd", learning_rate=0.1)


def test_a_graph_from_an_example_starts_with_its_training_settings(client):
    state = client.post("/api/graphs", json={"example": "boston_line"}).json()
    assert state["optimizer"]["name"] == "sgd"
    assert state["optimizer"]["learning_rate"] == 0.01
    listed = {e["id"]: e for e in client.get("/api/examples").json()}
    assert listed["boston_line"]["train"] == {"optimizer": "sgd", "learning_rate": 0.01}
    assert listed["seed"]["train"] == examples.DEFAULT_TRAINING
