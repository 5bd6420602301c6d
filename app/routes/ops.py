"""GET /api/ops: every op the engine knows, from its registry, with its Chinese text."""

from __future__ import annotations

from fastapi import APIRouter

from stepgrad.app.classroom.translations import op_in_chinese
from stepgrad.app.schemas import OpInfo
from stepgrad.engine.ops import describe_ops

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/ops", response_model=list[OpInfo], summary="Every op, with its formulas")
def list_ops() -> list[dict]:
    return [op_in_chinese(op) for op in describe_ops()]
