"""GET /api/ops: every op the engine knows, from its registry, with its Chinese text."""

from __future__ import annotations

from fastapi import APIRouter

from engine.ops import describe_ops

from ..schemas import OpInfo
from ..translations import op_in_chinese

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/ops", response_model=list[OpInfo], summary="Every op, with its formulas")
def list_ops() -> list[dict]:
    return [op_in_chinese(op) for op in describe_ops()]
