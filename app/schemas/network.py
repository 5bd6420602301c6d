"""The network builder: a fully connected network from layer sizes, on a dataset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from stepgrad.app.schemas.common import Finite, Request


class NetworkSpec(Request):
    """A fully connected network from layer sizes (engine.builder): `inputs` or a
    `dataset`, hidden layer sizes, activation, loss, and the tensor or unrolled scalar form."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "moons",
                    "hidden": [16, 16],
                    "activation": "tanh",
                    "loss": "bce",
                    "form": "tensor",
                    "seed": 0,
                },
                {"inputs": 2, "hidden": [3], "loss": "bce", "form": "scalar"},
            ]
        }
    )

    inputs: int | None = Field(
        None, ge=1, le=512, description="Number of input features (sample data is made up)."
    )
    dataset: str | None = Field(
        None, description="A dataset from GET /api/datasets: X and y are bound to it."
    )
    dataset_params: dict[str, Any] | None = Field(
        None, description="The dataset's parameters (n_samples, noise, seed, ...)."
    )
    hidden: list[int] = Field(
        default_factory=list, max_length=8, description="Hidden layer sizes (1..512 each)."
    )
    activation: Literal["tanh", "relu", "sigmoid"] = "tanh"
    loss: Literal["mse", "bce", "cross_entropy"] = Field(
        "mse",
        description="mse(y, z); bce(y, sigmoid(z)) for labels 0/1; cross_entropy over two "
        "logits with one-hot labels (tensor form only).",
    )
    form: Literal["tensor", "scalar"] = Field(
        "tensor",
        description="tensor: one matmul per layer; scalar: one node per weight and neuron "
        "(at most 150 nodes; with a dataset it computes its first training row).",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the Xavier/He initial weights.")
    batch_size: int | None = Field(
        None, ge=1, le=4096, description="Rows per mini-batch of the bound dataset (32)."
    )
    test_fraction: Finite | None = Field(None, ge=0, le=0.9, description="Held-out share (0.2).")
