"""GET /api/health: the no-op endpoint (also the latency floor of the benchmark)."""

from __future__ import annotations

from fastapi import APIRouter

from stepgrad.app import __version__
from stepgrad.app.schemas import Health

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/health", response_model=Health, summary="The service is up")
def health() -> dict:
    return {"status": "ok", "version": __version__}
