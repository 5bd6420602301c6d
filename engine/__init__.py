"""stepgrad's engine: numpy computation graphs stepped forward and backward one node at a time.

Depends on numpy and networkx only; knows nothing of HTTP or the browser.
"""

from stepgrad.engine.errors import (
    CycleError,
    GraphError,
    LimitError,
    ParseError,
    PhaseError,
    ShapeError,
    StepgradError,
    TensorError,
)
from stepgrad.engine.gradcheck import gradcheck
from stepgrad.engine.graph import Graph, Limits
from stepgrad.engine.nodes import (
    MSE,
    Constant,
    Linear,
    Node,
    Parameter,
    Placeholder,
    Sigmoid,
    apply,
)
from stepgrad.engine.ops import OPS, describe_ops
from stepgrad.engine.optim import make_optimizer
from stepgrad.engine.run import Run

__all__ = [
    "MSE",
    "OPS",
    "Constant",
    "CycleError",
    "Graph",
    "GraphError",
    "LimitError",
    "Limits",
    "Linear",
    "Node",
    "Parameter",
    "ParseError",
    "PhaseError",
    "Placeholder",
    "Run",
    "ShapeError",
    "Sigmoid",
    "StepgradError",
    "TensorError",
    "apply",
    "describe_ops",
    "gradcheck",
    "make_optimizer",
]
