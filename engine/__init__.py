"""stepgrad's engine: numpy computation graphs stepped forward and backward one node at a time.

Depends on numpy and networkx only; knows nothing of HTTP or the browser.
"""

from .errors import (
    CycleError,
    GraphError,
    LimitError,
    ParseError,
    PhaseError,
    ShapeError,
    StepgradError,
    TensorError,
)
from .gradcheck import gradcheck
from .graph import Graph, Limits
from .nodes import MSE, Constant, Linear, Node, Parameter, Placeholder, Sigmoid, apply
from .ops import OPS, describe_ops
from .optim import make_optimizer
from .run import Run

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
