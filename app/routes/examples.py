"""GET /api/examples: preset graphs and lessons (create one with {"example": id})."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from stepgrad.app.schemas import ERROR_RESPONSES, Example, ExampleInfo
from stepgrad.engine import examples

router = APIRouter(prefix="/api/examples", tags=["examples"])


@router.get("", response_model=list[ExampleInfo], summary="Preset graphs and lessons")
def list_examples() -> list[dict]:
    return examples.list_examples()


@router.get(
    "/{example_id}",
    response_model=Example,
    summary="One example, with its spec",
    responses={404: ERROR_RESPONSES[422] | {"description": "No such example"}},
)
def get_example(example_id: str) -> dict:
    if example_id not in {e["id"] for e in examples.list_examples()}:
        raise HTTPException(404, f"There is no example {example_id!r}.")
    return examples.get_example(example_id)
