"""The race: engine, PyTorch and numpy train the same network to the same weights."""

from __future__ import annotations

import pytest

from stepgrad.engine.race import race


def test_engine_and_numpy_agree_without_torch():
    row = race(hidden=4, batch_size=32, epochs=3)
    assert row["agree"] and row["torch_us"] is None and row["mse_torch"] is None
    assert row["mse_engine"] == pytest.approx(row["mse_numpy"], rel=1e-9)
    assert row["engine_us"] > 0 and row["numpy_us"] > 0


@pytest.mark.torch
def test_all_three_agree_with_torch(torch):
    row = race(hidden=4, batch_size=16, epochs=3, torch=torch)
    assert row["agree"]
    assert row["mse_torch"] == pytest.approx(row["mse_engine"], rel=1e-9)
    assert row["engine_over_torch"] > 0
