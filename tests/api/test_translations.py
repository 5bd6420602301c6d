"""Chinese throughout, checked without a browser: every op, example and lesson step has
Chinese text with no English sentence left in it, every UI string has its zh twin, and a
lesson names the nodes of a graph as the graph shows them."""

from __future__ import annotations

import json
import re

import pytest

from stepgrad.app.classroom import course
from stepgrad.app.classroom.translations import OPS_ZH
from stepgrad.engine.examples import list_examples, load_example
from stepgrad.engine.ops import OPS, describe_ops
from tests.helpers import ROOT, english_runs, lone_word, names_of

OP_NAMES = frozenset(OPS)


def test_every_op_has_chinese_text():
    assert set(OPS_ZH) == set(OPS), "an op without Chinese text, or text for no op"
    for op in describe_ops():
        zh = OPS_ZH[op["name"]]
        assert set(zh) <= {"description", "formula", "derivatives"}, op["name"]
        assert re.search(r"[\u4e00-\u9fff]", zh["description"]), op["name"]
        if "derivatives" in zh:
            assert len(zh["derivatives"]) == len(op["derivatives"]), op["name"]


def test_api_ops_carry_chinese_without_english_sentences(client):
    ops = client.get("/api/ops").json()
    assert {op["name"] for op in ops} == set(OPS)
    for op in ops:
        names = OP_NAMES | names_of(op["formula"])
        for text in [op["description_zh"], op["formula_zh"], *op["derivatives_zh"]]:
            assert not english_runs(text, names), (op["name"], text, english_runs(text, names))
        assert len(op["derivatives_zh"]) == len(op["derivatives"])
        # the English fields are those of the engine, unchanged
        assert op["description"] == OPS[op["name"]].description
    # the check can fail: the English text of an op is caught
    linear = next(op for op in ops if op["name"] == "linear")
    assert english_runs(linear["derivatives"][2], OP_NAMES)
    assert linear["formula_zh"] == linear["formula"]  # maths is not translated


def test_examples_have_chinese_titles_and_descriptions():
    for item in list_examples():
        spec = load_example(item["id"])
        names = OP_NAMES | names_of(
            *(n["id"] for n in spec["nodes"]), *(n.get("label", "") for n in spec["nodes"])
        )
        for key in ("title_zh", "description_zh"):
            text = item[key]
            assert text and re.search(r"[\u4e00-\u9fff]", text), (item["id"], key)
            assert not english_runs(text, names), (item["id"], key, english_runs(text, names))


def i18n_values(lang: str) -> dict[str, str]:
    return json.loads((ROOT / "static" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def test_every_ui_string_is_in_chinese():
    en, zh = i18n_values("en"), i18n_values("zh")
    assert len(en) > 250 and set(en) == set(zh)
    # keys whose text is a name or a code sample, the same in both languages
    same = {
        "action.lang",
        "help.lang",
        "opt.sgd",
        "opt.adam",
        "race.torch",
        "export.dot",
        "start.specPlaceholder",
        "curve.loss",
    }
    for key, text in zh.items():
        if key != "start.specPlaceholder":
            # an op's name alone (the builder's activation "tanh") is maths, not English
            assert not english_runs(text) and not lone_word(text, set(OPS)), (key, text)
        if key not in same and english_runs(en[key] + " x"):
            assert text != en[key], key


def lesson_graph_names(lesson) -> dict[str, dict[str, str]]:
    """graph key -> {node id: what the graph shows as its name (its label, else its id)}."""
    out = {}
    for key, example in lesson.graphs.items():
        out[key] = {n["id"]: n.get("label", n["id"]) for n in load_example(example)["nodes"]}
    return out


@pytest.mark.parametrize("lesson_id", ["day1", "day2", "day3"])
def test_lesson_text_is_chinese_and_names_nodes_as_the_graph_shows_them(lesson_id):
    lesson = course.get_lesson(lesson_id)
    graphs = lesson_graph_names(lesson)
    for k, step in enumerate(lesson.steps, 1):
        shown = graphs.get(step.graph, {}) if step.graph else {}
        names = OP_NAMES | names_of(*shown, *shown.values())
        for text in (step.title.zh, step.text.zh):
            assert not english_runs(text, names), (lesson_id, k, english_runs(text, names))
        if step.view != "graph":
            continue
        # a node the text names by its id is shown on the graph under that same name
        for text in (step.text.en, step.text.zh):
            tokens = set(re.findall(r"\b[A-Za-z_]\w*\b", text))
            if text is step.text.en:
                tokens.discard("a")  # the article is no node
            for token in tokens & set(shown):
                assert shown[token] == token, (
                    f"{lesson_id} step {k} names {token!r}, the graph shows {shown[token]!r}"
                )


def test_gradcheck_gives_each_nodes_reason(client):
    """The page writes its own sentence per node (in Chinese) from the nodes' verdicts and
    reasons; the API's summary sentence is the English one."""
    created = client.post("/api/graphs", json={"example": "boston_line"}).json()
    report = client.get(f"/api/graphs/{created['id']}/gradcheck").json()
    assert report["verdict"] == "inconclusive"
    unresolved = [row for row in report["nodes"] if row["reason"]]
    assert unresolved and all(row["verdict"] == "inconclusive" for row in unresolved)
    assert report["reason"].startswith(f"{unresolved[0]['node']}: {unresolved[0]['reason']}")
    assert all(row["reason"] == "" for row in report["nodes"] if row["verdict"] == "agree")


def test_every_dataset_has_a_chinese_description(client):
    from stepgrad.app.classroom.translations import DATASETS_ZH
    from stepgrad.engine import datasets

    assert set(DATASETS_ZH) == {d["name"] for d in datasets.list_datasets()}
    names = names_of(*(c for d in datasets.list_datasets() for c in d.get("feature_names", [])))
    for name, text in DATASETS_ZH.items():
        assert re.search(r"[\u4e00-\u9fff]", text)
        assert not english_runs(text, names), (name, english_runs(text, names))
    view = client.get("/api/datasets/boston").json()
    assert view["description_zh"] == DATASETS_ZH["boston"]
    assert view["description"].startswith("Boston")
