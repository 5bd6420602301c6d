"""The one JSON serialiser: strict (no NaN literal), compact, ASCII-only, everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stepgrad.app.jsonio import StrictJSONResponse, dumps, json_safe, number


def test_dumps_is_compact_ascii_and_refuses_non_finite():
    assert dumps({"a": [1, 2.5], "name": "梯度"}) == '{"a":[1,2.5],"name":"\\u68af\\u5ea6"}'
    # a lone surrogate (which a client may send) still encodes
    assert dumps("\ud800").encode("ascii") == b'"\\ud800"'
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            dumps({"loss": bad})


def test_non_finite_numbers_become_strings():
    assert [number(x) for x in (1.5, float("nan"), float("inf"), -float("inf"))] == [
        1.5, "NaN", "Infinity", "-Infinity",
    ]  # fmt: skip
    data = json_safe({"v": np.array([1.0, np.nan]), "n": np.int64(3), 2: (np.float32(0.5),)})
    assert data == {"v": [1.0, "NaN"], "n": 3, "2": [0.5]}
    assert type(data["n"]) is int


def test_the_response_class_writes_non_finite_numbers_as_strings():
    body = StrictJSONResponse({"loss": float("nan"), "n": np.int64(2), "s": "é"}).body
    assert body == b'{"loss":"NaN","n":2,"s":"\\u00e9"}'


def test_routes_with_a_response_model_answer_through_the_same_serialiser(client):
    # the lessons carry Chinese text: written as \u escapes, like every other body
    r = client.get("/api/lessons")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    r.content.decode("ascii")
    assert "\\u" in r.text
    assert any(
        any("\u4e00" <= ch <= "\u9fff" for ch in json.dumps(x, ensure_ascii=False))
        for x in r.json()
    )


def test_error_bodies_and_state_share_it(client):
    r = client.post("/api/graphs", json={"example": "梯度"})
    assert r.status_code == 422
    r.content.decode("ascii")
    assert "梯度" in r.json()["detail"]
