"""The course's race: the Boston network trained by the engine, PyTorch and plain numpy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from engine.errors import LimitError
from engine.race import import_torch, race

from ..schemas import ERROR_RESPONSES, RaceRequest, RaceResult

router = APIRouter(prefix="/api/race", tags=["race"])

INSTALL = 'pip install "stepgrad[bench]"'
TRAIN_ROWS = 405  # the Boston training part (80% of 506)
MAX_STEPS = 20_000  # a few seconds for the three trainings together


@router.post(
    "",
    response_model=RaceResult,
    responses=ERROR_RESPONSES,
    summary="Train the same network three ways and compare time per step and test MSE",
)
def run_race(body: Annotated[RaceRequest | None, Body()] = None) -> dict:
    body = body or RaceRequest()
    steps = body.epochs * -(-TRAIN_ROWS // body.batch_size)
    if steps > MAX_STEPS:
        raise LimitError(
            f"That race would make {steps} training steps each; the limit is {MAX_STEPS}. "
            "Use fewer epochs or a larger batch."
        )
    torch = import_torch()
    row = race(body.hidden, body.batch_size, body.epochs, repeats=1, torch=torch)
    return {**row, "torch_installed": torch is not None, "install": None if torch else INSTALL}
