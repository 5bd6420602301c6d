"""The course's race: the Boston network trained by the engine, PyTorch and plain numpy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request

from stepgrad.app.http.deps import Jobs, SettingsDep
from stepgrad.app.protection.jobs import Job
from stepgrad.app.protection.work import race_work
from stepgrad.app.schemas import ERROR_RESPONSES, RaceRequest, RaceResult
from stepgrad.engine.errors import LimitError
from stepgrad.engine.race import import_torch, race

router = APIRouter(prefix="/api/race", tags=["race"])

INSTALL = 'pip install "stepgrad[bench]"'


@router.post(
    "",
    response_model=RaceResult,
    responses=ERROR_RESPONSES,
    summary="Train the same network by each trainer and compare time per step and test MSE",
)
async def run_race(
    request: Request,
    settings: SettingsDep,
    jobs: Jobs,
    body: Annotated[RaceRequest | None, Body()] = None,
) -> dict:
    body = body or RaceRequest()
    installed = import_torch()
    torch = installed if settings.race_torch else None
    work = race_work(body.hidden, body.batch_size, body.epochs, torch is not None)
    if work > settings.max_race_work:
        raise LimitError(
            f"That race (hidden={body.hidden}, batch_size={body.batch_size}, "
            f"epochs={body.epochs}) would make about {work:,} element operations; the limit "
            f"is {settings.max_race_work:,} (max_race_work). Use fewer epochs, fewer hidden "
            "units or a larger batch."
        )

    def task(job: Job) -> dict:
        return race(
            body.hidden, body.batch_size, body.epochs, repeats=1, torch=torch, check=job.check
        )

    row = await jobs.run(request, "The race", task)
    return {
        **row,
        "torch_installed": installed is not None,
        "install": None if installed else INSTALL,
    }
