"""GET /api/ops: every op the engine knows, from its registry."""

from __future__ import annotations

from fastapi import APIRouter

from engine.ops import describe_ops

from ..schemas import OpInfo

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/ops", response_model=list[OpInfo], summary="Every op, with its formulas")
def list_ops() -> list[dict]:
    return describe_ops()
